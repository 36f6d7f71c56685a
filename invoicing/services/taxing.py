"""Applying the tax engine to invoice lines: estimated for drafts, actual at posting.

`lines_tax` is the one place where lines meet the engine. Lines of many invoices that share
a tax context (seller, country, region, currency, exemption, date) go to the engine in one
call, so a chunk of thousands of invoices costs a handful of engine calls; an engine whose
result depends only on a line's own fields (`TaxEngine.deterministic`) sees each distinct
line once. Generation (both writers), posting, draft edits, ingestion and preview all
compute tax through it.

The tax location of an invoice is its billing address snapshot: callers that hold the
address of a document not yet saved pass it (`locations`); otherwise the saved snapshot is
read.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from accounts.models import Account
from core.money import ZERO
from invoicing.models import Invoice, InvoiceAddress, InvoiceLine, InvoiceLineTax
from invoicing.tax import TaxableLine, TaxContext, get_tax_engine

Location = tuple[str, str]  # (country, region)
NO_LOCATION: Location = ("", "")


def address_location(address: Any) -> Location:
    """(country, region) of an address (a model or a snapshot); none without an address."""
    return (address.country or "", address.region or "") if address is not None else NO_LOCATION


def tax_context(
    *,
    legal_entity_id: int | None,
    currency: str,
    invoice_date: dt.date | None,
    location: Location,
    tax_exempt: bool,
) -> TaxContext:
    country, region = location
    return TaxContext(
        legal_entity_id=legal_entity_id,
        currency=currency,
        invoice_date=invoice_date,
        country=country,
        region=region,
        tax_exempt=tax_exempt,
    )


def accounts_tax_exempt(account_ids: set[int]) -> dict[int, bool]:
    return dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "tax_exempt"))


def lines_tax(groups: Sequence[tuple[TaxContext, Sequence[Any]]], *, estimate: bool) -> None:
    """Compute tax for lines (anything with amount, tax_code, taxable and quantity), grouped
    by tax context: set each line's `tax_amount` and `computed_taxes` (the engine's
    TaxResults). Writes nothing."""
    by_context: dict[TaxContext, list[Any]] = defaultdict(list)
    for context, lines in groups:
        by_context[context].extend(lines)
    engine = get_tax_engine()
    for context, lines in by_context.items():
        inputs = [(line.amount, line.tax_code, line.taxable, line.quantity) for line in lines]
        if engine.deterministic:
            distinct = list(dict.fromkeys(inputs))
            index_of = {value: index for index, value in enumerate(distinct)}
            keys = [index_of[value] for value in inputs]
        else:
            distinct, keys = inputs, list(range(len(inputs)))
        results = engine.calculate(
            lines=[
                TaxableLine(key=index, amount=a, tax_code=c, taxable=t, quantity=q)
                for index, (a, c, t, q) in enumerate(distinct)
            ],
            context=context,
            estimate=estimate,
        )
        for line, key in zip(lines, keys, strict=True):
            taxes = results.get(key, [])
            line.computed_taxes = taxes
            line.tax_amount = sum((t.amount for t in taxes), ZERO)


def tax_rows(line: Any, *, estimate: bool) -> list[InvoiceLineTax]:
    """The InvoiceLineTax rows of a model line whose tax lines_tax() computed."""
    status = InvoiceLineTax.Status.ESTIMATED if estimate else InvoiceLineTax.Status.POSTED
    return [
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
        for t in line.computed_taxes
    ]


def _saved_locations(invoices: Sequence[Invoice]) -> dict[int, Location]:
    """(country, region) per saved invoice: its billing address snapshot."""
    return {
        row["invoice_id"]: (row["country"], row["region"])
        for row in InvoiceAddress.objects.filter(
            invoice_id__in=[i.pk for i in invoices], kind=InvoiceAddress.Kind.BILLING
        ).values("invoice_id", "country", "region")
    }


def invoice_lines_tax(
    invoice_lines: Sequence[tuple[Invoice, Sequence[InvoiceLine]]],
    *,
    estimate: bool,
    save: bool = True,
    locations: Sequence[Location] | None = None,
) -> list[InvoiceLineTax]:
    """Compute tax for model lines, set each line's tax_amount and (with `save`, for saved
    lines) insert the tax rows. Without `save` nothing is written (previews).

    `locations`: each invoice's (country, region), in the order of `invoice_lines`, for
    invoices whose billing address snapshot is not saved; without it the snapshots are read.
    The caller deletes earlier tax rows first when it recomputes (see posting).
    """
    if not invoice_lines:
        return []
    invoices = [inv for inv, _ in invoice_lines]
    exempt = accounts_tax_exempt({i.account_id for i in invoices})
    if locations is None:
        saved = _saved_locations(invoices)
        locations = [saved.get(i.pk, NO_LOCATION) for i in invoices]
    lines_tax(
        [
            (
                tax_context(
                    legal_entity_id=invoice.legal_entity_id,
                    currency=invoice.currency,
                    invoice_date=invoice.invoice_date,
                    location=location,
                    tax_exempt=exempt.get(invoice.account_id, False),
                ),
                lines,
            )
            for (invoice, lines), location in zip(invoice_lines, locations, strict=True)
        ],
        estimate=estimate,
    )
    rows = [
        row
        for _, lines in invoice_lines
        for line in lines
        for row in tax_rows(line, estimate=estimate)
    ]
    if save:
        InvoiceLineTax.objects.bulk_create(rows, batch_size=5000)
    return rows
