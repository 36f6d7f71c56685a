"""Receivables, the read side: where a posted invoice stands (not due, due, overdue, paid …)
and how many days overdue, what an account owes per currency, its statement for a date range,
and the AR aging report. Pure reads, shared by every door: the staff UI
(web/views/receivables.py), the API (invoicing/api/receivables.py), the statement PDF
(invoicing/pdf/statement.py) and the commands (`aging_report`, `account_statement`).

The account's ledger, per currency. Each movement counts on its own date (the document's date,
not the day it was entered), so a figure "as of" a date counts what is dated on or before it:

| movement                                      | side   | date                          |
|-----------------------------------------------|--------|-------------------------------|
| a posted invoice (also one voided since)      | debit  | invoice date                  |
| a posted credit memo (also one voided since)  | credit | memo date                     |
| the debit memo that offsets a voided memo     | debit  | its memo date (the void's)    |
| the reversal of a write-off (its memo voided) | debit  | the day it was reversed       |
| a payment received (a receipt)                | credit | payment date                  |
| a refund of a payment                         | debit  | refund date                   |
| the reversal of a payment                     | debit  | the day it was reversed       |

  balance = invoiced − credited − paid   (credited and paid net of their reversals)

A void's credit memo credits the voided invoice's total, so the two net to zero and both show
on a statement; a voided credit memo and its offsetting debit memo do the same. Drafts count
nowhere; debit memos other than offsets are billed on invoices, which count.

Applying credit to an invoice, or allocating a payment to one, changes no balance of the
account: it moves an amount between what is open on the invoice and what is left on the memo
or payment. So, as of any date, the balance is also what is open on the invoices minus the
credit not yet applied and the money not yet allocated (plus the reversals dated since); the
aging report is that sum split by age, and an account's aging total is its balance.

What is open on an invoice as of a date: its total − the payments allocated to it and the
credit applied to it, each counted from its date (a payment's: the day it was received) and
until the day it was taken back (unapplied or reversed: those are instants, read in the
site's time zone). As of today these are the stored balances. An allocation to an invoice
dated after the payment counts from the invoice's date; until then the money is unallocated.

An invoice's receivable status as of a date (ReceivableStatus):

- voided: the credit memo its void issued is dated on or before the date;
- nothing open on a total above zero: written_off when a write-off in force settled part of
  it, else credited when no payment did, else paid;
- a total of zero is paid (nothing to pay); a negative total is credited;
- something open: not_due before its due date, due on it, overdue after it (days overdue: the
  days since the due date). An invoice without a due date is due on its invoice date;
- an invoice dated after the date is not a receivable yet (None).

Aging buckets, by days past due as of the date: current (not past due), 1-30, 31-60, 61-90,
90+. Credit not yet applied and money not yet allocated are in current, as negative amounts
(they are due to nobody and lower what the account owes now), with the reversals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.models import Account
from core.exceptions import ValidationError
from core.money import ZERO, money_str, validate_currency
from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    CreditReason,
    CreditSource,
    DebitMemo,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    Receipt,
    Refund,
)

# Invoices that are, or were, receivables: numbered, with a total owed.
RECEIVABLE_INVOICE_STATUSES = (
    InvoiceStatus.POSTED,
    InvoiceStatus.VOID_IN_PROGRESS,
    InvoiceStatus.VOIDED,
)
_VOIDED = (InvoiceStatus.VOID_IN_PROGRESS, InvoiceStatus.VOIDED)
# Credit memos that credit (or did, until voided).
_ISSUED_MEMOS = (CreditMemo.Status.POSTED, CreditMemo.Status.VOIDED)

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
AGING_BUCKET_LABELS = {
    "current": "Current",
    "1-30": "1–30 days",
    "31-60": "31–60 days",
    "61-90": "61–90 days",
    "90+": "Over 90 days",
}


class ReceivableStatus(models.TextChoices):
    NOT_DUE = "not_due", "Not due"
    DUE = "due", "Due today"
    OVERDUE = "overdue", "Overdue"
    PAID = "paid", "Paid"
    CREDITED = "credited", "Credited"
    WRITTEN_OFF = "written_off", "Written off"
    VOIDED = "voided", "Voided"


class EntryType(models.TextChoices):
    """The kinds of statement entries, in their order within a day."""

    INVOICE = "invoice", "Invoice"
    DEBIT_MEMO = "debit_memo", "Debit memo"
    WRITE_OFF_REVERSAL = "write_off_reversal", "Write-off reversed"
    CREDIT_MEMO = "credit_memo", "Credit memo"
    PAYMENT = "payment", "Payment"
    REFUND = "refund", "Refund"
    PAYMENT_REVERSAL = "payment_reversal", "Payment reversed"


_ENTRY_ORDER = {value: i for i, value in enumerate(EntryType.values)}
_AMOUNT: models.DecimalField = models.DecimalField(max_digits=19, decimal_places=4)
ONE_DAY = dt.timedelta(days=1)


def receivables_today() -> dt.date:
    """The default "as of" date: today in the site's time zone."""
    return timezone.localdate()


# --- dates and sums -----------------------------------------------------------------------------


