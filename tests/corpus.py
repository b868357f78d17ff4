"""What the checker test corpora share: running a checker on an answer and reading its output.

Every checker in ``pool.checks`` prints one line per scenario, ``ok   <subject> <scenario>``
or ``FAIL <subject> <scenario>: <hint>``, and returns whether every scenario passed. The
tests of a checker (``test_check_*.py``, ``test_checks.py``) run it on right and wrong
answers with :func:`run_check`, read which scenarios failed with which hint from the
:class:`Run` it returns, and make sure with :func:`no_thread_left_behind` that the check
left no thread running. :func:`raise_at_once` and :func:`do_nothing` are the unfinished
answers every checker must fail without raising.

Each test file binds these to its own checker in a short ``run_check`` of its own, so that
its tests read the same as before: where the files differ (which output they accept, what
they return, whether stderr must stay empty, a time limit, something to do after the check),
the difference is an explicit argument here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

OK = "ok   "
FAIL = "FAIL "


class Output(Protocol):
    """The shape a checker's output must have, and how to read its hints out of it."""

    def failures(self, lines: list[str]) -> dict[str, str]:
        """Assert that ``lines`` has the shape; return failed scenario -> hint."""
        ...


@dataclass(frozen=True)
class NamedScenarios:
    """Output of one line per scenario of ``scenarios``, in that order, each naming ``subject``.

    A line is ``ok   <subject> <scenario>`` exactly, or ``FAIL <subject> <scenario>: <hint>``.
    """

    subject: str
    scenarios: Sequence[str]

    def failures(self, lines: list[str]) -> dict[str, str]:
        """Failed scenario -> hint, asserting every line is its scenario's ok or FAIL line.

        Scenario names may hold ': ', so each is matched whole, not split at the first ': '.
        """
        out = "\n".join(lines)
        assert len(lines) == len(self.scenarios), out
        failed: dict[str, str] = {}
        for line, scenario in zip(lines, self.scenarios, strict=True):
            if line == f"{OK}{self.subject} {scenario}":
                continue
            prefix = f"{FAIL}{self.subject} {scenario}: "
            assert line.startswith(prefix), out
            failed[scenario] = line[len(prefix):]
        return failed


@dataclass(frozen=True)
class CountedScenarios:
    """Output of ``count`` lines, each starting ``ok   `` or ``FAIL ``; the scenarios unnamed.

    A failure is keyed by all the FAIL line says before its first ': ' (``<subject>
    <scenario>``), for tests that know the scenarios only by the words of the checker.
    """

    count: int

    def failures(self, lines: list[str]) -> dict[str, str]:
        """``<subject> <scenario>`` -> hint of every FAIL line, asserting the lines' shape."""
        out = "\n".join(lines)
        assert len(lines) == self.count, out
        assert all(line.startswith((OK, FAIL)) for line in lines), out
        failed: dict[str, str] = {}
        for line in lines:
            if line.startswith(FAIL):
                scenario, _, hint = line[len(FAIL):].partition(": ")
                failed[scenario] = hint
        return failed


@dataclass(frozen=True)
class Run:
    """One check of one answer: whether it passed, the lines it printed, the seconds it took,
    and failed scenario -> hint (read from the lines as its :class:`Output` says)."""

    passed: bool
    lines: list[str]
    elapsed: float
    failures: dict[str, str]

    def as_tuple(self) -> tuple[bool, dict[str, str], float]:
        """``(passed, failures, elapsed)``, the shape some test files unpack."""
        return self.passed, self.failures, self.elapsed


def run_check(
    check: Callable[..., bool],
    args: Sequence[Any],
    capsys: pytest.CaptureFixture[str],
    output: Output,
    *,
    stderr_empty: bool = True,
    within: float | None = None,
    afterwards: Callable[[], object] | None = None,
) -> Run:
    """Run ``check(*args)`` and return its :class:`Run`, asserting its output is sound.

    ``args`` is what the checker takes: the answer (for ``check_service``, handle and
    stop). The check's printed lines must have the shape ``output`` says, and it must return
    True exactly when none failed. ``stderr_empty``: the check printed nothing to stderr
    (False where a checker's answers may warn there). ``within``: the check took less than
    this many seconds (asserted before its output is read). ``afterwards``: called once the
    check has returned or raised, e.g. to end the loops of an answer that spins.
    """
    capsys.readouterr()
    start = time.monotonic()
    try:
        passed = check(*args)
    finally:
        if afterwards is not None:
            afterwards()
    elapsed = time.monotonic() - start
    if within is not None:
        assert elapsed < within
    out, err = capsys.readouterr()
    if stderr_empty:
        assert err == ""
    lines = out.splitlines()
    failures = output.failures(lines)
    assert passed == (not failures)
    return Run(passed, lines, elapsed, failures)


def _join(threads: set[threading.Thread], deadline: float, *, wait_for_unstarted: bool) -> None:
    """Join each of ``threads`` until ``deadline`` (a ``time.monotonic()`` time).

    ``wait_for_unstarted``: a thread listed but not started yet (its join raises
    RuntimeError) is waited for until it starts; otherwise that RuntimeError is raised.
    """
    for thread in threads:
        if not wait_for_unstarted:
            thread.join(max(0.0, deadline - time.monotonic()))
            continue
        while time.monotonic() < deadline:
            try:
                thread.join(max(0.0, deadline - time.monotonic()))
                break
            except RuntimeError:  # listed, but not started yet: it will be in a moment
                time.sleep(0.01)


@contextmanager
def no_thread_left_behind(
    *,
    grace: float = 5.0,
    trace_hook: bool = False,
    wait_for_unstarted: bool = False,
    setup: Callable[[], object] | None = None,
    teardown: Callable[[], object] | None = None,
) -> Iterator[None]:
    """Assert that every thread started inside the block has ended within ``grace`` seconds.

    Meant as the body of an autouse fixture (``with no_thread_left_behind(): yield``), whose
    teardown runs whether or not the test passed. ``setup`` is called before the threads are
    counted and ``teardown`` right after the block (e.g. to clear and set the event that ends
    an answer's loops, or to close what a wrong answer left open). ``trace_hook``: also assert
    that ``threading.gettrace()`` is what it was before (a check may borrow it).
    ``wait_for_unstarted``: see :func:`_join`.
    """
    if setup is not None:
        setup()
    before = set(threading.enumerate())
    hook = threading.gettrace()
    yield
    if teardown is not None:
        teardown()
    if trace_hook:
        assert threading.gettrace() is hook
    deadline = time.monotonic() + grace
    _join(set(threading.enumerate()) - before, deadline, wait_for_unstarted=wait_for_unstarted)
    left = sorted(t.name for t in set(threading.enumerate()) - before if t.is_alive())
    assert left == [], f"threads still running after the test: {left}"


def raise_at_once(*args: Any, **kwargs: Any) -> Any:
    """An unfinished answer: raises NotImplementedError("write me"), whatever it is given."""
    raise NotImplementedError("write me")


def do_nothing(*args: Any, **kwargs: Any) -> Any:
    """An unfinished answer: returns None, whatever it is given."""
    return None
