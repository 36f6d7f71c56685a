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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.exceptions import ValidationError
from core.money import (
    ZERO,
    money_display,
    money_input,
    money_str,
    plain,
    round_money,
    to_decimal,
)
from invoicing import hooks
from invoicing.dispatch import CONVERT_NEGATIVE_LINES, task_queue
from invoicing.exceptions import (
    CreditApplicationMismatch,
    CreditApplicationNotActive,
    CreditApplicationNotFound,
    CreditExceedsBalance,
    CreditMemoNotFound,
    CreditMemoNotPosted,
    InvoiceNotFound,
    InvoiceNotPosted,
    NoNegativeLines,
)
from invoicing.locks import credit_application_lock, credit_memo_lock, invoices_lock_with_account
from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    CreditReason,
    CreditSource,
    DebitMemo,
    DebitMemoLine,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from invoicing.services.memos import credit_memo_post_locked, credit_reason_validate
from invoicing.services.payments import settlement_status_of
from invoicing.services.taxing import tax_vat_fields
from invoicing.totals import credit_memo_totals_set


def _targets(applications: Sequence[Mapping[str, Any]]) -> list[tuple[int, Any, int | None]]:
    """(invoice id, amount as given or None, invoice line id or None) of each requested
    application; shape errors all at once, by path (`applications[1].invoice`)."""
    if not isinstance(applications, Sequence) or isinstance(applications, str | bytes):
        raise ValidationError({"applications": "Give a list of {invoice, amount}."})
    if not applications:
        raise ValidationError({"applications": "Name at least one invoice to apply the credit to."})
    errors: dict[str, str] = {}
    targets: list[tuple[int, Any, int | None]] = []
    seen: set[tuple[int, int | None]] = set()
    for i, entry in enumerate(applications):
        path = f"applications[{i}]"
        if not isinstance(entry, Mapping):
            errors[path] = "Give {invoice, amount}."
            continue
        invoice_id = entry.get("invoice")
        if isinstance(invoice_id, bool) or not isinstance(invoice_id, int):
            errors[f"{path}.invoice"] = "Give the invoice's id (an integer)."
            continue
        line_id = entry.get("invoice_line")
        if line_id is not None and (isinstance(line_id, bool) or not isinstance(line_id, int)):
            errors[f"{path}.invoice_line"] = "Give the invoice line's id (an integer), or none."
            continue
        if (invoice_id, line_id) in seen:
            where = f"Invoice {invoice_id}" + (f", line {line_id}," if line_id else "")
            errors[f"{path}.invoice"] = f"{where} is named twice; name it once."
            continue
        seen.add((invoice_id, line_id))
        targets.append((invoice_id, entry.get("amount"), line_id))
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


def _memo_title(memo: CreditMemo) -> str:
    """_memo_name at the start of a sentence (the number keeps its case)."""
    name = _memo_name(memo)
    return name[0].upper() + name[1:]


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
    level: str = "header",
) -> list[CreditMemoApplication]:
    """Apply a posted credit memo to posted invoices: `applications` is a list of
    {"invoice": id, "amount": "12.50", "invoice_line": id (optional)}; an amount left out
    takes the smaller of the invoice's open balance and what is left of the memo. `level`
    "line" spreads an application that names no line over the invoice's lines, the line
    with the most open first (the reference's line-level application). Returns the new
    application rows."""
    if level not in ("header", "line"):
        raise ValidationError({"level": "Use 'header' or 'line'."})
    targets = _targets(applications)
    applied_date = applied_date or timezone.localdate()
    with transaction.atomic(durable=True):
        invoices = invoices_lock_with_account(
            _memo_account(credit_memo_id), [t[0] for t in targets]
        )
        memo = credit_memo_lock(credit_memo_id)
        if level == "line":
            targets = _spread_over_lines(memo, invoices, targets)
        return credit_memo_apply_locked(
            memo, invoices, targets, applied_date=applied_date, applied_by=applied_by
        )