def _day_after_starts(day: dt.date) -> dt.datetime:
    """The first instant of the day after `day`, in the site's time zone."""
    return timezone.make_aware(dt.datetime.combine(day + ONE_DAY, dt.time.min))


def _in_force(field: str, as_of: dt.date) -> Q:
    """Rows not taken back by the end of `as_of` (`field`: the instant they were taken back)."""
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": _day_after_starts(as_of)})


def _local_date(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=timezone.get_current_timezone())


def _sum_of(rows: QuerySet[Any], group: str, field: str) -> Coalesce:
    """Sum of `field` over the correlated rows (grouped by `group`, the outer reference), 0 when
    there are none."""
    sums = rows.order_by().values(group).annotate(s=Sum(field)).values("s")
    return Coalesce(Subquery(sums, output_field=_AMOUNT), Value(ZERO), output_field=_AMOUNT)


def _applications_in_force(as_of: dt.date) -> QuerySet[CreditMemoApplication]:
    """Credit applied on or before `as_of` and still in force at the end of that day."""
    return CreditMemoApplication.objects.filter(applied_date__lte=as_of).filter(
        _in_force("unapplied_at", as_of)
    )


def _allocations_in_force(as_of: dt.date) -> QuerySet[Payment]:
    """Payments allocated to invoices, counted as of `as_of`: received and the invoice dated
    on or before it, not reversed by its end."""
    return Payment.objects.filter(payment_date__lte=as_of, invoice__invoice_date__lte=as_of).filter(
        _in_force("reversed_at", as_of)
    )


# --- what is open on invoices -------------------------------------------------------------------


def _invoices_with_open_amounts(as_of: dt.date) -> QuerySet[Any]:
    """Receivable invoices dated on or before `as_of`, annotated with what was paid, credited
    (written off and voided included), written off and open as of that date, and the date of
    their void's credit memo (if any). Typed QuerySet[Any]: the rows are Invoices with these
    annotations, which the type checker cannot follow."""
    applied = _applications_in_force(as_of).filter(invoice=OuterRef("pk"))
    paid = _allocations_in_force(as_of).filter(invoice=OuterRef("pk"))
    void_memo = CreditMemo.objects.filter(
        invoice=OuterRef("pk"), status=CreditMemo.Status.POSTED, source=CreditSource.VOID
    ).order_by("memo_date", "id")
    return (
        Invoice.objects.filter(status__in=RECEIVABLE_INVOICE_STATUSES, invoice_date__lte=as_of)
        .annotate(
            paid_as_of=_sum_of(paid, "invoice", "amount"),
            credited_as_of=_sum_of(applied, "invoice", "amount"),
            written_off_as_of=_sum_of(
                applied.filter(credit_memo__source=CreditSource.WRITE_OFF), "invoice", "amount"
            ),
            voided_on=Subquery(void_memo.values("memo_date")[:1]),
        )
        .annotate(open_as_of=F("total") - F("paid_as_of") - F("credited_as_of"))
    )


@dataclass(frozen=True)
class InvoiceReceivable:
    """Where one invoice stands as of a date."""

    invoice_id: int
    as_of: dt.date
    currency: str
    total: Decimal
    paid: Decimal  # payments allocated and in force
    credited: Decimal  # credit applied and in force (write-offs and the void's credit included)
    written_off: Decimal  # the part of `credited` that write-offs applied
    open: Decimal  # total − paid − credited
    due_date: dt.date
    status: str  # a ReceivableStatus
    days_overdue: int

    @property
    def status_label(self) -> str:
        return ReceivableStatus(self.status).label


def receivable_status(
    *,
    as_of: dt.date,
    total: Decimal,
    open_amount: Decimal,
    paid: Decimal,
    written_off: Decimal,
    due_date: dt.date,
    voided: bool,
) -> tuple[str, int]:
    """(status, days overdue) of an invoice from its figures as of `as_of` (the module doc)."""
    if voided:
        return ReceivableStatus.VOIDED.value, 0
    if total <= ZERO:
        return (ReceivableStatus.PAID if total == ZERO else ReceivableStatus.CREDITED).value, 0
    if open_amount <= ZERO:
        if written_off > ZERO:
            return ReceivableStatus.WRITTEN_OFF.value, 0
        return (ReceivableStatus.CREDITED if paid == ZERO else ReceivableStatus.PAID).value, 0
    if as_of < due_date:
        return ReceivableStatus.NOT_DUE.value, 0
    if as_of == due_date:
        return ReceivableStatus.DUE.value, 0
    return ReceivableStatus.OVERDUE.value, (as_of - due_date).days


def _receivable(invoice: Any, as_of: dt.date) -> InvoiceReceivable:
    due: dt.date = invoice.due_date or invoice.invoice_date
    voided_on: dt.date | None = invoice.voided_on
    voided = invoice.status in _VOIDED and voided_on is not None and voided_on <= as_of
    status, days = receivable_status(
        as_of=as_of,
        total=invoice.total,
        open_amount=invoice.open_as_of,
        paid=invoice.paid_as_of,
        written_off=invoice.written_off_as_of,
        due_date=due,
        voided=voided,
    )
    return InvoiceReceivable(
        invoice_id=invoice.pk,
        as_of=as_of,
        currency=invoice.currency,
        total=invoice.total,
        paid=invoice.paid_as_of,
        credited=invoice.credited_as_of,
        written_off=invoice.written_off_as_of,
        open=invoice.open_as_of,
        due_date=due,
        status=status,
        days_overdue=days,
    )


