"""Answers to notebook 02's context exercise, right and wrong, as a learner could write them.

The exercise asks for a minimal context (see ``pool.checks.check_child_context``):
``MiniContext()`` is a root, ``with_cancel()``/``with_deadline(when)`` make
children, ``done()``, ``err()`` and ``deadline()`` describe one. ``RIGHT``
holds correct designs in other styles (a child that asks its parents each
time; children that join first and check after, without a lock; an Event
per context); ``WRONG`` holds one answer per mistake, each with the
scenarios it must fail and a phrase the hint of the first failed one must
contain. ``tests/test_check_context.py`` runs them all through the checker.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from pool import Canceled, ContextError, DeadlineExceeded

# -- the scenarios, as check_child_context prints them (after "context ") ---------------------

FRESH = "a root and a new child are not done"
DOWN = "a cancel reaches children and grandchildren"
NOT_UP = "a child's cancel reaches neither its parent nor its sibling"
BORN_DONE = "a child of a cancelled parent is done at once"
DEADLINE = "a child cannot outlive its parent's deadline, may end before it"
CAUSE = "err() names the cause, and keeps naming the first one"
TWICE = "cancel() may be called twice"
RACE_MAKE = "a child made while its parent is cancelled elsewhere is cancelled too"
RACE_CANCEL = "a cancel while a child is being made elsewhere reaches that child"
SCENARIOS = (FRESH, DOWN, NOT_UP, BORN_DONE, DEADLINE, CAUSE, TWICE, RACE_MAKE, RACE_CANCEL)


def earlier(mine: float | None, parents: float | None) -> float | None:
    if parents is None:
        return mine
    return parents if mine is None else min(mine, parents)


# -- right answers, other styles --------------------------------------------------------------

class PullContext:
    """No children list, no lock: a context asks its parent every time (pull)."""

    def __init__(self, parent: PullContext | None = None, deadline: float | None = None) -> None:
        self.parent = parent
        self._deadline = earlier(deadline, parent._deadline if parent else None)
        self.cause: type[ContextError] | None = None

    def with_cancel(self) -> tuple[PullContext, Any]:
        child = PullContext(self)
        return child, child.cancel

    def with_deadline(self, when: float) -> tuple[PullContext, Any]:
        child = PullContext(self, when)
        return child, child.cancel

    def cancel(self) -> None:
        if self.cause is None:  # a lock-free check-then-act that is harmless here
            self.cause = Canceled

    def deadline(self) -> float | None:
        return self._deadline

    def err(self) -> ContextError | None:
        if self.cause is None:
            inherited = self.parent.err() if self.parent is not None else None
            if inherited is not None:
                self.cause = type(inherited)
            elif self._deadline is not None and time.monotonic() >= self._deadline:
                self.cause = DeadlineExceeded
        return self.cause() if self.cause is not None else None

    def done(self) -> bool:
        return self.err() is not None


class JoinFirstContext:
    """Push, lock-free but in the safe order: a child joins first, then looks at its parent;
    a cancel marks the context done first, then walks its children."""

    def __init__(self, parent: JoinFirstContext | None = None,
                 deadline: float | None = None) -> None:
        self._deadline = earlier(deadline, parent._deadline if parent else None)
        self._cause: type[ContextError] | None = None
        self._children: list[JoinFirstContext] = []
        if parent is not None:
            parent._children.append(self)
            if parent._cause is not None:
                self._end(parent._cause)

    def with_cancel(self) -> tuple[JoinFirstContext, Any]:
        child = JoinFirstContext(self)
        return child, lambda: child._end(Canceled)

    def with_deadline(self, when: float) -> tuple[JoinFirstContext, Any]:
        child = JoinFirstContext(self, when)
        return child, lambda: child._end(Canceled)

    def _end(self, cause: type[ContextError]) -> None:
        if self._cause is not None:
            return
        self._cause = cause
        for child in list(self._children):
            child._end(cause)

    def deadline(self) -> float | None:
        return self._deadline

    def err(self) -> ContextError | None:
        if self._cause is None and self._deadline is not None and \
                time.monotonic() >= self._deadline:
            self._end(DeadlineExceeded)
        return None if self._cause is None else self._cause("context ended")

    def done(self) -> bool:
        return self.err() is not None


class EventContext:
    """An Event and a lock per context; a cancel takes one lock at a time, top down."""

    def __init__(self, parent: EventContext | None = None, deadline: float | None = None) -> None:
        self._deadline = earlier(deadline, parent._deadline if parent else None)
        self._ended = threading.Event()
        self._cause: ContextError | None = None
        self._lock = threading.Lock()
        self._children: set[EventContext] = set()
        if parent is not None:
            with parent._lock:
                if parent._ended.is_set():
                    self._ended.set()
                    self._cause = type(parent._cause)("inherited")  # type: ignore[arg-type]
                else:
                    parent._children.add(self)

    def with_cancel(self) -> tuple[EventContext, Any]:
        child = EventContext(self)
        return child, lambda: child._end(Canceled("canceled"))

    def with_deadline(self, when: float) -> tuple[EventContext, Any]:
        child = EventContext(self, when)
        return child, lambda: child._end(Canceled("canceled"))

    def _end(self, cause: ContextError) -> None:
        with self._lock:
            if self._ended.is_set():
                return
            self._cause = cause
            self._ended.set()
            children, self._children = self._children, set()
        for child in children:  # outside our lock: one lock at a time, no lock order to keep
            child._end(type(cause)("from parent"))

    def deadline(self) -> float | None:
        return self._deadline

    def err(self) -> ContextError | None:
        if not self._ended.is_set() and self._deadline is not None and \
                time.monotonic() >= self._deadline:
            self._end(DeadlineExceeded("deadline"))
        return self._cause if self._ended.is_set() else None

    def done(self) -> bool:
        return self.err() is not None


@dataclass(frozen=True)
class Answer:
    name: str
    make_root: Any


RIGHT = [
    Answer("pull: ask the parents each time, no lock", PullContext),
    Answer("push without a lock, join first and check after", JoinFirstContext),
    Answer("an Event and a lock per context", EventContext),
]


# -- wrong answers ------------------------------------------------------------------------------

class Base:
    """A push design with one lock; each wrong answer below changes one thing."""

    lock = threading.Lock()

    def __init__(self, parent: Base | None = None, deadline: float | None = None) -> None:
        self._deadline = self.child_deadline(deadline, parent)
        self._cause: type[ContextError] | None = None
        self._children: list[Base] = []
        self._parent = parent
        if parent is not None:
            self.join(parent)

    def child_deadline(self, deadline: float | None, parent: Base | None) -> float | None:
        return earlier(deadline, parent._deadline if parent else None)

    def join(self, parent: Base) -> None:
        with self.lock:
            if parent._cause is not None:
                self._cause = parent._cause
            else:
                parent._children.append(self)

    def with_cancel(self) -> tuple[Base, Any]:
        child = type(self)(self)
        return child, child.cancel

    def with_deadline(self, when: float) -> tuple[Base, Any]:
        child = type(self)(self, when)
        return child, child.cancel

    def cancel(self) -> None:
        self.end(Canceled)

    def end(self, cause: type[ContextError]) -> None:
        with self.lock:
            self.end_locked(cause)

    def end_locked(self, cause: type[ContextError]) -> None:
        if self._cause is not None:
            return
        self._cause = cause
        for child in self._children:
            child.end_locked(cause)

    def deadline(self) -> float | None:
        return self._deadline

    def err(self) -> ContextError | None:
        if self._cause is None and self._deadline is not None and \
                time.monotonic() >= self._deadline:
            self.end(DeadlineExceeded)
        return None if self._cause is None else self._cause()

    def done(self) -> bool:
        return self.err() is not None


class ChildrenOnly(Base):
    """A cancel marks the direct children, not theirs."""

    def end_locked(self, cause: type[ContextError]) -> None:
        if self._cause is not None:
            return
        self._cause = cause
        for child in self._children:
            child._cause = cause


class OwnDeadlineOnly(Base):
    """A child keeps the deadline it asked for: it outlives its parent."""

    def child_deadline(self, deadline: float | None, parent: Base | None) -> float | None:
        return deadline


class CancelFlowsUp(Base):
    """A cancel also ends the parent ("the whole job is off")."""

    def cancel(self) -> None:
        super().cancel()
        if self._parent is not None:
            self._parent.cancel()


class CanceledForEverything(Base):
    """err() says Canceled whatever the cause: a missed deadline looks like a cancel."""

    def err(self) -> ContextError | None:
        return None if super().err() is None else Canceled()


class ErrAsClass(Base):
    """err() returns the class, not an exception."""

    def err(self) -> Any:
        super().err()
        return self._cause


class DeadlineCheckedFirst(Base):
    """err() looks at the clock before the stored cause: a cancelled context later says
    DeadlineExceeded."""

    def err(self) -> ContextError | None:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return DeadlineExceeded()
        return super().err()


class NoLookAtParent(Base):
    """A child joins its parent's list without looking: a done parent's cancel is long over."""

    def join(self, parent: Base) -> None:
        with self.lock:
            parent._children.append(self)


class CheckThenJoinNoLock(Base):
    """Looks at the parent, then joins it, with no lock: a cancel can run in between."""

    def join(self, parent: Base) -> None:
        if parent._cause is not None:
            self._cause = parent._cause
        else:
            parent._children.append(self)

    def end(self, cause: type[ContextError]) -> None:
        self.end_locked(cause)


class SnapshotThenMark(Base):
    """A cancel takes a copy of the children, then marks itself: a child joining in between is
    left out (the lock guards each step, not the two together)."""

    def end(self, cause: type[ContextError]) -> None:
        with self.lock:
            if self._cause is not None:
                return
            children = list(self._children)
        with self.lock:
            self._cause = cause
        for child in children:
            child.end(cause)


class SecondCancelRaises(Base):
    """cancel() refuses to run twice."""

    def cancel(self) -> None:
        if self._cause is Canceled:
            raise RuntimeError("already cancelled")
        super().cancel()


@dataclass(frozen=True)
class Wrong:
    name: str
    make_root: Any
    fails: frozenset[str]  # exactly these scenarios fail
    hint: str  # ... and the first one's hint contains this


def _wrong(name: str, make_root: Any, fails: set[str], hint: str) -> Wrong:
    return Wrong(name, make_root, frozenset(fails), hint)


WRONG = [
    _wrong("a cancel that stops at the children", ChildrenOnly, {DOWN},
           "reached its child job but not its grandchild step"),
    _wrong("a child that keeps its own later deadline", OwnDeadlineOnly, {DEADLINE},
           "a child cannot outlive its parent"),
    _wrong("a cancel that flows up", CancelFlowsUp, {NOT_UP, CAUSE}, "never up"),
    _wrong("err() says Canceled for a missed deadline", CanceledForEverything, {DEADLINE, CAUSE},
           "so the caller can tell a cancel from a missed deadline"),
    _wrong("err() returns the class", ErrAsClass, {DOWN, BORN_DONE, DEADLINE, CAUSE},
           "not an instance"),
    _wrong("err() looks at the clock first", DeadlineCheckedFirst, {CAUSE},
           "keeps naming the first cause"),
    _wrong("a child that never looks at its parent", NoLookAtParent,
           {BORN_DONE, RACE_MAKE, RACE_CANCEL},
           "a new child must look at its parent"),
    _wrong("check, then join, without a lock", CheckThenJoinNoLock, {RACE_MAKE},
           "between the child's look at its parent"),
    _wrong("a cancel that copies the children before marking itself", SnapshotThenMark,
           {RACE_CANCEL}, "the cancel looked at the parent's children before marking"),
    _wrong("a second cancel() raises", SecondCancelRaises, {TWICE},
           "calling its cancel() a second time raised RuntimeError"),
]
