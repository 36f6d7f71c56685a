"""Editing and deleting draft invoices.

A draft is a proposal, not a document: staff may change its invoice date, due date,
description and bill-to contact, and add, edit or remove manual adjustment lines (credits
or extra charges typed in by hand). Every change re-estimates the tax of every line and
recomputes the totals, so a draft always shows what posting it would produce (posting
replaces the estimate with the actual tax).

Lines that came from billing schedules stay as generated: their amounts are what the period
items billed. To bill a schedule differently, delete the draft: that releases its period
items and rolls the schedules back, so the next generation bills those periods again.

Posted (and voided) invoices are immutable: a change is refused with `invoice_immutable`;
corrections are credit memos (void) or debit memos.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import Max

from accounts.models import Account, Contact, PaymentTerm
from billing.models import Product
from core.exceptions import ValidationError, django_validation_details
from core.money import ZERO, currency_exponent, round_money, to_decimal, validate_currency
from invoicing.exceptions import (
    InvoiceImmutable,
    InvoiceLineNotFound,
    InvoiceNotDraft,
    LineNotAdjustment,
)
from invoicing.locks import invoice_lock, invoice_lock_with_schedules
from invoicing.models import (
    BillingPeriodItem,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
)
from invoicing.services.release import (
    debit_memos_release,
    later_live_periods_check,
    period_items_release,
    processing_schedules_check,
)
from invoicing.services.taxing import invoice_lines_tax
from invoicing.totals import invoice_totals_set

_IMMUTABLE = {InvoiceStatus.POSTED, InvoiceStatus.VOID_IN_PROGRESS, InvoiceStatus.VOIDED}


class _Keep:
    """Sentinel: leave the field as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()
_T = TypeVar("_T")


def _refuse_unless_draft(invoice: Invoice, *, action: str) -> None:
    if invoice.status in _IMMUTABLE:
        raise InvoiceImmutable(
            f"Invoice {invoice} is {invoice.get_status_display().lower()}; a posted invoice "
            f"cannot be {action}. Correct it with a credit memo (void it) or a debit memo.",
            details={"invoice": invoice.pk, "status": invoice.status},
        )
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvoiceNotDraft(
            f"Invoice {invoice} is {invoice.get_status_display().lower()}; only a draft "
            f"invoice can be {action}.",
            details={"invoice": invoice.pk, "status": invoice.status},
        )


def _lock_invoice(invoice_id: int) -> Invoice:
    return invoice_lock(invoice_id, related=("payment_term",))


def _full_clean(obj: models.Model, **kwargs: Any) -> None:
    try:
        obj.full_clean(**kwargs)
    except DjangoValidationError as exc:
        raise ValidationError(django_validation_details(exc))


def draft_totals_refresh(invoice: Invoice) -> None:
    """Re-estimate every line's tax and recompute the totals of a (locked) draft."""
    InvoiceLineTax.objects.filter(line__invoice=invoice).delete()
    lines = list(invoice.lines.order_by("sort_order", "id"))
    for line in lines:
        line.tax_amount = ZERO
    invoice_lines_tax([(invoice, lines)], estimate=True)
    InvoiceLine.objects.bulk_update(lines, ["tax_amount"], batch_size=2000)
    invoice_totals_set(invoice, lines)
    invoice.save(
        update_fields=[
            "total_charges",
            "total_adjustments",
            "total_tax",
            "total",
            "balance",
            "updated_at",
        ]
    )


# --- header ---------------------------------------------------------------------------------


