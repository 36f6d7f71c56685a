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

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Exists, OuterRef

from billing.choices import ScheduleStatus
from billing.models import BillingSchedule, UsageSummary
from invoicing.models import BillingPeriodItem, SequencePolicy


def sequence_policy_lock(policy_id: int) -> SequencePolicy:
    """Lock one sequence policy row and return it freshly read.

    Raises SequencePolicy.DoesNotExist when the row is gone, and
    django.db.TransactionManagementError outside a transaction.
    """
    return SequencePolicy.objects.select_for_update().get(pk=policy_id)


# --- generation -----------------------------------------------------------------------------


class BillableSchedule(NamedTuple):
    """The columns generation reads of a schedule it locks, plus whether the schedule has
    children. Attribute names as on BillingSchedule, so the schedule rules
    (billing/schedules.py) accept a row as a schedule."""

    id: int
    account_id: int
    bill_to_id: int | None
    currency: str
    payment_term_id: int | None
    legal_entity_id: int | None
    tax_treatment: str
    saved_payment_method_id: int | None
    order_id: int
    order_item_id: int
    group_id: int
    product_id: int
    unit_id: int
    billing_address_id: int | None
    start_date: dt.date
    end_date: dt.date | None
    cancellation_date: dt.date | None
    billing_frequency: str
    period_boundary: str
    billing_type: str
    bill_day_of_month: int | None
    next_charge_from_date: dt.date | None
    next_billing_date: dt.date | None
    status: str
    quantity: Decimal
    unit_price: Decimal
    pricing_term: str
    category: str
    zero_amount_handling: str
    charge_type: str
    parent_schedule_id: int | None
    original_schedule_id: int | None
    billed_amount: Decimal
    total_amount: Decimal | None
    pending_amount: Decimal | None
    has_children: bool


# The BillingSchedule columns of a BillableSchedule (all its fields but `has_children`).
BILLABLE_SCHEDULE_COLUMNS: tuple[str, ...] = BillableSchedule._fields[:-1]


def billing_schedules_lock_billable(
    ids: Sequence[int], *, target_date: dt.date, skip_locked: bool = False
) -> list[BillableSchedule]:
    """Lock the schedules among `ids` that are still billable by `target_date` (ready, next
    billing date due: a concurrent generator's work is never redone), in id order, and read
    their columns as rows. Batch workers pass skip_locked to pass over rows another worker
    holds."""
    children = BillingSchedule.objects.filter(parent_schedule_id=OuterRef("pk"))
    rows = (
        BillingSchedule.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .filter(pk__in=list(ids), status=ScheduleStatus.READY, next_billing_date__lte=target_date)
        .annotate(has_children=Exists(children))
        .order_by("id")
        .values_list(*BILLABLE_SCHEDULE_COLUMNS, "has_children")
    )
    return [BillableSchedule(*row) for row in rows]


def usage_summaries_lock_billable(
    order_item_ids: Sequence[int], *, target_date: dt.date
) -> list[UsageSummary]:
    """Lock the ready usage summaries of these order items that end by `target_date` and are
    on no live (draft or posted) period item, in billing order."""
    live = [BillingPeriodItem.InvoiceStatus.DRAFT, BillingPeriodItem.InvoiceStatus.POSTED]
    return list(
        UsageSummary.objects.select_for_update(of=("self",))
        .filter(
            order_item_id__in=list(order_item_ids),
            status=UsageSummary.Status.READY,
            period_end__lte=target_date,
        )
        .exclude(
            Exists(
                BillingPeriodItem.objects.filter(
                    usage_summary_id=OuterRef("pk"), invoice_status__in=live
                )
            )
        )
        .order_by("period_start", "id")
    )
