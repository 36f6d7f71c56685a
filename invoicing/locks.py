"""Row locks for invoicing. Every function here runs its SELECT ... FOR UPDATE at once (the
queryset is evaluated inside the function), so a caller never holds an unevaluated
select_for_update() queryset that locks nothing.

Call these inside the caller's transaction.atomic(); a lock lasts until that transaction
commits or rolls back.

Global lock order. Code that locks rows of several kinds takes them in this order, and rows
of one kind in ascending primary key order, so two transactions never wait on each other in
a cycle (no deadlocks):

    account → schedule group → schedule → invoice → sequence policy

The sequence policy comes last: it is the most contended row (every posting of a legal
entity's invoices takes it), so it is held for the shortest time, just before commit.
"""

from invoicing.models import SequencePolicy


def sequence_policy_lock(policy_id: int) -> SequencePolicy:
    """Lock one sequence policy row and return it freshly read.

    Raises SequencePolicy.DoesNotExist when the row is gone, and
    django.db.TransactionManagementError outside a transaction.
    """
    return SequencePolicy.objects.select_for_update().get(pk=policy_id)
