"""Document totals: the one place where invoice and memo totals are summed from their lines.

Line amounts and line tax are already rounded (core/money.py, per line), so totals are plain
sums and never rounded again.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from core.money import ZERO
from invoicing.models import InvoiceLine

INVOICE_TOTAL_FIELDS = ("total_charges", "total_adjustments", "total_tax", "total", "balance")


def invoice_totals(lines: Iterable[tuple[str, Decimal, Decimal]]) -> dict[str, Decimal]:
    """Totals from rounded lines given as (line type, amount, tax), keyed and ordered as
    INVOICE_TOTAL_FIELDS. The balance is the total: nothing is paid on a new invoice."""
    charges = adjustments = tax = ZERO
    for kind, amount, line_tax in lines:
        if kind == InvoiceLine.Type.ADJUSTMENT:
            adjustments += amount
        else:
            charges += amount
        tax += line_tax
    total = charges + adjustments + tax
    return dict(zip(INVOICE_TOTAL_FIELDS, (charges, adjustments, tax, total, total), strict=True))


def invoice_totals_set(invoice: Any, lines: Iterable[Any], *, paid: Decimal = ZERO) -> None:
    """Set an invoice's totals from its lines (anything with type, amount and tax_amount);
    `paid` is what was already paid or credited, kept out of the balance."""
    totals = invoice_totals((line.type, line.amount, line.tax_amount) for line in lines)
    totals["balance"] = totals["total"] - paid
    for name, value in totals.items():
        setattr(invoice, name, value)


def credit_memo_totals_set(memo: Any, lines: Iterable[Any]) -> None:
    """A credit memo's charges, tax and total from its lines; its balance is the total."""
    lines = list(lines)
    memo.total_charges = sum((line.amount for line in lines), ZERO)
    memo.total_tax = sum((line.tax_amount for line in lines), ZERO)
    memo.total = memo.total_charges + memo.total_tax
    memo.balance = memo.total


def debit_memo_total(lines: Iterable[Any]) -> Decimal:
    """A debit memo's total: the sum of its (rounded) line amounts."""
    return sum((line.amount for line in lines), ZERO)
