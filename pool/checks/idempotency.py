"""Notebook 13: ``check_idempotent`` — a job that may run twice and still applies once.

A cluster (Dask, Celery with ``acks_late``, any queue that redelivers) runs a
job *at least* once: when a worker dies mid-job the job runs again elsewhere,
and a job that finished may be delivered again. The exercise is a payment:
``apply_payment(job, store)`` adds ``amount`` to ``account``'s balance in a
:class:`Store`, and must do so exactly once per payment id, however many times
it runs. The checker runs it again and again: after a success, twice at once,
and after a crash at every point it writes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..job import Job
from ._harness import (
    _PROMPT,
    _check_callable,
    _describe,
    _Env,
    _Fail,
    _run,
    _Scenario,
)

__all__ = ["Crash", "Store", "Transaction", "check_idempotent"]


class Crash(BaseException):
    """The worker running the job died here (a ``BaseException``: no ``except Exception``
    in a job survives a ``SIGKILL`` either)."""


class Transaction:
    """What ``with store.transaction() as tx`` gives: reads and writes that commit together.

    ``tx.get(key, default=None)`` sees the store plus this transaction's own
    writes; ``tx.set(key, value)`` is kept only if the ``with`` block ends
    without an exception (then every write is applied at once).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._writes: dict[Any, Any] = {}

    def get(self, key: Any, default: Any = None) -> Any:
        """The value at ``key``, this transaction's writes included. Never blocks."""
        if key in self._writes:
            return self._writes[key]
        return self._store._data.get(key, default)

    def set(self, key: Any, value: Any) -> None:
        """Write ``value`` at ``key`` when the transaction commits. Raises :class:`Crash`
        when the checker crashes the worker at this write (nothing is committed then)."""
        self._store._count_write()
        self._writes[key] = value


