"""Reference solution for the exercise in notebook 02: a job class of your own.

``MyJob(id, payload=b"", ctx=background())`` checks its fields like
``pool.Job``: the id names the job in every log line, so it must be a
non-empty ``str``; the payload is ``bytes``, and a ``bytearray`` is copied so
that the caller reusing its buffer cannot change a job already queued.

Check it with ``pool.checks.check_job(MyJob)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pool import Context, background


@dataclass(frozen=True)
class MyJob:
    id: str
    payload: bytes = b""
    ctx: Context = field(default_factory=background)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            raise TypeError(f"id must be a str, got {type(self.id).__name__}")
        if not self.id:
            raise ValueError("id must be a non-empty str")
        if isinstance(self.payload, str):
            raise TypeError("payload must be bytes, got str (encode it: text.encode())")
        if isinstance(self.payload, (bytearray, memoryview)):
            # frozen: the dataclass's own __setattr__ refuses, so go around it once
            object.__setattr__(self, "payload", bytes(self.payload))
        elif not isinstance(self.payload, bytes):
            raise TypeError(f"payload must be bytes, got {type(self.payload).__name__}")
        if not isinstance(self.ctx, Context):
            raise TypeError(f"ctx must be a pool.Context, got {type(self.ctx).__name__}")