def _spread_over_lines(
    memo: CreditMemo,
    invoices: Mapping[int, Invoice],
    targets: Sequence[tuple[int, Any, int | None]],
) -> list[tuple[int, Any, int | None]]:
    """Each target naming no line becomes one target per invoice line, the line with the
    most open (amount with tax, less the credit applied to it) first, until its amount is
    placed; the checks stay credit_memo_apply_locked's."""
    out: list[tuple[int, Any, int | None]] = []
    left = memo.balance
    for i, (invoice_id, given, line_id) in enumerate(targets):
        invoice = invoices.get(invoice_id)
        if line_id is not None or invoice is None:
            out.append((invoice_id, given, line_id))
            continue
        amount = (
            min(invoice.balance, left)
            if given in (None, "")
            else money_input(
                given,
                memo.currency,
                field=f"applications[{i}].amount",
                positive="An application must be more than zero.",
            )
        )
        applied = dict(
            CreditMemoApplication.objects.active()
            .filter(invoice=invoice, invoice_line__isnull=False)
            .values("invoice_line")
            .annotate(total=Sum("amount"))
            .values_list("invoice_line", "total")
        )
        lines = sorted(
            (
                (line.amount + line.tax_amount - applied.get(line.pk, ZERO), line.pk)
                for line in InvoiceLine.objects.filter(invoice=invoice, amount__gt=0)
            ),
            key=lambda pair: (-pair[0], pair[1]),
        )
        left -= amount
        for line_open, pk in lines:
            if amount <= ZERO:
                break
            portion = min(line_open, amount)
            if portion > ZERO:
                out.append((invoice_id, portion, pk))
                amount -= portion
        if amount > ZERO:  # more than the lines hold: the header check will refuse it
            out.append((invoice_id, amount, None))
    return out


def credit_memo_apply_locked(
    memo: CreditMemo,
    invoices: Mapping[int, Invoice],
    targets: Sequence[tuple[Any, ...]],
    *,
    applied_date: dt.date,
    applied_by: str = "",
) -> list[CreditMemoApplication]:
    """credit_memo_apply inside the caller's transaction: the account, `invoices` (the
    account's, by id) and `memo` locked, in that order."""
    if memo.status != CreditMemo.Status.POSTED:
        raise CreditMemoNotPosted(
            f"{_memo_title(memo)} is a draft; post it before applying it."
            if memo.status == CreditMemo.Status.DRAFT
            else f"{_memo_title(memo)} is voided; it has no credit to apply.",
            details={"credit_memo": memo.pk, "status": memo.status},
        )
    if applied_date < memo.memo_date:
        raise ValidationError(
            {
                "applied_date": f"{_memo_title(memo)} is dated "
                f"{memo.memo_date}; apply it on or after that date."
            }
        )
    left = memo.balance
    rows: list[CreditMemoApplication] = []
    for i, target in enumerate(targets):
        invoice_id, given, line_id = (*target, None)[:3]
        path = f"applications[{i}]"
        invoice = invoices.get(invoice_id)
        _check_target(memo, invoice, invoice_id, path)
        assert invoice is not None
        line_left = _line_open(invoice, line_id, path) if line_id is not None else None
        if applied_date < invoice.invoice_date:
            raise ValidationError(
                {
                    "applied_date": f"Invoice {invoice} is dated {invoice.invoice_date}; "
                    "apply credit to it on or after that date."
                }
            )
        if given in (None, ""):
            amount = min(invoice.balance, left)
            if line_left is not None:
                amount = min(amount, line_left)
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
                f"{_memo_title(memo)} has "
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
        if line_left is not None and amount > line_left:
            raise CreditExceedsBalance(
                f"{money_display(amount, memo.currency)} is more than the "
                f"{money_display(line_left, memo.currency)} open on line {line_id} of invoice "
                f"{invoice} (its amount with tax, less credits applied to it).",
                details={
                    "invoice": invoice.pk,
                    "invoice_line": line_id,
                    "amount": money_str(amount, memo.currency),
                    "line_open": money_str(line_left, memo.currency),
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
                invoice_line_id=line_id,
                amount=amount,
                applied_date=applied_date,
                applied_by=applied_by or "",
            )
        )
    CreditMemoApplication.objects.bulk_create(rows)
    memo.balance = left
    memo.save(update_fields=["balance", "updated_at"])
    return rows


