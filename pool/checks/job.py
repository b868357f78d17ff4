"""Notebook 02, stage 1: ``check_job`` — a Job class and its validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._validate import type_name
from ..context import Context, background
from ._harness import (
    _PROMPT,
    _Call,
    _check_callable,
    _describe,
    _Env,
    _Fail,
    _run,
    _Scenario,
    _show,
)

__all__ = ["check_job"]

# -- stage 1: the job --------------------------------------------------------------


def check_job(make_job: Callable[..., Any]) -> bool:
    """Check a stage-1 answer: a function or class that makes jobs.

    ``make_job`` is called as ``make_job(id, payload)`` and as
    ``make_job(id, payload, ctx)`` (positional arguments; ``pool.Job``
    itself qualifies, and so does ``def make_job(id, payload, ctx=None)``).
    It must return an object with ``.id``, ``.payload`` and ``.ctx``:
    the id as given, the payload as ``bytes`` (a ``bytearray`` copied, so
    later changes to the buffer do not reach the job), the ``ctx`` as
    given, or a context that is never done (``pool.background()``) when
    none was given. As the exercise asks: a non-``str`` id is a
    ``TypeError``, an empty id a ``ValueError`` (right type, bad value), a
    ``str`` payload and any other payload that is not bytes-like (a list,
    an int: ``bytes()`` would quietly turn those into bytes) a ``TypeError``.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second at most per scenario, even if ``make_job`` hangs. Raises
    ``TypeError`` only if ``make_job`` is not callable.
    """
    _check_callable(make_job, "make_job")

    def shown(args: tuple[Any, ...]) -> str:
        return ", ".join("ctx" if isinstance(a, Context) else _show(a) for a in args)

    def call_make(env: _Env, *args: Any) -> _Call:
        call = env.start(make_job, *args)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail(f"make_job({shown(args)}) did not return within {_PROMPT:g} s: making a "
                        "job must not wait for anything")
        return call

    def make(env: _Env, *args: Any) -> Any:
        call = call_make(env, *args)
        if call.error is not None:
            raise _Fail(f"make_job({shown(args)}) raised {_describe(call.error)}")
        return call.value

    def field(job: Any, name: str) -> Any:
        if not hasattr(job, name):
            raise _Fail(f"make_job returned {_show(job)}, which has no .{name}: return a job "
                        "with id, payload and ctx fields")
        return getattr(job, name)

    def keeps_fields(env: _Env) -> None:
        ctx, cancel = background().with_cancel()
        env.later(cancel)
        job = make(env, "job-1", b"hello", ctx)
        if field(job, "id") != "job-1":
            raise _Fail("job.id is not the id it was made with: keep the id as given")
        if field(job, "payload") != b"hello":
            raise _Fail("job.payload is not the payload it was made with: keep the bytes as given")
        if field(job, "ctx") is not ctx:
            raise _Fail("job.ctx is not the context it was made with: keep the ctx as given, "
                        "so the job carries the caller's deadline")

    def default_ctx(env: _Env) -> None:
        job = make(env, "job-1", b"hello")
        ctx = field(job, "ctx")
        if ctx is None:
            raise _Fail("a job made without ctx has ctx=None: default to pool.background(), "
                        "so a worker can always ask job.ctx.done()")
        if not isinstance(ctx, Context):
            raise _Fail(f"job.ctx is a {type_name(ctx)}, not a pool.Context: default to "
                        "pool.background()")
        if ctx.done():
            raise _Fail("a job made without ctx is already done: default to pool.background(), "
                        "which is never done")

    def copies_bytearray(env: _Env) -> None:
        buffer = bytearray(b"hello")
        job = make(env, "job-1", buffer)
        buffer[:] = b"HELLO"
        payload = field(job, "payload")
        if payload is buffer:
            raise _Fail("job.payload is the caller's bytearray itself: a later change to the "
                        "buffer would change the job; copy it with bytes(payload)")
        if type(payload) is not bytes:
            raise _Fail(f"job.payload is a {type_name(payload)}, not bytes: copy it with "
                        "bytes(payload)")
        if payload != b"hello":
            raise _Fail("job.payload changed when the caller changed its bytearray: copy it "
                        "with bytes(payload)")

    def rejects(cases: tuple[tuple[Any, ...], ...], expected: type[Exception], what: str,
                fix: str) -> Callable[[_Env], None]:
        # The exercise names the exception: TypeError for a wrong type, ValueError for a
        # right type with a bad value. A caller catching the one it was promised must get it.
        other = ValueError if expected is TypeError else TypeError
        kind = "wrong type" if expected is TypeError else "right type, bad value"

        def scenario(env: _Env) -> None:
            for args in cases:
                call = call_make(env, *args)
                if isinstance(call.error, expected):
                    continue
                if isinstance(call.error, other):
                    raise _Fail(f"make_job({shown(args)}) raised {_describe(call.error)}: "
                                f"{what} is a {expected.__name__} ({kind}), not a "
                                f"{other.__name__}; {fix}")
                if call.error is not None:
                    raise _Fail(f"make_job({shown(args)}) raised {_describe(call.error)}; "
                                f"expected {expected.__name__}: {fix}")
                raise _Fail(f"make_job({shown(args)}) returned {_show(call.value)}: {what} "
                            f"must raise {expected.__name__}; {fix}")

        return scenario

    return _run("job", [
        _Scenario("keeps the id, payload and ctx it is given", keeps_fields),
        _Scenario("gives a job made without ctx a context that is never done", default_ctx),
        _Scenario("copies a bytearray payload to bytes", copies_bytearray),
        _Scenario("rejects an empty id with ValueError", rejects(
            (("", b"hello"),), ValueError, "an empty id",
            "a job with no name cannot be told apart in the logs")),
        _Scenario("rejects an id that is not a str with TypeError", rejects(
            ((42, b"hello"),), TypeError, "a non-str id",
            "say in the message which argument is wrong")),
        _Scenario("rejects a str payload with TypeError", rejects(
            (("job-1", "hello"),), TypeError, "a str payload",
            "tell the caller to encode the text")),
        _Scenario("rejects a payload that is not bytes (a list, an int) with TypeError", rejects(
            (("job-1", [104, 105]), ("job-1", 5)), TypeError, "a payload that is not bytes",
            "check the type before converting: bytes([104, 105]) and bytes(5) quietly make "
            "bytes of a list and of an int")),
    ])
