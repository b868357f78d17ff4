"""The benchmarks still run: each prints its tables on a tiny workload.

No timing is asserted here (speed is measured by running the benchmarks
themselves, as ratios in one run); these only keep them from rotting.
"""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_benchmark(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_asyncio_benchmark_prints_its_ratio_and_cancellation_tables() -> None:
    out = run_benchmark("benchmarks.aio", "--jobs", "200", "--rounds", "1", "--hung", "5")
    assert "| idiom " in out and "| pool " in out and "<= 1.5" in out
    assert "shutdown deadline -> all cancelled" in out


def test_the_asyncio_price_benchmark_builds_its_variants_and_prints_their_ratios() -> None:
    # Its variants are made by removing text from a copy of pool/: this fails,
    # naming the removal, once the pool's source no longer has that text.
    out = run_benchmark("benchmarks.aio_price", "--jobs", "200", "--rounds", "1")
    for row in ("| idiom ", "| pool ", "| pool, no lock ", "| pool, no job ctx ",
                "| pool, neither "):
        assert row in out