def _line_open(invoice: Invoice, line_id: int, path: str) -> Decimal:
    """What is open on one line of the invoice for a line-level application: its amount with
    tax, less the credit applications in force on that line."""
    line = InvoiceLine.objects.filter(pk=line_id, invoice=invoice).first()
    if line is None:
        raise ValidationError(
            {f"{path}.invoice_line": f"Line {line_id} is not a line of invoice {invoice}."}
        )
    if line.amount <= ZERO:
        raise ValidationError(
            {f"{path}.invoice_line": f"Line '{line.name}' is not a charge; apply to a charge."}
        )
    applied = (
        CreditMemoApplication.objects.active()
        .filter(invoice_line=line)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    return line.amount + line.tax_amount - applied


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
        _unapply_locked(memo, invoice, application, unapplied_by)
    return application


def credit_memo_unapply(
    *, credit_memo_id: int, invoice_id: int, unapplied_by: str = ""
) -> list[CreditMemoApplication]:
    """Take back every application in force of the credit memo to one invoice (API.md's
    `credit-memos/{id}/unapply {"invoice"}`)."""
    account_id = _memo_account(credit_memo_id)
    with transaction.atomic(durable=True):
        invoices = invoices_lock_with_account(account_id, [invoice_id])
        memo = credit_memo_lock(credit_memo_id)
        invoice = invoices.get(invoice_id)
        ids = list(
            CreditMemoApplication.objects.active()
            .filter(credit_memo=memo, invoice_id=invoice_id)
            .order_by("id")
            .values_list("pk", flat=True)
        )
        if invoice is None or not ids:
            raise CreditApplicationNotFound(
                f"{_memo_title(memo)} has no credit applied to invoice "
                f"{invoice or invoice_id} to unapply.",
                details={"credit_memo": memo.pk, "invoice": invoice_id},
            )
        rows = [credit_application_lock(pk) for pk in ids]
        for application in rows:
            _unapply_locked(memo, invoice, application, unapplied_by)
    return rows


def _unapply_locked(
    memo: CreditMemo,
    invoice: Invoice,
    application: CreditMemoApplication,
    unapplied_by: str,
) -> None:
    """Unapply one application: invoice, memo and application locked in that order."""
    if application.unapplied_at is not None:
        raise CreditApplicationNotActive(
            f"This application of {_memo_name(memo)} to invoice {invoice} was already "
            f"unapplied on {timezone.localtime(application.unapplied_at):%Y-%m-%d %H:%M}"
            + (f" by {application.unapplied_by}." if application.unapplied_by else "."),
            details={"application": application.pk},
        )
    if memo.source == CreditSource.WRITE_OFF:
        raise CreditApplicationNotActive(
            f"This is the write-off of invoice {invoice}: reverse the write-off instead "
            "(it also voids the write-off memo).",
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


def _posted_invoice_locked(invoice_id: int, on: dt.date, *, field: str, what: str) -> Invoice:
    """Lock the invoice's account and the invoice, which must be posted and dated on or
    before `on` (the date of the `what` being recorded, the error's `field`)."""
    account_id = Invoice.objects.filter(pk=invoice_id).values_list("account_id", flat=True).first()
    if account_id is None:
        raise InvoiceNotFound.for_id(invoice_id)
    invoice = invoices_lock_with_account(account_id, [invoice_id])[invoice_id]
    if invoice.status != InvoiceStatus.POSTED:
        raise InvoiceNotPosted.for_invoice(invoice, what)
    if on < invoice.invoice_date:
        raise ValidationError(
            {field: f"Invoice {invoice} is dated {invoice.invoice_date}; date it on or after that."}
        )
    return invoice


def _memo_save_with_lines(
    memo: CreditMemo, memo_lines: list[tuple[CreditMemoLine, list[CreditMemoLineTax]]]
) -> None:
    """Save a new draft credit memo (totals from its lines, nothing to apply yet) with its
    lines and their tax rows."""
    credit_memo_totals_set(memo, [memo_line for memo_line, _ in memo_lines])
    memo.balance = ZERO
    memo.full_clean(exclude=["number"])
    memo.save()
    tax_rows: list[CreditMemoLineTax] = []
    for memo_line, line_taxes in memo_lines:
        memo_line.credit_memo = memo
        for tax_row in line_taxes:
            tax_row.line = memo_line
            tax_rows.append(tax_row)
    CreditMemoLine.objects.bulk_create([memo_line for memo_line, _ in memo_lines])
    CreditMemoLineTax.objects.bulk_create(tax_rows)


# --- crediting an invoice's lines -------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceCredit:
    """What invoice_credit made: the memo, and its application to the invoice (if any)."""

    credit_memo: CreditMemo
    application: CreditMemoApplication | None


def _line_requests(lines: Sequence[Mapping[str, Any]]) -> list[tuple[int, Any, Any]]:
    """(invoice line id, amount or None, quantity or None) per requested line; shape errors
    all at once, by path."""
    if not isinstance(lines, Sequence) or isinstance(lines, str | bytes) or not lines:
        raise ValidationError(
            {"lines": "Name the invoice lines to credit: [{invoice_line, amount or quantity}]."}
        )
    errors: dict[str, str] = {}
    out: list[tuple[int, Any, Any]] = []
    seen: set[int] = set()
    for i, entry in enumerate(lines):
        path = f"lines[{i}]"
        if not isinstance(entry, Mapping):
            errors[path] = "Give {invoice_line, amount} or {invoice_line, quantity}."
            continue
        line_id = entry.get("invoice_line")
        if isinstance(line_id, bool) or not isinstance(line_id, int):
            errors[f"{path}.invoice_line"] = "Give the invoice line's id (an integer)."
            continue
        if line_id in seen:
            errors[f"{path}.invoice_line"] = f"Line {line_id} is named twice; name it once."
            continue
        seen.add(line_id)
        amount, quantity = entry.get("amount"), entry.get("quantity")
        if amount in (None, "") and quantity in (None, ""):
            amount = None  # the whole of what is left on the line
        elif amount not in (None, "") and quantity not in (None, ""):
            errors[path] = "Give an amount or a quantity to credit, not both."
            continue
        out.append((line_id, amount, quantity))
    if errors:
        raise ValidationError(errors)
    return out


def credited_so_far(line_ids: Sequence[int]) -> tuple[dict, dict]:
    """What live credit memos (draft or posted) already credit of these invoice lines:
    ({line id: (amount, quantity)}, {(line id, tax name, code, rate): tax amount})."""
    live = [CreditMemo.Status.DRAFT, CreditMemo.Status.POSTED]
    amounts = {
        row["invoice_line"]: (row["amount"] or ZERO, row["quantity"] or ZERO)
        for row in CreditMemoLine.objects.filter(
            invoice_line_id__in=line_ids, credit_memo__status__in=live
        )
        .values("invoice_line")
        .annotate(amount=Sum("amount"), quantity=Sum("quantity"))
    }
    taxes = {
        (row["line__invoice_line"], row["name"], row["code"], row["rate"]): row["amount"]
        for row in CreditMemoLineTax.objects.filter(
            line__invoice_line_id__in=line_ids, line__credit_memo__status__in=live
        )
        .values("line__invoice_line", "name", "code", "rate")
        .annotate(amount=Sum("amount"))
    }
    return amounts, taxes


def _credit_lines_plan(
    invoice: Invoice, requests: Sequence[tuple[int, Any, Any]]
) -> list[tuple[CreditMemoLine, list[CreditMemoLineTax]]]:
    """The credit memo lines (unsaved, with their tax rows) that crediting `requests` of
    `invoice` makes; every refusal at once, by path. Reads only."""
    currency = invoice.currency
    invoice_lines = {
        line.pk: line
        for line in InvoiceLine.objects.filter(
            invoice=invoice, pk__in=[r[0] for r in requests]
        ).prefetch_related("taxes")
    }
    credited, credited_tax = credited_so_far(list(invoice_lines))
    errors: dict[str, str] = {}
    memo_lines: list[tuple[CreditMemoLine, list[CreditMemoLineTax]]] = []
    for i, (line_id, amount_given, quantity_given) in enumerate(requests):
        path = f"lines[{i}]"
        line = invoice_lines.get(line_id)
        if line is None:
            errors[f"{path}.invoice_line"] = f"Line {line_id} is not a line of invoice {invoice}."
            continue
        if line.amount <= ZERO:
            errors[f"{path}.invoice_line"] = (
                f"Line '{line.name}' is {money_display(line.amount, currency)}: only a "
                "charge (a positive amount) can be credited."
            )
            continue
        done_amount, done_quantity = credited.get(line.pk, (ZERO, ZERO))
        left = line.amount - done_amount
        try:
            if quantity_given not in (None, ""):
                quantity = to_decimal(quantity_given)
                if not quantity.is_finite() or quantity <= ZERO:
                    raise ValidationError({f"{path}.quantity": "Give a quantity above zero."})
                if quantity > line.quantity:
                    raise ValidationError(
                        {
                            f"{path}.quantity": f"Line '{line.name}' bills "
                            f"{plain(line.quantity)}; credit at most that."
                        }
                    )
                amount = min(round_money(line.amount * quantity / line.quantity, currency), left)
                unit_price = line.unit_price
            elif amount_given is not None:
                amount = money_input(
                    amount_given,
                    currency,
                    field=f"{path}.amount",
                    positive="A credit must be more than zero.",
                )
                quantity, unit_price = Decimal(1), amount
            else:
                amount, quantity, unit_price = left, Decimal(1), left
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.details.items()})
            continue
        if left <= ZERO:
            errors[f"{path}.invoice_line"] = f"Line '{line.name}' is credited in full already."
            continue
        if amount > left:
            earlier = (
                f" ({money_display(done_amount, currency)} credited before)" if done_amount else ""
            )
            errors[f"{path}.amount"] = (
                f"Line '{line.name}' has {money_display(left, currency)} left to credit of "
                f"{money_display(line.amount, currency)}{earlier}; "
                f"{money_display(amount, currency)} is more."
            )
            continue
        if amount <= ZERO:
            errors[f"{path}.quantity"] = (
                f"{plain(quantity)} of line '{line.name}' credits nothing; give more."
            )
            continue
        taxes = []
        for tax in line.taxes.all():
            if amount == left:  # close out: exactly the tax left
                key = (line.pk, tax.name, tax.code, tax.rate)
                tax_amount = tax.amount - credited_tax.get(key, ZERO)
            else:
                tax_amount = round_money(tax.amount * amount / line.amount, currency)
            taxes.append(
                CreditMemoLineTax(
                    name=tax.name,
                    code=tax.code,
                    rate=tax.rate,
                    amount=tax_amount,
                    **tax_vat_fields(tax),
                )
            )
        memo_lines.append(
            (
                CreditMemoLine(
                    invoice_line=line,
                    sort_order=len(memo_lines) + 1,
                    name=line.name,
                    period_start=line.period_start,
                    period_end=line.period_end,
                    quantity=quantity,
                    unit_price=unit_price,
                    amount=amount,
                    tax_amount=sum((t.amount for t in taxes), ZERO),
                ),
                taxes,
            )
        )
    if errors:
        raise ValidationError(errors)
    return memo_lines


