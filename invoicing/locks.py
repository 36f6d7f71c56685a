"""Row locks for invoicing: every SELECT ... FOR UPDATE of the invoicing services is here.
Each function runs its query at once (the queryset is evaluated inside the function), so a
caller never holds an unevaluated select_for_update() queryset that locks nothing.

Call these inside the caller's transaction.atomic(); a lock lasts until that transaction
commits or rolls back. A function that raises NotFound has locked nothing new.

Global lock order. Code that locks rows of several kinds takes them in this order, and rows
of one kind in ascending primary key order, so two transactions never wait on each other in
a cycle (no deadlocks):

    account                      (accounts.locks; also the order's account in billing)
    → order                      (billing.locks: activation)
    → invoice scheduler          (scheduler_lock: firing, editing)
    → batch run                  (batch_run_lock: counters, summary, sub-runs)
    → batch run keys             (batch_run_keys_lock, SKIP LOCKED: chunk claims, supervisor,
                                  recovery; waiting: a chunk's own keys)
    → schedule group             (invoice_lock_with_schedules; billing.locks)
    → billing schedule           (billing_schedules_lock_billable, …_with_schedules)
    → usage summary              (usage_summaries_lock_billable)
    → invoice                    (invoice_lock, invoices_lock_drafts, invoices_lock_with_account)
    → credit memo                (credit_memo_lock)
    → credit application         (credit_application_lock: unapply)
    → receipt                    (receipt_lock: allocate, refund, reverse)
    → debit memo                 (debit_memo_lock, debit_memos_lock_due)
    → sequence policy            (sequence_policy_lock)

The sequence policy comes last: it is the most contended row (every posting of a legal
entity's invoices takes it), so it is held for the shortest time, just before commit. A
transaction may skip kinds, never go back up the list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Exists, OuterRef, Q

from accounts.locks import account_lock
from billing.choices import ScheduleStatus
from billing.models import BillingSchedule, BillingScheduleGroup, UsageSummary
from core.db import ids_in
from invoicing.exceptions import (
    CreditApplicationNotFound,
    CreditMemoNotFound,
    DebitMemoNotFound,
    InvoiceNotFound,
    PaymentNotFound,
)
from invoicing.models import (
    BillingPeriodItem,
    CreditMemo,
    CreditMemoApplication,
    DebitMemo,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceLine,
    InvoiceScheduler,
    InvoiceStatus,
    Receipt,
    SequencePolicy,
)

# --- invoices -------------------------------------------------------------------------------


def invoice_lock(invoice_id: int, *, related: Sequence[str] = ()) -> Invoice:
    """Lock one invoice (its row only) and return it freshly read, with `related` joined.
    Raises InvoiceNotFound."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related(*related)
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise InvoiceNotFound.for_id(invoice_id)
    return invoice


def invoice_lock_or_none(invoice_id: int) -> Invoice | None:
    """Lock one invoice if it still exists (recovery)."""
    return Invoice.objects.select_for_update(of=("self",)).filter(pk=invoice_id).first()


def invoice_lock_with_account(invoice_id: int) -> Invoice:
    """Lock an invoice's account, then the invoice (payments, credit applications)."""
    account_id = Invoice.objects.filter(pk=invoice_id).values_list("account_id", flat=True).first()
    if account_id is None:
        raise InvoiceNotFound.for_id(invoice_id)
    account_lock(account_id)
    return invoice_lock(invoice_id)


def invoices_lock_drafts(invoice_ids: Iterable[int]) -> list[Invoice]:
    """Lock the drafts among these invoices, in id order (bulk posting)."""
    return list(
        Invoice.objects.select_for_update(of=("self",))
        .filter(pk__in=list(invoice_ids), status=InvoiceStatus.DRAFT)
        .order_by("id")
    )


@dataclass
class LockedInvoice:
    """An invoice with its account, schedule groups and schedules locked, in that order."""

    invoice: Invoice
    schedules: dict[int, BillingSchedule]


