"""Answers to notebook 02's first exercise (a job class), right and wrong, as a learner could
write them.

The exercise asks for ``MyJob(id, payload=b"", ctx=background())`` (see
``pool.checks.check_job``). ``RIGHT`` holds correct answers in other styles;
``WRONG`` holds one answer per mistake, each with the scenarios it must fail
and a phrase the hint of the first failed one must contain.
``tests/test_check_job.py`` runs them all through the checker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pool import Context, Job, background

# -- the scenarios, as check_job prints them (after "job ") ----------------------------------

KEEPS = "keeps the id, payload and ctx it is given"
DEFAULT_CTX = "gives a job made without ctx a context that is never done"
COPIES = "copies a bytearray payload to bytes"
EMPTY_ID = "rejects an empty id with ValueError"
ID_TYPE = "rejects an id that is not a str with TypeError"
STR_PAYLOAD = "rejects a str payload with TypeError"
OTHER_PAYLOAD = "rejects a payload that is not bytes (a list, an int) with TypeError"
SCENARIOS = (KEEPS, DEFAULT_CTX, COPIES, EMPTY_ID, ID_TYPE, STR_PAYLOAD, OTHER_PAYLOAD)


# -- right answers, other styles ----------------------------------------------------------

class PlainJob:
    """A plain class with __init__ and __slots__, no dataclass."""

    __slots__ = ("ctx", "id", "payload")

    def __init__(self, id: str, payload: bytes = b"", ctx: Context | None = None) -> None:
        if type(id) is not str:
            raise TypeError(f"id must be a str, not {type(id).__name__}")
        if id == "":
            raise ValueError("id must not be empty")
        if isinstance(payload, (bytearray, memoryview)):
            payload = bytes(payload)
        elif not isinstance(payload, bytes):
            hint = " (encode it first)" if isinstance(payload, str) else ""
            raise TypeError(f"payload must be bytes, not {type(payload).__name__}{hint}")
        self.id = id
        self.payload = payload
        self.ctx = background() if ctx is None else ctx


def make_job(id: Any, payload: Any = b"", ctx: Any = None) -> Job:
    """A factory function that leaves the checks to pool.Job."""
    return Job(id, payload) if ctx is None else Job(id, payload, ctx)


@dataclass(frozen=True)
class MatchJob:
    """A dataclass whose checks are a match statement."""

    id: str
    payload: bytes = b""
    ctx: Context = field(default_factory=background)

    def __post_init__(self) -> None:
        match self.id:
            case str() if self.id:
                pass
            case str():
                raise ValueError("id is empty")
            case _:
                raise TypeError("id must be a str")
        match self.payload:
            case bytes():
                pass
            case bytearray() | memoryview():
                object.__setattr__(self, "payload", bytes(self.payload))
            case str():
                raise TypeError("payload is text: pass text.encode()")
            case _:
                raise TypeError("payload must be bytes")


class TupleJob(NamedTuple):
    """A NamedTuple built by a classmethod that checks first."""

    id: str
    payload: bytes
    ctx: Context

    @classmethod
    def make(cls, id: Any, payload: Any = b"", ctx: Context | None = None) -> TupleJob:
        if not isinstance(id, str):
            raise TypeError("id: str expected")
        if not id:
            raise ValueError("id: empty")
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError("payload: bytes expected")
        return cls(id, bytes(payload), ctx or background())


@dataclass(frozen=True)
class Answer:
    name: str
    make: Any


RIGHT = [
    Answer("a plain class with __slots__", PlainJob),
    Answer("a function that makes a pool.Job", make_job),
    Answer("a dataclass with match", MatchJob),
    Answer("a NamedTuple and a classmethod", TupleJob.make),
]


# -- wrong answers --------------------------------------------------------------------------

@dataclass(frozen=True)
class ValueErrorForEverything:
    """Raises ValueError for a wrong type too, where the exercise asks for TypeError."""

    id: str
    payload: bytes = b""
    ctx: Context = field(default_factory=background)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("id must be a non-empty str")
        if isinstance(self.payload, bytearray):
            object.__setattr__(self, "payload", bytes(self.payload))
        elif not isinstance(self.payload, bytes):
            raise ValueError("payload must be bytes")


@dataclass(frozen=True)
class TypeErrorForEmptyId:
    """Raises TypeError for an empty id: the right type with a bad value is a ValueError."""

    id: str
    payload: bytes = b""
    ctx: Context = field(default_factory=background)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise TypeError("id must be a non-empty str")
        if isinstance(self.payload, bytearray):
            object.__setattr__(self, "payload", bytes(self.payload))
        elif not isinstance(self.payload, bytes):
            raise TypeError("payload must be bytes")


@dataclass(frozen=True)
class BytesOfAnything:
    """Rejects str, then bytes() whatever else came: a list or an int quietly becomes bytes."""

    id: str
    payload: bytes = b""
    ctx: Context = field(default_factory=background)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            raise TypeError("id must be a str")
        if not self.id:
            raise ValueError("id must not be empty")
        if isinstance(self.payload, str):
            raise TypeError("payload must be bytes: encode the text")
        object.__setattr__(self, "payload", bytes(self.payload))


@dataclass(frozen=True)
class OnlyStrRejected:
    """Rejects a str payload and copies a bytearray, but lets anything else through."""

    id: str
    payload: bytes = b""
    ctx: Context = field(default_factory=background)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            raise TypeError("id must be a str")
        if not self.id:
            raise ValueError("id must not be empty")
        if isinstance(self.payload, str):
            raise TypeError("payload must be bytes: encode the text")
        if isinstance(self.payload, bytearray):
            object.__setattr__(self, "payload", bytes(self.payload))


@dataclass(frozen=True)
class EncodingStr:
    """Encodes a str payload instead of refusing it (which encoding did the caller mean?)."""

    id: str
    payload: bytes = b""
    ctx: Context = field(default_factory=background)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            raise TypeError("id must be a str")
        if not self.id:
            raise ValueError("id must not be empty")
        if isinstance(self.payload, str):
            object.__setattr__(self, "payload", self.payload.encode())
        elif not isinstance(self.payload, (bytes, bytearray)):
            raise TypeError("payload must be bytes")
        else:
            object.__setattr__(self, "payload", bytes(self.payload))


@dataclass(frozen=True)
class KeepingTheBuffer:
    """Accepts a bytearray as it is: the caller's next request overwrites the queued job."""

    id: str
    payload: bytes = b""
    ctx: Context = field(default_factory=background)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            raise TypeError("id must be a str")
        if not self.id:
            raise ValueError("id must not be empty")
        if not isinstance(self.payload, (bytes, bytearray)):
            raise TypeError("payload must be bytes")


