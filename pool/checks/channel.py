"""Notebook 04: ``check_channel`` — a channel of your own, on a ``threading.Condition``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .._validate import type_name
from ..channel import ChannelClosed
from ._harness import (
    _PROMPT,
    _Activity,
    _Call,
    _check_callable,
    _describe,
    _Env,
    _Fail,
    _quietly,
    _run,
    _Scenario,
    _show,
)

__all__ = ["check_channel"]

_SETTLE = 0.3
"""How long a call may take to reach its wait (a right answer takes microseconds)."""
_WINDOW = 0.15
"""How long a waiting call is watched, three times: a thread that waits runs no code meanwhile."""
_SPIN_SHARE = 0.15
"""The share of ``_WINDOW`` on a CPU above which a busy waiter spins rather than polls."""

_REWAIT = ("a wake-up only means 'look again': another thread may have taken the item, or the "
           "notify was for someone else; check the condition again after every wait, in a "
           "loop, and wait again while it does not hold")


def _conditions(obj: Any) -> list[threading.Condition]:
    """The ``threading.Condition`` objects among ``obj``'s attributes (``__dict__`` or slots)."""
    values: list[Any] = list(getattr(obj, "__dict__", {}).values())
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            values.append(getattr(obj, name, None))
    found: list[threading.Condition] = []
    for value in values:
        if isinstance(value, threading.Condition) and not any(value is c for c in found):
            found.append(value)
    return found


def _wake_all(channel: Any) -> None:
    """Cleanup: close the channel, then wake every waiter on its conditions.

    The notify wakes what a broken ``close`` left asleep; a waiter that
    loops sees the channel closed and returns, so its thread ends.
    """
    _quietly(channel.close)
    for cond in _conditions(channel):
        with cond:
            cond.notify_all()


