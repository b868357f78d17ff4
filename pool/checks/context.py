"""Notebook 02, the context exercise: ``check_child_context`` — propagation down a context tree.

The learner writes a minimal context: ``with_cancel()`` and
``with_deadline(when)`` make children, ``done()``/``err()``/``deadline()``
describe one. The checker drives it only through those five methods, so
any design passes that behaves right: children kept in a list by the parent
(push), or a child asking its parents each time (pull).
"""

from __future__ import annotations

import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from .._validate import type_name
from ..context import Canceled, ContextError, DeadlineExceeded
from ._harness import _PROMPT, _check_callable, _describe, _Env, _Fail, _run, _Scenario, _show

__all__ = ["check_child_context"]

_SOON = 0.15
"""Seconds ahead the short deadlines in the scenarios are set."""
_PAST = 0.05
"""How long after a deadline the scenarios look: a lazy context notices it when asked."""
_STEP_WAIT = 0.1
"""How long the race scenarios let the other thread run while the traced one is paused."""
_MAX_STEPS = 40
"""Most lines of an answer's code the race scenarios pause at, per direction."""

# Code that is not the learner's: the standard library, the pool package (its own Context
# is the reference; nothing in it to interleave), this checker.
_NOT_THEIRS = tuple(
    str(Path(p).resolve()) for p in {sysconfig.get_paths()["stdlib"],
                                      sysconfig.get_paths()["platstdlib"],
                                      str(Path(__file__).resolve().parent.parent)})


def _theirs(frame: FrameType) -> bool:
    name = frame.f_code.co_filename
    if name.startswith("<frozen"):
        return False
    try:
        path = str(Path(name).resolve())
    except (OSError, ValueError):
        return True
    return not path.startswith(_NOT_THEIRS)


class _Pausing:
    """Runs a call in a thread of its own, traced, and pauses it at its ``step``-th line.

    Only lines of the learner's code count. ``paused`` is set when the pause
    begins; ``resume`` ends it (or the pause gives up after a second).
    """

    def __init__(self, env: _Env, fn: Callable[[], Any], step: int) -> None:
        self._env = env
        self._fn = fn
        self._step = step
        self._lines = 0
        self.paused = threading.Event()
        self.resume = threading.Event()
        env.later(self.resume.set)
        self.value: Any = None
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pool-check-traced", daemon=True)

    def stopped(self) -> bool:
        """Paused at its step, or finished without reaching it."""
        return self.paused.is_set() or self.finished.is_set()

    def _run(self) -> None:
        previous = sys.gettrace()
        sys.settrace(self._global)
        try:
            self.value = self._fn()
        except BaseException as exc:  # a wrong answer may raise anything; it becomes a hint
            self.error = exc
        finally:
            sys.settrace(previous)
            self.finished.set()
            self._env.poke()

    def _global(self, frame: FrameType, event: str, arg: Any) -> Any:
        return self._local if event == "call" and _theirs(frame) else None

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self._lines += 1
            if self._lines == self._step:
                self.paused.set()
                self._env.poke()
                self.resume.wait(_PROMPT)
        return self._local


