"""What each of ``AsyncPool``'s guarantees costs a job: the pool without it, against the idiom.

Run: ``.venv/bin/python -m benchmarks.aio_price`` (``--help`` for the knobs).

``benchmarks.aio`` compares the pool as shipped with the hand-written
idiom. This prices the two guarantees that cost the most, by measuring
copies of ``pool/`` with one or both taken out of the source:

- **no lock**: the ledger's lock is not taken around a job's moves, so a
  ``stats`` read from another thread could catch a job between two
  counters;
- **no job ctx**: ``process`` gets the submitted job itself, with no
  per-job ``Context`` and no job copy, so ``job.ctx`` is no longer done
  when the job's task or the pool is cancelled.

The variants break the contract: they exist only in a temporary directory,
only to be measured. Each contender runs in a process of its own, rounds
interleaved; time is the median of per-round ratios against the idiom's
run of the same round. With ``--instructions``, also CPU instructions a job
(``valgrind --tool=callgrind``, garbage collector off so the count grows
linearly with the jobs: a run of 2N jobs less a run of N, less the making
of the jobs). If the pool's source has changed so that a removal no longer
applies, the run stops and names it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchmarks.aio import callgrind_per_job

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (file under pool/, text to find exactly once, what replaces it)
# The lock holds of a job's two moves on the common paths: submit's (admitted)
# and its worker's (the last job ended, this one started). Rarer paths keep theirs.
_NO_LOCK = [
    ("aio.py", '        lock.acquire()  # (not "with": half the cost, once per job)\n', ""),
    ("aio.py", "            lock.release()\n        if timeout == 0",
     "            pass\n        if timeout == 0"),
    ("aio.py", '                acquire()  # (not "with": half the cost, once per job)\n', ""),
    ("aio.py", "                    release()\n                if taken is None",
     "                    pass\n                if taken is None"),
]
_IN_WORKER = " " * 24  # the indentation of the worker's per-job lines
# A default-context job: no light Context made for it, and process() gets the job itself.
_NO_JOB_CTX = [
    ("aio.py", "copy = _copy_with_ctx(job, ctx)", "copy = job"),
    ("aio.py", _IN_WORKER + "ctx = _new(Context)\n" + _IN_WORKER + "ctx._parents = ()\n"
     + _IN_WORKER + "ctx._deadline = ctx._err = ctx._event = ctx._children = None",
     _IN_WORKER + "ctx = None"),
]
VARIANTS: dict[str, list[tuple[str, str, str]]] = {
    "pool, no lock": _NO_LOCK,
    "pool, no job ctx": _NO_JOB_CTX,
    "pool, neither": _NO_LOCK + _NO_JOB_CTX,
}


def build(into: str) -> dict[str, str]:
    """Write each variant's ``pool/`` under ``into``; return contender -> its import root.

    Raises ``RuntimeError`` naming the removal that no longer applies.
    """
    roots = {"idiom": ROOT, "pool": ROOT}
    for name, edits in VARIANTS.items():
        root = os.path.join(into, name.replace(", ", "-").replace(" ", "_"))
        shutil.copytree(os.path.join(ROOT, "pool"), os.path.join(root, "pool"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for file, old, new in edits:
            path = os.path.join(root, "pool", file)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if text.count(old) != 1:
                raise RuntimeError(f"{name}: pool/{file} no longer has exactly one {old.strip()!r}:"
                                   " update benchmarks/aio_price.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new))
        roots[name] = root
    return roots


def _command(root: str, contender: str, jobs: int, workers: int, buffer: int,
             gc_off: bool) -> list[str]:
    # The variant's pool/ first on the path, then the repository (for benchmarks.aio).
    one = "pool" if contender.startswith("pool") else contender
    code = (f"import gc, sys; sys.path[:0] = [{root!r}, {ROOT!r}]; "
            + ("gc.disable(); " if gc_off else "")
            + "from benchmarks import aio; "
            + f"print(aio.run_one({one!r}, {jobs}, {workers}, {buffer}))")
    return [sys.executable, "-c", code]


def seconds_per_job(root: str, contender: str, jobs: int, workers: int, buffer: int) -> float:
    """One run of ``contender`` (its pool imported from ``root``), in a process of its own."""
    done = subprocess.run(_command(root, contender, jobs, workers, buffer, gc_off=False),
                          capture_output=True, text=True, check=True, timeout=600, cwd=root)
    return float(done.stdout.strip().splitlines()[-1])


def instructions(root: str, contender: str, jobs: int, workers: int, buffer: int) -> int:
    """CPU instructions a job of ``contender`` (GC off): a run of 2N jobs less a run of N."""
    return callgrind_per_job(
        lambda n: _command(root, contender, n, workers, buffer, gc_off=True), jobs, cwd=root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--buffer", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--instructions", action="store_true",
                        help="also count CPU instructions a job (needs valgrind; slow)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aio-price-") as tmp:
        roots = build(tmp)
        print(f"Python {sys.version.split()[0]}, {args.jobs} no-op jobs, {args.workers} workers,"
              f" buffer {args.buffer}, {args.rounds} interleaved rounds")
        times: dict[str, list[float]] = {name: [] for name in roots}
        for _ in range(args.rounds):
            for name, root in roots.items():
                times[name].append(
                    seconds_per_job(root, name, args.jobs, args.workers, args.buffer))
        counts: dict[str, int] = {}
        if args.instructions:
            if shutil.which("valgrind") is None:
                print("--instructions: valgrind is not installed (apt-get install valgrind)")
            else:
                n = min(args.jobs, 4_000)  # under valgrind a job takes ~50x as long
                making = instructions(ROOT, "jobs only", n, args.workers, args.buffer)
                counts = {name: instructions(root, name, n, args.workers, args.buffer) - making
                          for name, root in roots.items()}
    print()
    print("| contender        | us/job | time ratio (median) | spread    | instr/job | ratio |")
    print("|------------------|-------:|--------------------:|----------:|----------:|------:|")
    for name, ts in times.items():
        ratios = sorted(t / i for t, i in zip(ts, times["idiom"], strict=True))
        count = counts.get(name)
        instr = f"{count:9,d} | {count / counts['idiom']:5.2f}" if count else "        - |     -"
        print(f"| {name:<16} | {statistics.median(ts) * 1e6:6.2f} | "
              f"{statistics.median(ratios):19.2f} | {ratios[0]:.2f}-{ratios[-1]:.2f} | {instr} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