@dataclass(frozen=True)
class CreditPreview:
    """What invoice_credit would make, for a confirmation page: nothing is written."""

    lines: list[CreditMemoLine]
    total_charges: Decimal
    total_tax: Decimal
    total: Decimal
    applied: Decimal  # what would be applied to the invoice (posted, apply)


def invoice_credit_preview(
    *, invoice_id: int, lines: Sequence[Mapping[str, Any]], apply: bool = True
) -> CreditPreview:
    """invoice_credit's lines and totals without writing (the same checks, no locks)."""
    requests = _line_requests(lines)
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:
        raise InvoiceNotFound.for_id(invoice_id)
    if invoice.status != InvoiceStatus.POSTED:
        raise InvoiceNotPosted.for_invoice(invoice, "credits")
    planned = [line for line, _ in _credit_lines_plan(invoice, requests)]
    charges = sum((line.amount for line in planned), ZERO)
    tax = sum((line.tax_amount for line in planned), ZERO)
    return CreditPreview(
        lines=planned,
        total_charges=charges,
        total_tax=tax,
        total=charges + tax,
        applied=min(charges + tax, invoice.balance) if apply else ZERO,
    )


def invoice_credit(
    *,
    invoice_id: int,
    lines: Sequence[Mapping[str, Any]],
    reason_code: str = CreditReason.BILLING_ERROR,
    note: str = "",
    credit_date: dt.date | None = None,
    action: str = "posted",
    apply: bool = True,
    created_by: str = "",
) -> InvoiceCredit:
    """Credit lines of a posted invoice: one credit memo referencing the invoice, a line per
    credited invoice line, whole or part (`amount`, or `quantity` at the line's price; neither:
    all that is left), never more than is left on the line after earlier credits. Tax is that
    of the invoice line, in proportion (the reference's "copy from invoice line" strategy); a
    credit of all that is left takes exactly the tax left. `action` "posted" posts (and numbers)
    it and, with `apply`, applies it to the invoice up to the open balance; "draft" leaves it
    to review and post."""
    requests = _line_requests(lines)
    credit_reason_validate(reason_code)
    if action not in ("draft", "posted"):
        raise ValidationError({"action": "Use 'draft' or 'posted'."})
    credit_date = credit_date or timezone.localdate()
    with transaction.atomic(durable=True):
        invoice = _posted_invoice_locked(
            invoice_id, credit_date, field="credit_date", what="credits"
        )
        currency = invoice.currency
        memo_lines = _credit_lines_plan(invoice, requests)

        memo = CreditMemo(
            account_id=invoice.account_id,
            legal_entity_id=invoice.legal_entity_id,
            currency=currency,
            invoice=invoice,
            reason_code=reason_code,
            source=CreditSource.INVOICE,
            reason=note or "",
            memo_date=credit_date,
        )
        _memo_save_with_lines(memo, memo_lines)
        application = None
        if action == "posted":
            credit_memo_post_locked(memo, posted_date=credit_date)
            amount = min(memo.balance, invoice.balance)
            if apply and amount > ZERO:
                (application,) = credit_memo_apply_locked(
                    memo,
                    {invoice.pk: invoice},
                    [(invoice.pk, amount)],
                    applied_date=credit_date,
                    applied_by=created_by,
                )
    return InvoiceCredit(credit_memo=memo, application=application)