def invoice_update(
    *,
    invoice_id: int,
    invoice_date: dt.date = KEEP,
    due_date: dt.date | None = KEEP,
    description: str = KEEP,
    bill_to_id: int | None = KEEP,
) -> Invoice:
    """Change a draft's header. A new invoice date without a due date recomputes the due date
    from the invoice's payment term. Tax is re-estimated (rates depend on the date)."""
    with transaction.atomic(durable=True):
        invoice = _lock_invoice(invoice_id)
        _refuse_unless_draft(invoice, action="changed")
        fields = []
        if invoice_date is not KEEP and invoice_date != invoice.invoice_date:
            invoice.invoice_date = invoice_date
            fields.append("invoice_date")
            if due_date is KEEP:
                term = invoice.payment_term
                invoice.due_date = term.due_date(invoice_date) if term else invoice_date
                fields.append("due_date")
        if due_date is not KEEP:
            invoice.due_date = due_date
            fields.append("due_date")
        if description is not KEEP:
            invoice.description = description or ""
            fields.append("description")
        if bill_to_id is not KEEP:
            if (
                bill_to_id is not None
                and not Contact.objects.filter(
                    pk=bill_to_id, account_id=invoice.account_id
                ).exists()
            ):
                raise ValidationError(
                    {
                        "bill_to": f"Contact {bill_to_id} is not a contact of account "
                        f"{invoice.account_id}; choose one of the account's contacts."
                    }
                )
            invoice.bill_to_id = bill_to_id
            fields.append("bill_to")
        if invoice.due_date is not None and invoice.due_date < invoice.invoice_date:
            raise ValidationError({"due_date": "The due date cannot be before the invoice date."})
        if fields:
            _full_clean(invoice, exclude=["number", "unique_identifier"])
            invoice.save(update_fields=sorted(set(fields)) + ["updated_at"])
            if "invoice_date" in fields:
                draft_totals_refresh(invoice)
    invoice.refresh_from_db()
    return invoice


# --- adjustment lines -------------------------------------------------------------------------


def _line_values(
    invoice: Invoice,
    *,
    name: str,
    quantity: Any,
    unit_price: Any,
    description: str,
    taxable: bool,
    tax_code: str,
    product_id: int | None,
    period_start: dt.date | None,
    period_end: dt.date | None,
) -> dict:
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = "Give the adjustment a name, e.g. 'Goodwill credit'."
    try:
        qty = to_decimal(quantity)
        if not qty.is_finite() or qty == 0:
            errors["quantity"] = "The quantity must be a non-zero number."
    except (InvalidOperation, TypeError, ValueError):
        errors["quantity"] = "The quantity must be a number, e.g. '1'."
        qty = Decimal(1)
    try:
        price = to_decimal(unit_price)
        if not price.is_finite():
            raise InvalidOperation
    except (InvalidOperation, TypeError, ValueError):
        errors["unit_price"] = "The unit price must be a number, e.g. '-25.00' for a credit."
        price = ZERO
    if product_id is not None and not Product.objects.filter(pk=product_id).exists():
        errors["product"] = f"Product {product_id} does not exist."
    if period_start and period_end and period_end < period_start:
        errors["period_end"] = "The period cannot end before it starts."
    if errors:
        raise ValidationError(errors)
    amount = round_money(qty * price, invoice.currency)
    if abs(amount) >= Decimal(10) ** (15 - currency_exponent(invoice.currency)):
        raise ValidationError({"unit_price": "The amount is too large."})
    return {
        "name": name.strip(),
        "description": description or "",
        "quantity": qty,
        "unit_price": price,
        "amount": amount,
        "taxable": taxable,
        "tax_code": tax_code or "",
        "product_id": product_id,
        "period_start": period_start,
        "period_end": period_end,
    }


def invoice_adjustment_add(
    *,
    invoice_id: int,
    name: str,
    unit_price: Any,
    quantity: Any = "1",
    description: str = "",
    taxable: bool = True,
    tax_code: str = "",
    product_id: int | None = None,
    period_start: dt.date | None = None,
    period_end: dt.date | None = None,
) -> InvoiceLine:
    """Add a manual adjustment line (amount = quantity × unit price, rounded to the currency;
    a negative unit price is a credit). Tax and totals are recomputed."""
    with transaction.atomic(durable=True):
        invoice = _lock_invoice(invoice_id)
        _refuse_unless_draft(invoice, action="changed")
        values = _line_values(
            invoice,
            name=name,
            quantity=quantity,
            unit_price=unit_price,
            description=description,
            taxable=taxable,
            tax_code=tax_code,
            product_id=product_id,
            period_start=period_start,
            period_end=period_end,
        )
        last = invoice.lines.aggregate(m=Max("sort_order"))["m"] or 0
        line = InvoiceLine(
            invoice=invoice, type=InvoiceLine.Type.ADJUSTMENT, sort_order=last + 1, **values
        )
        if line.product_id:
            line.unit_id = Product.objects.values_list("unit_id", flat=True).get(pk=line.product_id)
        _full_clean(line)
        line.save()
        draft_totals_refresh(invoice)
    line.refresh_from_db()
    return line


