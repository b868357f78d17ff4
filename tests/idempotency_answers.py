"""Answers to notebook 13's exercise, right and wrong, as a learner could write them.

The exercise asks for ``apply_payment(job, store)`` (see
``pool.checks.check_idempotent``): add the amount in ``job.payload``
(``b"alice:5"``) to the account's balance exactly once per payment id
(``job.id``), however many times the job runs. ``RIGHT`` holds correct
answers in different styles; ``WRONG`` one answer per classic mistake, with
the scenario it must fail, a phrase the hint must contain, and the scenarios
it still passes. ``tests/test_check_idempotent.py`` runs them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pool import Job
from pool.checks.idempotency import Store

# -- the scenarios, as the checker prints them (after "apply_payment ") ---------------------

ONCE = "applies a payment"
TWO = "applies two different payments with the same account and amount"
AGAIN = "a second delivery of an applied payment changes nothing"
AT_ONCE = "two deliveries at the same moment apply it once"
CRASH = "a retry after a crash at any write applies it exactly once"
SCENARIOS = (ONCE, TWO, AGAIN, AT_ONCE, CRASH)


def parse(job: Job) -> tuple[str, int]:
    account, amount = job.payload.decode().split(":")
    return account, int(amount)


# -- right answers ---------------------------------------------------------------------------

def marker_in_transaction(job: Job, store: Store) -> None:
    """The reference shape: check the key, move the money, record the key; one transaction."""
    account, amount = parse(job)
    with store.transaction() as tx:
        if tx.get(f"done:{job.id}"):
            return
        tx.set(f"done:{job.id}", True)          # order inside a transaction does not matter
        tx.set(account, tx.get(account, 0) + amount)


def set_of_applied_ids(job: Job, store: Store) -> None:
    """One key holds the set of applied payment ids (a new set each time: no shared mutation)."""
    account, amount = parse(job)
    with store.transaction() as tx:
        applied = tx.get("applied", frozenset())
        if job.id in applied:
            return
        tx.set("applied", applied | {job.id})
        tx.set(account, tx.get(account, 0) + amount)


def fast_path_then_recheck(job: Job, store: Store) -> None:
    """A cheap read first (most repeats stop there), then the real check in the transaction."""
    account, amount = parse(job)
    key = ("payment", job.id)
    if store.get(key) is not None:
        return
    with store.transaction() as tx:
        if tx.get(key) is not None:
            return
        tx.set(key, amount)
        tx.set(account, tx.get(account, 0) + amount)


class PaymentJob:
    """A class with the transaction in a method, called like a function."""

    def __call__(self, job: Job, store: Store) -> None:
        account, amount = parse(job)
        with store.transaction() as tx:
            self.apply(tx, job.id, account, amount)

    @staticmethod
    def apply(tx: Any, payment_id: str, account: str, amount: int) -> None:
        if tx.get(("ledger", payment_id)) is None:
            tx.set(("ledger", payment_id), (account, amount))
            tx.set(account, tx.get(account, 0) + amount)


payment_job_class = PaymentJob()
payment_job_class.__name__ = "payment_job_class"  # type: ignore[attr-defined]

RIGHT = [marker_in_transaction, set_of_applied_ids, fast_path_then_recheck, payment_job_class]


# -- wrong answers ---------------------------------------------------------------------------

def not_idempotent(job: Job, store: Store) -> None:
    """Moves the money every time it runs."""
    account, amount = parse(job)
    store.set(account, store.get(account, 0) + amount)


def check_then_act(job: Job, store: Store) -> None:
    """Remembers the payment id, but the check and the writes are separate steps."""
    account, amount = parse(job)
    if store.get(("paid", job.id)):
        return
    store.set(account, store.get(account, 0) + amount)
    store.set(("paid", job.id), True)


def marked_before_money(job: Job, store: Store) -> None:
    """Claims the payment id first (in a transaction of its own), then moves the money."""
    account, amount = parse(job)
    with store.transaction() as tx:
        if tx.get(("paid", job.id)):
            return
        tx.set(("paid", job.id), True)
    with store.transaction() as tx:
        tx.set(account, tx.get(account, 0) + amount)


def money_before_mark(job: Job, store: Store) -> None:
    """Moves the money, then records the payment id, in two transactions."""
    account, amount = parse(job)
    with store.transaction() as tx:
        if tx.get(("paid", job.id)):
            return
        tx.set(account, tx.get(account, 0) + amount)
    with store.transaction() as tx:
        tx.set(("paid", job.id), True)


def keyed_on_payload(job: Job, store: Store) -> None:
    """Uses the payload as the idempotency key: two real payments of the same amount collide."""
    account, amount = parse(job)
    with store.transaction() as tx:
        if tx.get(("paid", job.payload)):
            return
        tx.set(("paid", job.payload), True)
        tx.set(account, tx.get(account, 0) + amount)


def raises_on_repeat(job: Job, store: Store) -> None:
    """Treats a repeat delivery as an error."""
    account, amount = parse(job)
    with store.transaction() as tx:
        if tx.get(("paid", job.id)):
            raise ValueError(f"payment {job.id} already applied")
        tx.set(("paid", job.id), True)
        tx.set(account, tx.get(account, 0) + amount)


def swallows_the_crash(job: Job, store: Store) -> None:
    """Catches everything around the store and carries on, as if a worker could survive a kill."""
    account, amount = parse(job)
    try:
        with store.transaction() as tx:
            if tx.get(("paid", job.id)):
                return
            tx.set(("paid", job.id), True)
            tx.set(account, tx.get(account, 0) + amount)
    except BaseException:
        pass


def never_applies(job: Job, store: Store) -> None:
    """Records the payment id but forgets to move the money."""
    with store.transaction() as tx:
        tx.set(("paid", job.id), True)


@dataclass(frozen=True)
class Wrong:
    answer: Any
    scenario: str                          # the first scenario it must fail
    hint: str                              # a phrase that scenario's hint must contain
    passes: frozenset[str] = frozenset()   # scenarios it still passes


WRONG = [
    Wrong(not_idempotent, AGAIN, "remember in the store which payment ids were applied",
          frozenset({ONCE, TWO, CRASH})),
    Wrong(check_then_act, AT_ONCE, "check-then-act", frozenset({ONCE, TWO, AGAIN})),
    Wrong(marked_before_money, CRASH, "recorded as applied before the money moved",
          frozenset({ONCE, TWO, AGAIN, AT_ONCE})),
    Wrong(money_before_mark, CRASH, "the payment id was not yet recorded",
          frozenset({ONCE, TWO, AGAIN, AT_ONCE})),
    Wrong(keyed_on_payload, TWO, "not the same account or amount",
          frozenset({ONCE, AGAIN, AT_ONCE, CRASH})),
    Wrong(raises_on_repeat, AGAIN, "a repeat is not an error",
          frozenset({ONCE, TWO, CRASH})),
    Wrong(swallows_the_crash, CRASH, "let it propagate", frozenset({ONCE, TWO, AGAIN, AT_ONCE})),
    Wrong(never_applies, ONCE, "never applied"),
]
