"""The Go beside the Python is real Go: every ```go block in the notebooks' markdown is checked.

- A complete program (it has a ``package`` clause) must pass ``go vet`` and
  ``go build`` as a module declaring Go 1.19, the version the series quotes.
- A fragment (a function or a few statements, shown for one idea, naming
  types the prose defines elsewhere) cannot be compiled alone. It must parse
  (each of its top-level pieces, as a declaration or a list of statements:
  ``gofmt -e``), and it must compile the way its notebook declares: right
  after the block, in the same markdown cell, an HTML comment (which
  JupyterLab does not show) holds a Go file with two marker lines::

      <!-- go vet wraps the fragment above:
      package main
      ... what the fragment names but does not declare ...
      //DECLARATIONS
      func caller(...) {
      //STATEMENTS
      }
      -->

  The fragment's top-level declarations (pieces whose first line that is
  not a comment starts with ``func``, ``type``, ``var``, ``const`` or
  ``import``) replace ``//DECLARATIONS``; its other pieces, in order,
  replace ``//STATEMENTS``. The file must pass ``go vet`` and ``go build``.

Without a ``go`` command these skip, with a message; with ``REQUIRE_GO=1``
(set it in CI) a missing ``go`` is a failure instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
GO_BLOCK = re.compile(r"^```go[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
GO_MOD = "module snippet\n\ngo 1.19\n"
WRAP = re.compile(r"<!-- go vet wraps the fragment above:\n(.*?)-->", re.DOTALL)
BOUND = 180  # seconds: a first build compiles the standard library packages it needs


@dataclass(frozen=True)
class Snippet:
    notebook: str
    cell: int
    source: str
    wrap: str | None = None  # a fragment's declared wrapping (see the module docstring)

    @property
    def complete(self) -> bool:
        return re.search(r"^package \w+", self.source, re.MULTILINE) is not None

    @property
    def name(self) -> str:
        return f"{self.notebook}-cell{self.cell}-{'program' if self.complete else 'fragment'}"


def snippets() -> list[Snippet]:
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for index, cell in enumerate(nb.get("cells", [])):
            if cell.get("cell_type") != "markdown":
                continue
            text = "".join(cell.get("source", ""))
            for match in GO_BLOCK.finditer(text):
                after = text[match.end():]
                nxt = GO_BLOCK.search(after)
                wrap = WRAP.search(after[:nxt.start()] if nxt else after)
                found.append(Snippet(path.stem, index, match.group(1),
                                     wrap.group(1) if wrap else None))
    return found


SNIPPETS = snippets()
PROGRAMS = [pytest.param(s, id=s.name) for s in SNIPPETS if s.complete]
FRAGMENTS = [pytest.param(s, id=s.name) for s in SNIPPETS if not s.complete]


def go_tool(name: str) -> str:
    """The path of ``go`` or ``gofmt``; skip (or fail under REQUIRE_GO=1) without it."""
    found = shutil.which(name)
    if found is None:
        message = f"no {name!r} on PATH: the notebooks' Go snippets are not checked"
        if os.environ.get("REQUIRE_GO") == "1":
            pytest.fail(message + " (REQUIRE_GO=1)")
        pytest.skip(message + " (install Go 1.19 or newer; REQUIRE_GO=1 makes this a failure)")
    return found


def go_env() -> dict[str, str]:
    """No network, no toolchain download, no workspace; the user's build cache is kept."""
    return dict(os.environ, GOPROXY="off", GOFLAGS="-mod=mod", GOTOOLCHAIN="local",
                GO111MODULE="on", GOWORK="off")


def top_level_pieces(source: str) -> list[str]:
    """Split a fragment where a blank line is followed by a line that starts in column 0."""
    pieces: list[list[str]] = [[]]
    previous_blank = False
    for line in source.splitlines():
        if previous_blank and line and not line[0].isspace() and pieces[-1]:
            pieces.append([])
        pieces[-1].append(line)
        previous_blank = not line.strip()
    return ["\n".join(p).strip() + "\n" for p in pieces if "".join(p).strip()]


def test_notebooks_have_go_snippets_and_notebook_10s_are_complete_programs() -> None:
    assert SNIPPETS, "no ```go block found in notebooks/*.ipynb"
    tenth = [s for s in SNIPPETS if s.notebook.startswith("10_")]
    assert len(tenth) >= 2 and all(s.complete for s in tenth), [s.name for s in tenth]


