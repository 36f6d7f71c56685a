"""Recording payments against posted invoices.

A payment (amount, date, saved payment method) lowers the invoice balance; the settlement
status follows: not_settled (nothing paid), partially_settled, settled (balance zero). A
payment above the open balance is refused (`payment_exceeds_balance`): Ledgerline keeps no
unapplied cash, so an overpayment is a refund or a credit to handle outside. Only a posted
invoice takes payments (`invoice_not_posted`). The database checks a payment is positive.

Dates: a payment or refund is dated on or after EARLIEST_PAYMENT_DATE (2000-01-01) and not
after today. The floor catches a mistyped year (0001, 0202, 1026) while letting a ledger
migrated from another system keep a quarter of a century of history; a fixed date (not "N
years back") keeps a recorded payment valid however long after it is re-read or re-imported.
A payment reference never holds a card number (core/cards.py).

Locks: account → invoice (the global order of invoicing/locks.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, SavedPaymentMethod
from core.cards import card_data_errors
from core.exceptions import ValidationError
from core.money import ZERO, money_display, money_input, money_str, validate_currency
from invoicing.exceptions import (
    InvoiceNotPosted,
    InvoiceWrittenOff,
    PaymentExceedsBalance,
    PaymentNotFound,
    PaymentRefunded,
    PaymentReversed,
)
from invoicing.locks import invoice_lock_with_account, invoices_lock_with_account, receipt_lock
from invoicing.models import (
    CreditMemoApplication,
    CreditSource,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    Receipt,
    Refund,
)


def settlement_status_of(invoice: Invoice) -> str:
    if invoice.balance <= ZERO and invoice.total > ZERO:
        return Invoice.Settlement.SETTLED
    if invoice.balance < invoice.total:
        return Invoice.Settlement.PARTIALLY_SETTLED
    return Invoice.Settlement.NOT_SETTLED


def write_off_application_of(invoice: Invoice) -> CreditMemoApplication | None:
    """The write-off in force on `invoice` (the application of its write-off credit memo),
    or None. A written-off invoice takes no payment and no void until it is reversed."""
    return (
        CreditMemoApplication.objects.active()
        .filter(invoice=invoice, credit_memo__source=CreditSource.WRITE_OFF)
        .select_related("credit_memo")
        .first()
    )


def written_off_refusal(invoice: Invoice, action: str) -> InvoiceWrittenOff | None:
    """The refusal of `action` ("takes no payment", "cannot be voided") on a written-off
    invoice, naming the write-off; None when the invoice is not written off."""
    application = write_off_application_of(invoice)
    if application is None:
        return None
    memo = application.credit_memo
    return InvoiceWrittenOff(
        f"Invoice {invoice} was written off on {application.applied_date} "
        f"({money_display(application.amount, invoice.currency)}, {memo}); a written-off "
        f"invoice {action}. Reverse the write-off first.",
        details={"invoice": invoice.pk, "credit_memo": memo.pk},
    )


def _amount(value: Any, currency: str) -> Decimal:
    return money_input(
        value, currency, field="amount", positive="A payment must be more than zero."
    )


def _saved_method_check(account: Any, saved_payment_method_id: int | None) -> None:
    if (
        saved_payment_method_id is not None
        and not SavedPaymentMethod.objects.filter(
            pk=saved_payment_method_id, account_id=account.pk
        ).exists()
    ):
        raise ValidationError(
            {
                "saved_payment_method": f"Saved payment method {saved_payment_method_id} "
                f"is not one of account {account}'s payment methods."
            }
        )


EARLIEST_PAYMENT_DATE = dt.date(2000, 1, 1)


def _date_check(payment_date: dt.date, field: str = "date") -> None:
    if payment_date < EARLIEST_PAYMENT_DATE:
        raise ValidationError(
            {
                field: f"{payment_date} is before {EARLIEST_PAYMENT_DATE}, the earliest date a "
                "payment is recorded on; check the year."
            }
        )
    if payment_date > timezone.localdate():
        raise ValidationError(
            {field: f"{payment_date} is in the future; record money once it is received."}
        )


def _allocation_locked(
    receipt: Receipt, invoice: Invoice, value: Decimal, *, allocated_by: str, path: str
) -> Payment:
    """Allocate `value` of the locked receipt to the locked invoice: the checks, the Payment
    row, the invoice's balance and status, the receipt's unallocated part."""
    if invoice.account_id != receipt.account_id:
        raise ValidationError(
            {
                f"{path}.invoice": f"Invoice {invoice} is another account's; allocate a payment "
                "only to its own account's invoices."
            }
        )
    if invoice.status != InvoiceStatus.POSTED:
        raise InvoiceNotPosted.for_invoice(invoice, "payments")
    if invoice.currency != receipt.currency:
        raise ValidationError(
            {
                f"{path}.invoice": f"Invoice {invoice} is in {invoice.currency}; the payment is in "
                f"{receipt.currency}."
            }
        )
    if invoice.balance <= ZERO:
        refusal = written_off_refusal(invoice, "takes no payment")
        if refusal is not None:
            raise refusal
    if value > invoice.balance:
        raise PaymentExceedsBalance(
            f"A payment of {money_display(value, invoice.currency)} is more than the "
            f"{money_display(invoice.balance, invoice.currency)} open on invoice {invoice}. "
            "Allocate at most the open balance; the rest stays on the account as unallocated "
            "credit (record it with payments/).",
            details={
                "invoice": invoice.pk,
                "amount": money_str(value, invoice.currency),
                "balance": money_str(invoice.balance, invoice.currency),
            },
        )
    if value > receipt.unallocated:
        raise PaymentExceedsBalance(
            f"{receipt} has {money_display(receipt.unallocated, receipt.currency)} left to "
            f"allocate; {money_display(value, receipt.currency)} cannot go to invoice {invoice}.",
            details={
                "payment": receipt.pk,
                "amount": money_str(value, receipt.currency),
                "unallocated": money_str(receipt.unallocated, receipt.currency),
            },
        )
    payment = Payment(
        receipt=receipt,
        invoice=invoice,
        account_id=invoice.account_id,
        amount=value,
        currency=invoice.currency,
        payment_date=receipt.payment_date,
        saved_payment_method_id=receipt.saved_payment_method_id,
        reference=receipt.reference,
        recorded_by=allocated_by or "",
    )
    payment.full_clean(exclude=["receipt"])
    payment.save()
    invoice.balance -= value
    invoice.settlement_status = settlement_status_of(invoice)
    invoice.save(update_fields=["balance", "settlement_status", "updated_at"])
    receipt.unallocated -= value
    return payment


def _allocation_targets(allocations: Sequence[Mapping[str, Any]]) -> list[tuple[int, Any]]:
    errors: dict[str, str] = {}
    out: list[tuple[int, Any]] = []
    seen: set[int] = set()
    for i, entry in enumerate(allocations):
        path = f"allocations[{i}]"
        invoice_id = entry.get("invoice") if isinstance(entry, Mapping) else None
        if isinstance(invoice_id, bool) or not isinstance(invoice_id, int):
            errors[f"{path}.invoice"] = "Give the invoice's id (an integer)."
            continue
        if invoice_id in seen:
            errors[f"{path}.invoice"] = f"Invoice {invoice_id} is named twice; name it once."
            continue
        seen.add(invoice_id)
        out.append((invoice_id, entry.get("amount")))
    if errors:
        raise ValidationError(errors)
    return out


def _allocate_all_locked(
    receipt: Receipt,
    invoices: Mapping[int, Invoice],
    targets: Sequence[tuple[int, Any]],
    *,
    allocated_by: str,
) -> list[Payment]:
    rows = []
    for i, (invoice_id, given) in enumerate(targets):
        path = f"allocations[{i}]"
        invoice = invoices.get(invoice_id)
        if invoice is None:
            raise ValidationError(
                {
                    f"{path}.invoice": f"Invoice {invoice_id} is not an invoice of account "
                    f"{receipt.account_id}."
                }
            )
        if invoice.balance <= ZERO and invoice.status == InvoiceStatus.POSTED:
            refusal = written_off_refusal(invoice, "takes no payment")
            if refusal is not None:
                raise refusal
        value = (
            min(invoice.balance, receipt.unallocated)
            if given in (None, "")
            else money_input(
                given,
                receipt.currency,
                field=f"{path}.amount",
                positive="An allocation must be more than zero.",
            )
        )
        if value <= ZERO:
            raise PaymentExceedsBalance(
                f"Nothing to allocate to invoice {invoice}: "
                + ("it has no open balance." if invoice.balance <= ZERO else "nothing is left.")
            )
        rows.append(
            _allocation_locked(receipt, invoice, value, allocated_by=allocated_by, path=path)
        )
    receipt.save(update_fields=["unallocated", "updated_at"])
    return rows


def _receipt_create(
    account_id: int,
    value: Decimal,
    currency: str,
    payment_date: dt.date,
    method: str,
    saved_payment_method_id: int | None,
    reference: str,
    recorded_by: str,
) -> Receipt:
    """A new receipt, all of it unallocated until its allocations are made."""
    receipt = Receipt(
        account_id=account_id,
        amount=value,
        currency=currency,
        payment_date=payment_date,
        method=method,
        saved_payment_method_id=saved_payment_method_id,
        reference=reference or "",
        unallocated=value,
        refunded=ZERO,
        recorded_by=recorded_by or "",
    )
    receipt.full_clean()
    cards = card_data_errors(receipt, ["reference"])  # never a customer's card number
    if cards:
        raise ValidationError(cards)
    receipt.save()
    return receipt


def payment_receive(
    *,
    account_id: int,
    amount: Any,
    currency: str = "",
    payment_date: dt.date | None = None,
    method: str = PaymentMethod.OTHER,
    saved_payment_method_id: int | None = None,
    reference: str = "",
    allocations: Sequence[Mapping[str, Any]] = (),
    recorded_by: str = "",
) -> Receipt:
    """Record money received from an account (API.md's payments/): allocated to posted
    invoices of the account (each at most its open balance; an amount left out takes what is
    open), the rest kept as unallocated account credit, to allocate later or refund."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise ValidationError({"account": f"Account {account_id} does not exist."})
    currency = validate_currency(currency or account.currency)
    value = _amount(amount, currency)
    if method not in PaymentMethod.values:
        raise ValidationError({"method": f"Use one of {', '.join(PaymentMethod.values)}."})
    payment_date = payment_date or timezone.localdate()
    _date_check(payment_date)
    targets = _allocation_targets(allocations)
    running = ZERO
    for i, (_, given) in enumerate(targets):
        if given in (None, ""):
            continue
        running += money_input(
            given,
            currency,
            field=f"allocations[{i}].amount",
            positive="An allocation must be more than zero.",
        )
        if running > value:
            raise ValidationError(
                {
                    f"allocations[{i}].amount": "The allocations come to "
                    f"{money_display(running, currency)}, more than the payment's "
                    f"{money_display(value, currency)}."
                }
            )
    with transaction.atomic(durable=True):
        invoices = invoices_lock_with_account(account_id, [t[0] for t in targets])
        _saved_method_check(account, saved_payment_method_id)
        receipt = _receipt_create(
            account.pk,
            value,
            currency,
            payment_date,
            method,
            saved_payment_method_id,
            reference,
            recorded_by,
        )
        _allocate_all_locked(receipt, invoices, targets, allocated_by=recorded_by)
    return receipt


def payment_allocate(
    *, receipt_id: int, allocations: Sequence[Mapping[str, Any]], allocated_by: str = ""
) -> list[Payment]:
    """Allocate a receipt's unallocated part to posted invoices of its account."""
    targets = _allocation_targets(allocations)
    if not targets:
        raise ValidationError({"allocations": "Name at least one invoice to allocate to."})
    account_id = _receipt_account(receipt_id)
    with transaction.atomic(durable=True):
        invoices = invoices_lock_with_account(account_id, [t[0] for t in targets])
        receipt = receipt_lock(receipt_id)
        _receipt_received(receipt)
        return _allocate_all_locked(receipt, invoices, targets, allocated_by=allocated_by)


def payment_unallocate(*, receipt_id: int, invoice_id: int, unallocated_by: str = "") -> Receipt:
    """Take back a receipt's allocations to one invoice (kept, stamped): the invoice is open
    again by that much and the money is the receipt's unallocated part again (to allocate
    elsewhere or refund)."""
    account_id = _receipt_account(receipt_id)
    with transaction.atomic(durable=True):
        invoices = invoices_lock_with_account(account_id, [invoice_id])
        receipt = receipt_lock(receipt_id)
        _receipt_received(receipt)
        invoice = invoices.get(invoice_id)
        rows = list(
            Payment.objects.active()
            .select_for_update()
            .filter(receipt=receipt, invoice_id=invoice_id)
            .order_by("id")
        )
        if invoice is None or not rows:
            raise PaymentNotFound(
                f"{receipt} has nothing allocated to invoice {invoice or invoice_id}.",
                details={"payment": receipt.pk, "invoice": invoice_id},
            )
        now = timezone.now()
        for payment in rows:
            payment.reversed_at = now
            payment.reversed_by = unallocated_by or ""
            payment.save(update_fields=["reversed_at", "reversed_by", "updated_at"])
            invoice.balance += payment.amount
            receipt.unallocated += payment.amount
        invoice.settlement_status = settlement_status_of(invoice)
        invoice.save(update_fields=["balance", "settlement_status", "updated_at"])
        receipt.save(update_fields=["unallocated", "updated_at"])
    return receipt


def payment_refund(
    *,
    receipt_id: int,
    amount: Any,
    refund_date: dt.date | None = None,
    reason: str = "",
    refunded_by: str = "",
) -> Refund:
    """Pay back part of a receipt: at most what is unallocated of it (money allocated to an
    invoice is unallocated first). The receipt's row lock makes two concurrent refunds
    together never exceed it."""
    refund_date = refund_date or timezone.localdate()
    _date_check(refund_date)
    account_id = _receipt_account(receipt_id)
    with transaction.atomic(durable=True):
        invoices_lock_with_account(account_id, [])
        receipt = receipt_lock(receipt_id)
        _receipt_received(receipt)
        value = _amount(amount, receipt.currency)
        if refund_date < receipt.payment_date:
            raise ValidationError(
                {
                    "date": f"The payment was received on {receipt.payment_date}; refund on or "
                    "after that date."
                }
            )
        if value > receipt.unallocated:
            raise PaymentExceedsBalance(
                f"{receipt} has {money_display(receipt.unallocated, receipt.currency)} "
                f"unallocated; a refund of {money_display(value, receipt.currency)} is more. "
                "A refund never exceeds what was paid and is not allocated to an invoice.",
                details={
                    "payment": receipt.pk,
                    "amount": money_str(value, receipt.currency),
                    "unallocated": money_str(receipt.unallocated, receipt.currency),
                },
            )
        refund = Refund(
            receipt=receipt,
            amount=value,
            refund_date=refund_date,
            reason=reason or "",
            refunded_by=refunded_by or "",
        )
        refund.full_clean()
        refund.save()
        receipt.unallocated -= value
        receipt.refunded += value
        receipt.save(update_fields=["unallocated", "refunded", "updated_at"])
    return refund


def payment_reverse(*, receipt_id: int, reason: str = "", reversed_by: str = "") -> Receipt:
    """Reverse a receipt recorded in error: every allocation is taken back (the invoices are
    open again by those amounts) and the receipt is marked reversed. A receipt with refunds
    is not reversed (the refunded money really left)."""
    account_id = _receipt_account(receipt_id)
    with transaction.atomic(durable=True):
        invoice_ids = list(
            Payment.objects.active()
            .filter(receipt_id=receipt_id)
            .values_list("invoice_id", flat=True)
        )
        invoices = invoices_lock_with_account(account_id, invoice_ids)
        receipt = receipt_lock(receipt_id)
        _receipt_received(receipt)
        if receipt.refunded > ZERO:
            raise PaymentRefunded(
                f"{receipt} has {money_display(receipt.refunded, receipt.currency)} refunded; "
                "a payment with refunds is not reversed.",
                details={"payment": receipt.pk},
            )
        now = timezone.now()
        for payment in Payment.objects.active().filter(receipt=receipt).order_by("id"):
            invoice = invoices[payment.invoice_id]
            payment.reversed_at = now
            payment.reversed_by = reversed_by or ""
            payment.save(update_fields=["reversed_at", "reversed_by", "updated_at"])
            invoice.balance += payment.amount
            invoice.settlement_status = settlement_status_of(invoice)
            invoice.save(update_fields=["balance", "settlement_status", "updated_at"])
        receipt.status = Receipt.Status.REVERSED
        receipt.unallocated = ZERO
        receipt.reversed_at = now
        receipt.reversed_by = reversed_by or ""
        receipt.reversal_reason = reason or ""
        receipt.save(
            update_fields=[
                "status",
                "unallocated",
                "reversed_at",
                "reversed_by",
                "reversal_reason",
                "updated_at",
            ]
        )
    return receipt


def _receipt_account(receipt_id: int) -> int:
    account_id = Receipt.objects.filter(pk=receipt_id).values_list("account_id", flat=True).first()
    if account_id is None:
        raise PaymentNotFound(
            f"Payment {receipt_id} does not exist.", details={"payment": receipt_id}
        )
    return account_id


def _receipt_received(receipt: Receipt) -> None:
    if receipt.status != Receipt.Status.RECEIVED:
        raise PaymentReversed(
            f"{receipt} was reversed on {timezone.localtime(receipt.reversed_at):%Y-%m-%d}; "
            "it can no longer be allocated, refunded or reversed.",
            details={"payment": receipt.pk},
        )


def payment_record(
    *,
    invoice_id: int,
    amount: Any,
    payment_date: dt.date | None = None,
    saved_payment_method_id: int | None = None,
    reference: str = "",
    recorded_by: str = "",
    method: str | None = None,
) -> Payment:
    """Record a payment of one posted invoice (at most its open balance): a receipt wholly
    allocated to it. Returns the invoice's Payment row."""
    payment_date = payment_date or timezone.localdate()
    _date_check(payment_date)
    with transaction.atomic(durable=True):
        invoice = invoice_lock_with_account(invoice_id)
        if invoice.status != InvoiceStatus.POSTED:
            raise InvoiceNotPosted.for_invoice(invoice, "payments")
        if invoice.balance <= ZERO:
            refusal = written_off_refusal(invoice, "takes no payment")
            if refusal is not None:
                raise refusal
        value = _amount(amount, invoice.currency)
        _saved_method_check(invoice.account, saved_payment_method_id)
        if value > invoice.balance:
            raise PaymentExceedsBalance(
                f"A payment of {money_display(value, invoice.currency)} is more than the "
                f"{money_display(invoice.balance, invoice.currency)} open on invoice {invoice}. "
                "Record at most the open balance; refund or credit the difference.",
                details={
                    "invoice": invoice.pk,
                    "amount": str(value),
                    "balance": str(invoice.balance),
                },
            )
        if method is None:
            method = PaymentMethod.CARD if saved_payment_method_id else PaymentMethod.OTHER
        receipt = _receipt_create(
            invoice.account_id,
            value,
            invoice.currency,
            payment_date,
            method,
            saved_payment_method_id,
            reference,
            recorded_by,
        )
        payment = _allocation_locked(
            receipt, invoice, value, allocated_by=recorded_by, path="allocations[0]"
        )
        receipt.save(update_fields=["unallocated", "updated_at"])
    return payment
