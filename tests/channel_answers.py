"""Answers to notebook 04's channel exercise, right and wrong, as a learner could write them.

The exercise asks for ``MyChannel(capacity)`` with ``send(item)``, ``recv() ->
(item, ok)`` and ``close()`` on a ``threading.Condition`` (see
``pool.checks.check_channel``). ``RIGHT`` holds correct answers in other
styles; ``WRONG`` holds one answer per mistake, each with the scenario that
must fail and a phrase its hint must contain (the name of the mistake).
``tests/test_check_channel.py`` runs them all through the checker.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from pool import ChannelClosed

# -- the scenarios, as check_channel prints them (after "channel ") --------------------------

FIFO = "passes items through first in, first out"
RECV_WAITS = "recv waits for a send without polling or spinning"
REWAITS = "recv waits again after a wake-up that brought no item"
SEND_WAITS = "send waits while the buffer is full, until a recv makes room"
DRAINS = "recv still returns the buffered items after close"
SEND_CLOSED = "send on a closed channel raises ChannelClosed"
WAKES_RECEIVERS = "close wakes every waiting receiver"
WAKES_SENDERS = "close wakes every sender waiting for room"
SCENARIOS = (FIFO, RECV_WAITS, REWAITS, SEND_WAITS, DRAINS, SEND_CLOSED, WAKES_RECEIVERS,
             WAKES_SENDERS)


# -- right answers, other styles ----------------------------------------------------------------


class OneCondition:
    """The plain right answer: one Condition, a deque, notify_all everywhere."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: deque[Any] = deque()
        self.closed = False
        self.cond = threading.Condition()

    def send(self, item: Any) -> None:
        with self.cond:
            while len(self.items) >= self.capacity and not self.closed:
                self.cond.wait()
            if self.closed:
                raise ChannelClosed("send on closed channel")
            self.items.append(item)
            self.cond.notify_all()

    def recv(self) -> tuple[Any, bool]:
        with self.cond:
            while not self.items and not self.closed:
                self.cond.wait()
            if self.items:
                item = self.items.popleft()
                self.cond.notify_all()
                return item, True
            return None, False

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class TwoConditions:
    """Two Conditions on one Lock, a list, notify() for one waiter, notify_all on close."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: list[Any] = []
        self._closed = False
        lock = threading.Lock()
        self._not_empty = threading.Condition(lock)
        self._not_full = threading.Condition(lock)

    def send(self, item: Any) -> None:
        with self._not_full:
            while not self._closed and len(self._items) == self._capacity:
                self._not_full.wait()
            if self._closed:
                raise ChannelClosed("closed")
            self._items.append(item)
            self._not_empty.notify()

    def recv(self) -> tuple[Any, bool]:
        with self._not_empty:
            while not self._items:
                if self._closed:
                    return None, False
                self._not_empty.wait()
            item = self._items.pop(0)
            self._not_full.notify()
            return item, True

    def close(self) -> None:
        with self._not_empty:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()


class WaitFor:
    """Condition.wait_for with predicates, and a bool-returning helper."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.buffer: deque[Any] = deque()
        self.is_closed = False
        self.changed = threading.Condition(threading.Lock())

    def _room(self) -> bool:
        return self.is_closed or len(self.buffer) < self.capacity

    def send(self, item: Any) -> None:
        with self.changed:
            self.changed.wait_for(self._room)
            if self.is_closed:
                raise ChannelClosed
            self.buffer.append(item)
            self.changed.notify_all()

    def recv(self) -> tuple[Any, bool]:
        with self.changed:
            self.changed.wait_for(lambda: self.buffer or self.is_closed)
            if not self.buffer:
                return None, False
            self.changed.notify_all()
            return self.buffer.popleft(), True

    def close(self) -> None:
        with self.changed:
            self.is_closed = True
            self.changed.notify_all()


class Slotted:
    """__slots__, explicit acquire/release in try/finally, an RLock-based Condition."""

    __slots__ = ("_cap", "_closed", "_cv", "_q")

    def __init__(self, capacity: int) -> None:
        self._cap = capacity
        self._q: deque[Any] = deque()
        self._closed = False
        self._cv = threading.Condition(threading.RLock())

    def send(self, item: Any) -> None:
        self._cv.acquire()
        try:
            while True:
                if self._closed:
                    raise ChannelClosed("send on closed channel")
                if len(self._q) < self._cap:
                    break
                self._cv.wait()
            self._q.append(item)
            self._cv.notify_all()
        finally:
            self._cv.release()

    def recv(self) -> tuple[Any, bool]:
        self._cv.acquire()
        try:
            while True:
                if self._q:
                    self._cv.notify_all()
                    return self._q.popleft(), True
                if self._closed:
                    return None, False
                self._cv.wait()
        finally:
            self._cv.release()

    def close(self) -> None:
        self._cv.acquire()
        try:
            self._closed = True
            self._cv.notify_all()
        finally:
            self._cv.release()


