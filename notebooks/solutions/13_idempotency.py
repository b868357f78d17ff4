"""Notebook 13's exercise: a payment job that may run twice and still applies once.

Checked by ``pool.checks.check_idempotent(apply_payment)``. The payment id
(``job.id``) is the idempotency key; recording it and moving the money happen
in one transaction, so no crash can land between them, and a second delivery,
even one at the same moment, finds the key and does nothing.
"""

from __future__ import annotations

from pool import Job
from pool.checks.idempotency import Store


def apply_payment(job: Job, store: Store) -> None:
    account, amount = job.payload.decode().split(":")
    with store.transaction() as tx:
        key = ("paid", job.id)
        if tx.get(key):
            return  # a repeat delivery: already applied
        tx.set(account, tx.get(account, 0) + int(amount))
        tx.set(key, True)