def invoice_receivables(
    *, invoice_ids: Iterable[int], as_of: dt.date
) -> dict[int, InvoiceReceivable]:
    """Where each of these invoices stands as of `as_of`, by id (one query). Invoices that are
    not receivables as of that date (drafts, or dated later) are left out."""
    invoices = _invoices_with_open_amounts(as_of).filter(pk__in=list(invoice_ids))
    return {invoice.pk: _receivable(invoice, as_of) for invoice in invoices}


def invoice_receivable(*, invoice_id: int, as_of: dt.date) -> InvoiceReceivable | None:
    """Where one invoice stands as of `as_of`; None when it is not a receivable then."""
    return invoice_receivables(invoice_ids=[invoice_id], as_of=as_of).get(invoice_id)


# --- statement entries --------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementEntry:
    """One movement on a statement, with the running balance after it."""

    date: dt.date
    type: str  # an EntryType
    document: str  # the document's number; a payment's reference (else its id)
    currency: str
    debit: Decimal
    credit: Decimal
    text: str  # what it is, in words (the invoices' due date is added by `describe`)
    balance: Decimal = ZERO
    invoice_id: int | None = None  # the entry's invoice, or the one a memo or payment is for
    credit_memo_id: int | None = None
    debit_memo_id: int | None = None
    payment_id: int | None = None  # the payment received (API.md's payments/ id)
    due_date: dt.date | None = None  # an invoice's
    voided: bool = False  # an invoice or a memo voided since

    @property
    def type_label(self) -> str:
        return EntryType(self.type).label

    def describe(self, date_text: Callable[[dt.date], str] = dt.date.isoformat) -> str:
        """What the entry is, in words ('Due 2026-01-31', 'Void of invoice INV-0001',
        'Payment by card for INV-0001'); `date_text` writes the dates."""
        if self.type == EntryType.INVOICE and self.due_date is not None:
            text = f"Due {date_text(self.due_date)}"
            return f"{text}; voided" if self.voided else text
        return self.text

    @property
    def description(self) -> str:
        return self.describe()


def _number(document: Invoice | CreditMemo | DebitMemo | None) -> str:
    if document is None:
        return ""
    return document.number or f"#{document.pk}"


def _invoice_entry(inv: Invoice) -> StatementEntry:
    return StatementEntry(
        date=inv.invoice_date,
        type=EntryType.INVOICE.value,
        document=_number(inv),
        currency=inv.currency,
        debit=inv.total,
        credit=ZERO,
        text="Invoice",
        invoice_id=inv.pk,
        due_date=inv.due_date or inv.invoice_date,
        voided=inv.status in _VOIDED,
    )


def _credit_memo_text(memo: CreditMemo) -> str:
    invoice = _number(memo.invoice)
    voided = memo.status == CreditMemo.Status.VOIDED
    if memo.source == CreditSource.VOID:
        return f"Void of invoice {invoice}"
    if memo.source == CreditSource.WRITE_OFF:
        return f"Write-off of invoice {invoice}" + ("; reversed" if voided else "")
    text = CreditReason(memo.reason_code).label if memo.reason_code else "Credit"
    note = (memo.reason or "").strip()
    if note and note.casefold() != text.casefold():
        text = f"{text}: {note}"
    if invoice:
        text = f"{text}; invoice {invoice}"
    return text  # a voided memo's note says when (credits.py credit_memo_void)


def _credit_memo_entry(memo: CreditMemo) -> StatementEntry:
    return StatementEntry(
        date=memo.memo_date,
        type=EntryType.CREDIT_MEMO.value,
        document=_number(memo),
        currency=memo.currency,
        debit=ZERO,
        credit=memo.total,
        text=_credit_memo_text(memo),
        invoice_id=memo.invoice_id,
        credit_memo_id=memo.pk,
        voided=memo.status == CreditMemo.Status.VOIDED,
    )


def _offset_entry(debit: DebitMemo) -> StatementEntry:
    return StatementEntry(
        date=debit.memo_date,
        type=EntryType.DEBIT_MEMO.value,
        document=_number(debit),
        currency=debit.currency,
        debit=debit.total,
        credit=ZERO,
        text=debit.reason or "Offsets a voided credit memo",
        debit_memo_id=debit.pk,
    )


def _write_off_reversal_entry(memo: Any) -> StatementEntry:
    return StatementEntry(
        date=memo.m_date,
        type=EntryType.WRITE_OFF_REVERSAL.value,
        document=_number(memo),
        currency=memo.currency,
        debit=memo.total,
        credit=ZERO,
        text=f"Write-off of invoice {_number(memo.invoice)} reversed",
        invoice_id=memo.invoice_id,
        credit_memo_id=memo.pk,
    )


