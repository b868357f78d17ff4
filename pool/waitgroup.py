"""Go's ``sync.WaitGroup``: wait until a counted set of tasks has finished.

Go::

    var wg sync.WaitGroup
    wg.Add(1)
    go func() { defer wg.Done(); work() }()
    wg.Wait()

Python::

    wg = WaitGroup()
    wg.add(1)
    threading.Thread(target=lambda: (work(), wg.done())).start()
    wg.wait()

Unlike Go's, :meth:`WaitGroup.wait` takes a timeout: that is the
shutdown-timeout tip in one argument.
"""

from __future__ import annotations

import threading
import time

from ._validate import check_timeout, type_name, wait_bound

__all__ = ["WaitGroup"]


class WaitGroup:
    """A counter of unfinished tasks that :meth:`wait` can block on. Thread-safe."""

    __slots__ = ("_cond", "_count")

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition(threading.Lock())

    @property
    def count(self) -> int:
        """Tasks added and not yet done."""
        return self._count

    def add(self, delta: int = 1) -> None:
        """Add ``delta`` (may be negative) to the counter; wakes waiters when it reaches 0.

        Never blocks. Raises ``TypeError`` unless ``delta`` is an int, and
        ``ValueError`` (leaving the counter unchanged) if it would go below 0.
        """
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"delta must be an int, got {type_name(delta)}")
        with self._cond:
            count = self._count + delta
            if count < 0:
                raise ValueError(
                    f"delta {delta} would make the WaitGroup counter negative ({self._count})")
            self._count = count
            if count == 0:
                self._cond.notify_all()

    def done(self) -> None:
        """Mark one task finished (``add(-1)``). Raises ``ValueError`` if none is pending."""
        self.add(-1)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the counter is 0; return False if ``timeout`` seconds passed first.

        Raises ``TypeError``/``ValueError`` for a bad ``timeout``.
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._count:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(wait_bound(remaining))
            return True

    def __repr__(self) -> str:
        return f"<WaitGroup count={self._count}>"