def _adjustment_of(invoice: Invoice, line_id: int) -> InvoiceLine:
    line = invoice.lines.filter(pk=line_id).first()
    if line is None:
        raise InvoiceLineNotFound(
            f"Invoice {invoice} has no line {line_id}.",
            details={"invoice": invoice.pk, "line": line_id},
        )
    if line.type != InvoiceLine.Type.ADJUSTMENT:
        raise LineNotAdjustment(
            f"Line '{line.name}' of invoice {invoice} was billed from a billing schedule; only "
            "manual adjustment lines can be changed or removed. To bill the schedule "
            "differently, delete the draft and generate again, or add an adjustment line.",
            details={"invoice": invoice.pk, "line": line.pk, "type": line.type},
        )
    return line


def invoice_adjustment_update(
    *,
    invoice_id: int,
    line_id: int,
    name: str = KEEP,
    unit_price: Any = KEEP,
    quantity: Any = KEEP,
    description: str = KEEP,
    taxable: bool = KEEP,
    tax_code: str = KEEP,
) -> InvoiceLine:
    """Change a manual adjustment line of a draft; tax and totals are recomputed."""
    with transaction.atomic(durable=True):
        invoice = _lock_invoice(invoice_id)
        _refuse_unless_draft(invoice, action="changed")
        line = _adjustment_of(invoice, line_id)

        def pick(value: _T, current: _T) -> _T:
            return current if value is KEEP else value

        values = _line_values(
            invoice,
            name=pick(name, line.name),
            quantity=pick(quantity, line.quantity),
            unit_price=pick(unit_price, line.unit_price),
            description=pick(description, line.description),
            taxable=pick(taxable, line.taxable),
            tax_code=pick(tax_code, line.tax_code),
            product_id=line.product_id,
            period_start=line.period_start,
            period_end=line.period_end,
        )
        for field, value in values.items():
            setattr(line, field, value)
        _full_clean(line)
        line.save()
        draft_totals_refresh(invoice)
    line.refresh_from_db()
    return line


def invoice_adjustment_remove(*, invoice_id: int, line_id: int) -> Invoice:
    """Remove a manual adjustment line of a draft; tax and totals are recomputed."""
    with transaction.atomic(durable=True):
        invoice = _lock_invoice(invoice_id)
        _refuse_unless_draft(invoice, action="changed")
        line = _adjustment_of(invoice, line_id)
        line.delete()
        draft_totals_refresh(invoice)
    invoice.refresh_from_db()
    return invoice


# --- deletion -----------------------------------------------------------------------------


def invoice_draft_delete(*, invoice_id: int) -> None:
    """Delete a draft invoice and release what it billed: its period items are deleted, its
    schedules roll back over those periods (next dates, billed and pending amounts, status)
    and its debit memos are due again, so the next generation bills them again.

    Refused for a posted invoice (`invoice_immutable`: void it instead), for other statuses
    (`invoice_not_draft`), and when a schedule on it has a later period on another live
    invoice (`invoice_not_latest`: delete or void that one first).
    """
    with transaction.atomic(durable=True):
        locked = invoice_lock_with_schedules(invoice_id)
        invoice = locked.invoice
        _refuse_unless_draft(invoice, action="deleted")
        items = list(BillingPeriodItem.objects.filter(invoice=invoice).order_by("id"))
        processing_schedules_check(invoice, locked.schedules.values())
        later_live_periods_check(invoice, items)
        period_items_release(items, locked.schedules, voided=False)
        debit_memos_release(invoice)
        invoice.delete()


# --- drafts made by hand, line wording, addresses -------------------------------------------