class CountingWaiters(OneCondition):
    """Notifies only when someone waits, counting waiters (an optimisation, still right)."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.waiting = 0

    def _wait(self) -> None:
        self.waiting += 1
        try:
            self.cond.wait()
        finally:
            self.waiting -= 1

    def send(self, item: Any) -> None:
        with self.cond:
            while len(self.items) >= self.capacity and not self.closed:
                self._wait()
            if self.closed:
                raise ChannelClosed("send on closed channel")
            self.items.append(item)
            if self.waiting:
                self.cond.notify_all()

    def recv(self) -> tuple[Any, bool]:
        with self.cond:
            while not self.items and not self.closed:
                self._wait()
            if not self.items:
                return None, False
            item = self.items.popleft()
            if self.waiting:
                self.cond.notify_all()
            return item, True


RIGHT = [OneCondition, TwoConditions, WaitFor, Slotted, CountingWaiters]


# -- wrong answers: one mistake each --------------------------------------------------------------


class RecvSpins(OneCondition):
    """recv looks again and again with the lock released: a busy loop."""

    def recv(self) -> tuple[Any, bool]:
        while True:
            with self.cond:
                if self.items:
                    item = self.items.popleft()
                    self.cond.notify_all()
                    return item, True
                if self.closed:
                    return None, False


class RecvSleeps(OneCondition):
    """recv polls: sleeps 10 ms between looks."""

    def recv(self) -> tuple[Any, bool]:
        while True:
            with self.cond:
                if self.items:
                    item = self.items.popleft()
                    self.cond.notify_all()
                    return item, True
                if self.closed:
                    return None, False
            time.sleep(0.01)


class RecvWaitsWithTimeout(OneCondition):
    """recv waits "to be safe" with a timeout: it wakes every 50 ms."""

    def recv(self) -> tuple[Any, bool]:
        with self.cond:
            while not self.items and not self.closed:
                self.cond.wait(0.05)
            if self.items:
                item = self.items.popleft()
                self.cond.notify_all()
                return item, True
            return None, False


class IfNotWhile(OneCondition):
    """recv checks once (if) and takes an item after any wake-up."""

    def recv(self) -> tuple[Any, bool]:
        with self.cond:
            if not self.items and not self.closed:
                self.cond.wait()
            if self.closed and not self.items:
                return None, False
            item = self.items.popleft()
            self.cond.notify_all()
            return item, True


class IfNotWhileSafe(OneCondition):
    """recv checks once (if); after any wake-up with no item it says "closed"."""

    def recv(self) -> tuple[Any, bool]:
        with self.cond:
            if not self.items and not self.closed:
                self.cond.wait()
            if self.items:
                item = self.items.popleft()
                self.cond.notify_all()
                return item, True
            return None, False


class WaitsFirst(OneCondition):
    """recv waits before it looks: a notify that came before the wait is lost."""

    def recv(self) -> tuple[Any, bool]:
        with self.cond:
            if self.closed and not self.items:
                return None, False
            self.cond.wait()
            while not self.items and not self.closed:
                self.cond.wait()
            if self.items:
                item = self.items.popleft()
                self.cond.notify_all()
                return item, True
            return None, False


class Lifo(OneCondition):
    """recv takes the newest item: a stack, not a queue."""

    def recv(self) -> tuple[Any, bool]:
        with self.cond:
            while not self.items and not self.closed:
                self.cond.wait()
            if self.items:
                item = self.items.pop()
                self.cond.notify_all()
                return item, True
            return None, False


class RecvReturnsItemOnly(OneCondition):
    """recv returns the item alone, not (item, ok)."""

    def recv(self) -> Any:  # type: ignore[override]
        item, ok = super().recv()
        return item if ok else None


class SendForgetsNotify(OneCondition):
    """send adds the item but wakes nobody."""

    def send(self, item: Any) -> None:
        with self.cond:
            while len(self.items) >= self.capacity and not self.closed:
                self.cond.wait()
            if self.closed:
                raise ChannelClosed("send on closed channel")
            self.items.append(item)


class RecvForgetsNotify(OneCondition):
    """recv takes an item but does not wake a sender waiting for room."""

    def recv(self) -> tuple[Any, bool]:
        with self.cond:
            while not self.items and not self.closed:
                self.cond.wait()
            if self.items:
                return self.items.popleft(), True
            return None, False


class Unbounded(OneCondition):
    """send never waits: the capacity is ignored."""

    def send(self, item: Any) -> None:
        with self.cond:
            if self.closed:
                raise ChannelClosed("send on closed channel")
            self.items.append(item)
            self.cond.notify_all()


class OffByOne(OneCondition):
    """send waits only once the buffer holds more than capacity."""

    def send(self, item: Any) -> None:
        with self.cond:
            while len(self.items) > self.capacity and not self.closed:
                self.cond.wait()
            if self.closed:
                raise ChannelClosed("send on closed channel")
            self.items.append(item)
            self.cond.notify_all()


class SendSpins(OneCondition):
    """send busy-loops while the buffer is full."""

    def send(self, item: Any) -> None:
        while True:
            with self.cond:
                if self.closed:
                    raise ChannelClosed("send on closed channel")
                if len(self.items) < self.capacity:
                    self.items.append(item)
                    self.cond.notify_all()
                    return


class DropsOnClose(OneCondition):
    """recv answers "closed" as soon as close() was called, dropping the buffered items."""

    def recv(self) -> tuple[Any, bool]:
        with self.cond:
            while not self.items and not self.closed:
                self.cond.wait()
            if self.closed:
                return None, False
            item = self.items.popleft()
            self.cond.notify_all()
            return item, True


class SendAfterCloseIgnored(OneCondition):
    """send on a closed channel quietly drops the item."""

    def send(self, item: Any) -> None:
        with self.cond:
            if self.closed:
                return
            super().send(item)


class SendAfterCloseAppends(OneCondition):
    """send looks at the closed flag only when the buffer is full."""

    def send(self, item: Any) -> None:
        with self.cond:
            while len(self.items) >= self.capacity and not self.closed:
                self.cond.wait()
            if self.closed and len(self.items) >= self.capacity:
                raise ChannelClosed("send on closed channel")
            self.items.append(item)
            self.cond.notify_all()


class SendAfterCloseRaisesOther(OneCondition):
    """send on a closed channel raises a RuntimeError of its own."""

    def send(self, item: Any) -> None:
        with self.cond:
            if self.closed:
                raise RuntimeError("channel is closed")
            super().send(item)


class CloseNotifiesOne(OneCondition):
    """close wakes one waiter (notify), not all of them."""

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()


class CloseForgetsSenders(TwoConditions):
    """Two Conditions, but close wakes only the receivers."""

    def close(self) -> None:
        with self._not_empty:
            self._closed = True
            self._not_empty.notify_all()


class WokenSenderAppends(OneCondition):
    """A sender woken by close does not look at the flag again: it adds its item anyway."""

    def send(self, item: Any) -> None:
        with self.cond:
            if self.closed:
                raise ChannelClosed("send on closed channel")
            while len(self.items) >= self.capacity and not self.closed:
                self.cond.wait()
            self.items.append(item)
            self.cond.notify_all()


@dataclass(frozen=True)
class Wrong:
    answer: Any
    scenario: str  # a scenario that must fail, with the hint that names the mistake
    hint: str


WRONG = [
    Wrong(RecvSpins, RECV_WAITS, "spun while it waited"),
    Wrong(RecvSleeps, RECV_WAITS, "kept waking up while it waited (polling"),
    Wrong(RecvWaitsWithTimeout, RECV_WAITS, "kept waking up while it waited (polling"),
    Wrong(IfNotWhile, REWAITS, "a wake-up only means 'look again'"),
    Wrong(IfNotWhileSafe, REWAITS, "a wake-up only means 'look again'"),
    Wrong(WaitsFirst, FIFO, "a notify sent before anyone waited is lost"),
    Wrong(Lifo, FIFO, "first in, first out"),
    Wrong(RecvReturnsItemOnly, FIFO, "not an (item, ok) pair"),
    Wrong(SendForgetsNotify, RECV_WAITS, "a send must notify the Condition"),
    Wrong(RecvForgetsNotify, SEND_WAITS, "a recv must notify the Condition that senders wait on"),
    Wrong(Unbounded, SEND_WAITS, "the buffer is not bounded"),
    Wrong(OffByOne, SEND_WAITS, "the buffer is not bounded"),
    Wrong(SendSpins, SEND_WAITS, "spun while it waited"),
    Wrong(DropsOnClose, DRAINS, "not 'drop what is queued'"),
    Wrong(SendAfterCloseIgnored, SEND_CLOSED, "lost without a word"),
    Wrong(SendAfterCloseAppends, SEND_CLOSED, "lost without a word"),
    Wrong(SendAfterCloseRaisesOther, SEND_CLOSED, "not pool.ChannelClosed"),
    Wrong(CloseNotifiesOne, WAKES_RECEIVERS, "close() woke only 1 of the 3 receivers"),
    Wrong(CloseForgetsSenders, WAKES_SENDERS, "close must wake every waiter, senders too"),
    Wrong(WokenSenderAppends, WAKES_SENDERS, "returned normally when the channel was closed"),
]
