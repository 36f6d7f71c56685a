"""Recording payments against posted invoices.

A payment (amount, date, saved payment method) lowers the invoice balance; the settlement
status follows: not_settled (nothing paid), partially_settled, settled (balance zero). A
payment above the open balance is refused (`payment_exceeds_balance`): Ledgerline keeps no
unapplied cash, so an overpayment is a refund or a credit to handle outside. Only a posted
invoice takes payments (`invoice_not_posted`). The database checks a payment is positive.

Locks: account → invoice (the global order of invoicing/locks.py).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import SavedPaymentMethod
from core.exceptions import ValidationError
from core.money import ZERO, money_display, money_input
from invoicing.exceptions import InvoiceNotPosted, InvoiceWrittenOff, PaymentExceedsBalance
from invoicing.locks import invoice_lock_with_account
from invoicing.models import (
    CreditMemoApplication,
    CreditSource,
    Invoice,
    InvoiceStatus,
    Payment,
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


def payment_record(
    *,
    invoice_id: int,
    amount: Any,
    payment_date: dt.date | None = None,
    saved_payment_method_id: int | None = None,
    reference: str = "",
    recorded_by: str = "",
) -> Payment:
    """Record a payment of a posted invoice and update its balance and settlement status."""
    payment_date = payment_date or timezone.localdate()
    with transaction.atomic(durable=True):
        invoice = invoice_lock_with_account(invoice_id)
        if invoice.status != InvoiceStatus.POSTED:
            raise InvoiceNotPosted.for_invoice(invoice, "payments")
        refusal = (
            written_off_refusal(invoice, "takes no payment")
            if invoice.balance <= ZERO
            else None  # a part written off: the rest is still paid
        )
        if refusal is not None:
            raise refusal
        value = _amount(amount, invoice.currency)
        if (
            saved_payment_method_id is not None
            and not SavedPaymentMethod.objects.filter(
                pk=saved_payment_method_id, account_id=invoice.account_id
            ).exists()
        ):
            raise ValidationError(
                {
                    "saved_payment_method": f"Saved payment method {saved_payment_method_id} "
                    f"is not one of account {invoice.account}'s payment methods."
                }
            )
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
        payment = Payment(
            invoice=invoice,
            account_id=invoice.account_id,
            amount=value,
            currency=invoice.currency,
            payment_date=payment_date,
            saved_payment_method_id=saved_payment_method_id,
            reference=reference or "",
            recorded_by=recorded_by or "",
        )
        payment.full_clean()
        payment.save()
        invoice.balance -= value
        invoice.settlement_status = settlement_status_of(invoice)
        invoice.save(update_fields=["balance", "settlement_status", "updated_at"])
    return payment
