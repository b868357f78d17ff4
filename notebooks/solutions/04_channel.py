"""Reference solution for the first exercise in notebook 04: a channel of your own.

``MyChannel(capacity)`` is a buffered channel on one ``threading.Condition``:
``send`` waits while the buffer is full, ``recv`` while it is empty and open,
``close`` wakes everyone. Every wait sits in a ``while`` loop that checks its
condition again after each wake-up.

Check it with ``pool.checks.check_channel(MyChannel)``.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from pool import ChannelClosed


class MyChannel:
    """A FIFO channel with room for ``capacity`` waiting items (capacity >= 1)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: deque[Any] = deque()
        self.closed = False
        # One lock for the state, one Condition to sleep on: senders wait for
        # room, receivers for an item or the close; notify_all wakes both kinds,
        # and each checks its own condition again.
        self.cond = threading.Condition()

    def send(self, item: Any) -> None:
        """Wait while the buffer is full; raise ChannelClosed if the channel is or becomes closed."""
        with self.cond:
            while len(self.items) >= self.capacity and not self.closed:
                self.cond.wait()
            if self.closed:
                raise ChannelClosed("send on closed channel")
            self.items.append(item)
            self.cond.notify_all()  # a receiver may be waiting for this item

    def recv(self) -> tuple[Any, bool]:
        """(item, True); (None, False) once closed and drained. Waits while empty and open."""
        with self.cond:
            while not self.items and not self.closed:
                self.cond.wait()
            if self.items:  # closed or not: what was sent before close still comes out
                item = self.items.popleft()
                self.cond.notify_all()  # a sender may be waiting for this room
                return item, True
            return None, False

    def close(self) -> None:
        """No more sends. Wakes every waiting sender and receiver."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()  # every waiter, not one: each must see the close
