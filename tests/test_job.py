"""Contract of stage 1: Job, Status and Outcome."""

from __future__ import annotations

import dataclasses
import time

import pytest

from pool import Context, Job, Outcome, Status, background

# -- Job -----------------------------------------------------------------------------


def test_job_is_a_frozen_dataclass() -> None:
    assert dataclasses.is_dataclass(Job)
    job = Job("a", b"x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.id = "b"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.payload = b"y"  # type: ignore[misc]
    assert job.id == "a"
    assert job.payload == b"x"


def test_job_keeps_its_id_payload_and_ctx() -> None:
    ctx, cancel = background().with_cancel()
    job = Job("job-1", b"\x00\x01", ctx)
    assert job.id == "job-1"
    assert job.payload == b"\x00\x01"
    assert job.ctx is ctx
    cancel()


def test_job_accepts_keyword_arguments() -> None:
    ctx, cancel = background().with_cancel()
    job = Job(id="k", payload=b"p", ctx=ctx)
    assert (job.id, job.payload, job.ctx) == ("k", b"p", ctx)
    cancel()


def test_job_payload_defaults_to_empty_bytes() -> None:
    assert Job("a").payload == b""


def test_job_ctx_defaults_to_background() -> None:
    assert Job("a").ctx is background()


def test_job_payload_is_bytes() -> None:
    assert type(Job("a", b"abc").payload) is bytes


def test_job_copies_a_bytearray_payload_to_bytes() -> None:
    buffer = bytearray(b"abc")
    job = Job("a", buffer)  # type: ignore[arg-type]
    buffer[0] = ord("X")
    buffer.extend(b"more")
    assert type(job.payload) is bytes
    assert job.payload == b"abc"


def test_job_copies_a_memoryview_payload_to_bytes() -> None:
    buffer = bytearray(b"abc")
    job = Job("a", memoryview(buffer))  # type: ignore[arg-type]
    buffer[0] = ord("X")
    assert type(job.payload) is bytes
    assert job.payload == b"abc"


@pytest.mark.parametrize(
    ("job_id", "error"),
    [
        pytest.param("", ValueError, id="empty"),
        pytest.param(3, TypeError, id="int"),
        pytest.param(None, TypeError, id="none"),
        pytest.param(b"id", TypeError, id="bytes"),
    ],
)
def test_job_rejects_a_bad_id_naming_it(job_id: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"\bid\b"):
        Job(job_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "payload",
    [pytest.param("text", id="str"), pytest.param(5, id="int"), pytest.param(None, id="none"),
     pytest.param([1, 2], id="list")],
)
def test_job_rejects_a_non_bytes_payload_with_type_error_naming_it(payload: object) -> None:
    with pytest.raises(TypeError, match="payload"):
        Job("a", payload)  # type: ignore[arg-type]


@pytest.mark.parametrize("ctx", [None, "ctx", object()], ids=["none", "str", "object"])
def test_job_rejects_a_non_context_ctx_with_type_error_naming_it(ctx: object) -> None:
    with pytest.raises(TypeError, match="ctx"):
        Job("a", b"", ctx)  # type: ignore[arg-type]


def test_job_accepts_any_context() -> None:
    ctx, cancel = background().with_timeout(60)
    merged, cancel_merged = Context.merge(ctx, background())
    assert Job("a", ctx=merged).ctx is merged
    cancel_merged()
    cancel()


def test_with_ctx_returns_a_frozen_job_of_the_same_class_with_the_new_ctx() -> None:
    ctx, cancel = background().with_cancel()
    job = Job("a", b"x")
    copy = job.with_ctx(ctx)
    assert type(copy) is Job and copy == job and copy is not job
    assert copy.ctx is ctx and copy.payload is job.payload
    with pytest.raises(dataclasses.FrozenInstanceError):
        copy.id = "b"  # type: ignore[misc]
    cancel()


def test_with_ctx_copies_a_subclass_with_its_own_fields() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Tagged(Job):
        tag: str = "t"

    ctx, cancel = background().with_cancel()
    copy = Tagged("a", tag="blue").with_ctx(ctx)
    assert type(copy) is Tagged and copy.tag == "blue" and copy.ctx is ctx
    cancel()


def test_with_ctx_rejects_a_non_context_naming_it() -> None:
    with pytest.raises(TypeError, match="ctx"):
        Job("a").with_ctx("soon")  # type: ignore[arg-type]


# -- Status --------------------------------------------------------------------------


def test_status_has_exactly_the_seven_members() -> None:
    assert [s.name for s in Status] == [
        "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "TIMED_OUT", "ABANDONED",
    ]


@pytest.mark.parametrize("status", [Status.QUEUED, Status.RUNNING])
def test_status_before_the_end_is_not_terminal(status: Status) -> None:
    assert status.terminal is False


@pytest.mark.parametrize(
    "status",
    [Status.SUCCEEDED, Status.FAILED, Status.CANCELED, Status.TIMED_OUT, Status.ABANDONED],
)
def test_status_that_ends_a_job_is_terminal(status: Status) -> None:
    assert status.terminal is True


# -- Outcome -----------------------------------------------------------------------------


def _outcome(**changes: object) -> Outcome:
    fields: dict[str, object] = {
        "job_id": "j", "worker_id": 2, "status": Status.SUCCEEDED, "result": 42,
        "error": None, "queued_at": 1.0, "started_at": 2.0, "finished_at": 3.0,
    }
    fields.update(changes)
    return Outcome(**fields)  # type: ignore[arg-type]


def test_outcome_has_the_contract_fields_in_order() -> None:
    assert Outcome._fields == (
        "job_id", "worker_id", "status", "result", "error",
        "queued_at", "started_at", "finished_at",
    )


def test_outcome_keeps_its_fields() -> None:
    error = ValueError("boom")
    o = _outcome(status=Status.FAILED, result=None, error=error)
    assert (o.job_id, o.worker_id, o.status, o.result, o.error) == (
        "j", 2, Status.FAILED, None, error)
    assert (o.queued_at, o.started_at, o.finished_at) == (1.0, 2.0, 3.0)


def test_outcome_is_frozen() -> None:
    o = _outcome()
    with pytest.raises(AttributeError):
        o.status = Status.FAILED  # type: ignore[misc]
    assert o.status is Status.SUCCEEDED


def test_outcome_started_at_is_none_for_a_job_that_never_ran() -> None:
    now = time.monotonic()
    o = Outcome("j", 1, Status.CANCELED, None, None, now, None, now)
    assert o.started_at is None