def _receipt_ref(receipt: Receipt) -> str:
    return receipt.reference or f"#{receipt.pk}"


def _receipt_entry(receipt: Any) -> StatementEntry:
    # Each invoice once, in allocation order (a payment may be allocated to one twice).
    invoices = list(
        dict.fromkeys(p.invoice.number or f"#{p.invoice_id}" for p in receipt.active_allocations)
    )
    method = receipt.get_method_display().lower()
    text = "Payment" if receipt.method == PaymentMethod.OTHER else f"Payment by {method}"
    if invoices:
        text = f"{text} for {', '.join(invoices)}"
    if receipt.status == Receipt.Status.REVERSED:
        text = f"{text}; reversed"
    return StatementEntry(
        date=receipt.payment_date,
        type=EntryType.PAYMENT.value,
        document=_receipt_ref(receipt),
        currency=receipt.currency,
        debit=ZERO,
        credit=receipt.amount,
        text=text,
        invoice_id=(
            receipt.active_allocations[0].invoice_id
            if len(receipt.active_allocations) == 1
            else None
        ),
        payment_id=receipt.pk,
        voided=receipt.status == Receipt.Status.REVERSED,
    )


def _loose_payment_entry(payment: Payment) -> StatementEntry:
    """A payment row with no receipt: it is its own receipt, wholly allocated."""
    return StatementEntry(
        date=payment.payment_date,
        type=EntryType.PAYMENT.value,
        document=payment.reference or _number(payment.invoice),
        currency=payment.currency,
        debit=ZERO,
        credit=payment.amount,
        text=f"Payment for {_number(payment.invoice)}",
        invoice_id=payment.invoice_id,
    )


def _refund_entry(refund: Refund) -> StatementEntry:
    receipt = refund.receipt
    text = f"Refund of payment {_receipt_ref(receipt)}"
    return StatementEntry(
        date=refund.refund_date,
        type=EntryType.REFUND.value,
        document=_receipt_ref(receipt),
        currency=receipt.currency,
        debit=refund.amount,
        credit=ZERO,
        text=f"{text}: {refund.reason}" if refund.reason else text,
        payment_id=receipt.pk,
    )


def _receipt_reversal_entry(receipt: Any) -> StatementEntry:
    text = f"Payment {_receipt_ref(receipt)} reversed"
    return StatementEntry(
        date=receipt.m_date,
        type=EntryType.PAYMENT_REVERSAL.value,
        document=_receipt_ref(receipt),
        currency=receipt.currency,
        debit=receipt.amount,
        credit=ZERO,
        text=f"{text}: {receipt.reversal_reason}" if receipt.reversal_reason else text,
        payment_id=receipt.pk,
    )


def _loose_reversal_entry(payment: Any) -> StatementEntry:
    return StatementEntry(
        date=payment.m_date,
        type=EntryType.PAYMENT_REVERSAL.value,
        document=payment.reference or _number(payment.invoice),
        currency=payment.currency,
        debit=payment.amount,
        credit=ZERO,
        text=f"Payment for {_number(payment.invoice)} reversed",
        invoice_id=payment.invoice_id,
    )


# --- the movements of the ledger ----------------------------------------------------------------


def _seller(prefix: str) -> Callable[[int], Q]:
    """Rows of a seller: by their document's own legal entity, or their account's when the
    document names none (`prefix`: the path to the document)."""

    def q(legal_entity_id: int) -> Q:
        return Q(**{f"{prefix}legal_entity_id": legal_entity_id}) | Q(
            **{
                f"{prefix}legal_entity__isnull": True,
                f"{prefix}account__legal_entity_id": legal_entity_id,
            }
        )

    return q


def _account_seller(prefix: str) -> Callable[[int], Q]:
    """Rows of a seller, for records without a legal entity of their own (payments)."""
    return lambda legal_entity_id: Q(**{f"{prefix}account__legal_entity_id": legal_entity_id})


def _marked(
    rows: QuerySet[Any], *, on: Any, amount: str, currency: str, account: str
) -> QuerySet[Any]:
    """Rows annotated with the movement's date, amount, currency and account (m_…)."""
    return rows.annotate(
        m_date=on, m_amount=F(amount), m_currency=F(currency), m_account=F(account)
    )


def _reversed_on() -> Subquery:
    """The day a write-off memo's application was unapplied (the reversal)."""
    unapplied = (
        CreditMemoApplication.objects.filter(credit_memo=OuterRef("pk"), unapplied_at__isnull=False)
        .annotate(day=_local_date("unapplied_at"))
        .order_by("-unapplied_at")
        .values("day")[:1]
    )
    return Subquery(unapplied, output_field=models.DateField())


@dataclass(frozen=True)
class _Movement:
    """One kind of movement: its rows (m_date, m_amount, m_currency, m_account), its side
    (+1 debit, −1 credit), how it reads on a statement, the seller filter, and what of it is
    still open as of a date for the aging (`m_open`, signed; None: counted elsewhere)."""

    type: str
    sign: int
    rows: Callable[[], QuerySet[Any]]
    entry: Callable[[Any], StatementEntry]
    seller: Callable[[int], Q]
    related: Callable[[QuerySet[Any]], QuerySet[Any]] = lambda rows: rows
    open_as_of: Callable[[QuerySet[Any], dt.date], QuerySet[Any]] | None = None


