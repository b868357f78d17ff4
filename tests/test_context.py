"""Contract of pool.Context: Go's context, cancellation and deadlines down a tree."""

from __future__ import annotations

import math
import threading
import time

import pytest
from poolhelpers import BAD_TIMEOUTS as BAD_SECONDS

from pool import Canceled, Context, ContextError, DeadlineExceeded, background

# A 0.1 s deadline must fire in this window on a noisy 2-core machine.
SHORT = 0.1
EARLIEST = 0.09
LATEST = 0.5



# -- background ----------------------------------------------------------------


def test_background_is_never_done() -> None:
    ctx = background()
    assert ctx.done() is False
    assert ctx.err() is None
    assert ctx.deadline() is None


def test_background_wait_times_out_and_returns_false() -> None:
    start = time.monotonic()
    assert background().wait(SHORT) is False
    assert EARLIEST <= time.monotonic() - start < LATEST


def test_background_sleep_sleeps_the_full_time() -> None:
    start = time.monotonic()
    assert background().sleep(SHORT) is None
    assert EARLIEST <= time.monotonic() - start < LATEST


def test_background_is_a_context() -> None:
    assert isinstance(background(), Context)


# -- errors ----------------------------------------------------------------------


def test_context_error_is_an_exception() -> None:
    assert issubclass(ContextError, Exception)


def test_canceled_subclasses_context_error() -> None:
    assert issubclass(Canceled, ContextError)


def test_canceled_is_not_a_timeout_error() -> None:
    assert not issubclass(Canceled, TimeoutError)


def test_deadline_exceeded_subclasses_context_error() -> None:
    assert issubclass(DeadlineExceeded, ContextError)


def test_deadline_exceeded_is_a_timeout_error() -> None:
    assert issubclass(DeadlineExceeded, TimeoutError)
    with pytest.raises(TimeoutError):
        raise DeadlineExceeded("deadline")


# -- with_cancel -------------------------------------------------------------------


def test_with_cancel_returns_a_live_child_and_a_cancel_function() -> None:
    child, cancel = background().with_cancel()
    assert isinstance(child, Context)
    assert callable(cancel)
    assert child.done() is False
    assert child.err() is None
    cancel()


def test_cancel_makes_the_child_done_with_canceled() -> None:
    child, cancel = background().with_cancel()
    cancel()
    assert child.done() is True
    assert isinstance(child.err(), Canceled)


def test_cancel_is_idempotent() -> None:
    child, cancel = background().with_cancel()
    cancel()
    cancel()
    assert child.done() is True
    assert isinstance(child.err(), Canceled)


def test_cancel_after_the_deadline_keeps_deadline_exceeded() -> None:
    child, cancel = background().with_timeout(0)
    assert child.done() is True
    cancel()
    assert isinstance(child.err(), DeadlineExceeded)


def test_cancelling_a_child_leaves_its_parent_and_siblings_running() -> None:
    parent, cancel_parent = background().with_cancel()
    child, cancel_child = parent.with_cancel()
    sibling, cancel_sibling = parent.with_cancel()
    cancel_child()
    assert child.done() is True
    assert parent.done() is False
    assert sibling.done() is False
    cancel_parent()
    cancel_sibling()


def test_cancelling_a_parent_cancels_its_child() -> None:
    parent, cancel = background().with_cancel()
    child, _ = parent.with_cancel()
    cancel()
    assert child.done() is True
    assert isinstance(child.err(), Canceled)


def test_cancelling_a_parent_cancels_every_descendant() -> None:
    root, cancel = background().with_cancel()
    child, _ = root.with_cancel()
    timed_child, _ = root.with_timeout(60)
    grandchild, _ = child.with_cancel()
    great_grandchild, _ = grandchild.with_deadline(time.monotonic() + 60)
    merged, _ = Context.merge(grandchild, background())
    cancel()
    for ctx in (child, timed_child, grandchild, great_grandchild, merged):
        assert ctx.done() is True
        assert isinstance(ctx.err(), Canceled)


def test_cancelling_a_parent_wakes_a_grandchild_waiting_in_another_thread(spawn) -> None:
    root, cancel = background().with_cancel()
    grandchild, _ = root.with_cancel()[0].with_cancel()
    waiting = threading.Event()

    def wait_on_grandchild() -> bool:
        waiting.set()
        return grandchild.wait(timeout=10)

    waiter = spawn(wait_on_grandchild)
    assert waiting.wait(5)
    cancel()
    assert waiter.join(5) is True