def check_channel(cls: Callable[[int], Any]) -> bool:
    """Check the notebook-04 exercise: a buffered channel written on a ``threading.Condition``.

    ``cls(capacity)`` (capacity >= 1) must make an object with ``send(item)``
    (waits while the buffer is full; raises :class:`pool.ChannelClosed` if the
    channel is or becomes closed), ``recv()`` (waits while the channel is empty
    and open; returns ``(item, True)``, or ``(None, False)`` once it is closed
    and drained) and ``close()`` (wakes every waiting sender and receiver).
    Each call runs in a daemon thread of the checker, traced, so the checker
    sees whether a waiting call really sleeps (runs no code) or polls/spins.

    Scenarios: items come out in order; ``recv`` on an empty channel waits
    without polling or spinning and a send wakes it; a wake-up that brought
    no item sends ``recv`` back to waiting (a ``while`` loop around ``wait``,
    not an ``if``); ``send`` waits while the buffer is full and a ``recv``
    wakes it; after ``close`` the buffered items still come out, then
    ``(None, False)``; ``send`` on a closed channel raises ``ChannelClosed``;
    ``close`` wakes every waiting receiver, and every waiting sender. After
    each scenario the checker closes the channel and wakes its conditions,
    so threads left waiting end.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per failing scenario at most, never forever. Raises
    ``TypeError`` only if ``cls`` is not callable.
    """
    _check_callable(cls, "cls")

    def make(env: _Env, capacity: int) -> Any:
        try:
            channel = cls(capacity)
        except BaseException as exc:  # a wrong answer may raise anything; it becomes a hint
            raise _Fail(f"making the channel with capacity {capacity} raised "
                        f"{_describe(exc)}") from None
        for method in ("send", "recv", "close"):
            if not callable(getattr(channel, method, None)):
                raise _Fail(f"the channel (a {type_name(channel)}) has no {method}() method")
        env.later(lambda: threading.Thread(target=_wake_all, args=(channel,),
                                           name="pool-check-cleanup", daemon=True).start())
        return channel

    def call(env: _Env, watch: _Activity, method: Callable[..., Any], *args: Any) -> _Call:
        return env.start(watch.call, method, *args)

    def returned(env: _Env, c: _Call, what: str, blocked: str) -> Any:
        """The value of a call that must return at once; fail if it raised or blocked."""
        if not env.wait_until(lambda: c.finished, _PROMPT):
            raise _Fail(f"{what} {blocked}")
        if c.error is not None:
            raise _Fail(f"{what} raised {_describe(c.error)}")
        return c.value

    def received(env: _Env, c: _Call, what: str, blocked: str) -> tuple[Any, Any]:
        value = returned(env, c, what, blocked)
        if not isinstance(value, tuple) or len(value) != 2:
            raise _Fail(f"{what} returned {_show(value)}, not an (item, ok) pair: return "
                        "(item, True) for an item, (None, False) once closed and drained")
        return value

    def send_now(env: _Env, watch: _Activity, ch: Any, item: str, capacity: int) -> None:
        returned(env, call(env, watch, ch.send, item), f"send({item!r})",
                 f"blocked although the channel (capacity {capacity}) had room for it")

    def recv_now(env: _Env, watch: _Activity, ch: Any, expected: str, waiting: int) -> None:
        item, ok = received(env, call(env, watch, ch.recv), "recv()",
                            f"blocked although {waiting} item(s) were waiting")
        if (item, ok) != (expected, True):
            raise _Fail(f"recv() returned ({_show(item)}, {_show(ok)}), expected "
                        f"({expected!r}, True): items come out first in, first out")

    def settle(env: _Env, watch: _Activity, calls: list[_Call], count: int = 1) -> None:
        """Give calls that should wait time to reach their wait (or to return, wrongly)."""
        env.wait_until(lambda: watch.waiting >= count or any(c.finished for c in calls),
                       _SETTLE)

    def busy_hint(watch: _Activity, c: _Call, what: str, until: str) -> str | None:
        """A hint if ``c`` ran code while it should have been asleep, else None."""
        # Three windows: the first may still see the call on its way to its wait; a
        # waiter that sleeps is quiet in the other two, a poller or spinner is not
        # (a spinner the machine starved of CPU for one window shows in the other).
        busy = []
        for window in range(3):
            events, cpu = watch.over(_WINDOW, lambda: c.finished)
            if c.finished:
                return None
            if window and events:
                busy.append(cpu)
        if not busy:
            return None
        if max(busy) >= _SPIN_SHARE * _WINDOW:
            return (f"{what} spun while it waited: a loop that checks again and again burns a "
                    f"CPU (and the GIL other threads need); sleep in the Condition's wait() "
                    f"until {until} notifies it")
        return (f"{what} kept waking up while it waited (polling: a sleep, or a wait with a "
                f"timeout, in a loop): it wakes late and wastes work; wait on the Condition "
                f"without a timeout, until {until} notifies it")

    def must_wait(env: _Env, c: _Call, what: str, state: str) -> None:
        if c.finished:
            if c.error is not None:
                raise _Fail(f"{what} on {state} raised {_describe(c.error)}")
            raise _Fail(f"{what} on {state} returned {_show(c.value)} at once: it must wait")

    # -- the scenarios ------------------------------------------------------------------

    def fifo(env: _Env) -> None:
        watch = _Activity(env)
        ch = make(env, 3)
        for item in ("a", "b", "c"):
            send_now(env, watch, ch, item, 3)
        first = call(env, watch, ch.recv)
        item, ok = received(env, first, "recv()", "blocked although 3 items were waiting: it "
                            "must not wait when there is something to take (a notify sent "
                            "before anyone waited is lost)")
        got = [(item, ok)]
        for _ in range(2):
            got.append(received(env, call(env, watch, ch.recv), "recv()",
                                "blocked although items were waiting"))
        if got != [("a", True), ("b", True), ("c", True)]:
            shown = ", ".join(f"({_show(i)}, {_show(o)})" for i, o in got)
            raise _Fail(f"three recv() calls returned {shown} after sends of 'a', 'b', 'c': "
                        "expected ('a', True), ('b', True), ('c', True), first in, first out")

    def recv_waits(env: _Env) -> None:
        watch = _Activity(env)
        ch = make(env, 2)
        r = call(env, watch, ch.recv)
        settle(env, watch, [r])
        must_wait(env, r, "recv()", "an empty, open channel")
        hint = busy_hint(watch, r, "recv()", "send")
        if hint is not None:
            raise _Fail(hint)
        must_wait(env, r, "recv()", "an empty, open channel")
        send_now(env, _Activity(env), ch, "x", 2)
        item, ok = received(env, r, "recv()", "kept waiting after send('x'): a send must "
                            "notify the Condition that receivers wait on")
        if (item, ok) != ("x", True):
            raise _Fail(f"recv() returned ({_show(item)}, {_show(ok)}) after send('x'), "
                        "expected ('x', True)")

    def rewaits(env: _Env) -> None:
        watch = _Activity(env)
        ch = make(env, 2)
        r = call(env, watch, ch.recv)
        settle(env, watch, [r])
        must_wait(env, r, "recv()", "an empty, open channel")
        # A wake-up nobody sent an item with, like a notify meant for another waiter.
        # (A channel that keeps no Condition in an attribute, pool.Channel say, sleeps
        # on something only its own code can wake: nothing to test then.)
        waits = watch.waits
        for cond in _conditions(ch):
            with cond:
                cond.notify_all()
        env.wait_until(lambda: r.finished or watch.waits > waits, _PROMPT if waits else _SETTLE)
        if r.finished:
            if r.error is not None:
                raise _Fail(f"after a wake-up that brought no item, recv() raised "
                            f"{_describe(r.error)}: {_REWAIT}")
            raise _Fail(f"after a wake-up that brought no item, recv() returned "
                        f"{_show(r.value)} although the channel was open and empty: {_REWAIT}")
        send_now(env, _Activity(env), ch, "x", 2)
        item, ok = received(env, r, "recv()", "kept waiting after send('x')")
        if (item, ok) != ("x", True):
            raise _Fail(f"recv() returned ({_show(item)}, {_show(ok)}) after send('x'), "
                        "expected ('x', True)")

    def send_waits(env: _Env) -> None:
        watch = _Activity(env)
        ch = make(env, 2)
        send_now(env, watch, ch, "a", 2)
        send_now(env, watch, ch, "b", 2)
        s = call(env, watch, ch.send, "c")
        settle(env, watch, [s])
        if s.finished and s.error is None:
            raise _Fail("send('c') returned at once although the channel was full (capacity "
                        "2): the buffer is not bounded; a send must wait while it is full, "
                        "so a fast producer is held back (backpressure)")
        must_wait(env, s, "send('c')", "a full channel")
        hint = busy_hint(watch, s, "send('c')", "recv")
        if hint is not None:
            raise _Fail(hint)
        recv_now(env, _Activity(env), ch, "a", 2)
        returned(env, s, "send('c')", "kept waiting after recv() made room: a recv must "
                 "notify the Condition that senders wait on")
        recv_now(env, watch, ch, "b", 2)
        recv_now(env, watch, ch, "c", 1)

    def drains_after_close(env: _Env) -> None:
        watch = _Activity(env)
        ch = make(env, 3)
        send_now(env, watch, ch, "a", 3)
        send_now(env, watch, ch, "b", 3)
        returned(env, call(env, watch, ch.close), "close()", "blocked")
        got = received(env, call(env, watch, ch.recv), "recv() after close()",
                       "blocked although 2 items were still buffered")
        if got == (None, False):
            raise _Fail("recv() returned (None, False) right after close() although 2 items "
                        "were still in the buffer: close means 'no more sends', not 'drop "
                        "what is queued'; those are jobs a graceful shutdown must still run")
        if got != ("a", True):
            raise _Fail(f"recv() after close() returned ({_show(got[0])}, {_show(got[1])}), "
                        "expected ('a', True): the items buffered before close come out first")
        got = received(env, call(env, watch, ch.recv), "recv() after close()",
                       "blocked although an item was still buffered")
        if got != ("b", True):
            raise _Fail(f"the second recv() after close() returned ({_show(got[0])}, "
                        f"{_show(got[1])}), expected ('b', True)")
        got = received(env, call(env, watch, ch.recv), "recv() on a closed, drained channel",
                       "blocked: once the channel is closed and empty, return (None, False) "
                       "at once (that ends a worker's loop)")
        if got != (None, False):
            raise _Fail(f"recv() on a closed, drained channel returned ({_show(got[0])}, "
                        f"{_show(got[1])}), expected (None, False)")

    def send_after_close(env: _Env) -> None:
        watch = _Activity(env)
        ch = make(env, 2)
        returned(env, call(env, watch, ch.close), "close()", "blocked")
        s = call(env, watch, ch.send, "late")
        if not env.wait_until(lambda: s.finished, _PROMPT):
            raise _Fail("send('late') on a closed channel blocked: raise ChannelClosed at once")
        if s.error is None:
            raise _Fail("send('late') on a closed channel returned as if it had worked: the "
                        "job would be lost without a word; raise pool.ChannelClosed")
        if not isinstance(s.error, ChannelClosed):
            raise _Fail(f"send('late') on a closed channel raised {_describe(s.error)}, not "
                        "pool.ChannelClosed")

    def close_wakes_receivers(env: _Env) -> None:
        watch = _Activity(env)
        ch = make(env, 2)
        receivers = [call(env, watch, ch.recv) for _ in range(3)]
        settle(env, watch, receivers, 3)
        for r in receivers:
            must_wait(env, r, "recv()", "an empty, open channel")
        returned(env, call(env, _Activity(env), ch.close), "close()", "blocked")
        env.wait_until(lambda: all(r.finished for r in receivers), _PROMPT)
        woken = sum(r.finished for r in receivers)
        if woken < len(receivers):
            raise _Fail(f"close() woke only {woken} of the 3 receivers waiting in recv(): the "
                        "others wait forever, like a worker that never leaves its loop; close "
                        "must wake every waiter, not one")
        for r in receivers:
            if r.error is not None:
                raise _Fail(f"a recv() woken by close() raised {_describe(r.error)}")
            if r.value != (None, False):
                raise _Fail(f"a recv() woken by close() returned {_show(r.value)}, expected "
                            "(None, False)")

    def close_wakes_senders(env: _Env) -> None:
        watch = _Activity(env)
        ch = make(env, 1)
        send_now(env, watch, ch, "a", 1)
        senders = [call(env, watch, ch.send, item) for item in ("b", "c")]
        settle(env, watch, senders, 2)
        for s in senders:
            if s.finished and s.error is None:
                raise _Fail("send() returned at once although the channel was full (capacity "
                            "1): a send must wait while the buffer is full")
            must_wait(env, s, "send()", "a full channel")
        returned(env, call(env, _Activity(env), ch.close), "close()", "blocked")
        env.wait_until(lambda: all(s.finished for s in senders), _PROMPT)
        woken = sum(s.finished for s in senders)
        if woken < len(senders):
            raise _Fail(f"close() woke {woken} of the 2 senders waiting for room: the others "
                        "wait forever; close must wake every waiter, senders too")
        for s in senders:
            if s.error is None:
                raise _Fail("a send() waiting on a full channel returned normally when the "
                            "channel was closed, though its item can never be received: "
                            "raise pool.ChannelClosed")
            if not isinstance(s.error, ChannelClosed):
                raise _Fail(f"a send() woken by close() raised {_describe(s.error)}, not "
                            "pool.ChannelClosed")

    return _run("channel", [
        _Scenario("passes items through first in, first out", fifo),
        _Scenario("recv waits for a send without polling or spinning", recv_waits),
        _Scenario("recv waits again after a wake-up that brought no item", rewaits),
        _Scenario("send waits while the buffer is full, until a recv makes room", send_waits),
        _Scenario("recv still returns the buffered items after close", drains_after_close),
        _Scenario("send on a closed channel raises ChannelClosed", send_after_close),
        _Scenario("close wakes every waiting receiver", close_wakes_receivers),
        _Scenario("close wakes every sender waiting for room", close_wakes_senders),
    ])
