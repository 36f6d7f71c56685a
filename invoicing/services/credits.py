"""Applying posted credit memos to posted invoices, and unapplying them.

A posted credit memo's unapplied balance goes to one or more posted invoices of its account, in
its currency and of its legal entity, each for at most the invoice's open balance and all
together for at most the memo's balance (an amount left out takes as much as both allow). Each
application is a row with its date and who applied it; the invoice's balance and settlement
status and the memo's balance change with it in the same transaction, so the three always
agree: invoice balance = total − payments − active applications; memo balance = total − active
applications.

An unapply keeps the row, stamped with who and when, and gives the amount back to both sides.
The application a void makes (its mirror credit memo on the voided invoice) is not unapplied: a
void cannot be undone.

Bad input changes nothing and names what is wrong: a draft memo (`credit_memo_not_posted`), a
draft or voided invoice (`invoice_not_posted`), another account, currency or legal entity
(`credit_application_mismatch`), more than the memo or an invoice has open
(`credit_exceeds_balance`).

Locks: account → invoices (id order) → credit memo → application (invoicing/locks.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import ValidationError
from core.money import ZERO, money_display, money_input, money_str
from invoicing.exceptions import (
    CreditApplicationMismatch,
    CreditApplicationNotActive,
    CreditApplicationNotFound,
    CreditExceedsBalance,
    CreditMemoNotFound,
    CreditMemoNotPosted,
    InvoiceNotPosted,
)
from invoicing.locks import credit_application_lock, credit_memo_lock, invoices_lock_with_account
from invoicing.models import CreditMemo, CreditMemoApplication, Invoice, InvoiceStatus
from invoicing.services.payments import settlement_status_of


def _targets(applications: Sequence[Mapping[str, Any]]) -> list[tuple[int, Any]]:
    """(invoice id, amount as given or None) of each requested application; shape errors all
    at once, by path (`applications[1].invoice`)."""
    if not isinstance(applications, Sequence) or isinstance(applications, str | bytes):
        raise ValidationError({"applications": "Give a list of {invoice, amount}."})
    if not applications:
        raise ValidationError({"applications": "Name at least one invoice to apply the credit to."})
    errors: dict[str, str] = {}
    targets: list[tuple[int, Any]] = []
    seen: set[int] = set()
    for i, entry in enumerate(applications):
        path = f"applications[{i}]"
        if not isinstance(entry, Mapping):
            errors[path] = "Give {invoice, amount}."
            continue
        invoice_id = entry.get("invoice")
        if isinstance(invoice_id, bool) or not isinstance(invoice_id, int):
            errors[f"{path}.invoice"] = "Give the invoice's id (an integer)."
            continue
        if invoice_id in seen:
            errors[f"{path}.invoice"] = f"Invoice {invoice_id} is named twice; name it once."
            continue
        seen.add(invoice_id)
        targets.append((invoice_id, entry.get("amount")))
    if errors:
        raise ValidationError(errors)
    return targets


def _memo_account(credit_memo_id: int) -> int:
    account_id = (
        CreditMemo.objects.filter(pk=credit_memo_id).values_list("account_id", flat=True).first()
    )
    if account_id is None:
        raise CreditMemoNotFound(
            f"Credit memo {credit_memo_id} does not exist.",
            details={"credit_memo": credit_memo_id},
        )
    return account_id


def _memo_name(memo: CreditMemo) -> str:
    return f"credit memo {memo.number}" if memo.number else f"credit memo #{memo.pk}"


def _check_target(memo: CreditMemo, invoice: Invoice | None, invoice_id: int, path: str) -> None:
    if invoice is None:
        other = Invoice.objects.filter(pk=invoice_id).select_related("account").first()
        if other is None:
            raise ValidationError({f"{path}.invoice": f"Invoice {invoice_id} does not exist."})
        raise CreditApplicationMismatch(
            f"Invoice {other} is account {other.account}'s; {_memo_name(memo)} credits account "
            f"{memo.account}. A credit memo applies only to its own account's invoices.",
            details={"invoice": invoice_id, "account": other.account_id},
        )
    if invoice.status != InvoiceStatus.POSTED:
        raise InvoiceNotPosted.for_invoice(invoice, "credits")
    if invoice.currency != memo.currency:
        raise CreditApplicationMismatch(
            f"Invoice {invoice} is in {invoice.currency}; {_memo_name(memo)} is in "
            f"{memo.currency}. A credit applies only to invoices in its own currency.",
            details={"invoice": invoice.pk, "currency": invoice.currency},
        )
    if (
        memo.legal_entity_id is not None
        and invoice.legal_entity_id is not None
        and invoice.legal_entity_id != memo.legal_entity_id
    ):
        raise CreditApplicationMismatch(
            f"Invoice {invoice} was issued by another legal entity than {_memo_name(memo)}; "
            "a credit applies only to its own legal entity's invoices.",
            details={"invoice": invoice.pk, "legal_entity": invoice.legal_entity_id},
        )


def credit_memo_apply(
    *,
    credit_memo_id: int,
    applications: Sequence[Mapping[str, Any]],
    applied_date: dt.date | None = None,
    applied_by: str = "",
) -> list[CreditMemoApplication]:
    """Apply a posted credit memo to posted invoices: `applications` is a list of
    {"invoice": id, "amount": "12.50"}; an amount left out takes the smaller of the invoice's
    open balance and what is left of the memo. Returns the new application rows."""
    targets = _targets(applications)
    applied_date = applied_date or timezone.localdate()
    with transaction.atomic(durable=True):
        invoices = invoices_lock_with_account(
            _memo_account(credit_memo_id), [i for i, _ in targets]
        )
        memo = credit_memo_lock(credit_memo_id)
        if memo.status != CreditMemo.Status.POSTED:
            raise CreditMemoNotPosted(
                f"{_memo_name(memo).capitalize()} is a draft; post it before applying it.",
                details={"credit_memo": memo.pk, "status": memo.status},
            )
        if applied_date < memo.memo_date:
            raise ValidationError(
                {
                    "applied_date": f"{_memo_name(memo).capitalize()} is dated "
                    f"{memo.memo_date}; apply it on or after that date."
                }
            )
        left = memo.balance
        rows: list[CreditMemoApplication] = []
        for i, (invoice_id, given) in enumerate(targets):
            path = f"applications[{i}]"
            invoice = invoices.get(invoice_id)
            _check_target(memo, invoice, invoice_id, path)
            assert invoice is not None
            if applied_date < invoice.invoice_date:
                raise ValidationError(
                    {
                        "applied_date": f"Invoice {invoice} is dated {invoice.invoice_date}; "
                        "apply credit to it on or after that date."
                    }
                )
            if given in (None, ""):
                amount = min(invoice.balance, left)
                if amount <= ZERO:
                    raise CreditExceedsBalance(
                        f"Nothing to apply to invoice {invoice}: "
                        + (
                            "it has no open balance."
                            if invoice.balance <= ZERO
                            else f"{_memo_name(memo)} has no credit left."
                        ),
                        details={
                            "invoice": invoice.pk,
                            "balance": money_str(invoice.balance, memo.currency),
                        },
                    )
            else:
                amount = money_input(
                    given,
                    memo.currency,
                    field=f"{path}.amount",
                    positive="An application must be more than zero.",
                )
            if amount > invoice.balance:
                raise CreditExceedsBalance(
                    f"{money_display(amount, memo.currency)} is more than the "
                    f"{money_display(invoice.balance, memo.currency)} open on invoice {invoice}. "
                    "Apply at most the open balance.",
                    details={
                        "invoice": invoice.pk,
                        "amount": money_str(amount, memo.currency),
                        "balance": money_str(invoice.balance, memo.currency),
                    },
                )
            if amount > left:
                raise CreditExceedsBalance(
                    f"{_memo_name(memo).capitalize()} has "
                    f"{money_display(left, memo.currency)} left to apply"
                    + (" after the invoices before this one" if rows else "")
                    + f"; {money_display(amount, memo.currency)} cannot be applied to invoice "
                    f"{invoice}.",
                    details={
                        "credit_memo": memo.pk,
                        "amount": money_str(amount, memo.currency),
                        "left": money_str(left, memo.currency),
                    },
                )
            left -= amount
            invoice.balance -= amount
            invoice.settlement_status = settlement_status_of(invoice)
            invoice.save(update_fields=["balance", "settlement_status", "updated_at"])
            rows.append(
                CreditMemoApplication(
                    credit_memo=memo,
                    invoice=invoice,
                    amount=amount,
                    applied_date=applied_date,
                    applied_by=applied_by or "",
                )
            )
        CreditMemoApplication.objects.bulk_create(rows)
        memo.balance = left
        memo.save(update_fields=["balance", "updated_at"])
    return rows


def credit_application_unapply(
    *, application_id: int, unapplied_by: str = ""
) -> CreditMemoApplication:
    """Take back one application: its amount is open on the invoice and unapplied on the memo
    again; the row stays, stamped with who and when."""
    found = (
        CreditMemoApplication.objects.filter(pk=application_id)
        .values_list("credit_memo_id", "credit_memo__account_id", "invoice_id")
        .first()
    )
    if found is None:
        raise CreditApplicationNotFound(
            f"Credit application {application_id} does not exist.",
            details={"application": application_id},
        )
    memo_id, account_id, invoice_id = found
    with transaction.atomic(durable=True):
        invoice = invoices_lock_with_account(account_id, [invoice_id])[invoice_id]
        memo = credit_memo_lock(memo_id)
        application = credit_application_lock(application_id)
        if application.unapplied_at is not None:
            raise CreditApplicationNotActive(
                f"This application of {_memo_name(memo)} to invoice {invoice} was already "
                f"unapplied on {timezone.localtime(application.unapplied_at):%Y-%m-%d %H:%M}"
                + (f" by {application.unapplied_by}." if application.unapplied_by else "."),
                details={"application": application.pk},
            )
        if invoice.status != InvoiceStatus.POSTED:
            raise CreditApplicationNotActive(
                f"Invoice {invoice} is {invoice.get_status_display().lower()}: the credit on it "
                "is what voided it, and a void cannot be undone.",
                details={"application": application.pk, "status": invoice.status},
            )
        amount: Decimal = application.amount
        application.unapplied_at = timezone.now()
        application.unapplied_by = unapplied_by or ""
        application.save(update_fields=["unapplied_at", "unapplied_by", "updated_at"])
        invoice.balance += amount
        invoice.settlement_status = settlement_status_of(invoice)
        invoice.save(update_fields=["balance", "settlement_status", "updated_at"])
        memo.balance += amount
        memo.save(update_fields=["balance", "updated_at"])
    return application