def _invoices() -> QuerySet[Any]:
    return _marked(
        Invoice.objects.filter(status__in=RECEIVABLE_INVOICE_STATUSES),
        on=F("invoice_date"),
        amount="total",
        currency="currency",
        account="account_id",
    )


def _credit_memos() -> QuerySet[Any]:
    return _marked(
        CreditMemo.objects.filter(status__in=_ISSUED_MEMOS),
        on=F("memo_date"),
        amount="total",
        currency="currency",
        account="account_id",
    )


def _credit_left(rows: QuerySet[Any], as_of: dt.date) -> QuerySet[Any]:
    applied = _applications_in_force(as_of).filter(credit_memo=OuterRef("pk"))
    return rows.annotate(m_open=_sum_of(applied, "credit_memo", "amount") - F("total"))


def _offsets() -> QuerySet[Any]:
    return _marked(
        DebitMemo.objects.filter(status=DebitMemo.Status.OFFSET),
        on=F("memo_date"),
        amount="total",
        currency="currency",
        account="account_id",
    )


def _write_off_reversals() -> QuerySet[Any]:
    rows = CreditMemo.objects.filter(status=CreditMemo.Status.VOIDED, source=CreditSource.WRITE_OFF)
    return _marked(
        rows, on=_reversed_on(), amount="total", currency="currency", account="account_id"
    ).filter(m_date__isnull=False)


def _receipts() -> QuerySet[Any]:
    return _marked(
        Receipt.objects.all(),
        on=F("payment_date"),
        amount="amount",
        currency="currency",
        account="account_id",
    )


def _money_left(rows: QuerySet[Any], as_of: dt.date) -> QuerySet[Any]:
    allocated = _allocations_in_force(as_of).filter(receipt=OuterRef("pk"))
    refunded = Refund.objects.filter(receipt=OuterRef("pk"), refund_date__lte=as_of)
    return rows.annotate(
        m_open=_sum_of(allocated, "receipt", "amount")
        + _sum_of(refunded, "receipt", "amount")
        - F("amount")
    )


def _loose_payments() -> QuerySet[Any]:
    return _marked(
        Payment.objects.filter(receipt__isnull=True),
        on=F("payment_date"),
        amount="amount",
        currency="currency",
        account="account_id",
    )


def _loose_left(rows: QuerySet[Any], as_of: dt.date) -> QuerySet[Any]:
    """A payment without a receipt is unallocated money until its invoice's date, and after
    it is reversed."""
    counted = Q(invoice__invoice_date__lte=as_of) & _in_force("reversed_at", as_of)
    return rows.exclude(counted).annotate(m_open=-F("amount"))


def _refunds() -> QuerySet[Any]:
    return _marked(
        Refund.objects.all(),
        on=F("refund_date"),
        amount="amount",
        currency="receipt__currency",
        account="receipt__account_id",
    )


def _receipt_reversals() -> QuerySet[Any]:
    return _marked(
        Receipt.objects.filter(status=Receipt.Status.REVERSED, reversed_at__isnull=False),
        on=_local_date("reversed_at"),
        amount="amount",
        currency="currency",
        account="account_id",
    )


def _loose_reversals() -> QuerySet[Any]:
    return _marked(
        Payment.objects.filter(receipt__isnull=True, reversed_at__isnull=False),
        on=_local_date("reversed_at"),
        amount="amount",
        currency="currency",
        account="account_id",
    )


def _debit_as_open(rows: QuerySet[Any], as_of: dt.date) -> QuerySet[Any]:
    return rows.annotate(m_open=F("m_amount"))


_MOVEMENTS: tuple[_Movement, ...] = (
    _Movement(EntryType.INVOICE.value, 1, _invoices, _invoice_entry, _seller("")),
    _Movement(
        EntryType.CREDIT_MEMO.value,
        -1,
        _credit_memos,
        _credit_memo_entry,
        _seller(""),
        related=lambda rows: rows.select_related("invoice"),
        open_as_of=_credit_left,
    ),
    _Movement(
        EntryType.DEBIT_MEMO.value,
        1,
        _offsets,
        _offset_entry,
        _seller(""),
        open_as_of=_debit_as_open,
    ),
    _Movement(
        EntryType.WRITE_OFF_REVERSAL.value,
        1,
        _write_off_reversals,
        _write_off_reversal_entry,
        _seller(""),
        related=lambda rows: rows.select_related("invoice"),
        open_as_of=_debit_as_open,
    ),
    _Movement(
        EntryType.PAYMENT.value,
        -1,
        _receipts,
        _receipt_entry,
        _account_seller(""),
        related=lambda rows: rows.prefetch_related(
            Prefetch(
                "allocations",
                queryset=Payment.objects.active().select_related("invoice").order_by("id"),
                to_attr="active_allocations",
            )
        ),
        open_as_of=_money_left,
    ),
    _Movement(
        EntryType.PAYMENT.value,
        -1,
        _loose_payments,
        _loose_payment_entry,
        _seller("invoice__"),
        related=lambda rows: rows.select_related("invoice"),
        open_as_of=_loose_left,
    ),
    _Movement(
        EntryType.REFUND.value,
        1,
        _refunds,
        _refund_entry,
        _account_seller("receipt__"),
        related=lambda rows: rows.select_related("receipt"),
    ),
    _Movement(
        EntryType.PAYMENT_REVERSAL.value,
        1,
        _receipt_reversals,
        _receipt_reversal_entry,
        _account_seller(""),
        open_as_of=_debit_as_open,
    ),
    _Movement(
        EntryType.PAYMENT_REVERSAL.value,
        1,
        _loose_reversals,
        _loose_reversal_entry,
        _seller("invoice__"),
        related=lambda rows: rows.select_related("invoice"),
        open_as_of=_debit_as_open,
    ),
)


