"""Writing off what is left of a posted invoice, and reversing a write-off.

A write-off closes an invoice a customer will not pay: a posted credit memo (reason
`write_off`, numbered by the credit memo policy like any credit memo) for the open balance,
one untaxed line, applied to the invoice, whose balance becomes zero (settled). It is
recorded with who, when and why. A written-off invoice takes no payment and cannot be voided
(invoicing/services/payments.py `written_off_refusal`); its write-off is not unapplied like an
ordinary credit (credits.py) but reversed here: the application is unapplied (the row kept and
stamped) and the memo voided, so its credit cannot be applied elsewhere, and the balance is
open again.

Tax is not adjusted: the line is the balance as owed, tax included (bad-debt tax relief is a
filing matter, outside Ledgerline).

Locks: account → invoice → credit memo → application → sequence policy (invoicing/locks.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import ValidationError
from core.money import ZERO, money_display, money_input
from invoicing.exceptions import (
    InvoiceNotFound,
    InvoiceNotPosted,
    InvoiceNotWrittenOff,
    NothingToWriteOff,
)
from invoicing.locks import credit_application_lock, credit_memo_lock, invoices_lock_with_account
from invoicing.models import (
    CreditMemo,
    CreditMemoLine,
    CreditReason,
    CreditSource,
    Invoice,
    InvoiceStatus,
)
from invoicing.services.credits import credit_memo_apply_locked
from invoicing.services.memos import credit_memo_post_locked, credit_reason_validate
from invoicing.services.payments import (
    settlement_status_of,
    write_off_application_of,
    written_off_refusal,
)
from invoicing.totals import credit_memo_totals_set


@dataclass(frozen=True)
class WriteOff:
    invoice: Invoice
    credit_memo: CreditMemo
    amount: Decimal  # what was written off


def _locked_invoice(invoice_id: int) -> Invoice:
    account_id = Invoice.objects.filter(pk=invoice_id).values_list("account_id", flat=True).first()
    if account_id is None:
        raise InvoiceNotFound.for_id(invoice_id)
    return invoices_lock_with_account(account_id, [invoice_id])[invoice_id]


def invoice_write_off(
    *,
    invoice_id: int,
    amount: Any = None,
    reason_code: str = CreditReason.OTHER,
    note: str = "",
    write_off_date: dt.date | None = None,
    written_off_by: str = "",
) -> WriteOff:
    """Write off the open balance of a posted invoice, or `amount` of it (see the module
    docstring)."""
    credit_reason_validate(reason_code)
    write_off_date = write_off_date or timezone.localdate()
    with transaction.atomic(durable=True):
        invoice = _locked_invoice(invoice_id)
        if invoice.status != InvoiceStatus.POSTED:
            raise InvoiceNotPosted.for_invoice(invoice, "write-offs")
        refusal = written_off_refusal(invoice, "is closed already")
        if refusal is not None:
            raise refusal
        if invoice.balance <= ZERO:
            raise NothingToWriteOff(
                f"Invoice {invoice} has no open balance to write off.",
                details={"invoice": invoice.pk, "balance": str(invoice.balance)},
            )
        if write_off_date < invoice.invoice_date:
            raise ValidationError(
                {
                    "write_off_date": f"Invoice {invoice} is dated {invoice.invoice_date}; "
                    "write it off on or after that date."
                }
            )
        if amount in (None, ""):
            amount = invoice.balance
        else:
            amount = money_input(
                amount,
                invoice.currency,
                field="amount",
                positive="A write-off must be more than zero.",
            )
            if amount > invoice.balance:
                raise ValidationError(
                    {
                        "amount": f"Invoice {invoice} has "
                        f"{money_display(invoice.balance, invoice.currency)} open; write off "
                        "at most that."
                    }
                )
        label = (
            f"Write-off of the balance of invoice {invoice}"
            if amount == invoice.balance
            else f"Write-off of {money_display(amount, invoice.currency)} of invoice {invoice}"
        )
        memo = CreditMemo(
            account_id=invoice.account_id,
            legal_entity_id=invoice.legal_entity_id,
            currency=invoice.currency,
            invoice=invoice,
            reason_code=reason_code,
            source=CreditSource.WRITE_OFF,
            reason=(note or label)[:255],
            memo_date=write_off_date,
        )
        line = CreditMemoLine(sort_order=1, name=label[:255], unit_price=amount, amount=amount)
        credit_memo_totals_set(memo, [line])
        memo.balance = ZERO
        memo.full_clean(exclude=["number"])
        memo.save()
        line.credit_memo = memo
        line.save()
        credit_memo_post_locked(memo, posted_date=write_off_date)
        credit_memo_apply_locked(
            memo,
            {invoice.pk: invoice},
            [(invoice.pk, amount)],
            applied_date=write_off_date,
            applied_by=written_off_by,
        )
    return WriteOff(invoice=invoice, credit_memo=memo, amount=amount)


def invoice_write_off_reverse(*, invoice_id: int, reversed_by: str = "") -> WriteOff:
    """Reverse the write-off of an invoice: its balance is open again and the write-off memo
    is voided (its credit goes nowhere else)."""
    with transaction.atomic(durable=True):
        invoice = _locked_invoice(invoice_id)
        found = write_off_application_of(invoice)
        if found is None:
            raise InvoiceNotWrittenOff(
                f"Invoice {invoice} is not written off; nothing to reverse.",
                details={"invoice": invoice.pk},
            )
        memo = credit_memo_lock(found.credit_memo_id)
        application = credit_application_lock(found.pk)
        amount = application.amount
        application.unapplied_at = timezone.now()
        application.unapplied_by = reversed_by or ""
        application.save(update_fields=["unapplied_at", "unapplied_by", "updated_at"])
        invoice.balance += amount
        invoice.settlement_status = settlement_status_of(invoice)
        invoice.save(update_fields=["balance", "settlement_status", "updated_at"])
        memo.status = CreditMemo.Status.VOIDED
        memo.balance = ZERO
        memo.reason = (
            f"{memo.reason} (reversed {timezone.localdate()}"
            + (f" by {reversed_by})" if reversed_by else ")")
        )[:255]
        memo.save(update_fields=["status", "balance", "reason", "updated_at"])
    return WriteOff(invoice=invoice, credit_memo=memo, amount=amount)


def write_off_label(write_off: WriteOff) -> str:
    return f"{money_display(write_off.amount, write_off.invoice.currency)} of {write_off.invoice}"