def invoice_lock_with_schedules(invoice_id: int) -> LockedInvoice:
    """Lock account → schedule groups → schedules → invoice for a change that releases the
    invoice's billed periods (void, draft delete). Must run inside a transaction.

    The invoice's schedules are read before their locks, which is safe: the set only changes
    through a void or a draft delete, and both take the account lock first.
    """
    account_id = Invoice.objects.filter(pk=invoice_id).values_list("account_id", flat=True).first()
    if account_id is None:
        raise InvoiceNotFound.for_id(invoice_id)
    account_lock(account_id)
    schedule_ids = set(
        BillingPeriodItem.objects.filter(invoice_id=invoice_id).values_list(
            "schedule_id", flat=True
        )
    ) | set(
        InvoiceLine.objects.filter(invoice_id=invoice_id, billing_schedule__isnull=False)
        .values_list("billing_schedule_id", flat=True)
        .distinct()
    )
    group_ids = set(
        BillingSchedule.objects.filter(pk__in=schedule_ids).values_list("group_id", flat=True)
    )
    list(
        BillingScheduleGroup.objects.select_for_update()
        .filter(pk__in=group_ids)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    schedules = {
        s.pk: s
        for s in BillingSchedule.objects.select_for_update(of=("self",))
        .filter(pk__in=schedule_ids)
        .select_related("original_schedule")
        .order_by("id")
    }
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("account")
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise InvoiceNotFound.for_id(invoice_id)
    return LockedInvoice(invoice=invoice, schedules=schedules)


# --- schedulers and batch runs ---------------------------------------------------------------


def scheduler_lock(scheduler_id: int, *, related: Sequence[str] = ()) -> InvoiceScheduler | None:
    """Lock one invoice scheduler (None when gone): firing, editing and status changes of a
    scheduler queue on it, so "one run per scheduler and date" holds."""
    return (
        InvoiceScheduler.objects.select_for_update(of=("self",))
        .select_related(*related)
        .filter(pk=scheduler_id)
        .first()
    )


def batch_run_lock(run_id: int) -> InvoiceBatchRun | None:
    """Lock one batch run (None when gone): its counters, status and sub-runs."""
    return InvoiceBatchRun.objects.select_for_update(of=("self",)).filter(pk=run_id).first()


def batch_run_keys_lock(condition: Q, *, skip_locked: bool = False) -> list[InvoiceBatchRunKey]:
    """Lock the batch run keys matching `condition`, in id order. With `skip_locked`, keys
    another worker holds right now are left to it (chunk claims, the supervisor, cancel,
    recovery); without it, the caller waits for them (a chunk's final ownership check and its
    lease renewals, on keys it already holds)."""
    keys = InvoiceBatchRunKey.objects.select_for_update(skip_locked=skip_locked).filter(condition)
    return list(keys.order_by("id"))


def batch_run_lock_skip(run_id: int, *, status: str) -> InvoiceBatchRun | None:
    """Lock one batch run in `status` unless another transaction holds it (the supervisor
    leaves a run being worked on to its worker): None then, or when it is gone."""
    return (
        InvoiceBatchRun.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=run_id, status=status)
        .first()
    )


# --- billing schedules ----------------------------------------------------------------------


def billing_schedules_lock(ids: Iterable[int]) -> list[BillingSchedule]:
    """Lock schedules in id order, with their originals (recovery, which rolls them back)."""
    return list(
        BillingSchedule.objects.select_for_update(of=("self",))
        .filter(pk__in=list(ids))
        .select_related("original_schedule")
        .order_by("id")
    )


# --- memos ----------------------------------------------------------------------------------


def invoices_lock_with_account(account_id: int, invoice_ids: Iterable[int]) -> dict[int, Invoice]:
    """Lock an account, then these invoices in id order (applying one credit memo to several
    invoices). Only the account's invoices are locked and returned, by id; the caller names
    any id that is missing."""
    account_lock(account_id)
    return {
        invoice.pk: invoice
        for invoice in Invoice.objects.select_for_update(of=("self",))
        .filter(pk__in=sorted(set(invoice_ids)), account_id=account_id)
        .order_by("id")
    }


def credit_memo_lock(credit_memo_id: int) -> CreditMemo:
    memo = CreditMemo.objects.select_for_update().filter(pk=credit_memo_id).first()
    if memo is None:
        raise CreditMemoNotFound(
            f"Credit memo {credit_memo_id} does not exist.",
            details={"credit_memo": credit_memo_id},
        )
    return memo


def credit_application_lock(application_id: int) -> CreditMemoApplication:
    """Lock one credit application (after its invoice and credit memo)."""
    application = (
        CreditMemoApplication.objects.select_for_update().filter(pk=application_id).first()
    )
    if application is None:
        raise CreditApplicationNotFound(
            f"Credit application {application_id} does not exist.",
            details={"application": application_id},
        )
    return application


def debit_memo_lock(debit_memo_id: int) -> DebitMemo:
    memo = DebitMemo.objects.select_for_update().filter(pk=debit_memo_id).first()
    if memo is None:
        raise DebitMemoNotFound(
            f"Debit memo {debit_memo_id} does not exist.",
            details={"debit_memo": debit_memo_id},
        )
    return memo


def debit_memo_lock_with_account(debit_memo_id: int) -> DebitMemo:
    """Lock a debit memo's account, then the memo (invoicing it on its own)."""
    account_id = (
        DebitMemo.objects.filter(pk=debit_memo_id).values_list("account_id", flat=True).first()
    )
    if account_id is None:
        raise DebitMemoNotFound(
            f"Debit memo {debit_memo_id} does not exist.", details={"debit_memo": debit_memo_id}
        )
    account_lock(account_id)
    return debit_memo_lock(debit_memo_id)


def debit_memos_lock_due(
    account_ids: Iterable[int], *, target_date: dt.date, skip_locked: bool = False
) -> list[DebitMemo]:
    """Lock the posted debit memos of these accounts due by target_date, in id order. A memo
    another transaction is invoicing is waited for (or skipped, for batch workers) and,
    once invoiced there, no longer matches."""
    return list(
        DebitMemo.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .filter(
            account_id__in=set(account_ids),
            status=DebitMemo.Status.POSTED,
            next_billing_date__lte=target_date,
        )
        .order_by("id")
    )


# --- numbering ------------------------------------------------------------------------------


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
        .filter(pk__in=ids_in(ids), status=ScheduleStatus.READY, next_billing_date__lte=target_date)
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


# --- payments ---------------------------------------------------------------------------------


def receipt_lock(receipt_id: int) -> Receipt:
    """Lock one receipt (a payment received) after its account and invoices."""
    receipt = Receipt.objects.select_for_update().filter(pk=receipt_id).first()
    if receipt is None:
        raise PaymentNotFound(
            f"Payment {receipt_id} does not exist.", details={"payment": receipt_id}
        )
    return receipt
