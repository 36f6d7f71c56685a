"""Row locks for dunning: every SELECT ... FOR UPDATE of the dunning services, evaluated at
once (as in invoicing/locks.py).

Lock order. Dunning rows come right after the invoice in the global order written at the top
of invoicing/locks.py:

    … → invoice (invoicing.locks.invoice_lock) → invoice dispute → dunning policy → …

A reminder is claimed under its invoice's lock (the reminder row itself is guarded by its
unique constraint, not locked); a dispute is opened or resolved under the invoice's lock and
then its open row's; a policy is edited under its own row's lock alone. No dunning
transaction locks an account, a memo or a sequence policy.
"""

from __future__ import annotations

from dunning.exceptions import DunningPolicyNotFound
from dunning.models import DunningPolicy, InvoiceDispute


def invoice_dispute_lock_open(invoice_id: int) -> InvoiceDispute | None:
    """Lock the open dispute of an invoice (at most one) and return it, or None."""
    return (
        InvoiceDispute.objects.select_for_update()
        .filter(invoice_id=invoice_id, resolved_at__isnull=True)
        .first()
    )


def dunning_policy_lock(policy_id: int) -> DunningPolicy:
    """Lock one policy and return it freshly read. Raises DunningPolicyNotFound."""
    policy = DunningPolicy.objects.select_for_update().filter(pk=policy_id).first()
    if policy is None:
        raise DunningPolicyNotFound.for_id(policy_id)
    return policy