def test_child_of_a_cancelled_parent_is_born_cancelled() -> None:
    parent, cancel = background().with_cancel()
    cancel()
    child, _ = parent.with_cancel()
    assert child.done() is True
    assert isinstance(child.err(), Canceled)


def test_child_of_an_expired_parent_is_born_deadline_exceeded() -> None:
    parent, _ = background().with_timeout(0)
    child, _ = parent.with_cancel()
    assert child.done() is True
    assert isinstance(child.err(), DeadlineExceeded)


def test_err_returns_a_fresh_exception_each_time() -> None:
    ctx, cancel = background().with_cancel()
    cancel()
    first, second = ctx.err(), ctx.err()
    assert isinstance(first, Canceled)
    assert isinstance(second, Canceled)
    assert first is not second  # raising one must not chain tracebacks onto the other


# -- deadlines ---------------------------------------------------------------------------


def test_with_timeout_sets_the_deadline_seconds_from_now() -> None:
    before = time.monotonic()
    ctx, cancel = background().with_timeout(30)
    after = time.monotonic()
    deadline = ctx.deadline()
    assert deadline is not None
    assert before + 30 <= deadline <= after + 30
    cancel()


def test_with_deadline_sets_that_deadline() -> None:
    when = time.monotonic() + 30
    ctx, cancel = background().with_deadline(when)
    assert ctx.deadline() == when
    cancel()


def test_with_cancel_child_inherits_the_parent_deadline() -> None:
    parent, cancel = background().with_timeout(30)
    child, _ = parent.with_cancel()
    grandchild, _ = child.with_cancel()
    assert child.deadline() == parent.deadline()
    assert grandchild.deadline() == parent.deadline()
    cancel()


def test_child_deadline_is_the_parents_when_that_is_earlier() -> None:
    parent, cancel = background().with_timeout(30)
    child, _ = parent.with_timeout(300)
    grandchild, _ = child.with_deadline(time.monotonic() + 3000)
    assert child.deadline() == parent.deadline()
    assert grandchild.deadline() == parent.deadline()
    cancel()


def test_child_deadline_is_its_own_when_that_is_earlier() -> None:
    parent, cancel = background().with_timeout(300)
    own = time.monotonic() + 30
    child, _ = parent.with_deadline(own)
    assert child.deadline() == own
    cancel()


def test_context_is_done_once_its_deadline_passes() -> None:
    ctx, cancel = background().with_timeout(SHORT)
    assert ctx.done() is False
    assert ctx.wait(5) is True
    assert ctx.done() is True
    assert isinstance(ctx.err(), DeadlineExceeded)
    cancel()


def test_with_timeout_zero_is_done_at_once() -> None:
    ctx, _ = background().with_timeout(0)
    assert ctx.done() is True
    assert isinstance(ctx.err(), DeadlineExceeded)


def test_with_deadline_in_the_past_is_done_at_once() -> None:
    ctx, _ = background().with_deadline(time.monotonic() - 1)
    assert ctx.done() is True
    assert isinstance(ctx.err(), DeadlineExceeded)


def test_with_timeout_infinity_has_no_deadline() -> None:
    ctx, cancel = background().with_timeout(math.inf)
    assert ctx.deadline() is None
    assert ctx.done() is False
    cancel()


def test_parent_deadline_ends_the_child_with_deadline_exceeded() -> None:
    parent, cancel = background().with_timeout(SHORT)
    child, _ = parent.with_cancel()
    assert child.wait(5) is True
    assert isinstance(child.err(), DeadlineExceeded)
    cancel()


# -- wait --------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_wait_without_timeout_returns_at_the_deadline_without_polling() -> None:
    ctx, cancel = background().with_timeout(SHORT)
    start = time.monotonic()
    assert ctx.wait() is True
    assert EARLIEST <= time.monotonic() - start < LATEST
    cancel()


@pytest.mark.timeout(10)
def test_wait_on_a_child_returns_at_the_parents_deadline() -> None:
    parent, cancel = background().with_timeout(SHORT)
    child, _ = parent.with_cancel()
    start = time.monotonic()
    assert child.wait() is True
    assert EARLIEST <= time.monotonic() - start < LATEST
    cancel()


def test_wait_returns_false_when_its_timeout_passes_first() -> None:
    ctx, cancel = background().with_timeout(60)
    start = time.monotonic()
    assert ctx.wait(SHORT) is False
    assert EARLIEST <= time.monotonic() - start < LATEST
    cancel()


