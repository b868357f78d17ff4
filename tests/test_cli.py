"""`python -m pool demo`, run as a learner runs it: in a subprocess.

The interpreter under test is ``sys.executable`` unless ``POOL_CLI_PYTHON``
names another (e.g. ``POOL_CLI_PYTHON=python3.13``); the package is found
through ``PYTHONPATH``, so it need not be installed there.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pool.demo import will_fail

ROOT = Path(__file__).resolve().parents[1]
PYTHON = os.environ.get("POOL_CLI_PYTHON", sys.executable)

STARTED = re.compile(r"Worker (\d+) started job (\d+)")
FINISHED = re.compile(r"Worker (\d+) finished job (\d+)")
FAILED = re.compile(r"Worker (\d+) failed job (\d+): RuntimeError: simulated failure")
CANCELED = re.compile(r"Worker (\d+) canceled job (\d+): context canceled")
ABANDONED = re.compile(r"Job (\d+) abandoned on worker (\d+): still running after [\d.]+ s")
SHUTDOWN_COMPLETE = "Shutdown complete"

OPTIONS = ("--workers", "--jobs", "--duration", "--fail-rate", "--hang",
           "--shutdown-timeout", "--grace", "--seed")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def run_pool(*args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pool ARGS`` to the end, at most ``timeout`` seconds."""
    return subprocess.run([PYTHON, "-m", "pool", *args], capture_output=True, text=True,
                          timeout=timeout, env=_env(), cwd=ROOT, check=False)


def job_ids(lines: list[str], pattern: re.Pattern[str], group: int = 2) -> list[int]:
    """The job ids of the lines that match ``pattern`` exactly, in order."""
    return [int(m.group(group)) for line in lines if (m := pattern.fullmatch(line))]


class RunningDemo:
    """A ``python -m pool demo`` subprocess whose stdout lines can be awaited with a bound."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([PYTHON, "-m", "pool", "demo", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=_env(), cwd=ROOT)
        self.stdout: list[str] = []  # the lines read so far
        self.stderr = ""
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def next_line(self, timeout: float = 10) -> str:
        """The next stdout line; fails if none comes within ``timeout`` or stdout closes."""
        line = self._lines.get(timeout=timeout)
        assert line is not None, f"stdout closed early; stdout so far: {self.stdout}"
        self.stdout.append(line)
        return line

    def wait_for(self, prefix: str, timeout: float = 10) -> str:
        """Read lines until one starts with ``prefix``, within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not (line := self.next_line(max(deadline - time.monotonic(), 0))).startswith(prefix):
            pass
        return line

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 10) -> int:
        """Wait for the exit (at most ``timeout`` s), collect the rest of stdout; the exit code."""
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        while (line := self._lines.get(timeout=timeout)) is not None:
            self.stdout.append(line)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def start_demo() -> Iterator[type[RunningDemo]]:
    """Start demo subprocesses; any still running at the end of the test is killed."""
    started: list[RunningDemo] = []

    class Tracked(RunningDemo):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for demo in started:
        demo.kill()


# -- the seed program -----------------------------------------------------------


@pytest.mark.timeout(30)
def test_default_run_starts_and_finishes_five_jobs_then_shuts_down() -> None:
    result = run_pool("demo")
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert sorted(job_ids(lines, STARTED)) == [1, 2, 3, 4, 5]
    assert sorted(job_ids(lines, FINISHED)) == [1, 2, 3, 4, 5]
    assert {int(w) for w in job_ids(lines, STARTED, group=1)} <= {1, 2, 3}
    assert lines[-1] == SHUTDOWN_COMPLETE
    assert len(lines) == 11  # nothing else: the seed's output exactly


@pytest.mark.timeout(30)
def test_default_run_takes_about_one_second_like_the_go_program() -> None:
    start = time.monotonic()
    result = run_pool("demo")
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert 0.9 <= elapsed < 2.0


@pytest.mark.timeout(30)
def test_every_output_line_is_a_whole_line_under_load() -> None:
    result = run_pool("demo", "--workers", "8", "--jobs", "300", "--duration", "0",
                      "--fail-rate", "0.3")
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    known = (STARTED, FINISHED, FAILED)
    torn = [line for line in lines[:-1] if not any(p.fullmatch(line) for p in known)]
    assert torn == []
    assert lines[-1] == SHUTDOWN_COMPLETE
    assert sorted(job_ids(lines, STARTED)) == list(range(1, 301))
    assert sorted(job_ids(lines, FINISHED) + job_ids(lines, FAILED)) == list(range(1, 301))


# -- failures ---------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_fail_rate_one_prints_failed_lines_logs_them_and_exits_zero() -> None:
    result = run_pool("demo", "--fail-rate", "1", "--duration", "0.05")
    lines = result.stdout.splitlines()
    assert result.returncode == 0
    assert sorted(job_ids(lines, FAILED)) == [1, 2, 3, 4, 5]
    assert job_ids(lines, FINISHED) == []
    assert lines[-1] == SHUTDOWN_COMPLETE
    for job in range(1, 6):
        assert f"job {job} failed" in result.stderr