# --- voiding a credit memo ----------------------------------------------------------------------


@dataclass(frozen=True)
class CreditMemoVoid:
    credit_memo: CreditMemo
    debit_memo: DebitMemo


def credit_memo_void(
    *, credit_memo_id: int, void_date: dt.date | None = None, voided_by: str = ""
) -> CreditMemoVoid:
    """Void a posted credit memo none of whose credit is applied: it becomes voided (its
    number kept) and an offsetting debit memo of the same lines and tax records the reversal;
    that debit memo is not billed (status `offset`). A memo with credit applied is unapplied
    first; a void's or a write-off's memo is never voided here."""
    void_date = void_date or timezone.localdate()
    account_id = _memo_account(credit_memo_id)
    with transaction.atomic(durable=True):
        invoices_lock_with_account(account_id, [])
        memo = credit_memo_lock(credit_memo_id)
        name = _memo_title(memo)
        if memo.status != CreditMemo.Status.POSTED:
            raise CreditMemoNotPosted(
                f"{name} is {memo.get_status_display().lower()}; only a posted credit memo is "
                "voided (a draft is deleted).",
                details={"credit_memo": memo.pk, "status": memo.status},
            )
        if memo.source in (CreditSource.VOID, CreditSource.WRITE_OFF):
            raise CreditMemoNotPosted(
                f"{name} is the {memo.get_source_display().lower()} of invoice {memo.invoice}; "
                + (
                    "a void cannot be undone."
                    if memo.source == CreditSource.VOID
                    else "reverse the write-off instead."
                ),
                details={"credit_memo": memo.pk, "source": memo.source},
            )
        if memo.balance != memo.total:
            applied = money_display(memo.total - memo.balance, memo.currency)
            raise CreditExceedsBalance(
                f"{name} has {applied} applied to invoices; unapply it before voiding the memo.",
                details={
                    "credit_memo": memo.pk,
                    "applied": money_str(memo.total - memo.balance, memo.currency),
                },
            )
        debit = DebitMemo(
            status=DebitMemo.Status.OFFSET,
            account_id=memo.account_id,
            legal_entity_id=memo.legal_entity_id,
            currency=memo.currency,
            reason=f"Offsets voided {_memo_name(memo)}",
            memo_date=void_date,
            next_billing_date=void_date,
            total=memo.total,
        )
        debit.full_clean(exclude=["number"])
        debit.save()
        lines = list(memo.lines.order_by("sort_order", "id"))
        debit_lines = [
            DebitMemoLine(
                debit_memo=debit,
                sort_order=n,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                taxable=False,
                invoice_line_id=line.invoice_line_id,
            )
            for n, line in enumerate(lines, start=1)
        ]
        if memo.total_tax:
            debit_lines.append(
                DebitMemoLine(
                    debit_memo=debit,
                    sort_order=len(debit_lines) + 1,
                    name=f"Tax credited by {_memo_name(memo)}",
                    quantity=Decimal(1),
                    unit_price=memo.total_tax,
                    amount=memo.total_tax,
                    taxable=False,
                )
            )
        DebitMemoLine.objects.bulk_create(debit_lines)
        memo.status = CreditMemo.Status.VOIDED
        memo.balance = ZERO
        memo.reason = (
            f"{memo.reason} (voided {void_date}" + (f" by {voided_by})" if voided_by else ")")
        ).strip()[:255]
        memo.save(update_fields=["status", "balance", "reason", "updated_at"])
    return CreditMemoVoid(credit_memo=memo, debit_memo=debit)


