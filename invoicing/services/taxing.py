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

from accounts.models import Account, LegalEntity
from billing.models import Product, SupplyKind
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
    seller_country: str = "",
    buyer_vat_id: str = "",
) -> TaxContext:
    country, region = location
    return TaxContext(
        legal_entity_id=legal_entity_id,
        currency=currency,
        invoice_date=invoice_date,
        country=country,
        region=region,
        tax_exempt=tax_exempt,
        seller_country=seller_country,
        buyer_vat_id=buyer_vat_id,
    )


def invoice_tax_contexts(
    invoices: Sequence[Any], locations: Sequence[Location]
) -> list[TaxContext]:
    """The tax context of each invoice (anything with account_id, legal_entity_id, currency
    and invoice_date), given its (country, region): the account's exemption and VAT id and
    the seller's country, read in two queries for all of them."""
    accounts = {
        pk: (exempt, vat_id)
        for pk, exempt, vat_id in Account.objects.filter(
            pk__in={i.account_id for i in invoices}
        ).values_list("pk", "tax_exempt", "vat_id")
    }
    entity_ids = {i.legal_entity_id for i in invoices if i.legal_entity_id}
    seller_countries = dict(
        LegalEntity.objects.filter(pk__in=entity_ids).values_list("pk", "address__country")
    )
    contexts = []
    for invoice, location in zip(invoices, locations, strict=True):
        exempt, vat_id = accounts.get(invoice.account_id, (False, ""))
        contexts.append(
            tax_context(
                legal_entity_id=invoice.legal_entity_id,
                currency=invoice.currency,
                invoice_date=invoice.invoice_date,
                location=location,
                tax_exempt=exempt,
                seller_country=seller_countries.get(invoice.legal_entity_id) or "",
                buyer_vat_id=vat_id or "",
            )
        )
    return contexts


def _goods_products(groups: Sequence[tuple[TaxContext, Sequence[Any]]]) -> set[int]:
    """The products sold as goods among the lines of cross-border contexts (one query, and
    none when no context is cross-border): goods and services differ only there."""
    ids = {
        line.product_id
        for context, lines in groups
        if context.cross_border
        for line in lines
        if getattr(line, "product_id", None)
    }
    if not ids:
        return set()
    return set(
        Product.objects.filter(pk__in=ids, supply_kind=SupplyKind.GOODS).values_list(
            "pk", flat=True
        )
    )


def lines_tax(groups: Sequence[tuple[TaxContext, Sequence[Any]]], *, estimate: bool) -> None:
    """Compute tax for lines (anything with amount, tax_code, taxable and quantity), grouped
    by tax context: set each line's `tax_amount` and `computed_taxes` (the engine's
    TaxResults). Writes nothing."""
    by_context: dict[TaxContext, list[Any]] = defaultdict(list)
    for context, lines in groups:
        by_context[context].extend(lines)
    goods = _goods_products(groups)
    engine = get_tax_engine()
    for context, lines in by_context.items():
        inputs = [
            (
                line.amount,
                line.tax_code,
                line.taxable,
                line.quantity,
                bool(goods) and getattr(line, "product_id", None) in goods,
            )
            for line in lines
        ]
        if engine.deterministic:
            distinct = list(dict.fromkeys(inputs))
            index_of = {value: index for index, value in enumerate(distinct)}
            keys = [index_of[value] for value in inputs]
        else:
            distinct, keys = inputs, list(range(len(inputs)))
        results = engine.calculate(
            lines=[
                TaxableLine(key=index, amount=a, tax_code=c, taxable=t, quantity=q, goods=g)
                for index, (a, c, t, q, g) in enumerate(distinct)
            ],
            context=context,
            estimate=estimate,
        )
        for line, key in zip(lines, keys, strict=True):
            taxes = results.get(key, [])
            line.computed_taxes = taxes
            line.tax_amount = sum((t.amount for t in taxes), ZERO)


def tax_vat_fields(tax: Any) -> dict[str, str]:
    """The VAT category and exemption reason of a tax (a TaxResult or a tax row), for the
    rows copied from it (credit memo taxes copy the credited line's)."""
    return {
        "vat_category": tax.vat_category,
        "exemption_reason_code": tax.exemption_reason_code,
        "exemption_reason": tax.exemption_reason,
    }


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
            **tax_vat_fields(t),
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
    if locations is None:
        saved = _saved_locations(invoices)
        locations = [saved.get(i.pk, NO_LOCATION) for i in invoices]
    contexts = invoice_tax_contexts(invoices, locations)
    lines_tax(
        [(context, lines) for context, (_, lines) in zip(contexts, invoice_lines, strict=True)],
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
