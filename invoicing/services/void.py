"""Voiding a posted invoice (DESIGN.md §3 "Void").

A void never changes what the invoice said: the invoice keeps its number, lines and taxes and
becomes `voided`; a posted credit memo mirrors every line and tax row and is applied to the
invoice, so its balance is zero. What the invoice billed is released: its period items become
`voided` (which frees the partial unique constraint on (schedule, period_start)), its
schedules roll back (next charge-from date, next billing date, billed and pending amounts,
status) and its usage summaries return to ready_for_invoicing, so the next generation bills
the same periods again, with the same amounts. Debit memos merged into it are due again.

Refused, each with its own code, and then nothing changes (`invoice_void_refusal` answers
the same question without changing anything, so a page can say before the click why the void
is not offered, with the very message the void would raise):

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
from django.db.models import Q
from django.utils import timezone

from billing.models import BillingSchedule
from core.exceptions import DomainError
from core.money import ZERO, money_display
from invoicing.exceptions import (
    InvoiceCredited,
    InvoiceNotPosted,
    InvoicePaid,
    InvoiceTotalNegative,
)
from invoicing.locks import invoice_lock_with_schedules
from invoicing.models import (
    BillingPeriodItem,
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    CreditReason,
    CreditSource,
    Invoice,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
)
from invoicing.services.documents import invoice_documents_enqueue
from invoicing.services.memos import credit_memo_number_take
from invoicing.services.payments import written_off_refusal
from invoicing.services.release import (
    debit_memos_release,
    later_live_periods_check,
    period_items_release,
    processing_schedules_check,
)
from invoicing.services.taxing import tax_vat_fields

ONE_DAY = dt.timedelta(days=1)
_LIVE = (BillingPeriodItem.InvoiceStatus.DRAFT, BillingPeriodItem.InvoiceStatus.POSTED)


# --- result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoidResult:
    invoice: Invoice
    credit_memo: CreditMemo


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
    void_date = void_date or timezone.localdate()
    with transaction.atomic(durable=True):
        locked = invoice_lock_with_schedules(invoice_id)
        invoice = locked.invoice
        items = _live_items(invoice)
        refusal = invoice_void_refusal(invoice, items=items, schedules=locked.schedules.values())
        if refusal is not None:
            raise refusal

        invoice.status = InvoiceStatus.VOID_IN_PROGRESS
        invoice.save(update_fields=["status", "updated_at"])

        memo = _mirror_credit_memo(invoice, void_date=void_date, reason=reason)
        period_items_release(items, locked.schedules, voided=True)
        debit_memos_release(invoice)

        if memo.total > ZERO:
            CreditMemoApplication.objects.create(
                credit_memo=memo,
                invoice=invoice,
                amount=memo.total,
                applied_date=void_date,
                applied_by=voided_by or "",
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
    invoice_documents_enqueue([invoice_id])


# --- the refusals ---------------------------------------------------------------------------


def invoice_void_refusal(
    invoice: Invoice,
    *,
    items: list[BillingPeriodItem] | None = None,
    schedules: Iterable[BillingSchedule] | None = None,
) -> DomainError | None:
    """Why `invoice` cannot be voided, as the error `invoice_void` raises (its code and
    message); None when it can be. It only reads: the invoice page and the void page ask it
    before offering the action, and `invoice_void` asks it again under its locks, so what the
    pages say and what the void does never disagree.

    `items` (the invoice's live period items) and `schedules` (its billing schedules) are read
    when not given; the void passes the rows it locked.
    """
    try:
        _invoice_refusals(invoice)
        if schedules is None:
            schedules = _schedules_of(invoice)
        processing_schedules_check(invoice, schedules)
        later_live_periods_check(invoice, _live_items(invoice) if items is None else items)
    except DomainError as exc:
        return exc
    return None


def _live_items(invoice: Invoice) -> list[BillingPeriodItem]:
    return list(invoice.period_items.filter(invoice_status__in=_LIVE).order_by("id"))


def _schedules_of(invoice: Invoice) -> list[BillingSchedule]:
    """The billing schedules the void locks: those of the invoice's period items and lines."""
    return list(
        BillingSchedule.objects.filter(
            Q(pk__in=BillingPeriodItem.objects.filter(invoice=invoice).values("schedule_id"))
            | Q(
                pk__in=InvoiceLine.objects.filter(
                    invoice=invoice, billing_schedule__isnull=False
                ).values("billing_schedule_id")
            )
        ).order_by("id")
    )


def _invoice_refusals(invoice: Invoice) -> None:
    """The refusals the invoice row alone decides: status, settled part, negative total."""
    if invoice.status != InvoiceStatus.POSTED:
        raise InvoiceNotPosted(
            f"Only a posted invoice can be voided; draft invoice #{invoice.pk} is not posted. "
            "Delete the draft instead."
            if invoice.status == InvoiceStatus.DRAFT
            else f"Only a posted invoice can be voided; invoice {invoice} is "
            f"{invoice.get_status_display().lower()}.",
            details={"invoice": invoice.pk, "status": invoice.status},
        )
    written_off = written_off_refusal(invoice, "cannot be voided")
    if written_off is not None:
        raise written_off
    if invoice.balance != invoice.total:
        settled = money_display(invoice.total - invoice.balance, invoice.currency)
        details = {
            "invoice": invoice.pk,
            "total": str(invoice.total),
            "balance": str(invoice.balance),
        }
        if invoice.payments.active().exists():
            raise InvoicePaid(
                f"Invoice {invoice} cannot be voided: payments settled {settled} of it. A "
                "void credits the whole invoice, so it is only possible while nothing is paid; "
                "correct the part that is wrong with a credit memo instead.",
                details=details,
            )
        raise InvoiceCredited(
            f"Invoice {invoice} cannot be voided: credit memos settled {settled} of it. "
            "Issue a further credit memo for the remaining balance instead, or unapply those "
            "credits first (their amounts become unapplied credit again).",
            details=details,
        )
    if invoice.total < ZERO:
        raise InvoiceTotalNegative(
            f"Invoice {invoice} is a net credit of "
            f"{money_display(-invoice.total, invoice.currency)}; a void would need a negative "
            "credit memo. Correct it with a debit memo instead.",
            details={"invoice": invoice.pk, "total": str(invoice.total)},
        )


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
        reason_code=CreditReason.BILLING_ERROR,
        source=CreditSource.VOID,
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
                line=memo_line,
                name=tax.name,
                code=tax.code,
                rate=tax.rate,
                amount=tax.amount,
                **tax_vat_fields(tax),
            )
            for line, memo_line in zip(lines, memo_lines, strict=True)
            for tax in taxes.get(line.pk, [])
        ]
    )
    return memo