@pytest.mark.timeout(BOUND + 30)
@pytest.mark.parametrize("snippet", PROGRAMS)
def test_complete_go_program_passes_vet_and_builds(snippet: Snippet, tmp_path: Path) -> None:
    go = go_tool("go")
    (tmp_path / "go.mod").write_text(GO_MOD)
    (tmp_path / "main.go").write_text(snippet.source)
    env = go_env()
    for command in ([go, "vet", "."], [go, "build", "-o", os.devnull, "."]):
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=BOUND)
        assert done.returncode == 0, (f"{' '.join(command[1:])} failed for {snippet.name}:\n"
                                      f"{done.stderr}\n{snippet.source}")


@pytest.mark.parametrize("snippet", FRAGMENTS)
def test_go_fragment_parses(snippet: Snippet) -> None:
    gofmt = go_tool("gofmt")
    whole = subprocess.run([gofmt, "-e"], input=snippet.source, capture_output=True, text=True,
                           timeout=30)
    if whole.returncode == 0:
        return
    for piece in top_level_pieces(snippet.source):
        done = subprocess.run([gofmt, "-e"], input=piece, capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 0, (f"a piece of {snippet.name} is not Go:\n{done.stderr}\n"
                                      f"{piece}")


def test_fragment_splitting_keeps_indented_bodies_with_their_heads() -> None:
    source = "func f() {\n\n\treturn\n}\n\nx := 1\n"
    assert top_level_pieces(source) == ["func f() {\n\n\treturn\n}\n", "x := 1\n"]


@pytest.mark.timeout(BOUND + 60)
def test_the_seed_program_in_go_prints_what_pool_demo_prints(capsys: pytest.CaptureFixture[str],
                                                             ) -> None:
    go_tool("go")
    from benchmarks import seed  # the benchmark that runs both programs side by side

    assert seed.main(["--rounds", "1"]) == 0, capsys.readouterr().err
    rows = capsys.readouterr().out
    assert "| Go 1.19" in rows and "| `python -m pool demo` |" in rows


DECLARATION = re.compile(r"^(func|type|var|const|import)\b")


def wrapped(snippet: Snippet) -> str:
    """The Go file a fragment compiles in: its declared wrapping, filled in."""
    assert snippet.wrap is not None
    declarations, statements = [], []
    for piece in top_level_pieces(snippet.source):
        code = [line for line in piece.splitlines() if not line.lstrip().startswith("//")]
        (declarations if code and DECLARATION.match(code[0]) else statements).append(piece)
    text = snippet.wrap
    assert "//DECLARATIONS\n" in text, f"{snippet.name}: its wrapping has no //DECLARATIONS line"
    text = text.replace("//DECLARATIONS\n", "\n".join(declarations), 1)
    if statements:
        assert "//STATEMENTS\n" in text, f"{snippet.name}: its wrapping has no //STATEMENTS line"
    return text.replace("//STATEMENTS\n", "\n".join(statements), 1)


def test_every_fragment_declares_how_it_is_wrapped() -> None:
    missing = [s.name for s in SNIPPETS if not s.complete and s.wrap is None]
    assert not missing, ("fragments with no '<!-- go vet wraps the fragment above:' "
                         f"comment: {missing}")


@pytest.mark.timeout(BOUND + 30)
@pytest.mark.parametrize("snippet", [pytest.param(s, id=s.name) for s in SNIPPETS
                                     if not s.complete and s.wrap is not None])
def test_go_fragment_passes_vet_and_builds_in_its_declared_wrapping(snippet: Snippet,
                                                                    tmp_path: Path) -> None:
    go = go_tool("go")
    source = wrapped(snippet)
    (tmp_path / "go.mod").write_text(GO_MOD)
    (tmp_path / "main.go").write_text(source)
    env = go_env()
    for command in ([go, "vet", "."], [go, "build", "-o", os.devnull, "."]):
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=BOUND)
        assert done.returncode == 0, (f"{' '.join(command[1:])} failed for {snippet.name}:\n"
                                      f"{done.stderr}\n{source}")


def test_a_fragment_s_declarations_and_statements_go_to_their_markers() -> None:
    snippet = Snippet("x", 1, "type T int\n\nx := T(1)\n_ = x\n",
                      "package main\n//DECLARATIONS\nfunc main() {\n//STATEMENTS\n}\n")
    assert wrapped(snippet) == "package main\ntype T int\nfunc main() {\nx := T(1)\n_ = x\n}\n"


def test_the_stage_workers_share_one_go_signature_as_in_python() -> None:
    """03, 04 and 08 show one worker: (id, jobs, wg, process), plus results where it records."""
    stem = "func worker(id int, jobs <-chan Job, wg *sync.WaitGroup, process func(Job) error"
    stages = [s for s in SNIPPETS if s.notebook.startswith(("03_", "04_", "08_"))
              and "func worker(" in s.source]
    assert {s.notebook[:2] for s in stages} == {"03", "04", "08"}
    for s in stages:
        assert stem in s.source, s.name