@dataclass(frozen=True)
class NoCtxDefault:
    """ctx defaults to None: a worker asking job.ctx.done() crashes."""

    id: str
    payload: bytes = b""
    ctx: Context | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            raise TypeError("id must be a str")
        if not self.id:
            raise ValueError("id must not be empty")
        if isinstance(self.payload, bytearray):
            object.__setattr__(self, "payload", bytes(self.payload))
        elif not isinstance(self.payload, bytes):
            raise TypeError("payload must be bytes")


@dataclass(frozen=True)
class EmptyIdAccepted:
    """Checks the id's type only."""

    id: str
    payload: bytes = b""
    ctx: Context = field(default_factory=background)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            raise TypeError("id must be a str")
        if isinstance(self.payload, bytearray):
            object.__setattr__(self, "payload", bytes(self.payload))
        elif not isinstance(self.payload, bytes):
            raise TypeError("payload must be bytes")


@dataclass(frozen=True)
class Unchecked:
    id: Any
    payload: Any = b""
    ctx: Any = None


@dataclass(frozen=True)
class Wrong:
    name: str
    make: Any
    fails: frozenset[str]  # exactly these scenarios fail
    hint: str  # ... and the first one's hint contains this


def _wrong(name: str, make: Any, fails: set[str], hint: str) -> Wrong:
    return Wrong(name, make, frozenset(fails), hint)


WRONG = [
    _wrong("ValueError for a wrong type", ValueErrorForEverything,
           {ID_TYPE, STR_PAYLOAD, OTHER_PAYLOAD}, "is a TypeError (wrong type), not a ValueError"),
    _wrong("TypeError for an empty id", TypeErrorForEmptyId, {EMPTY_ID},
           "is a ValueError (right type, bad value), not a TypeError"),
    _wrong("bytes() of any payload", BytesOfAnything, {OTHER_PAYLOAD},
           "a payload that is not bytes must raise TypeError"),
    _wrong("only a str payload rejected", OnlyStrRejected, {OTHER_PAYLOAD},
           "a payload that is not bytes must raise TypeError"),
    _wrong("a str payload encoded", EncodingStr, {STR_PAYLOAD},
           "a str payload must raise TypeError"),
    _wrong("the caller's bytearray kept", KeepingTheBuffer, {COPIES},
           "is the caller's bytearray itself"),
    _wrong("ctx defaults to None", NoCtxDefault, {DEFAULT_CTX}, "has ctx=None"),
    _wrong("an empty id accepted", EmptyIdAccepted, {EMPTY_ID}, "an empty id must raise"),
    _wrong("no validation at all", Unchecked,
           {DEFAULT_CTX, COPIES, EMPTY_ID, ID_TYPE, STR_PAYLOAD, OTHER_PAYLOAD}, "has ctx=None"),
]
