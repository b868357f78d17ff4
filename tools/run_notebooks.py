"""Re-execute the course notebooks in place, each from a fresh kernel, in order.

    .venv/bin/python tools/run_notebooks.py                 # every notebooks/*.ipynb
    .venv/bin/python tools/run_notebooks.py notebooks/03_worker.ipynb
    make notebooks                                          # the same as the first line

Why: the notebooks are committed with the outputs of a clean top-to-bottom run
(execution counts 1, 2, 3, ...), and ``make test`` re-runs them with nbval in
strict mode against those outputs.

What it does, per notebook:

- starts a kernel of *this* interpreter (the ``python3`` kernel of ``.venv``,
  whatever other ``python3`` kernelspecs the machine has) in the notebook's own
  folder, with ``PYTHONHASHSEED=0`` (nbval's run in ``make test`` uses the same);
- runs every code cell; an error stops the notebook unless the cell is tagged
  ``raises-exception`` (nbclient's built-in rule), and then the notebook file is
  left untouched and the run exits non-zero;
- keeps cell sources, ids, tags and other metadata; sets the standard ``python3``
  kernelspec; drops what changes on every run without meaning anything
  (execution timestamps, widget state) so diffs show real changes only.

Exit status: 0 when every notebook ran, 1 when one failed, 2 when none was found.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / "notebooks"
KERNEL_NAME = "python3"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL_NAME}
# Cell and notebook metadata that records when or how a run happened, not what it showed.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "papermill")
VOLATILE_NOTEBOOK_METADATA = ("widgets", "papermill", "toc-autonumbering")


def _kernel_manager_class() -> type[Any]:
    """An AsyncKernelManager whose ``python3`` kernel is always this interpreter."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class ThisInterpreterSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            if kernel_name == KERNEL_NAME:
                return KernelSpec(resource_dir=ipykernel.kernelspec.RESOURCES,
                                  **ipykernel.kernelspec.get_kernel_dict())
            return super().get_kernel_spec(kernel_name)

    class ThisInterpreterKernel(AsyncKernelManager):
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return ThisInterpreterSpecs(data_dir=self.data_dir)

    return ThisInterpreterKernel


def clean_metadata(nb: Any) -> None:
    """Drop run-specific metadata in place and set the standard kernelspec."""
    for key in VOLATILE_NOTEBOOK_METADATA:
        nb.metadata.pop(key, None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)


def run_notebook(path: Path, timeout: float) -> Any:
    """Execute ``path`` top to bottom in a fresh kernel; return the executed notebook.

    Raises nbclient's CellExecutionError (or a timeout error) on an error in a
    cell not tagged ``raises-exception``.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    clean_metadata(nb)
    env = dict(os.environ, PYTHONHASHSEED="0")
    client = NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=60,
        kernel_name=KERNEL_NAME,
        kernel_manager_class=_kernel_manager_class(),
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,  # a cell tagged raises-exception may still raise
        record_timing=False,
        store_widget_state=False,
        shutdown_kernel="immediate",
    )
    client.execute(env=env)
    clean_metadata(nb)
    _, nb = nbformat.validator.normalize(nb)
    nbformat.validate(nb)
    return nb


def find_notebooks(paths: list[str]) -> list[Path]:
    if paths:
        return [Path(p).resolve() for p in paths]
    return sorted(DEFAULT_DIR.glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*",
                        help="notebooks to run (default: notebooks/*.ipynb, in name order)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds one cell may run before the notebook fails (default 120)")
    args = parser.parse_args(argv)

    import nbformat

    notebooks = find_notebooks(args.notebooks)
    if not notebooks:
        print(f"no notebooks found in {DEFAULT_DIR}", file=sys.stderr)
        return 2
    failed: list[Path] = []
    for path in notebooks:
        started = time.monotonic()
        try:
            nb = run_notebook(path, args.timeout)
        except Exception as exc:
            failed.append(path)
            print(f"FAILED {path.name}: left unchanged\n{exc}", file=sys.stderr)
            continue
        nbformat.write(nb, path)  # type: ignore[no-untyped-call]
        print(f"ran {path.name} in {time.monotonic() - started:.1f} s")
    if failed:
        print(f"{len(failed)} of {len(notebooks)} notebooks failed: "
              + ", ".join(p.name for p in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