def _rows_of(
    movement: _Movement,
    *,
    account_id: int | None = None,
    currency: str = "",
    legal_entity_id: int | None = None,
) -> QuerySet[Any]:
    rows = movement.rows()
    if account_id is not None:
        rows = rows.filter(m_account=account_id)
    if currency:
        rows = rows.filter(m_currency=currency)
    if legal_entity_id is not None:
        rows = rows.filter(movement.seller(legal_entity_id))
    return rows


# --- account balances ---------------------------------------------------------------------------

_INVOICED = {EntryType.INVOICE.value}
_CREDITED = {
    EntryType.CREDIT_MEMO.value,
    EntryType.DEBIT_MEMO.value,
    EntryType.WRITE_OFF_REVERSAL.value,
}


@dataclass(frozen=True)
class CurrencyBalance:
    """What an account owes in one currency as of a date: invoiced − credited − paid, credit
    net of voided memos and reversed write-offs, payments net of refunds and reversals."""

    currency: str
    invoiced: Decimal
    credited: Decimal
    paid: Decimal

    @property
    def balance(self) -> Decimal:
        return self.invoiced - self.credited - self.paid


def _ledger_through(account_id: int, through: dt.date) -> dict[str, CurrencyBalance]:
    """The account's sums per currency of everything dated on or before `through` (a query
    per kind of movement)."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"invoiced": ZERO, "credited": ZERO, "paid": ZERO}
    )
    for movement in _MOVEMENTS:
        column = (
            "invoiced"
            if movement.type in _INVOICED
            else "credited"
            if movement.type in _CREDITED
            else "paid"
        )
        # Credits add to their column, debits (their reversals) take from it; invoices add.
        sign = 1 if column == "invoiced" else -movement.sign
        rows = _rows_of(movement, account_id=account_id).filter(m_date__lte=through)
        for row in rows.order_by().values("m_currency").annotate(s=Sum("m_amount")):
            if row["s"] is not None:
                sums[row["m_currency"]][column] += sign * row["s"]
    return {
        currency: CurrencyBalance(currency=currency, **sums[currency]) for currency in sorted(sums)
    }


def account_balances(*, account: Account, as_of: dt.date) -> list[CurrencyBalance]:
    """What the account owes as of `as_of`, one row per currency it has movements in (by
    currency code); none when nothing is dated on or before `as_of`."""
    return list(_ledger_through(account.pk, as_of).values())


# --- statements ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementSection:
    """A statement in one currency: the opening balance (the day before the range), every
    movement dated in the range, and the closing balance (the range's last day)."""

    currency: str
    opening_balance: Decimal
    entries: tuple[StatementEntry, ...]

    @property
    def debits(self) -> Decimal:
        return sum((e.debit for e in self.entries), ZERO)

    @property
    def credits(self) -> Decimal:
        return sum((e.credit for e in self.entries), ZERO)

    @property
    def closing_balance(self) -> Decimal:
        return self.opening_balance + self.debits - self.credits


@dataclass(frozen=True)
class Statement:
    account: Account
    date_from: dt.date
    date_to: dt.date
    currency: str  # the currency asked for; "" for every currency
    sections: tuple[StatementSection, ...]  # one per currency, by currency code

    def section_for(self, currency: str) -> StatementSection | None:
        return next((s for s in self.sections if s.currency == currency), None)

    @property
    def main(self) -> StatementSection:
        """The section a single-currency answer shows: the currency asked for, else the
        account's own currency when it has one, else the first."""
        return self.section_for(self.currency or self.account.currency) or self.sections[0]


def statement_dates(
    date_from: dt.date | None, date_to: dt.date | None, *, today: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The statement's range: `date_to` defaults to today, `date_from` to the first day of
    `date_to`'s month; `date_from` after `date_to` is refused on the field `from`."""
    end = date_to or today or receivables_today()
    start = date_from or end.replace(day=1)
    if start > end:
        raise ValidationError(
            {
                "from": f"The statement starts on {start.isoformat()}, after its end "
                f"{end.isoformat()}; give a start on or before the end."
            }
        )
    return start, end


def _entry_key(entry: StatementEntry) -> tuple[dt.date, int, str, int]:
    own = entry.payment_id or entry.credit_memo_id or entry.debit_memo_id or entry.invoice_id
    return (entry.date, _ENTRY_ORDER[entry.type], entry.document, own or 0)


def account_statement(
    *,
    account: Account,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    currency: str = "",
) -> Statement:
    """The account's statement from `date_from` to `date_to` (both included; defaults:
    statement_dates), per currency, or in `currency` only. A currency appears when it has an
    opening balance or an entry in the range; a statement with nothing in any currency shows
    the account's own (or the one asked for) with zero balances. Two queries per kind of
    movement."""
    start, end = statement_dates(date_from, date_to)
    wanted = validate_currency(currency) if currency else ""
    opening = {
        c: b.balance for c, b in _ledger_through(account.pk, start - ONE_DAY).items() if b.balance
    }
    entries: list[StatementEntry] = []
    for movement in _MOVEMENTS:
        found = _rows_of(movement, account_id=account.pk, currency=wanted).filter(
            m_date__gte=start, m_date__lte=end
        )
        entries += [movement.entry(row) for row in movement.related(found)]
    entries.sort(key=_entry_key)
    by_currency: dict[str, list[StatementEntry]] = defaultdict(list)
    for entry in entries:
        by_currency[entry.currency].append(entry)
    currencies = [wanted] if wanted else sorted({*opening, *by_currency}) or [account.currency]
    sections = []
    for code in currencies:
        running = opening.get(code, ZERO)
        rows = []
        for entry in by_currency.get(code, []):
            running += entry.debit - entry.credit
            rows.append(replace(entry, balance=running))
        sections.append(
            StatementSection(
                currency=code, opening_balance=opening.get(code, ZERO), entries=tuple(rows)
            )
        )
    return Statement(
        account=account, date_from=start, date_to=end, currency=wanted, sections=tuple(sections)
    )


# --- aging --------------------------------------------------------------------------------------


def aging_bucket(days_past_due: int) -> str:
    """The bucket of an amount `days_past_due` days past its due date (0 or less: current)."""
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


@dataclass(frozen=True)
class AgingRow:
    """The amounts of one account (or, without an account, a currency's total) per bucket."""

    currency: str
    amounts: tuple[Decimal, ...]  # one per AGING_BUCKETS, in that order
    account_id: int | None = None
    account_name: str = ""

    @property
    def total(self) -> Decimal:
        return sum(self.amounts, ZERO)

    def amount(self, bucket: str) -> Decimal:
        return self.amounts[AGING_BUCKETS.index(bucket)]

    @property
    def by_bucket(self) -> list[tuple[str, Decimal]]:
        return list(zip(AGING_BUCKETS, self.amounts, strict=True))


@dataclass(frozen=True)
class AgingReport:
    as_of: dt.date
    rows: tuple[AgingRow, ...]  # by currency, then account name
    totals: tuple[AgingRow, ...]  # one per currency, by currency code

    @property
    def currencies(self) -> list[str]:
        return [t.currency for t in self.totals]

    def rows_for(self, currency: str) -> list[AgingRow]:
        return [r for r in self.rows if r.currency == currency]

    def total_for(self, currency: str) -> AgingRow | None:
        return next((t for t in self.totals if t.currency == currency), None)


def aging_report(
    *,
    as_of: dt.date,
    currency: str = "",
    legal_entity_id: int | None = None,
    account_id: int | None = None,
) -> AgingReport:
    """The AR aging as of `as_of` (the module doc): a row per account and currency with
    anything open, and each currency's totals; filtered by currency, seller (legal entity) and
    account when given. A query per kind of movement; the buckets are summed here."""
    code = validate_currency(currency) if currency else ""
    current = AGING_BUCKETS.index("current")
    # (currency, account id, bucket index, amount) of everything open.
    amounts: list[tuple[str, int, int, Decimal]] = []

    invoices = _invoices_with_open_amounts(as_of).exclude(open_as_of=ZERO)
    if code:
        invoices = invoices.filter(currency=code)
    if legal_entity_id is not None:
        invoices = invoices.filter(_seller("")(legal_entity_id))
    if account_id is not None:
        invoices = invoices.filter(account_id=account_id)
    for inv in invoices.values("account_id", "currency", "due_date", "invoice_date", "open_as_of"):
        due: dt.date = inv["due_date"] or inv["invoice_date"]
        bucket = AGING_BUCKETS.index(aging_bucket((as_of - due).days))
        amounts.append((inv["currency"], inv["account_id"], bucket, inv["open_as_of"]))

    for movement in _MOVEMENTS:
        if movement.open_as_of is None:
            continue
        dated = _rows_of(
            movement, account_id=account_id, currency=code, legal_entity_id=legal_entity_id
        ).filter(m_date__lte=as_of)
        open_rows = movement.open_as_of(dated, as_of).exclude(m_open=ZERO)
        for row in open_rows.values("m_account", "m_currency", "m_open"):
            amounts.append((row["m_currency"], row["m_account"], current, row["m_open"]))

    sums: dict[tuple[str, int], list[Decimal]] = defaultdict(lambda: [ZERO] * len(AGING_BUCKETS))
    for cur, account, bucket, amount in amounts:
        sums[(cur, account)][bucket] += amount
    names = dict(
        Account.objects.filter(pk__in={account for _, account in sums}).values_list("pk", "name")
    )
    rows = sorted(
        (
            AgingRow(
                currency=cur,
                amounts=tuple(figures),
                account_id=account,
                account_name=names[account],
            )
            for (cur, account), figures in sums.items()
            if any(figures)
        ),
        key=lambda r: (r.currency, r.account_name.casefold(), r.account_id or 0),
    )
    totals: dict[str, list[Decimal]] = {}
    for aging_row in rows:
        column = totals.setdefault(aging_row.currency, [ZERO] * len(AGING_BUCKETS))
        for i, figure in enumerate(aging_row.amounts):
            column[i] += figure
    return AgingReport(
        as_of=as_of,
        rows=tuple(rows),
        totals=tuple(
            AgingRow(currency=cur, amounts=tuple(column)) for cur, column in sorted(totals.items())
        ),
    )


# --- tables (CSV, terminal) ---------------------------------------------------------------------

STATEMENT_COLUMNS = (
    "account_id",
    "account",
    "currency",
    "date",
    "type",
    "document",
    "description",
    "debit",
    "credit",
    "balance",
)
AGING_COLUMNS = ("account_id", "account", "currency", *AGING_BUCKETS, "total")


def _amount_cell(amount: Decimal, currency: str) -> str:
    return money_str(amount, currency) if amount else ""


def statement_table(statement: Statement) -> list[list[str]]:
    """The statement as rows of text under STATEMENT_COLUMNS (the CSV and the commands' table):
    per currency an opening balance row, one row per entry, a closing balance row; debit and
    credit are left empty where there is no movement, so each column sums to the period's."""
    account = statement.account
    out: list[list[str]] = []
    for section in statement.sections:
        cur = section.currency
        head = [str(account.pk), account.name, cur]
        out.append(
            [
                *head,
                statement.date_from.isoformat(),
                "opening_balance",
                "",
                f"Opening balance (to {(statement.date_from - ONE_DAY).isoformat()})",
                "",
                "",
                money_str(section.opening_balance, cur),
            ]
        )
        for e in section.entries:
            out.append(
                [
                    *head,
                    e.date.isoformat(),
                    e.type,
                    e.document,
                    e.description,
                    _amount_cell(e.debit, cur),
                    _amount_cell(e.credit, cur),
                    money_str(e.balance, cur),
                ]
            )
        out.append(
            [
                *head,
                statement.date_to.isoformat(),
                "closing_balance",
                "",
                "Closing balance",
                "",
                "",
                money_str(section.closing_balance, cur),
            ]
        )
    return out


def aging_table(report: AgingReport) -> list[list[str]]:
    """The aging as rows of text under AGING_COLUMNS: the accounts, then each currency's total
    (account id empty, account "Total")."""
    out: list[list[str]] = []
    for row in (*report.rows, *report.totals):
        cur = row.currency
        out.append(
            [
                str(row.account_id) if row.account_id is not None else "",
                row.account_name if row.account_id is not None else "Total",
                cur,
                *(money_str(a, cur) for a in row.amounts),
                money_str(row.total, cur),
            ]
        )
    return out


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A CSV document (header row first, CRLF line ends as RFC 4180 says)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _file_part(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)[:40]


def statement_filename(statement: Statement, extension: str) -> str:
    """'statement-ACME-1-2026-03-01-2026-03-31.csv': the account's external id (else its id),
    the currency when one was asked for, the range."""
    account = statement.account
    ref = _file_part(account.external_id or str(account.pk))
    currency = f"-{statement.currency}" if statement.currency else ""
    return (
        f"statement-{ref}{currency}-{statement.date_from.isoformat()}-"
        f"{statement.date_to.isoformat()}.{extension}"
    )


def aging_filename(report: AgingReport, extension: str, *, currency: str = "") -> str:
    """'aging-2026-04-30.csv', 'aging-EUR-2026-04-30.csv'."""
    part = f"-{_file_part(currency)}" if currency else ""
    return f"aging{part}-{report.as_of.isoformat()}.{extension}"


def invoice_api_receivable_fields(invoices: list[Any]) -> dict[int, dict[str, Any]]:
    """API.md's receivable fields of the invoice resource, as of today: `receivable_status`,
    `days_overdue`, `paid_amount`, `credited_amount`, `written_off_amount` (null on drafts).
    Registered with invoicing.hooks by InvoicingConfig.ready."""
    today = timezone.localdate()
    found = invoice_receivables(invoice_ids=[i.pk for i in invoices], as_of=today)
    out: dict[int, dict[str, Any]] = {}
    for invoice in invoices:
        r = found.get(invoice.pk)
        out[invoice.pk] = {
            "receivable_status": r.status if r else None,
            "days_overdue": r.days_overdue if r else None,
            "paid_amount": money_str(r.paid, r.currency) if r else None,
            "credited_amount": money_str(r.credited - r.written_off, r.currency) if r else None,
            "written_off_amount": money_str(r.written_off, r.currency) if r else None,
        }
    return out
