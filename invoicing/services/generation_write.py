"""Invoice generation, step 2 of 2: the writers. They persist a plan
(invoicing/services/generation_plan.py) and decide nothing about it.

- `write_models`: the ORM writer, for any plan, on any database: bulk inserts of model
  instances, debit memo lines included.
- `write_rows`: the COPY writer (PostgreSQL), for the plain recurring keys that make up most
  of a large run (docs/adr/0004-lean-generation-path.md): ids reserved up front and one COPY
  per table, from plain tuples.

Both post through invoicing/services/posting.py (numbering last, so the sequence policy row
is locked for the shortest time) and leave the schedules' advance to the caller.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import make_dataclass
from operator import attrgetter
from typing import Any

from accounts.models import Account, Address, PaymentTerm
from billing.models import Product
from core.db import copy_insert, ids_allocate
from invoicing.locks import BillableSchedule
from invoicing.models import (
    BillingPeriodItem,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
)
from invoicing.services.generation_plan import (
    INVOICE_HEADER_FIELDS,
    GenerationOptions,
    GenerationPlan,
    PlanInvoice,
    PlanLine,
)
from invoicing.services.posting import (
    PostingFailure,
    invoices_number,
    invoices_post_locked,
    invoices_posting_record,
)
from invoicing.services.taxing import tax_rows
from invoicing.totals import INVOICE_TOTAL_FIELDS

# --------------------------------------------------------------------------------------------
# Schedules read as rows


class _Named:
    """What a plan reads of a related row the COPY writer does not load as a model."""

    __slots__ = ("name", "taxable", "tax_code")

    def __init__(self, name: str, taxable: bool = True, tax_code: str = "") -> None:
        self.name, self.taxable, self.tax_code = name, taxable, tax_code


class _RowDefaults:
    """What a ScheduleRow never has: a row is never a bundle member nor an amendment, and
    bills no usage (so no unit is read: it serves only to merge lines and round usage)."""

    __slots__ = ()
    parent_schedule = None
    original_schedule = None
    included_quantity = None
    overage_unit_price = None
    unit = None

    @property
    def pk(self) -> int:
        return self.id  # type: ignore[attr-defined]  # a field of the dataclass below


# A locked schedule as the COPY writer plans it: its columns (invoicing/locks.py) and the
# few related rows a plan reads (product, account, billing address, payment term), shared
# between rows. It has the attributes of a BillingSchedule that planning and the schedule
# rules use. A slotted dataclass: its generated __init__ sets every attribute at C speed.
ScheduleRow = make_dataclass(
    "ScheduleRow",
    [*BillableSchedule._fields, "product", "account", "billing_address", "payment_term"],
    bases=(_RowDefaults,),
    slots=True,
    eq=False,
)


class _Related:
    """The few distinct rows a chunk's schedules point to, one query each."""

    def __init__(self, rows: Sequence[BillableSchedule]) -> None:
        self.terms = PaymentTerm.objects.in_bulk({r.payment_term_id for r in rows} - {None})
        self.addresses = Address.objects.in_bulk({r.billing_address_id for r in rows} - {None})
        self.accounts = {
            pk: _Named(name)
            for pk, name in Account.objects.filter(pk__in={r.account_id for r in rows}).values_list(
                "pk", "name"
            )
        }
        self.products = {
            pk: _Named(name, taxable, tax_code)
            for pk, name, taxable, tax_code in Product.objects.filter(
                pk__in={r.product_id for r in rows}
            ).values_list("pk", "name", "taxable", "tax_code")
        }


def schedule_rows(rows: Sequence[BillableSchedule]) -> list[Any]:
    """ScheduleRows of locked rows, their related rows read once per chunk."""
    related = _Related(rows)
    products, accounts = related.products, related.accounts
    addresses, terms = related.addresses, related.terms
    return [
        ScheduleRow(
            *row,
            products[row.product_id],
            accounts[row.account_id],
            addresses.get(row.billing_address_id),
            terms.get(row.payment_term_id),
        )
        for row in rows
    ]


# --------------------------------------------------------------------------------------------
# The ORM writer


