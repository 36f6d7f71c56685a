"""Voiding a posted invoice (DESIGN.md §3 "Void").

A void never changes what the invoice said: the invoice keeps its number, lines and taxes and
becomes `voided`; a posted credit memo mirrors every line and tax row and is applied to the
invoice, so its balance is zero. What the invoice billed is released: its period items become
`voided` (which frees the partial unique constraint on (schedule, period_start)), its
schedules roll back (next charge-from date, next billing date, billed and pending amounts,
status) and its usage summaries return to ready_for_invoicing, so the next generation bills
the same periods again, with the same amounts. Debit memos merged into it are due again.

Refused, each with its own code, and then nothing changes:

- `invoice_not_posted`: only a posted invoice can be voided;
- `invoice_paid`: payments settled part of it (balance ≠ total);
- `invoice_credited`: credit memos settled part of it (balance ≠ total);
- `invoice_not_latest`: a schedule on it has a later period on another live invoice (void,
  or delete, newest first);
- `invoice_total_negative`: a net-credit invoice has nothing to credit (a credit memo total
  is never negative); correct it with a debit memo instead;
- `schedule_processing`: a batch run is invoicing one of its schedules right now.

Everything happens in one durable transaction, rows locked in the global order
(invoicing/locks.py): account → schedule groups → schedules → invoice → sequence policy (the
credit memo number, taken last).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from billing.choices import ScheduleStatus
from billing.models import BillingSchedule, BillingScheduleGroup, UsageSummary
from billing.schedules import schedule_billed
from core.money import ZERO, money_display
from invoicing.exceptions import (
    InvoiceCredited,
    InvoiceNotFound,
    InvoiceNotLatest,
    InvoiceNotPosted,
    InvoicePaid,
    InvoiceTotalNegative,
    ScheduleProcessing,
)
from invoicing.models import (
    BillingPeriodItem,
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    DebitMemo,
    DebitMemoLine,
    Invoice,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
)

ONE_DAY = dt.timedelta(days=1)
_LIVE = (BillingPeriodItem.InvoiceStatus.DRAFT, BillingPeriodItem.InvoiceStatus.POSTED)


# --- errors ---------------------------------------------------------------------------------


# --- result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoidResult:
    invoice: Invoice
    credit_memo: CreditMemo


# --- locks (evaluated at once, in the global order) -------------------------------------------


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
    list(Account.objects.select_for_update().filter(pk=account_id).values_list("pk", flat=True))
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


# --- releasing billed periods (shared with draft deletion) -----------------------------------


def later_live_periods_check(invoice: Invoice, items: list[BillingPeriodItem]) -> None:
    """Refuse (invoice_not_latest) when a schedule of these items has a live period item on
    another invoice that starts on or after the earliest released period: rolling the
    schedule back would bill that period twice."""
    earliest: dict[int, dt.date] = {}
    for item in items:
        if item.schedule_id not in earliest or item.period_start < earliest[item.schedule_id]:
            earliest[item.schedule_id] = item.period_start
    if not earliest:
        return
    later = (
        BillingPeriodItem.objects.filter(
            schedule_id__in=list(earliest),
            invoice_status__in=_LIVE,
            period_start__gte=min(earliest.values()),
        )
        .exclude(invoice_id=invoice.pk)
        .select_related("invoice")
        .order_by("schedule_id", "period_start")
    )
    blocking = [i for i in later if i.period_start >= earliest[i.schedule_id]]
    if not blocking:
        return
    newer = sorted(
        {str(i.invoice) if i.invoice_id else "(no invoice)" for i in blocking},
    )
    schedules = sorted({i.schedule_id for i in blocking})
    raise InvoiceNotLatest(
        f"Invoice {invoice} is not the latest invoice of every billing schedule on it: "
        f"{', '.join(newer)} bill later periods of the same schedules. Void or delete "
        "those first (newest first), then this one.",
        details={
            "invoice": invoice.pk,
            "newer_invoices": sorted({i.invoice_id for i in blocking if i.invoice_id}),
            "billing_schedules": schedules,
        },
    )


def period_items_release(
    items: list[BillingPeriodItem],
    schedules: dict[int, BillingSchedule],
    *,
    voided: bool,
) -> None:
    """Release billed periods and roll their (locked) schedules back over them.

    voided=True marks the items voided (a posted invoice keeps its history); otherwise the
    items are deleted (a draft that never was a document). Each schedule goes back to the
    earliest released period: next charge-from date, next billing date and status come from
    the period engine (billing/schedules.py schedule_billed), billed and pending amounts drop by the
    released amounts. Usage summaries billed by the items become ready for invoicing again.
    """
    if not items:
        return
    released: dict[int, list[BillingPeriodItem]] = defaultdict(list)
    for item in items:
        released[item.schedule_id].append(item)
    ids = [i.pk for i in items]
    summary_ids = [i.usage_summary_id for i in items if i.usage_summary_id]
    if voided:
        BillingPeriodItem.objects.filter(pk__in=ids).update(
            invoice_status=BillingPeriodItem.InvoiceStatus.VOIDED, updated_at=timezone.now()
        )
    else:
        BillingPeriodItem.objects.filter(pk__in=ids).delete()
    if summary_ids:
        UsageSummary.objects.filter(pk__in=summary_ids).update(
            status=UsageSummary.Status.READY, updated_at=timezone.now()
        )

    changed = []
    for schedule_id, schedule_items in sorted(released.items()):
        s = schedules[schedule_id]
        start = min(i.period_start for i in schedule_items)
        schedule_billed(
            s, billed_through=start - ONE_DAY, amount=-sum((i.amount for i in schedule_items), ZERO)
        )
        changed.append(s)
    BillingSchedule.objects.bulk_update(
        changed,
        [
            "next_charge_from_date",
            "next_billing_date",
            "billed_amount",
            "pending_amount",
            "status",
            "updated_at",
        ],
    )


def processing_schedules_check(invoice: Invoice, schedules: Iterable[BillingSchedule]) -> None:
    busy = sorted(s.pk for s in schedules if s.status == ScheduleStatus.PROCESSING)
    if busy:
        raise ScheduleProcessing(
            f"A batch run is invoicing billing schedule(s) {', '.join(map(str, busy))} of "
            f"invoice {invoice} right now. Wait for it to finish, then try again.",
            details={"invoice": invoice.pk, "billing_schedules": busy},
        )


def debit_memos_release(invoice: Invoice) -> None:
    """Debit memos merged into the invoice are due again (the next generation bills them)."""
    memo_ids = list(invoice.debit_memos.values_list("pk", flat=True))
    if not memo_ids:
        return
    DebitMemoLine.objects.filter(debit_memo_id__in=memo_ids).update(invoice_line=None)
    DebitMemo.objects.filter(pk__in=memo_ids).update(
        status=DebitMemo.Status.POSTED, invoice=None, updated_at=timezone.now()
    )


# --- the service ----------------------------------------------------------------------------


def invoice_void(
    *,
    invoice_id: int,
    voided_by: str = "",
    void_date: dt.date | None = None,
    reason: str = "",
) -> VoidResult:
    """Void a posted invoice: see the module docstring. Returns the voided invoice and its
    credit memo."""
    from invoicing.services.memos import credit_memo_number_take

    void_date = void_date or timezone.localdate()
    with transaction.atomic(durable=True):
        locked = invoice_lock_with_schedules(invoice_id)
        invoice = locked.invoice
        items = list(invoice.period_items.filter(invoice_status__in=_LIVE).order_by("id"))
        _void_refusals(invoice, items, locked.schedules.values())

        invoice.status = InvoiceStatus.VOID_IN_PROGRESS
        invoice.save(update_fields=["status", "updated_at"])

        memo = _mirror_credit_memo(invoice, void_date=void_date, reason=reason)
        period_items_release(items, locked.schedules, voided=True)
        debit_memos_release(invoice)

        if memo.total > ZERO:
            CreditMemoApplication.objects.create(
                credit_memo=memo, invoice=invoice, amount=memo.total, applied_date=void_date
            )
        invoice.balance = ZERO
        invoice.settlement_status = Invoice.Settlement.SETTLED
        invoice.status = InvoiceStatus.VOIDED
        invoice.save(update_fields=["balance", "settlement_status", "status", "updated_at"])

        # The sequence policy is locked last (lock order); no match leaves it unnumbered.
        number = credit_memo_number_take(memo)
        if number:
            memo.number = number
            memo.save(update_fields=["number", "updated_at"])
        transaction.on_commit(partial(_after_void, invoice.pk))
    invoice.refresh_from_db()
    return VoidResult(invoice=invoice, credit_memo=memo)


def _after_void(invoice_id: int) -> None:
    """The stored PDF gets a new version stamped VOID."""
    from invoicing.services.documents import invoice_documents_enqueue

    invoice_documents_enqueue([invoice_id])


def _void_refusals(
    invoice: Invoice, items: list[BillingPeriodItem], schedules: Iterable[BillingSchedule]
) -> None:
    if invoice.status != InvoiceStatus.POSTED:
        raise InvoiceNotPosted(
            f"Only a posted invoice can be voided; invoice {invoice} is "
            f"{invoice.get_status_display().lower()}."
            + (" Delete the draft instead." if invoice.status == InvoiceStatus.DRAFT else ""),
            details={"invoice": invoice.pk, "status": invoice.status},
        )
    if invoice.balance != invoice.total:
        settled = money_display(invoice.total - invoice.balance, invoice.currency)
        details = {
            "invoice": invoice.pk,
            "total": str(invoice.total),
            "balance": str(invoice.balance),
        }
        if invoice.payments.exists():
            raise InvoicePaid(
                f"Invoice {invoice} cannot be voided: payments settled {settled} of it. "
                "Refund the payments first, or issue a credit memo for the part to correct.",
                details=details,
            )
        raise InvoiceCredited(
            f"Invoice {invoice} cannot be voided: credit memos settled {settled} of it. "
            "Issue a further credit memo for the remaining balance instead.",
            details=details,
        )
    if invoice.total < ZERO:
        raise InvoiceTotalNegative(
            f"Invoice {invoice} is a net credit of "
            f"{money_display(-invoice.total, invoice.currency)}; a void would need a negative "
            "credit memo. Correct it with a debit memo instead.",
            details={"invoice": invoice.pk, "total": str(invoice.total)},
        )
    processing_schedules_check(invoice, schedules)
    later_live_periods_check(invoice, items)


def _mirror_credit_memo(invoice: Invoice, *, void_date: dt.date, reason: str) -> CreditMemo:
    """A posted credit memo with one line per invoice line and one tax row per tax row, the
    same amounts (a credit of a charge is positive), applied in full to the invoice."""
    lines = list(invoice.lines.order_by("sort_order", "id"))
    taxes: dict[int, list[InvoiceLineTax]] = defaultdict(list)
    for tax in InvoiceLineTax.objects.filter(line__invoice=invoice).order_by("line_id", "id"):
        taxes[tax.line_id].append(tax)
    memo = CreditMemo(
        status=CreditMemo.Status.POSTED,
        account_id=invoice.account_id,
        legal_entity_id=invoice.legal_entity_id,
        currency=invoice.currency,
        invoice=invoice,
        reason=(reason or f"Void of invoice {invoice}")[:255],
        memo_date=void_date,
        posted_date=void_date,
        total_charges=invoice.total_charges + invoice.total_adjustments,
        total_tax=invoice.total_tax,
        total=invoice.total,
        balance=ZERO,
    )
    memo.full_clean(exclude=["number"])
    memo.save()
    memo_lines = CreditMemoLine.objects.bulk_create(
        [
            CreditMemoLine(
                credit_memo=memo,
                invoice_line=line,
                sort_order=line.sort_order,
                name=line.name,
                period_start=line.period_start,
                period_end=line.period_end,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                tax_amount=line.tax_amount,
            )
            for line in lines
        ]
    )
    CreditMemoLineTax.objects.bulk_create(
        [
            CreditMemoLineTax(
                line=memo_line, name=tax.name, code=tax.code, rate=tax.rate, amount=tax.amount
            )
            for line, memo_line in zip(lines, memo_lines, strict=True)
            for tax in taxes.get(line.pk, [])
        ]
    )
    return memo
