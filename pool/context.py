"""Go's ``context`` in Python: cancellation and deadlines that flow down a tree.

A :class:`Context` is done when it is cancelled, when its deadline passes,
or when any of its parents is done. Work checks ``ctx.done()`` between
steps, or blocks in ``ctx.wait()`` / ``ctx.sleep()`` so that it wakes the
moment the context ends.

Go::

    ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
    defer cancel()

Python::

    ctx, cancel = background().with_timeout(2.0)
    try:
        ...
    finally:
        cancel()

Deadlines are lazy: nothing runs a timer thread. A context whose deadline
has passed is reported done by ``done()``/``err()`` the first time anyone
asks, and ``wait()`` bounds its sleep by the deadline, so it returns at the
deadline itself rather than at the next poll.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable

from ._validate import check_seconds, check_timeout, type_name, wait_bound

__all__ = [
    "CancelFunc",
    "Canceled",
    "Context",
    "ContextError",
    "DeadlineExceeded",
    "background",
]


class ContextError(Exception):
    """Base class of the errors a done context reports."""


class Canceled(ContextError):
    """The context was cancelled (Go's ``context.Canceled``)."""


class DeadlineExceeded(ContextError, TimeoutError):
    """The context's deadline passed (Go's ``context.DeadlineExceeded``).

    Also a :class:`TimeoutError`, so ``except TimeoutError`` catches it.
    """


CancelFunc = Callable[[], None]

# One lock guards every parent/child link and every transition to done.
# Cancelling is rare and short, so a single lock is cheaper and simpler than
# per-context locks, which would need a lock order to cancel a subtree.
_tree = threading.Lock()

_MESSAGES: dict[type[ContextError], str] = {
    Canceled: "context canceled",
    DeadlineExceeded: "context deadline exceeded",
}


class Context:
    """A cancellation signal with an optional deadline, in a parent/child tree.

    Create contexts with :func:`background` and its ``with_*`` methods, not
    with this constructor. All methods are thread-safe.
    """

    __slots__ = ("__weakref__", "_children", "_deadline", "_err", "_event", "_parents")

    def __init__(self, parents: Iterable[Context] = (), deadline: float | None = None) -> None:
        self._parents: tuple[Context, ...] = tuple(parents)
        parent_deadline: float | None
        for parent in self._parents:
            if not isinstance(parent, Context):
                raise TypeError(f"parent must be a Context, got {type_name(parent)}")
            parent_deadline = parent._deadline
            if parent_deadline is not None and (deadline is None or parent_deadline < deadline):
                deadline = parent_deadline
        self._deadline: float | None = deadline
        self._err: type[ContextError] | None = None
        self._event: threading.Event | None = None  # made on first wait()
        self._children: set[Context] | None = None
        with _tree:
            for parent in self._parents:
                err = parent._current_err()
                if err is not None:
                    self._err = err
                    break
            if self._err is None:
                for parent in self._parents:
                    if parent._can_end():
                        if parent._children is None:
                            parent._children = set()
                        parent._children.add(self)

    # -- deriving ---------------------------------------------------------

    def with_cancel(self) -> tuple[Context, CancelFunc]:
        """Return a child context and a function that cancels it.

        The child is done when ``cancel()`` is called or this context is
        done. ``cancel()`` is idempotent; call it when the work is over so
        the parent forgets the child. Never blocks, never raises.
        """
        child = Context((self,))
        return child, child._cancel_func()

    def with_deadline(self, deadline: float) -> tuple[Context, CancelFunc]:
        """Return a child that is done at ``deadline`` (a ``time.monotonic()`` value).

        The child's deadline is the earlier of ``deadline`` and this
        context's. Raises ``TypeError`` if ``deadline`` is not a number,
        ``ValueError`` if it is NaN.
        """
        if isinstance(deadline, bool) or not isinstance(deadline, (int, float)):
            raise TypeError(f"deadline must be a time.monotonic() value, got {type_name(deadline)}")
        try:
            when = float(deadline)
        except OverflowError:  # an int too large for a float
            when = math.inf if deadline > 0 else -math.inf
        if math.isnan(when):
            raise ValueError("deadline must be a time.monotonic() value, got NaN")
        # +inf is "never"; -inf is long past, so the child is done at once.
        child = Context((self,), None if when == math.inf else when)
        return child, child._cancel_func()

    def with_timeout(self, seconds: float) -> tuple[Context, CancelFunc]:
        """Return a child that is done ``seconds`` from now (or earlier, with its parent).

        Raises ``TypeError``/``ValueError`` unless ``seconds`` is a number >= 0.
        """
        seconds = check_seconds(seconds, "seconds")
        return self.with_deadline(time.monotonic() + seconds)

    @staticmethod
    def merge(*parents: Context) -> tuple[Context, CancelFunc]:
        """Return a context that is done as soon as any of ``parents`` is done.

        Its deadline is the earliest of theirs. Go has no such function; a
        worker pool needs it so that a running job stops when either its own
        context or the pool's ends.
        """
        child = Context(parents)
        return child, child._cancel_func()

    # -- asking -----------------------------------------------------------

    def done(self) -> bool:
        """Return True once the context is cancelled or past its deadline. Never blocks."""
        return self._err is not None or self._expire_if_due()

    def err(self) -> ContextError | None:
        """Return ``None`` while not done, else a new ``Canceled`` or ``DeadlineExceeded``."""
        if self._err is None and (self._deadline is None or not self._expire_if_due()):
            return None  # (the deadline test first: a pool asks this once per job)
        err = self._err
        assert err is not None
        return err(_MESSAGES[err])

    def deadline(self) -> float | None:
        """Return the ``time.monotonic()`` time at which the context ends, or ``None``."""
        return self._deadline

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the context is done or ``timeout`` seconds pass.

        Returns ``done()``. Wakes at the deadline exactly, not at a poll.
        Raises ``TypeError``/``ValueError`` for a bad ``timeout``.
        """
        timeout = check_timeout(timeout)
        if self.done():
            return True
        event = self._waiter()
        limit = None if timeout is None else time.monotonic() + timeout
        while True:
            now = time.monotonic()
            bounds = [t - now for t in (limit, self._deadline) if t is not None]
            if event.wait(wait_bound(min(bounds) if bounds else None)):
                return True
            if self.done():
                return True
            if limit is not None and time.monotonic() >= limit:
                return False

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, but raise ``ctx.err()`` as soon as the context is done.

        Raises ``Canceled`` or ``DeadlineExceeded`` (at once if already done),
        ``TypeError``/``ValueError`` for bad ``seconds``.
        """
        seconds = check_seconds(seconds, "seconds")
        if self.wait(seconds):
            err = self.err()
            assert err is not None
            raise err

    def __repr__(self) -> str:
        state = "done" if self.done() else "active"
        if self._err is not None:
            state = _MESSAGES[self._err]
        if self is _BACKGROUND:
            return "<Context background>"
        deadline = "" if self._deadline is None else f" deadline={self._deadline:.3f}"
        return f"<Context {state}{deadline}>"

    # -- internals --------------------------------------------------------

    def _can_end(self) -> bool:
        # Only the background context can never end; children of it need no link.
        return self is not _BACKGROUND

    def _current_err(self) -> type[ContextError] | None:
        # Called with _tree held.
        if self._err is None and self._deadline is not None and time.monotonic() >= self._deadline:
            self._end(DeadlineExceeded)
        return self._err

    def _expire_if_due(self) -> bool:
        if self._deadline is None or time.monotonic() < self._deadline:
            return False
        with _tree:
            self._current_err()
        return True

    def _waiter(self) -> threading.Event:
        with _tree:
            if self._event is None:
                self._event = threading.Event()
                if self._err is not None:
                    self._event.set()
            return self._event

    def _end(self, err: type[ContextError]) -> None:
        # Called with _tree held: mark this context and its whole subtree done,
        # and unlink it from its parents so they do not keep it alive. A
        # context whose deadline has already passed ends DeadlineExceeded
        # even when a cancel is what reaches it (as in Go): the deadline was
        # the cause, only nobody had asked yet.
        now = time.monotonic()
        stack = [self]
        while stack:
            ctx = stack.pop()
            if ctx._err is not None:
                continue
            deadline = ctx._deadline
            ctx._err = DeadlineExceeded if deadline is not None and now >= deadline else err
            if ctx._event is not None:
                ctx._event.set()
            if ctx._children:
                stack.extend(ctx._children)
                ctx._children = None
            ctx._detach()

    def _detach(self) -> None:
        for parent in self._parents:
            if parent._children is not None:
                parent._children.discard(self)

    def _cancel_func(self) -> CancelFunc:
        def cancel() -> None:
            with _tree:
                if self._err is None:
                    self._end(Canceled)
                else:
                    self._detach()

        return cancel


def _make_background() -> Context:
    ctx = Context.__new__(Context)
    ctx._parents = ()
    ctx._deadline = None
    ctx._err = None
    ctx._event = None
    ctx._children = None
    return ctx


_BACKGROUND = _make_background()


def background() -> Context:
    """Return the root context: never cancelled, no deadline (Go's ``context.Background()``)."""
    return _BACKGROUND