# --- negative invoice lines to a credit memo ------------------------------------------------------


def negative_lines_open(invoice: Invoice) -> list[InvoiceLine]:
    """The invoice's charge lines with a negative amount (cancellation or decrease credits)
    not yet converted to a credit memo, in line order."""
    converted = CreditMemoLine.objects.filter(
        credit_memo__source=CreditSource.NEGATIVE_LINES,
        credit_memo__status=CreditMemo.Status.POSTED,
        invoice_line__invoice=invoice,
    ).values("invoice_line_id")
    return list(
        InvoiceLine.objects.filter(invoice=invoice, amount__lt=0)
        .exclude(type=InvoiceLine.Type.ADJUSTMENT)
        .exclude(pk__in=converted)
        .prefetch_related("taxes")
        .order_by("sort_order", "id")
    )


@dataclass(frozen=True)
class NegativeLinesConversion:
    """What converting an invoice's negative lines does, in figures (the service writes it;
    a confirmation page shows it)."""

    lines: list[InvoiceLine]
    credit: Decimal  # the memo's total: the lines' amounts and tax, made positive
    total_after: Decimal  # the invoice's total without those lines
    applied: Decimal  # what of the memo is applied back to the invoice
    balance_after: Decimal


def invoice_negative_lines_preview(*, invoice: Invoice) -> NegativeLinesConversion:
    """invoice_negative_lines_convert's figures for all the open negative lines; nothing is
    written."""
    lines = negative_lines_open(invoice)
    credit = -sum((line.amount + line.tax_amount for line in lines), ZERO)
    applied = max(min(credit, invoice.balance + credit), ZERO)
    return NegativeLinesConversion(
        lines=lines,
        credit=credit,
        total_after=invoice.total + credit,
        applied=applied,
        balance_after=invoice.balance + credit - applied,
    )


