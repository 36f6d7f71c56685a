"""Applying the tax engine to invoice lines: estimated for drafts, actual at posting.

Lines of many invoices that share a tax context (seller, country, region, currency,
exemption, date) go to the engine in one call, so a chunk of thousands of invoices costs a
handful of engine calls, and one bulk insert of InvoiceLineTax rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from accounts.models import Account
from core.money import ZERO
from invoicing.models import Invoice, InvoiceAddress, InvoiceLine, InvoiceLineTax
from invoicing.tax import TaxableLine, TaxContext, get_tax_engine


def _locations(invoices: Sequence[Invoice]) -> dict[int, tuple[str, str]]:
    """(country, region) per invoice: its billing address snapshot."""
    out = {}
    missing = []
    for invoice in invoices:
        location = getattr(invoice, "_tax_location", None)
        if location is None:
            missing.append(invoice.pk)
        else:
            out[invoice.pk] = location
    if missing:
        for row in InvoiceAddress.objects.filter(
            invoice_id__in=missing, kind=InvoiceAddress.Kind.BILLING
        ).values("invoice_id", "country", "region"):
            out[row["invoice_id"]] = (row["country"], row["region"])
    return out


def invoice_lines_tax(
    invoice_lines: Sequence[tuple[Invoice, Sequence[InvoiceLine]]],
    *,
    estimate: bool,
    save: bool = True,
) -> list[InvoiceLineTax]:
    """Compute tax for the lines, set each line's tax_amount and (with `save`, for saved
    lines) insert the tax rows. Without `save` nothing is written (previews).

    The caller deletes earlier tax rows first when it recomputes (see posting).
    """
    if not invoice_lines:
        return []
    invoices = [inv for inv, _ in invoice_lines]
    exempt = dict(
        Account.objects.filter(pk__in={i.account_id for i in invoices}).values_list(
            "pk", "tax_exempt"
        )
    )
    locations = _locations(invoices)
    by_context: dict[TaxContext, list[InvoiceLine]] = defaultdict(list)
    for invoice, lines in invoice_lines:
        country, region = locations.get(invoice.pk, ("", ""))
        context = TaxContext(
            legal_entity_id=invoice.legal_entity_id,
            currency=invoice.currency,
            invoice_date=invoice.invoice_date,
            country=country,
            region=region,
            tax_exempt=exempt.get(invoice.account_id, False),
        )
        by_context[context].extend(lines)

    engine = get_tax_engine()
    status = InvoiceLineTax.Status.ESTIMATED if estimate else InvoiceLineTax.Status.POSTED
    rows: list[InvoiceLineTax] = []
    for context, lines in by_context.items():
        results = engine.calculate(
            lines=[
                TaxableLine(
                    key=index,
                    amount=line.amount,
                    tax_code=line.tax_code,
                    taxable=line.taxable,
                    quantity=line.quantity,
                )
                for index, line in enumerate(lines)
            ],
            context=context,
            estimate=estimate,
        )
        for index, line in enumerate(lines):
            taxes = results.get(index, [])
            line.tax_amount = sum((t.amount for t in taxes), ZERO)
            line.computed_taxes = taxes
            rows.extend(
                InvoiceLineTax(
                    line=line,
                    name=t.name,
                    code=t.code,
                    rate=t.rate,
                    kind=t.kind,
                    taxable_amount=t.taxable_amount,
                    amount=t.amount,
                    status=status,
                )
                for t in taxes
            )
    if save:
        InvoiceLineTax.objects.bulk_create(rows, batch_size=5000)
    return rows