def invoice_draft_create(
    *,
    account_id: int,
    invoice_date: dt.date,
    currency: str = "",
    legal_entity_id: int | None = None,
    bill_to_id: int | None = None,
    payment_term_id: int | None = None,
    saved_payment_method_id: int | None = None,
    reference_order_id: int | None = None,
    target_date: dt.date | None = None,
    tax_treatment: str = "standard",
    source: str = Invoice.Source.GENERATED,
    description: str = "",
) -> Invoice:
    """An empty draft invoice made by hand (staff then add adjustment lines to it). Currency
    and seller default to the account's; the due date follows the payment term."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise ValidationError({"account": f"Account {account_id} does not exist."})
    term = PaymentTerm.objects.filter(pk=payment_term_id).first() if payment_term_id else None
    if payment_term_id and term is None:
        raise ValidationError({"payment_term": f"Payment term {payment_term_id} does not exist."})
    invoice = Invoice(
        status=InvoiceStatus.DRAFT,
        account=account,
        currency=validate_currency(currency or account.currency),
        legal_entity_id=legal_entity_id or account.legal_entity_id,
        bill_to_id=bill_to_id,
        payment_term=term,
        saved_payment_method_id=saved_payment_method_id,
        reference_order_id=reference_order_id,
        invoice_date=invoice_date,
        due_date=term.due_date(invoice_date) if term else invoice_date,
        target_date=target_date,
        tax_treatment=tax_treatment or "standard",
        source=source,
        description=description or "",
    )
    errors: dict[str, list[str] | str] = {}
    if bill_to_id is not None and not account.contacts.filter(pk=bill_to_id).exists():
        errors["bill_to"] = f"Contact {bill_to_id} is not a contact of account {account_id}."
    if (
        saved_payment_method_id is not None
        and not account.payment_methods.filter(pk=saved_payment_method_id).exists()
    ):
        errors["saved_payment_method"] = (
            f"Saved payment method {saved_payment_method_id} is not one of account "
            f"{account_id}'s payment methods."
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(durable=True):
        _full_clean(invoice, exclude=["number", "unique_identifier"])
        invoice.save()
    return invoice


def invoice_line_relabel(
    *,
    invoice_id: int,
    line_id: int,
    name: str = KEEP,
    description: str = KEEP,
    sort_order: int = KEEP,
) -> InvoiceLine:
    """Reword or reorder any line of a draft (amounts, and so tax and totals, are unchanged;
    an adjustment's amounts change through invoice_adjustment_update)."""
    with transaction.atomic(durable=True):
        invoice = _lock_invoice(invoice_id)
        _refuse_unless_draft(invoice, action="changed")
        line = invoice.lines.filter(pk=line_id).first()
        if line is None:
            raise InvoiceLineNotFound(
                f"Invoice {invoice} has no line {line_id}.",
                details={"invoice": invoice.pk, "line": line_id},
            )
        fields = []
        if name is not KEEP:
            if not (name or "").strip():
                raise ValidationError({"name": "A line needs a name."})
            line.name = name.strip()
            fields.append("name")
        if description is not KEEP:
            line.description = description or ""
            fields.append("description")
        if sort_order is not KEEP:
            line.sort_order = sort_order
            fields.append("sort_order")
        if fields:
            _full_clean(line)
            line.save(update_fields=[*fields, "updated_at"])
    return line


def invoice_address_set(
    *,
    invoice_id: int,
    kind: str,
    name: str = "",
    line1: str = "",
    line2: str = "",
    city: str = "",
    region: str = "",
    postal_code: str = "",
    country: str = "",
) -> InvoiceAddress:
    """Set a draft's billing or shipping address (one of each). The billing address is where
    tax is due, so tax and totals are re-estimated."""
    with transaction.atomic(durable=True):
        invoice = _lock_invoice(invoice_id)
        _refuse_unless_draft(invoice, action="changed")
        address = invoice.addresses.filter(kind=kind).first() or InvoiceAddress(
            invoice=invoice, kind=kind
        )
        values = {
            "name": name,
            "line1": line1,
            "line2": line2,
            "city": city,
            "region": region,
            "postal_code": postal_code,
            "country": (country or "").upper(),
        }
        for field, value in values.items():
            setattr(address, field, value or "")
        _full_clean(address)
        address.save()
        draft_totals_refresh(invoice)
    return address


def invoice_address_remove(*, invoice_id: int, kind: str) -> Invoice:
    """Remove a draft's billing or shipping address; tax and totals are re-estimated."""
    with transaction.atomic(durable=True):
        invoice = _lock_invoice(invoice_id)
        _refuse_unless_draft(invoice, action="changed")
        invoice.addresses.filter(kind=kind).delete()
        draft_totals_refresh(invoice)
    invoice.refresh_from_db()
    return invoice