def write_models(
    plan: GenerationPlan, *, options: GenerationOptions
) -> tuple[list[int], list[PostingFailure]]:
    """Insert the plan's invoices, lines (parents before children), taxes, addresses and
    period items, each kind in one bulk statement (lines: one per bundle depth); post them
    with posted output. Returns (invoice ids, posting failures)."""
    if not plan.invoices:
        _items_create(plan, {}, options=options)
        return [], []
    invoices = [
        Invoice(
            status=InvoiceStatus.DRAFT,
            **plan_invoice.header,
            **{f: getattr(plan_invoice, f) for f in INVOICE_TOTAL_FIELDS},
        )
        for plan_invoice in plan.invoices
    ]
    Invoice.objects.bulk_create(invoices)
    models: dict[int, InvoiceLine] = {}  # id(plan line) → its model
    by_depth: dict[int, list[InvoiceLine]] = defaultdict(list)
    for invoice, plan_invoice in zip(invoices, plan.invoices, strict=True):
        plan_invoice.id = invoice.pk
        for line in plan_invoice.lines:
            model = line.model or line_model(line)
            model.invoice = invoice
            model.sort_order = line.sort_order
            model.tax_amount = line.tax_amount
            model.computed_taxes = line.computed_taxes
            models[id(line)] = model
            by_depth[line.depth if line.model is None else 0].append(model)
    for depth in sorted(by_depth):
        if depth:
            for plan_invoice in plan.invoices:
                for line in plan_invoice.lines:
                    if line.depth == depth and line.parent is not None:
                        models[id(line)].parent_line_id = models[id(line.parent)].pk
        InvoiceLine.objects.bulk_create(by_depth[depth])
    InvoiceLineTax.objects.bulk_create(
        [row for m in models.values() for row in tax_rows(m, estimate=not options.post)],
        batch_size=5000,
    )
    InvoiceAddress.objects.bulk_create(
        InvoiceAddress(
            invoice=invoice,
            kind=InvoiceAddress.Kind.BILLING,
            name=plan_invoice.account_name,
            **plan_invoice.address.as_dict(),
        )
        for invoice, plan_invoice in zip(invoices, plan.invoices, strict=True)
        if plan_invoice.address is not None
    )
    _items_create(plan, models, options=options)
    failures: list[PostingFailure] = []
    if options.post:
        failures = invoices_post_locked(
            invoices, posted_by=options.posted_by, tax_done=True, keep_drafts_on_error=True
        )
    return [i.pk for i in invoices], failures


_LINE_MODEL_FIELDS = (
    "type",
    "product_id",
    "name",
    "description",
    "period_start",
    "period_end",
    "quantity",
    "unit_id",
    "unit_price",
    "amount",
    "taxable",
    "tax_code",
    "billing_schedule_id",
    "schedule_group_id",
    "is_usage",
    "consumed_quantity",
    "included_quantity",
    "overage_quantity",
    "has_multiple_items",
    "bundle_total",
)


def line_model(line: PlanLine) -> InvoiceLine:
    return InvoiceLine(**{f: getattr(line, f) for f in _LINE_MODEL_FIELDS})


def _items_create(
    plan: GenerationPlan, models: dict[int, InvoiceLine], *, options: GenerationOptions
) -> None:
    BillingPeriodItem.objects.bulk_create(
        (
            BillingPeriodItem(
                schedule_id=it.schedule.id,
                group_id=it.schedule.group_id,
                period_start=it.period_start,
                period_end=it.period_end,
                amount=it.amount,
                quantity=it.quantity,
                unit_price=it.unit_price,
                proration=it.proration,
                usage_summary=it.usage_summary,
                consumed_quantity=it.consumed_quantity,
                included_quantity=it.included_quantity,
                overage_quantity=it.overage_quantity,
                invoice_status=BillingPeriodItem.InvoiceStatus.DRAFT,
                invoice_id=it.invoice.id if it.invoice is not None else None,
                invoice_line=models.get(id(it.line)) if it.line is not None else None,
                batch_run_id=options.batch_run_id or None,
            )
            for items in plan.billed.values()
            for it in items
        ),
        batch_size=5000,
    )


# --------------------------------------------------------------------------------------------
# The COPY writer