def test_wait_zero_on_a_live_context_returns_false_at_once() -> None:
    ctx, cancel = background().with_cancel()
    start = time.monotonic()
    assert ctx.wait(0) is False
    assert time.monotonic() - start < LATEST
    cancel()


def test_wait_on_a_done_context_returns_true_at_once() -> None:
    ctx, cancel = background().with_cancel()
    cancel()
    start = time.monotonic()
    assert ctx.wait() is True
    assert ctx.wait(0) is True
    assert time.monotonic() - start < LATEST


def test_wait_returns_true_when_cancelled_from_another_thread(spawn) -> None:
    ctx, cancel = background().with_cancel()
    waiting = threading.Event()

    def wait_for_ctx() -> bool:
        waiting.set()
        return ctx.wait()

    waiter = spawn(wait_for_ctx)
    assert waiting.wait(5)
    cancel()
    assert waiter.join(5) is True


def test_wait_with_a_huge_timeout_does_not_overflow(spawn) -> None:
    ctx, cancel = background().with_cancel()
    waiting = threading.Event()

    def wait_for_ctx() -> bool:
        waiting.set()
        return ctx.wait(1e300)

    waiter = spawn(wait_for_ctx)
    assert waiting.wait(5)
    cancel()
    assert waiter.join(5) is True


def test_every_thread_waiting_on_a_context_wakes_on_cancel(spawn) -> None:
    ctx, cancel = background().with_cancel()
    ready = threading.Barrier(5, timeout=5)

    def wait_for_ctx() -> bool:
        ready.wait()
        return ctx.wait(10)

    waiters = [spawn(wait_for_ctx) for _ in range(4)]
    ready.wait()
    cancel()
    assert [w.join(5) for w in waiters] == [True] * 4


# -- sleep --------------------------------------------------------------------------


def test_sleep_on_a_cancelled_context_raises_canceled_at_once() -> None:
    ctx, cancel = background().with_cancel()
    cancel()
    start = time.monotonic()
    with pytest.raises(Canceled):
        ctx.sleep(10)
    assert time.monotonic() - start < LATEST


def test_sleep_on_an_expired_context_raises_deadline_exceeded_at_once() -> None:
    ctx, _ = background().with_timeout(0)
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        ctx.sleep(10)
    assert time.monotonic() - start < LATEST


@pytest.mark.timeout(10)
def test_sleep_raises_deadline_exceeded_at_the_deadline() -> None:
    ctx, cancel = background().with_timeout(SHORT)
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        ctx.sleep(10)
    assert EARLIEST <= time.monotonic() - start < LATEST
    cancel()


@pytest.mark.timeout(10)
def test_sleep_raises_canceled_as_soon_as_another_thread_cancels() -> None:
    ctx, cancel = background().with_cancel()
    timer = threading.Timer(SHORT, cancel)
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(Canceled):
            ctx.sleep(10)
        assert EARLIEST <= time.monotonic() - start < LATEST
    finally:
        timer.cancel()
        timer.join(5)


def test_sleep_returns_none_when_the_context_outlives_it() -> None:
    ctx, cancel = background().with_timeout(60)
    start = time.monotonic()
    assert ctx.sleep(SHORT) is None
    assert EARLIEST <= time.monotonic() - start < LATEST
    cancel()


def test_sleep_zero_on_a_live_context_returns() -> None:
    ctx, cancel = background().with_cancel()
    assert ctx.sleep(0) is None
    cancel()


# -- merge --------------------------------------------------------------------------


def test_merge_is_live_while_every_parent_is_live() -> None:
    a, cancel_a = background().with_cancel()
    b, cancel_b = background().with_cancel()
    merged, cancel = Context.merge(a, b)
    assert merged.done() is False
    cancel()
    cancel_a()
    cancel_b()


@pytest.mark.parametrize("which", [0, 1])
def test_merge_is_done_when_any_parent_is_cancelled(which: int) -> None:
    parents = [background().with_cancel() for _ in range(2)]
    merged, _ = Context.merge(parents[0][0], parents[1][0])
    parents[which][1]()
    assert merged.done() is True
    assert isinstance(merged.err(), Canceled)
    assert parents[1 - which][0].done() is False
    parents[1 - which][1]()