def invoice_negative_lines_convert(
    *,
    invoice_id: int,
    line_ids: Sequence[int] | None = None,
    effective_date: dt.date | None = None,
    description: str = "",
    converted_by: str = "",
) -> InvoiceCredit:
    """Convert a posted invoice's negative charge lines (all, or `line_ids`) into a posted
    credit memo (source `negative_lines`, reason cancellation, the lines' tax rows turned
    positive) instead of credits inside the invoice: the invoice's totals leave those lines
    out (its charges and total grow by them) and the memo is applied back to it up to its open
    balance, so the balance owed is unchanged when the invoice has enough charges, and an
    invoice that netted negative ends at zero with the rest as the account's credit."""
    effective_date = effective_date or timezone.localdate()
    with transaction.atomic(durable=True):
        invoice = _posted_invoice_locked(
            invoice_id, effective_date, field="effective_date", what="negative line conversions"
        )
        lines = negative_lines_open(invoice)
        if line_ids is not None:
            open_ids = {line.pk for line in lines}
            errors = {
                f"invoice_lines[{i}]": f"Line {pk} is not a negative charge line of invoice "
                f"{invoice} still to convert."
                for i, pk in enumerate(line_ids)
                if pk not in open_ids
            }
            if errors:
                raise ValidationError(errors)
            lines = [line for line in lines if line.pk in set(line_ids)]
        if not lines:
            raise NoNegativeLines(
                f"Invoice {invoice} has no negative charge line left to convert.",
                details={"invoice": invoice.pk},
            )
        memo = CreditMemo(
            account_id=invoice.account_id,
            legal_entity_id=invoice.legal_entity_id,
            currency=invoice.currency,
            invoice=invoice,
            reason_code=CreditReason.CANCELLATION,
            source=CreditSource.NEGATIVE_LINES,
            reason=(description or f"Negative lines of invoice {invoice}")[:255],
            memo_date=effective_date,
        )
        memo_lines: list[tuple[CreditMemoLine, list[CreditMemoLineTax]]] = []
        for n, line in enumerate(lines, start=1):
            taxes = [
                CreditMemoLineTax(
                    name=t.name, code=t.code, rate=t.rate, amount=-t.amount, **tax_vat_fields(t)
                )
                for t in line.taxes.all()
            ]
            memo_lines.append(
                (
                    CreditMemoLine(
                        invoice_line=line,
                        sort_order=n,
                        name=line.name,
                        period_start=line.period_start,
                        period_end=line.period_end,
                        quantity=abs(line.quantity),
                        unit_price=abs(line.unit_price),
                        amount=-line.amount,
                        tax_amount=-line.tax_amount,
                    ),
                    taxes,
                )
            )
        _memo_save_with_lines(memo, memo_lines)
        credit_memo_post_locked(memo, posted_date=effective_date)

        # The invoice leaves the converted lines out of its totals.
        for line in lines:
            invoice.total_charges -= line.amount
            invoice.total_tax -= line.tax_amount
            invoice.total -= line.amount + line.tax_amount
            invoice.balance -= line.amount + line.tax_amount
        invoice.settlement_status = settlement_status_of(invoice)
        invoice.save(
            update_fields=[
                "total_charges",
                "total_tax",
                "total",
                "balance",
                "settlement_status",
                "updated_at",
            ]
        )
        application = None
        amount = min(memo.balance, invoice.balance)
        if amount > ZERO:
            (application,) = credit_memo_apply_locked(
                memo,
                {invoice.pk: invoice},
                [(invoice.pk, amount)],
                applied_date=effective_date,
                applied_by=converted_by,
            )
    return InvoiceCredit(credit_memo=memo, application=application)


@hooks.on_invoices_posted
def _convert_after_posting(invoice_ids: list[int]) -> None:
    """With LEDGERLINE["CONVERT_NEGATIVE_LINES"] on (the reference's automatic conversion),
    queue a conversion for each posted invoice that has negative charge lines: one query for
    the whole posting, a task only where there is something to convert."""
    if not settings.LEDGERLINE.get("CONVERT_NEGATIVE_LINES", False):
        return
    ids = (
        InvoiceLine.objects.filter(invoice_id__in=invoice_ids, amount__lt=0)
        .exclude(type=InvoiceLine.Type.ADJUSTMENT)
        .values_list("invoice_id", flat=True)
        .distinct()
    )
    for invoice_id in sorted(set(ids)):
        task_queue(CONVERT_NEGATIVE_LINES, invoice_id)