@pytest.mark.timeout(30)
def test_same_seed_fails_the_same_jobs() -> None:
    args = ("demo", "--jobs", "20", "--duration", "0", "--fail-rate", "0.5", "--seed", "7")
    first, second = run_pool(*args), run_pool(*args)
    failed = set(job_ids(first.stdout.splitlines(), FAILED))
    assert set(job_ids(second.stdout.splitlines(), FAILED)) == failed
    assert failed == {n for n in range(1, 21) if will_fail(7, str(n), 0.5)}
    assert 0 < len(failed) < 20  # the check means something


# -- shutdown timeout ----------------------------------------------------------------


@pytest.mark.timeout(30)
def test_hung_job_is_abandoned_after_shutdown_timeout_and_exit_is_nonzero() -> None:
    start = time.monotonic()
    result = run_pool("demo", "--hang", "--shutdown-timeout", "0.3", timeout=10)
    elapsed = time.monotonic() - start
    lines = result.stdout.splitlines()
    assert result.returncode == 3
    abandoned = [m.groups() for line in lines if (m := ABANDONED.fullmatch(line))]
    worker_of = {m.group(2): m.group(1) for line in lines if (m := STARTED.fullmatch(line))}
    assert abandoned == [("1", worker_of["1"])]  # job 1, on the worker that started it
    assert lines[-1] == SHUTDOWN_COMPLETE
    assert 0.4 <= elapsed < 3.0  # timeout 0.3 + grace 0.1, plus start-up


@pytest.mark.timeout(30)
def test_hang_without_shutdown_timeout_gives_up_after_two_seconds() -> None:
    start = time.monotonic()
    result = run_pool("demo", "--hang", timeout=15)
    elapsed = time.monotonic() - start
    lines = result.stdout.splitlines()
    assert result.returncode == 3
    assert sorted(job_ids(lines, FINISHED)) == [2, 3, 4, 5]
    assert job_ids(lines, ABANDONED, group=1) == [1]
    assert 2.1 <= elapsed < 4.5


@pytest.mark.timeout(30)
def test_shutdown_timeout_cancels_running_and_queued_jobs_and_exit_is_nonzero() -> None:
    start = time.monotonic()
    result = run_pool("demo", "--duration", "30", "--shutdown-timeout", "0.2", timeout=10)
    elapsed = time.monotonic() - start
    lines = result.stdout.splitlines()
    assert result.returncode == 3
    assert sorted(job_ids(lines, CANCELED)) == [1, 2, 3]
    assert "Job 4 canceled before it started" in lines
    assert "Job 5 canceled before it started" in lines
    assert job_ids(lines, ABANDONED, group=1) == []
    assert lines[-1] == SHUTDOWN_COMPLETE
    assert elapsed < 3.0


# -- signals -----------------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_first_signal_finishes_submitted_jobs_and_submits_no_more(
    start_demo: type[RunningDemo], signum: signal.Signals
) -> None:
    demo = start_demo("--jobs", "20", "--duration", "0.2")
    demo.next_line()  # a job has started, so the handlers are installed
    demo.signal(signum)
    code = demo.finish(timeout=10)
    lines = demo.stdout
    assert code == 0, demo.stderr
    assert f"Received {signum.name}: " in "\n".join(lines)
    finished = job_ids(lines, FINISHED)
    assert sorted(job_ids(lines, STARTED)) == sorted(finished)  # every started job finished
    assert sorted(finished) == list(range(1, len(finished) + 1))  # in submission order
    assert len(finished) < 20
    assert f"Stopped early: {20 - len(finished)} of 20 jobs were never submitted" in lines
    assert lines[-1] == SHUTDOWN_COMPLETE


@pytest.mark.timeout(30)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_second_signal_cancels_and_exits_nonzero_at_once(
    start_demo: type[RunningDemo], signum: signal.Signals
) -> None:
    demo = start_demo("--jobs", "5", "--duration", "30")
    demo.next_line()
    demo.signal(signum)
    demo.wait_for(f"Received {signum.name}: ")  # the first one was handled
    start = time.monotonic()
    demo.signal(signum)
    code = demo.finish(timeout=10)
    elapsed = time.monotonic() - start
    assert code == 128 + signum
    assert SHUTDOWN_COMPLETE not in demo.stdout
    assert elapsed < 2.0  # not the 30 s a graceful drain would take


# -- the command line ------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_help_mentions_every_option() -> None:
    result = run_pool("demo", "--help")
    assert result.returncode == 0
    missing = [option for option in OPTIONS if option not in result.stdout]
    assert missing == []


@pytest.mark.timeout(30)
def test_no_subcommand_prints_help() -> None:
    result = run_pool()
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m pool")
    assert "demo" in result.stdout


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--workers", "0"),
        ("--workers", "three"),
        ("--jobs", "0"),
        ("--duration", "-1"),
        ("--duration", "nan"),
        ("--fail-rate", "2"),
        ("--fail-rate", "nan"),
        ("--shutdown-timeout", "-0.5"),
        ("--grace", "inf"),
        ("--seed", "1.5"),
    ],
)
def test_bad_value_exits_2_naming_the_option(option: str, value: str) -> None:
    result = run_pool("demo", option, value)
    assert result.returncode == 2
    assert f"argument {option}: " in result.stderr
    assert result.stdout == ""
