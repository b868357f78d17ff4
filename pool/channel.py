"""Go's ``chan`` in Python: a FIFO hand-off between threads that can be closed.

Go::

    jobs := make(chan Job, 100)   // buffered: send blocks only when 100 wait
    jobs <- job                   // send
    close(jobs)                   // "no more jobs"
    for job := range jobs { ... } // receive until closed and drained

Python::

    jobs = Channel(100)
    jobs.send(job)
    jobs.close()
    for job in jobs: ...

The algorithm is Go's runtime one: a buffer plus two queues of parked
threads. A sender that finds a parked receiver hands its item straight to
it; a receiver that finds a parked sender takes the item from it (and, when
buffered, moves that sender's item into the buffer). Each parked thread
has its own lock to sleep on, so a hand-off wakes exactly the thread it is
for: no thundering herd, no polling.

``queue.Queue`` differs in two ways that matter to a worker pool: it cannot
be closed before Python 3.13 (workers need a sentinel per thread), and a
capacity of 0 there means *unbounded*, not *unbuffered*.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from threading import Lock
from typing import Generic, TypeVar

from ._validate import check_int, check_timeout, wait_bound

__all__ = ["Channel", "ChannelClosed"]

T = TypeVar("T")
R = TypeVar("R")


class ChannelClosed(Exception):
    """Sending on, or closing, a channel that is closed."""


class _Parked(Generic[T]):
    """A thread parked on a channel, and the item it gives or gets."""

    __slots__ = ("item", "matched", "wake")

    def __init__(self, item: T | None) -> None:
        self.item = item
        self.matched = False  # set under the channel lock by the thread that pairs with us
        self.wake = Lock()
        self.wake.acquire()  # released once by whoever wakes us


class Channel(Generic[T]):
    """A FIFO channel of capacity ``capacity`` (0 = unbuffered). Thread-safe.

    Raises ``TypeError``/``ValueError`` unless ``capacity`` is an int >= 0.
    """

    __slots__ = ("_buffer", "_capacity", "_closed", "_lock", "_receivers", "_senders")

    def __init__(self, capacity: int = 0) -> None:
        self._capacity = check_int(capacity, "capacity", minimum=0)
        self._buffer: deque[T] = deque()
        self._receivers: deque[_Parked[T]] = deque()
        self._senders: deque[_Parked[T]] = deque()
        self._lock = Lock()
        self._closed = False

    @property
    def capacity(self) -> int:
        """How many items the buffer holds; 0 for an unbuffered channel."""
        return self._capacity

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    def __len__(self) -> int:
        """Items waiting in the buffer (always 0 for an unbuffered channel)."""
        return len(self._buffer)

    def send(self, item: T, timeout: float | None = None) -> None:
        """Put ``item`` in the channel.

        Blocks while the buffer is full (unbuffered: until a receiver takes
        the item). Raises ``ChannelClosed`` if the channel is closed or
        becomes closed while waiting, and ``TimeoutError`` if the item was
        not taken within ``timeout`` seconds; in both cases the item is not
        in the channel.
        """
        timeout = check_timeout(timeout)
        with self._lock:
            if self._offer(item):
                return
            if timeout == 0:
                raise TimeoutError(self._not_sent("at once"))
            parked: _Parked[T] = _Parked(item)
            self._senders.append(parked)
        self._park(parked, self._senders, timeout)
        if parked.matched:
            return
        with self._lock:
            if parked.matched:
                return
            if self._closed:  # close() already emptied the queue of parked senders
                raise ChannelClosed("send on closed channel")
            self._senders.remove(parked)
        raise TimeoutError(self._not_sent(f"within {timeout:g} s"))

    def try_send(self, item: T) -> bool:
        """Send ``item`` only if that needs no waiting; return whether it was sent.

        Never blocks. Raises ``ChannelClosed`` if the channel is closed.
        """
        with self._lock:
            return self._offer(item)

    def recv(self, timeout: float | None = None) -> tuple[T | None, bool]:
        """Take the next item: ``(item, True)``, or ``(None, False)`` once closed and drained.

        Blocks while the channel is empty and open. Raises ``TimeoutError``
        if nothing arrived within ``timeout`` seconds.
        """
        timeout = check_timeout(timeout)
        with self._lock:
            if self._buffer or self._senders:
                return self._take(), True
            if self._closed:
                return None, False
            if timeout == 0:
                raise TimeoutError("channel empty")
            parked: _Parked[T] = _Parked(None)
            self._receivers.append(parked)
        self._park(parked, self._receivers, timeout)
        if not parked.matched:
            with self._lock:
                if not parked.matched:
                    if self._closed:  # close() already emptied the queue
                        return None, False
                    self._receivers.remove(parked)
                    raise TimeoutError(f"channel empty for {timeout} s")
        return parked.item, True

    def _recv_then(
        self, then: Callable[[T], R], before: Callable[[], Callable[[], object] | None]
    ) -> tuple[R | None, bool]:
        """Receive like ``recv()``, calling ``then(item)`` before the lock is released.

        ``before()`` runs with the lock held just before the receive; it may
        return a function to call once the lock is released (and before
        waiting, if the channel is empty). For an owner that shares this
        channel's lock (see :meth:`_sharing`) and must change its own state
        in the same step.
        """
        parked: _Parked[T] | None = None
        with self._lock:
            after = before()
            buffer = self._buffer
            if buffer and not self._senders:  # the common case, without a call
                result, ok = then(buffer.popleft()), True
            elif buffer or self._senders:
                result, ok = then(self._take()), True
            elif self._closed:
                result, ok = None, False
            else:
                parked = _Parked(None)
                self._receivers.append(parked)
        if after is not None:
            after()
            after = None  # hold nothing of it while parked
        if parked is None:
            return result, ok
        self._park(parked, self._receivers, None)
        with self._lock:
            if not parked.matched:  # woken by close()
                return None, False
            return then(parked.item), True  # type: ignore[arg-type]

    def _discard(self, item: T) -> bool:
        """Take ``item`` out of the buffer if it is there; return whether it was.

        Lock held (for an owner that shares the lock). A parked sender's
        item moves into the freed place, as a receive would do.
        """
        try:
            self._buffer.remove(item)
        except ValueError:
            return False
        if self._senders:
            parked = self._senders.popleft()
            self._buffer.append(parked.item)  # type: ignore[arg-type]
            parked.matched = True
            parked.wake.release()
        return True

    @classmethod
    def _sharing(cls, capacity: int, lock: Lock) -> Channel[T]:
        """A channel that guards itself with ``lock``, a lock its owner also holds.

        The owner may then call ``_offer`` with the lock held, to change its
        own state and the channel's in one step; it must never call a public
        method while holding the lock.
        """
        channel: Channel[T] = cls(capacity)
        channel._lock = lock
        return channel

    def close(self) -> None:
        """Say "no more items". Wakes every blocked sender and receiver.

        Items already in the buffer can still be received. Senders blocked
        on the channel raise ``ChannelClosed``; receivers blocked on it get
        ``(None, False)``. Closing twice raises ``ChannelClosed``.
        """
        with self._lock:
            if self._closed:
                raise ChannelClosed("close of closed channel")
            self._closed = True
            parked = [*self._receivers, *self._senders]
            self._receivers.clear()
            self._senders.clear()
        for p in parked:
            p.wake.release()

    def __iter__(self) -> Iterator[T]:
        """Yield items until the channel is closed and drained (Go's ``range``)."""
        while True:
            item, ok = self.recv()
            if not ok:
                return
            yield item  # type: ignore[misc]  # ok means an item, which may itself be None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Channel {state} {len(self._buffer)}/{self._capacity}>"

    # -- internals (called with the lock held) -----------------------------

    def _not_sent(self, when: str) -> str:
        if self._capacity:
            return f"channel full: item not sent {when}"
        return f"no receiver took the item {when} (unbuffered channel)"

    def _offer(self, item: T) -> bool:
        if self._closed:
            raise ChannelClosed("send on closed channel")
        if self._receivers:
            parked = self._receivers.popleft()
            parked.item = item
            parked.matched = True
            parked.wake.release()
            return True
        if len(self._buffer) < self._capacity:
            self._buffer.append(item)
            return True
        return False

    def _take(self) -> T:
        if self._buffer:
            item = self._buffer.popleft()
            if self._senders:  # a parked sender's item now fits in the buffer
                parked = self._senders.popleft()
                self._buffer.append(parked.item)  # type: ignore[arg-type]
                parked.matched = True
                parked.wake.release()
            return item
        parked = self._senders.popleft()
        parked.matched = True
        parked.wake.release()
        return parked.item  # type: ignore[return-value]

    def _park(self, parked: _Parked[T], queue: deque[_Parked[T]], timeout: float | None) -> None:
        """Sleep until paired, closed or timed out (called without the lock)."""
        try:
            if timeout is None:
                parked.wake.acquire()
            else:
                parked.wake.acquire(timeout=wait_bound(timeout))  # type: ignore[arg-type]
        except BaseException:
            # Interrupted (KeyboardInterrupt in the main thread): leave the
            # channel as if we had never parked, and lose nothing.
            with self._lock:
                if not parked.matched:
                    if not self._closed:
                        queue.remove(parked)
                elif queue is self._receivers:
                    # An item was handed to us; put it back at the front.
                    self._buffer.appendleft(parked.item)  # type: ignore[arg-type]
            raise
