"""Stage 1: the job, and the record of how it ended.

Go::

    type Job struct {
        ID      string
        Payload []byte
        Ctx     context.Context
    }

A job carries everything a worker needs: an id to log and account by, the
bytes to work on, and its own context so it can carry a deadline.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ._validate import type_name
from .context import Context, background

__all__ = ["Job", "Outcome", "Status"]


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of work: ``Job(id, payload=b"", ctx=background())``.

    ``id`` is a non-empty ``str``; ``payload`` is ``bytes`` (a ``bytearray``
    or ``memoryview`` is copied to ``bytes``, so later changes to the
    buffer cannot reach the worker); ``ctx`` is a :class:`Context`.
    Raises ``TypeError``/``ValueError`` naming the bad field.
    """

    id: str
    payload: bytes = b""
    ctx: Context = field(default_factory=background, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            raise TypeError(f"id must be a str, got {type_name(self.id)}")
        if not self.id:
            raise ValueError("id must be a non-empty str")
        if not isinstance(self.payload, bytes):
            if isinstance(self.payload, (bytearray, memoryview)):
                object.__setattr__(self, "payload", bytes(self.payload))
            elif isinstance(self.payload, str):
                raise TypeError("payload must be bytes, got str (encode it: text.encode())")
            else:
                raise TypeError(f"payload must be bytes, got {type_name(self.payload)}")
        if not isinstance(self.ctx, Context):
            raise TypeError(f"ctx must be a pool.Context, got {type_name(self.ctx)}")

    def with_ctx(self, ctx: Context) -> Job:
        """Return a copy of this job carrying ``ctx``, of the same class.

        A subclass's extra fields and attributes are copied too (a shallow
        copy; its ``__init__`` is not run again). Raises ``TypeError`` for a
        non-Context.
        """
        if not isinstance(ctx, Context):
            raise TypeError(f"ctx must be a pool.Context, got {type_name(ctx)}")
        return _copy_with_ctx(self, ctx)

    def __repr__(self) -> str:
        size = len(self.payload)
        return f"Job(id={self.id!r}, payload=<{size} byte{'s' if size != 1 else ''}>)"


class _Blank:
    """A Job's layout without its frozen ``__setattr__``: where a copy is made.

    A plain :class:`Job`'s copy is filled here with plain slot stores, then
    becomes a Job by ``__class__`` assignment (which Python allows only
    between identical layouts, and checks). A pool makes one copy per job:
    this costs a third of three ``object.__setattr__`` calls.
    """

    __slots__ = ("ctx", "id", "payload")

    # (Typed for the stores only; it is never read as a _Blank.)
    id: str
    payload: bytes
    ctx: Context


def _copy_with_ctx(job: Job, ctx: Context) -> Job:
    # Set the fields the way a frozen dataclass's own __init__ does, on a new
    # object, without running __init__ again: the fields were checked when
    # the job was made (a pool makes one such copy per job), and a subclass's
    # __init__ may take other arguments, or have side effects.
    if type(job) is Job:  # the common case
        blank = _Blank()
        blank.id = job.id
        blank.payload = job.payload
        blank.ctx = ctx
        blank.__class__ = Job  # type: ignore[assignment]
        return blank  # type: ignore[return-value]
    # A subclass: every slot and instance attribute, whatever declared it.
    copy = object.__new__(type(job))
    for cls in type(job).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(job, name):
                object.__setattr__(copy, name, getattr(job, name))
    if hasattr(job, "__dict__"):
        copy.__dict__.update(job.__dict__)
    object.__setattr__(copy, "ctx", ctx)
    return copy


class Status(enum.Enum):
    """Where a job is in its life. The last five are terminal."""

    QUEUED = "queued"
    """Accepted, waiting in the channel for a worker."""
    RUNNING = "running"
    """A worker is calling ``process(job)``."""
    SUCCEEDED = "succeeded"
    """``process`` returned; its value is the outcome's ``result``."""
    FAILED = "failed"
    """``process`` raised; the exception is the outcome's ``error``."""
    CANCELED = "canceled"
    """The job's context (or the pool's) was cancelled, before or during the run."""
    TIMED_OUT = "timed_out"
    """The job's deadline passed, before or during the run."""
    ABANDONED = "abandoned"
    """Still running when shutdown gave up on it; its thread may still be alive."""

    # Members are singletons, so identity hashing is exact, and it is C-fast
    # (Enum's default hashes the name in Python: a pool counts by status per job).
    __hash__ = object.__hash__

    @property
    def terminal(self) -> bool:
        """True for the five statuses that end a job."""
        return self not in (Status.QUEUED, Status.RUNNING)


class Outcome(NamedTuple):
    """How one job ended: a frozen record.

    Times are ``time.monotonic()`` values. ``started_at`` is ``None`` for a
    job that never ran; ``worker_id`` is the worker that ran it, or that took
    it off the queue and found its context done, and ``None`` if no worker
    touched it (ended by shutdown while queued). ``error`` is the exception
    for ``FAILED`` (and the context error for ``CANCELED``/``TIMED_OUT``),
    ``result`` the return value for ``SUCCEEDED``. (A named tuple: cheap to make, one per job.)
    """

    job_id: str
    worker_id: int | None
    status: Status
    result: Any = None
    error: BaseException | None = None
    queued_at: float = 0.0
    started_at: float | None = None
    finished_at: float = 0.0

    @property
    def ran_for(self) -> float | None:
        """Seconds between start and finish, ``None`` if the job never ran."""
        return None if self.started_at is None else self.finished_at - self.started_at

    @property
    def waited(self) -> float:
        """Seconds between being queued and starting (or ending, if it never ran)."""
        left_queue = self.finished_at if self.started_at is None else self.started_at
        return left_queue - self.queued_at