def test_merge_deadline_is_the_earliest_of_its_parents() -> None:
    soon, cancel_soon = background().with_timeout(30)
    late, cancel_late = background().with_timeout(300)
    merged, cancel = Context.merge(late, soon)
    assert merged.deadline() == soon.deadline()
    for c in (cancel, cancel_soon, cancel_late):
        c()


@pytest.mark.timeout(10)
def test_merge_wait_returns_at_a_parents_deadline() -> None:
    soon, cancel_soon = background().with_timeout(SHORT)
    merged, cancel = Context.merge(background(), soon)
    start = time.monotonic()
    assert merged.wait() is True
    assert EARLIEST <= time.monotonic() - start < LATEST
    assert isinstance(merged.err(), DeadlineExceeded)
    cancel()
    cancel_soon()


def test_cancelling_a_merge_leaves_its_parents_running() -> None:
    a, cancel_a = background().with_cancel()
    b, cancel_b = background().with_cancel()
    merged, cancel = Context.merge(a, b)
    cancel()
    assert merged.done() is True
    assert a.done() is False
    assert b.done() is False
    cancel_a()
    cancel_b()


def test_merge_with_a_done_parent_is_born_done() -> None:
    a, cancel_a = background().with_cancel()
    cancel_a()
    merged, _ = Context.merge(background(), a)
    assert merged.done() is True
    assert isinstance(merged.err(), Canceled)


def test_merge_wakes_a_waiter_when_a_parent_is_cancelled(spawn) -> None:
    a, cancel_a = background().with_cancel()
    merged, cancel = Context.merge(background(), a)
    waiting = threading.Event()

    def wait_for_merged() -> bool:
        waiting.set()
        return merged.wait(10)

    waiter = spawn(wait_for_merged)
    assert waiting.wait(5)
    cancel_a()
    assert waiter.join(5) is True
    cancel()


def test_merge_rejects_a_non_context_naming_the_argument() -> None:
    with pytest.raises(TypeError, match="parent"):
        Context.merge(background(), "ctx")  # type: ignore[arg-type]


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(("timeout", "error"), BAD_SECONDS)
def test_wait_rejects_a_bad_timeout_naming_it(timeout: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="timeout"):
        background().wait(timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "error"), BAD_SECONDS)
def test_sleep_rejects_bad_seconds_naming_them(seconds: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="seconds"):
        background().sleep(seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "error"), BAD_SECONDS)
def test_with_timeout_rejects_bad_seconds_naming_them(
    seconds: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="seconds"):
        background().with_timeout(seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("deadline", "error"),
    [
        pytest.param(math.nan, ValueError, id="nan"),
        pytest.param("1", TypeError, id="str"),
        pytest.param(True, TypeError, id="bool"),
        pytest.param(None, TypeError, id="none"),
    ],
)
def test_with_deadline_rejects_a_bad_deadline_naming_it(
    deadline: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="deadline"):
        background().with_deadline(deadline)  # type: ignore[arg-type]


def test_wait_with_infinite_timeout_returns_when_done() -> None:
    ctx, cancel = background().with_cancel()
    cancel()
    assert ctx.wait(math.inf) is True


@pytest.mark.timeout(30)
def test_children_derived_while_the_parent_is_cancelled_all_end_cancelled(spawn) -> None:
    parent, cancel = background().with_cancel()
    go = threading.Barrier(5, timeout=5)

    def derive() -> list[Context]:
        go.wait()
        return [parent.with_cancel()[0].with_cancel()[0] for _ in range(2000)]

    derivers = [spawn(derive) for _ in range(4)]
    go.wait()
    cancel()
    children = [c for d in derivers for c in d.join(20)]
    assert all(isinstance(c.err(), Canceled) for c in children)


def test_with_deadline_minus_infinity_is_done_at_once() -> None:
    ctx, _ = background().with_deadline(-math.inf)
    assert ctx.done() is True
    assert isinstance(ctx.err(), DeadlineExceeded)


def test_with_deadline_infinity_has_no_deadline() -> None:
    ctx, cancel = background().with_deadline(math.inf)
    assert ctx.deadline() is None
    assert ctx.done() is False
    cancel()


def test_int_too_large_for_a_float_means_forever() -> None:
    huge = 10**400
    ctx, cancel = background().with_timeout(huge)
    assert ctx.deadline() is None
    far, cancel_far = background().with_deadline(huge)
    assert far.deadline() is None
    cancel()
    assert ctx.wait(huge) is True
    cancel_far()