class Store:
    """A small shared key-value store, as a database or Redis would be for real jobs.

    ``get(key, default=None)`` and ``set(key, value)`` are single operations,
    each atomic on its own (like autocommit statements). ``transaction()`` is
    a context manager: the reads and writes inside it happen as one step that
    no other transaction interleaves with (it holds the store's lock), and
    its writes are applied only if the block ends without an exception.
    Balances live at the account's name: ``store.get("alice", 0)``.

    The checker makes stores that crash (raise :class:`Crash`) at the n-th
    write, and stores whose plain ``get`` lets two deliveries read at the
    same moment, to show a check-then-act race every time, not now and then.
    """

    def __init__(self, *, crash_at_write: int | None = None,
                 meet_on_get: threading.Barrier | None = None) -> None:
        self._data: dict[Any, Any] = {}
        self._lock = threading.RLock()
        self._writes = 0
        self._crash_at = crash_at_write
        self._meet = meet_on_get

    def get(self, key: Any, default: Any = None) -> Any:
        """The value at ``key`` (or ``default``). Never blocks for long."""
        if self._meet is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                self._meet.wait()  # both deliveries read before either writes
        with self._lock:
            return self._data.get(key, default)

    def set(self, key: Any, value: Any) -> None:
        """Write ``value`` at ``key`` at once. Raises :class:`Crash` at the write the
        checker chose (and that write does not happen)."""
        with self._lock:
            self._count_write()
            self._data[key] = value

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Run the block as one all-or-nothing step; blocks while another one runs."""
        with self._lock:
            tx = Transaction(self)
            yield tx
            self._data.update(tx._writes)

    def _count_write(self) -> None:
        self._writes += 1
        if self._crash_at is not None and self._writes == self._crash_at:
            raise Crash(f"the worker died at write {self._writes}")

    @property
    def writes(self) -> int:
        """How many writes were attempted so far (committed or not)."""
        return self._writes

    def balance(self, account: str) -> Any:
        """The balance of ``account`` (0 if it has none)."""
        with self._lock:
            return self._data.get(account, 0)


_MOST_WRITES = 20
"""More writes than this for one payment is not an answer the crash sweep can check."""


def check_idempotent(fn: Callable[[Job, Store], Any]) -> bool:
    """Check ``apply_payment(job, store)``: one payment per payment id, however often it runs.

    ``job.id`` is the payment's id; ``job.payload`` is ``b"<account>:<amount>"``
    (an int, in cents); the balance is ``store.get(account, 0)``. Scenarios:
    one delivery applies the payment; two different payments with the same
    account and amount both apply; a second delivery after a success changes
    nothing and does not raise; two deliveries at the same moment apply it
    once; and after a crash at any write of a delivery, a retry leaves the
    payment applied exactly once.

    Prints one line per scenario and returns True if all passed. Each call of
    ``fn`` runs in a thread of its own with a bound, so an answer that hangs
    fails instead of hanging. Raises ``TypeError`` only if ``fn`` is not
    callable.
    """
    _check_callable(fn, "fn")

    def deliver(env: _Env, job: Job, store: Store, what: str) -> BaseException | None:
        """Run one delivery to its end; return what it raised (a Crash is expected)."""
        call = env.start(fn, job, store)
        env.wait_until(lambda: call.finished, _PROMPT)
        if not call.finished:
            raise _Fail(f"{what} did not return within {_PROMPT:g} s: a delivery must not wait "
                        "for anything but the store")
        return call.error

    def applied(store: Store, expected: int, what: str) -> None:
        got = store.balance("alice")
        if got == expected:
            return
        if got == 0:
            raise _Fail(f"{what}: alice's balance is 0, the payment was never applied: add "
                        "the amount to store's balance for the account (store.get(account, 0))")
        if expected and got == 2 * expected:
            raise _Fail(f"{what}: alice was credited twice ({got} instead of {expected})")
        raise _Fail(f"{what}: alice's balance is {got!r}, expected {expected}")

    def once(env: _Env) -> None:
        store = Store()
        error = deliver(env, Job("pay-1", b"alice:5"), store, "a delivery")
        if error is not None:
            raise _Fail(f"one delivery raised {_describe(error)}")
        applied(store, 5, "after one delivery")

    def two_payments(env: _Env) -> None:
        store = Store()
        for payment in ("pay-1", "pay-2"):
            error = deliver(env, Job(payment, b"alice:5"), store, f"payment {payment}")
            if error is not None:
                raise _Fail(f"payment {payment} raised {_describe(error)}")
        got = store.balance("alice")
        if got == 5:
            raise _Fail("two different payments of 5 to alice gave a balance of 5: the second "
                        "was taken for a repeat of the first. A repeat is the same payment id "
                        "(job.id), not the same account or amount")
        if got != 10:
            raise _Fail(f"two different payments of 5 to alice gave a balance of {got!r}, "
                        "expected 10")

    def again_after_success(env: _Env) -> None:
        store = Store()
        job = Job("pay-1", b"alice:5")
        error = deliver(env, job, store, "the first delivery")
        if error is not None:
            raise _Fail(f"the first delivery raised {_describe(error)}")
        error = deliver(env, job, store, "the second delivery")
        if store.balance("alice") == 10:
            raise _Fail("a second delivery of the same payment credited alice again (10, not "
                        "5): a queue may deliver a job twice; remember in the store which "
                        "payment ids were applied, and skip a repeat")
        if error is not None:
            raise _Fail(f"a second delivery of an applied payment raised {_describe(error)}: a "
                        "repeat is not an error; return quietly, or the job ends FAILED for "
                        "a payment that went through")
        applied(store, 5, "after two deliveries")

    def twice_at_once(env: _Env) -> None:
        store = Store(meet_on_get=threading.Barrier(2, timeout=0.3))
        job = Job("pay-1", b"alice:5")
        first, second = env.start(fn, job, store), env.start(fn, job, store)
        env.wait_until(lambda: first.finished and second.finished, _PROMPT)
        if not (first.finished and second.finished):
            raise _Fail(f"two deliveries at once did not both return within {_PROMPT:g} s")
        if store.balance("alice") == 10:
            raise _Fail("two deliveries at the same moment both credited alice: each checked "
                        "'not applied yet' before the other wrote (check-then-act). Make the "
                        "check and the writes one step: store.transaction()")
        for call in (first, second):
            if call.error is not None:
                raise _Fail(f"of two deliveries at once, one raised {_describe(call.error)}")
        applied(store, 5, "after two deliveries at once")

    def after_a_crash(env: _Env) -> None:
        clean = Store()
        error = deliver(env, Job("pay-1", b"alice:5"), clean, "a delivery")
        if error is not None:
            raise _Fail(f"one delivery raised {_describe(error)}")
        applied(clean, 5, "after one delivery")
        writes = clean.writes
        if writes > _MOST_WRITES:
            raise _Fail(f"one payment took {writes} writes to the store; use a few")
        for n in range(1, writes + 1):
            store = Store(crash_at_write=n)
            job = Job("pay-1", b"alice:5")
            error = deliver(env, job, store, "a delivery that crashes")
            if not isinstance(error, Crash):
                what = "returned" if error is None else f"raised {_describe(error)}"
                raise _Fail(f"a crash at write {n} was caught by the job, which then {what}: "
                            "let it propagate (a killed worker does not get to clean up)")
            error = deliver(env, job, store, "the retry after a crash")
            if error is not None:
                raise _Fail(f"the retry after a crash at write {n} raised {_describe(error)}")
            got = store.balance("alice")
            if got == 0:
                raise _Fail(f"after a crash at write {n} of {writes} and a retry, alice has 0: "
                            "the payment was recorded as applied before the money moved, and "
                            "the retry skipped it. Record it and move the money in one "
                            "transaction")
            if got == 10:
                raise _Fail(f"after a crash at write {n} of {writes} and a retry, alice was "
                            "credited twice: the money moved but the payment id was not yet "
                            "recorded. Record it and move the money in one transaction")
            applied(store, 5, f"after a crash at write {n} and a retry")

    return _run("apply_payment", [
        _Scenario("applies a payment", once),
        _Scenario("applies two different payments with the same account and amount",
                  two_payments),
        _Scenario("a second delivery of an applied payment changes nothing",
                  again_after_success),
        _Scenario("two deliveries at the same moment apply it once", twice_at_once),
        _Scenario("a retry after a crash at any write applies it exactly once", after_a_crash),
    ])
