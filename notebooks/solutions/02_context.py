"""Reference solution for the second exercise in notebook 02: a context tree of your own.

``MiniContext()`` is a root; ``with_cancel()`` and ``with_deadline(when)``
make children. A cancel flows down to every descendant, never up; a child's
deadline is the earlier of its own and its parent's, so it cannot outlive the
parent; ``err()`` names the first cause and keeps it.

One lock guards the whole tree, as in ``pool.Context``. It matters in one
place: a child joining its parent while another thread cancels that parent.
Without it, the child can look ("parent not done"), the cancel can run and
walk the parent's children, and only then the child joins the list: it is
never cancelled. Under the lock, the look and the join are one step.

Check it with ``pool.checks.check_child_context(MiniContext)``.
"""

from __future__ import annotations

import threading
import time

from pool import Canceled, ContextError, DeadlineExceeded

_tree = threading.Lock()


class MiniContext:
    """A cancellation signal with an optional deadline, in a parent/child tree."""

    def __init__(self, parent: MiniContext | None = None, deadline: float | None = None) -> None:
        if parent is not None and parent._deadline is not None:
            # a child cannot outlive its parent: the earlier deadline wins
            deadline = parent._deadline if deadline is None else min(deadline, parent._deadline)
        self._deadline = deadline
        self._err: type[ContextError] | None = None
        self._children: list[MiniContext] = []
        if parent is not None:
            with _tree:  # look at the parent and join it in one step
                if parent._err is not None:
                    self._err = parent._err  # born done: the parent's cancel is already over
                else:
                    parent._children.append(self)

    def with_cancel(self) -> tuple[MiniContext, object]:
        child = MiniContext(self)
        return child, child._cancel

    def with_deadline(self, when: float) -> tuple[MiniContext, object]:
        child = MiniContext(self, when)
        return child, child._cancel

    def deadline(self) -> float | None:
        return self._deadline

    def done(self) -> bool:
        return self.err() is not None

    def err(self) -> ContextError | None:
        if self._err is None and self._deadline is not None and time.monotonic() >= self._deadline:
            self._end(DeadlineExceeded)  # noticed now: nothing runs a timer
        err = self._err
        return None if err is None else err()

    def _cancel(self) -> None:
        self._end(Canceled)

    def _end(self, cause: type[ContextError]) -> None:
        with _tree:
            if self._err is not None:
                return  # the first cause stays
            stack = [self]
            while stack:  # this context and every descendant, without recursion
                ctx = stack.pop()
                if ctx._err is None:
                    ctx._err = cause
                    stack.extend(ctx._children)
                    ctx._children = []
