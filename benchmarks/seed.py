"""The Go guide's seed program beside ``python -m pool demo``, as ratios in one run.

Run: ``.venv/bin/python -m benchmarks.seed [--rounds N]`` (needs ``go``; Debian's
``golang-go``). ``benchmarks/seed/main.go`` is the seed written for this
course: 3 workers, 5 jobs of 500 ms through a buffered channel, close, wait,
``Shutdown complete``. It is built once, then the two programs run round by
round, interleaved, so machine noise hits both alike; the table shows medians
of the wall time from starting the process to its exit, and the Python row
also without the interpreter's own start-up (``python -c pass``).

Both should take about 1.0 s: two rounds of jobs (3 workers, 5 jobs) of
0.5 s each. What a learner should read from it: the pool adds milliseconds,
not a different shape.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = Path(__file__).resolve().parent / "seed" / "main.go"
TIMEOUT = 30.0  # one run of either program; both take about a second


def build(go: str, out: Path) -> Path:
    """Compile the seed program into ``out``; raise CalledProcessError on a compile error."""
    binary = out / "seed"
    env = dict(os.environ, GOCACHE=str(out / "gocache"))
    subprocess.run([go, "build", "-o", str(binary), str(SEED)], check=True, env=env,
                   timeout=300, capture_output=True)
    return binary


def wall(command: list[str]) -> tuple[float, str]:
    """Run ``command`` to its end; return its wall time and its standard output."""
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=TIMEOUT)
    return time.perf_counter() - start, done.stdout


def shape(stdout: str) -> list[str]:
    """The lines that both programs print, without worker numbers or order."""
    return sorted(" ".join(w for i, w in enumerate(line.split()) if i != 1)
                  for line in stdout.splitlines() if line.startswith("Worker")) \
        + [line for line in stdout.splitlines() if line == "Shutdown complete"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.seed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="runs of each program (>= 1)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    go = shutil.which("go")
    if go is None:
        print("go not found: install Debian's golang-go to run the seed program", file=sys.stderr)
        return 2
    times: dict[str, list[float]] = {"go": [], "python": [], "startup": []}
    with tempfile.TemporaryDirectory(prefix="seed-") as tmp:
        binary = build(go, Path(tmp))
        for _ in range(args.rounds):
            t, go_out = wall([str(binary)])
            times["go"].append(t)
            t, py_out = wall([sys.executable, "-m", "pool", "demo"])
            times["python"].append(t)
            times["startup"].append(wall([sys.executable, "-c", "import pool"])[0])
            if shape(go_out) != shape(py_out):
                print(f"the two programs printed different lines:\n{go_out}\n---\n{py_out}",
                      file=sys.stderr)
                return 1
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"| seed program, median of {args.rounds} runs | wall s | vs Go |")
    print("|---|---:|---:|")
    print(f"| Go 1.19 (`benchmarks/seed/main.go`, built) | {med['go']:.3f} | 1.00x |")
    print(f"| `python -m pool demo` | {med['python']:.3f} | {med['python'] / med['go']:.2f}x |")
    net = med["python"] - med["startup"]
    print(f"| the same, less Python's start-up and `import pool` ({med['startup']:.3f} s) | "
          f"{net:.3f} | {net / med['go']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