class _Plain:
    """Runs a call in a daemon thread of its own; ``finished`` is set when it ends."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self.value: Any = None
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pool-check-other", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.value = self._fn()
        except BaseException as exc:  # a wrong answer may raise anything; it becomes a hint
            self.error = exc
        finally:
            self.finished.set()


# -- the exercise: a context tree ------------------------------------------------------------


def check_child_context(make_root: Callable[[], Any]) -> bool:
    """Check notebook 02's context exercise: a minimal context whose cancel reaches its children.

    ``make_root()`` returns a root context (the class itself qualifies, when
    ``MiniContext()`` makes a root; so does ``pool.background``). A context
    has ``with_cancel() -> (child, cancel)``, ``with_deadline(when) ->
    (child, cancel)`` (``when`` a ``time.monotonic()`` value), ``done() ->
    bool``, ``err()`` (``None`` while not done, then a ``pool.Canceled`` or
    ``pool.DeadlineExceeded`` instance) and ``deadline()`` (a monotonic
    time or ``None``). Scenarios: a root and a new child are not done; a
    cancel reaches children and grandchildren, never a parent or a sibling;
    a child of a done parent is done at once; a child cannot outlive its
    parent's deadline, and may end earlier; ``err()`` names the cause, and
    keeps naming the first one; ``cancel()`` may be called twice; a child
    made while another thread cancels its parent is never left behind
    (the race is searched for by pausing one thread at each line of the
    answer's code and letting the other run meanwhile).

    Prints one line per scenario and returns True if all passed. Takes about
    a second for a right answer; a failing scenario is bounded too, never
    forever. Raises ``TypeError`` only if ``make_root`` is not callable.
    """
    _check_callable(make_root, "make_root")

    def ask(env: _Env, what: str, fn: Callable[[], Any]) -> Any:
        call = env.start(fn)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail(f"{what} did not return within {_PROMPT:g} s: asking or deriving a "
                        "context must not wait for anything (a lock taken twice?)")
        if call.error is not None:
            raise _Fail(f"{what} raised {_describe(call.error)}")
        return call.value

    def root(env: _Env) -> Any:
        return ask(env, "make_root()", make_root)

    def derive(env: _Env, parent: Any, how: str, *args: Any) -> tuple[Any, Callable[[], Any]]:
        shown = f"{how}({', '.join('when' for _ in args)})"
        pair = ask(env, shown, lambda: getattr(parent, how)(*args))
        if not (isinstance(pair, tuple) and len(pair) == 2 and callable(pair[1])):
            raise _Fail(f"{shown} returned {_show(pair)}, not a (child, cancel) pair")
        return pair[0], pair[1]

    def done(env: _Env, ctx: Any, name: str) -> bool:
        value = ask(env, f"done() of {name}", ctx.done)
        if not isinstance(value, bool):
            raise _Fail(f"done() of {name} returned {_show(value)}, not True or False")
        return value

    def err(env: _Env, ctx: Any, name: str) -> Any:
        return ask(env, f"err() of {name}", ctx.err)

    def expect_err(env: _Env, ctx: Any, name: str, want: type[ContextError], why: str) -> None:
        got = err(env, ctx, name)
        if isinstance(got, want):
            return
        if got is None:
            raise _Fail(f"err() of {name} is None although it is done ({why}): name the cause, "
                        f"a {want.__name__}")
        if isinstance(got, type):
            raise _Fail(f"err() of {name} returned the class {got.__name__}, not an instance: "
                        f"return {want.__name__}(...), an exception a caller can raise")
        raise _Fail(f"err() of {name} returned {_err_name(got)} although {why}: it must be a "
                    f"{want.__name__}, so the caller can tell a cancel from a missed deadline")

    def cancel_it(env: _Env, cancel: Callable[[], Any], what: str) -> None:
        ask(env, what, cancel)

    def fresh(env: _Env) -> None:
        r = root(env)
        if done(env, r, "the root") or err(env, r, "the root") is not None:
            raise _Fail("the root is done from the start: a root is never done")
        if ask(env, "deadline() of the root", r.deadline) is not None:
            raise _Fail("the root has a deadline: a root has none (deadline() is None)")
        child, cancel = derive(env, r, "with_cancel")
        env.later(cancel)
        if done(env, child, "a new child") or err(env, child, "a new child") is not None:
            raise _Fail("a child is done as soon as it is made, before anyone cancelled it")

    def reaches_descendants(env: _Env) -> None:
        r = root(env)
        request, cancel_request = derive(env, r, "with_cancel")
        job, cancel_job = derive(env, request, "with_cancel")
        env.later(cancel_job)
        step, cancel_step = derive(env, job, "with_deadline", time.monotonic() + 60)
        env.later(cancel_step)
        cancel_it(env, cancel_request, "cancelling request")
        if not done(env, request, "request"):
            raise _Fail("request is not done after its own cancel(): cancel must mark it done")
        if not done(env, job, "job"):
            raise _Fail("cancelling request did not reach its child job: cancel every child too")
        if not done(env, step, "step"):
            raise _Fail("cancelling request reached its child job but not its grandchild step: "
                        "a cancel must go all the way down (each child cancels its own children)")
        for ctx, name in ((request, "request"), (job, "job"), (step, "step")):
            expect_err(env, ctx, name, Canceled, "request was cancelled")

    def stays_below(env: _Env) -> None:
        r = root(env)
        parent, cancel_parent = derive(env, r, "with_cancel")
        env.later(cancel_parent)
        first, cancel_first = derive(env, parent, "with_cancel")
        second, cancel_second = derive(env, parent, "with_cancel")
        env.later(cancel_second)
        cancel_it(env, cancel_first, "cancelling first")
        if not done(env, first, "first"):
            raise _Fail("first is not done after its own cancel()")
        if done(env, parent, "parent"):
            raise _Fail("cancelling a child made its parent done: a cancel flows down the tree, "
                        "never up (one job's end must not end the whole request)")
        if done(env, second, "second"):
            raise _Fail("cancelling a child made its sibling done: a cancel reaches only the "
                        "context it belongs to and that context's descendants")
        if done(env, r, "the root"):
            raise _Fail("cancelling a child made the root done: a cancel never flows up")

    def born_done(env: _Env) -> None:
        r = root(env)
        parent, cancel_parent = derive(env, r, "with_cancel")
        cancel_it(env, cancel_parent, "cancelling parent")
        late, cancel_late = derive(env, parent, "with_cancel")
        env.later(cancel_late)
        if not done(env, late, "a child of a cancelled parent"):
            raise _Fail("a child made from an already cancelled parent is not done: the "
                        "parent's cancel is over and will never reach it; a new child must "
                        "look at its parent when it is made")
        expect_err(env, late, "a child of a cancelled parent", Canceled,
                   "its parent was cancelled")

    def no_longer_than_parent(env: _Env) -> None:
        r = root(env)
        start = time.monotonic()
        parent, cancel_parent = derive(env, r, "with_deadline", start + _SOON)
        env.later(cancel_parent)
        greedy, cancel_greedy = derive(env, parent, "with_deadline", start + 60)
        env.later(cancel_greedy)
        below, cancel_below = derive(env, greedy, "with_cancel")
        env.later(cancel_below)
        modest, cancel_modest = derive(env, parent, "with_deadline", start + _SOON / 3)
        env.later(cancel_modest)
        parent_deadline = ask(env, "deadline() of parent", parent.deadline)
        if parent_deadline != start + _SOON:
            raise _Fail(f"with_deadline(when) made a child whose deadline() is "
                        f"{_show_time(parent_deadline, start)}: keep the time it was given")
        greedy_deadline = ask(env, "deadline() of a child", greedy.deadline)
        if not isinstance(greedy_deadline, (int, float)) or greedy_deadline > parent_deadline:
            raise _Fail("a child that asked for 60 s under a parent with 0.15 s left has "
                        f"deadline() {_show_time(greedy_deadline, start)}: a child cannot "
                        "outlive its parent; its deadline is the earlier of the two")
        if ask(env, "deadline() of a child", modest.deadline) != start + _SOON / 3:
            raise _Fail("a child that asked for less time than its parent has did not get its "
                        "own, earlier deadline: the earlier of the two wins")
        if done(env, parent, "parent"):
            raise _Fail(f"a context is done before its deadline ({_SOON:g} s away)")
        time.sleep(max(0.0, start + _SOON / 3 + _PAST - time.monotonic()))
        if not done(env, modest, "the child with the earlier deadline"):
            raise _Fail("a child is not done after its own deadline passed")
        if done(env, parent, "parent"):
            raise _Fail("a child's deadline ended its parent: a deadline flows down, never up")
        time.sleep(max(0.0, start + _SOON + _PAST - time.monotonic()))
        if not done(env, greedy, "the child that asked for 60 s"):
            raise _Fail("a child outlived its parent's deadline: once the parent's time is "
                        "up, its children's is too")
        if not done(env, below, "a grandchild"):
            raise _Fail("a grandchild (made with with_cancel) outlived its grandparent's "
                        "deadline: the earliest deadline up the tree applies")
        for ctx, name in ((parent, "parent"), (greedy, "the child that asked for 60 s"),
                          (below, "a grandchild")):
            expect_err(env, ctx, name, DeadlineExceeded, "the deadline passed")

    def first_cause_kept(env: _Env) -> None:
        r = root(env)
        start = time.monotonic()
        canceled, cancel_canceled = derive(env, r, "with_deadline", start + _SOON / 2)
        expired, cancel_expired = derive(env, r, "with_deadline", start + _SOON / 2)
        cancel_it(env, cancel_canceled, "cancelling a context")
        expect_err(env, canceled, "a cancelled context", Canceled, "it was cancelled")
        time.sleep(max(0.0, start + _SOON / 2 + _PAST - time.monotonic()))
        if not done(env, expired, "a context past its deadline"):
            raise _Fail("a context is not done after its deadline passed")
        expect_err(env, expired, "a context past its deadline", DeadlineExceeded,
                   "its deadline passed")
        expect_err(env, canceled, "a context cancelled before its deadline", Canceled,
                   "it was cancelled first; err() keeps naming the first cause")
        cancel_it(env, cancel_expired, "cancelling a context past its deadline")
        expect_err(env, expired, "a context cancelled after its deadline passed",
                   DeadlineExceeded, "the deadline came first; err() keeps naming the first "
                   "cause")

    def cancel_twice(env: _Env) -> None:
        r = root(env)
        ctx, cancel = derive(env, r, "with_cancel")
        cancel_it(env, cancel, "cancelling a context")
        cancel_it(env, cancel, "calling its cancel() a second time")
        if not done(env, ctx, "a context cancelled twice"):
            raise _Fail("a context cancelled twice is not done")

    def race(traced_creates: bool) -> Callable[[_Env], None]:
        def scenario(env: _Env) -> None:
            # First without a second thread: a plain mistake gets its plain hint.
            parent, cancel_parent = derive(env, root(env), "with_cancel")
            child, cancel_child = derive(env, parent, "with_cancel")
            env.later(cancel_child)
            cancel_it(env, cancel_parent, "cancelling a parent")
            if not done(env, child, "a child of a cancelled parent"):
                raise _Fail("cancelling a parent did not reach its child, even with no other "
                            "thread about")
            for step in range(1, _MAX_STEPS + 1):
                r = root(env)
                parent, cancel_parent = derive(env, r, "with_cancel")

                def create(parent: Any = parent) -> Any:
                    return parent.with_cancel()

                traced = _Pausing(env, create if traced_creates else cancel_parent, step)
                traced.thread.start()
                env.wait_until(traced.stopped, _PROMPT)
                if not traced.paused.is_set():
                    if not traced.finished.is_set():
                        raise _Fail("making a child or cancelling did not finish within "
                                    f"{_PROMPT:g} s")
                    break  # every line of the call has been a pause point: no race found
                other = _Plain(cancel_parent if traced_creates else create)
                other.finished.wait(_STEP_WAIT)  # the other thread runs while this one pauses
                traced.resume.set()
                both = traced.finished.wait(_PROMPT) and other.finished.wait(_PROMPT)
                if not both:
                    raise _Fail("making a child while another thread cancelled its parent "
                                "never finished: the two threads wait for each other (two "
                                "locks taken in opposite orders?); one lock for the whole "
                                "tree cannot deadlock")
                maker = traced if traced_creates else other
                for call, what in ((maker, "making the child"),
                                   (other if traced_creates else traced, "cancelling")):
                    if call.error is not None:
                        raise _Fail(f"{what} raised {_describe(call.error)} while another "
                                    "thread was " + ("cancelling the parent" if what ==
                                                     "making the child" else "making a child")
                                    + ": the two changed the tree at the same time; guard "
                                    "them with a lock")
                pair = maker.value
                if not (isinstance(pair, tuple) and len(pair) == 2):
                    raise _Fail(f"with_cancel() returned {_show(pair)}, not a (child, cancel) "
                                "pair")
                env.later(pair[1])
                if not done(env, pair[0], "a child made while its parent was cancelled"):
                    raise _Fail(
                        "a child made while another thread cancelled its parent was never "
                        "done: " + ("between the child's look at its parent ('not done yet') "
                                    "and its joining the parent's children, the cancel ran "
                                    "and missed it" if traced_creates else
                                    "the cancel looked at the parent's children before "
                                    "marking the parent done, and the child joined in "
                                    "between") +
                        "; a check and the change it leads to must be one step for other "
                        "threads (a lock around both), or the child must join first and "
                        "check after")
        return scenario

    return _run("context", [
        _Scenario("a root and a new child are not done", fresh),
        _Scenario("a cancel reaches children and grandchildren", reaches_descendants),
        _Scenario("a child's cancel reaches neither its parent nor its sibling", stays_below),
        _Scenario("a child of a cancelled parent is done at once", born_done),
        _Scenario("a child cannot outlive its parent's deadline, may end before it",
                  no_longer_than_parent),
        _Scenario("err() names the cause, and keeps naming the first one", first_cause_kept),
        _Scenario("cancel() may be called twice", cancel_twice),
        _Scenario("a child made while its parent is cancelled elsewhere is cancelled too",
                  race(traced_creates=True)),
        _Scenario("a cancel while a child is being made elsewhere reaches that child",
                  race(traced_creates=False)),
    ])


def _err_name(value: Any) -> str:
    if isinstance(value, BaseException):
        return f"a {type_name(value)}"
    return _show(value)


def _show_time(value: Any, start: float) -> str:
    """A deadline, shown stably: relative to when the scenario began, rounded."""
    if value is None:
        return "None"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value - start:+.2f} s from when it was made"
    return _show(value)