_LINE_FIELDS = ("id", "invoice_id", "sort_order", *_LINE_MODEL_FIELDS[:14], "tax_amount")
line_values = attrgetter(*_LINE_FIELDS[3:])
_TAX_FIELDS = (
    "line_id",
    "name",
    "code",
    "rate",
    "kind",
    "taxable_amount",
    "amount",
    "vat_category",
    "exemption_reason_code",
    "exemption_reason",
    "status",
)
_ITEM_FIELDS = (
    "schedule_id",
    "group_id",
    "period_start",
    "period_end",
    "amount",
    "quantity",
    "unit_price",
    "proration",
    "invoice_status",
    "invoice_id",
    "invoice_line_id",
    "batch_run_id",
)
_ADDRESS_FIELDS = ("invoice_id", "kind", "name", *Address.FIELDS)
_INVOICE_FIELDS = (
    "id",
    *INVOICE_HEADER_FIELDS,
    "status",
    "number",
    "posted_date",
    "posted_at",
    "posted_by",
    *INVOICE_TOTAL_FIELDS,
)


def write_rows(
    plan: GenerationPlan, *, options: GenerationOptions
) -> tuple[list[int], list[PostingFailure]]:
    """Write a plan of plain recurring lines (no bundle, no debit memo, no usage) with one
    COPY per table, ids reserved up front; number it last when posting (its period items are
    written posted, and set back to draft with the invoices whose numbering fails)."""
    invoices = plan.invoices
    ids = ids_allocate(Invoice, len(invoices))
    for invoice, invoice_id in zip(invoices, ids, strict=True):
        invoice.id = invoice_id
    line_ids = iter(ids_allocate(InvoiceLine, sum(len(i.lines) for i in invoices)))
    for invoice in invoices:
        for line in invoice.lines:
            line.id = next(line_ids)

    copy_insert(
        InvoiceLine,
        _LINE_FIELDS,
        (
            (line.id, invoice.id, line.sort_order, *line_values(line))
            for invoice in invoices
            for line in invoice.lines
        ),
    )
    tax_status = InvoiceLineTax.Status.POSTED if options.post else InvoiceLineTax.Status.ESTIMATED
    copy_insert(
        InvoiceLineTax,
        _TAX_FIELDS,
        (
            (
                line.id,
                t.name,
                t.code,
                t.rate,
                t.kind,
                t.taxable_amount,
                t.amount,
                t.vat_category,
                t.exemption_reason_code,
                t.exemption_reason,
                tax_status,
            )
            for invoice in invoices
            for line in invoice.lines
            for t in line.computed_taxes
        ),
    )
    copy_insert(
        InvoiceAddress,
        _ADDRESS_FIELDS,
        (
            (
                invoice.id,
                InvoiceAddress.Kind.BILLING,
                invoice.account_name,
                *(getattr(invoice.address, f) for f in Address.FIELDS),
            )
            for invoice in invoices
            if invoice.address is not None
        ),
    )
    posted = BillingPeriodItem.InvoiceStatus.POSTED
    draft = BillingPeriodItem.InvoiceStatus.DRAFT
    copy_insert(
        BillingPeriodItem,
        _ITEM_FIELDS,
        (
            (
                it.schedule.id,
                it.schedule.group_id,
                it.period_start,
                it.period_end,
                it.amount,
                it.quantity,
                it.unit_price,
                it.proration,
                posted if options.post and it.invoice is not None else draft,
                it.invoice.id if it.invoice is not None else None,
                it.line.id if it.line is not None else None,
                options.batch_run_id or None,
            )
            for items in plan.billed.values()
            for it in items
        ),
    )

    failures: list[PostingFailure] = []
    if options.post and invoices:
        _, failures = invoices_number(
            invoices, posted_by=options.posted_by, keep_drafts_on_error=True
        )
    copy_insert(Invoice, _INVOICE_FIELDS, (_invoice_row(invoice) for invoice in invoices))
    if options.post and ids:
        failed = {f.invoice_id for f in failures}
        invoices_posting_record(
            [pk for pk in ids if pk not in failed], failures, items_posted=True, fresh=True
        )
    return ids, failures


def _invoice_row(invoice: PlanInvoice) -> tuple[Any, ...]:
    return (
        invoice.id,
        *(invoice.header[f] for f in INVOICE_HEADER_FIELDS),
        invoice.status,
        invoice.number,
        invoice.posted_date,
        invoice.posted_at,
        invoice.posted_by,
        *(getattr(invoice, f) for f in INVOICE_TOTAL_FIELDS),
    )
