"""The lean path of invoice generation (docs/adr/0004-lean-generation-path.md).

Most schedules a billing run meets are plain recurring charges: an original schedule, alone
in its schedule group, that is neither a bundle parent nor a bundle child and bills no
usage. A grouping key made only of those, with no debit memo due and (when posting) exactly
one sequence policy for its seller and currency, is generated here from plain rows instead
of model instances: one locking query returns tuples, the periods, amounts, lines, taxes
and totals are computed with the same functions the general path uses (cached where they
are pure), and the rows are written with one COPY per table, ids reserved up front.

Everything else (bundles, amendments, cancellations, usage, debit memos, a numbering
problem to report) goes to the general path in invoicing/services/generation.py, in the same
transaction. tests/invoicing/test_generation_lean.py generates the same worlds through both
paths and compares every written row.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict, namedtuple
from collections.abc import Sequence
from decimal import Decimal
from functools import partial

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account, Address, PaymentTerm
from billing.choices import ChargeType, ScheduleCategory, ScheduleStatus, ZeroAmountHandling
from billing.models import BillingSchedule, Product
from billing.periods import period_price, periods_through
from billing.schedules import schedule_billable_end, schedule_cadence
from core.db import copy_insert, ids_allocate, values_update
from core.exceptions import DomainError
from core.money import ZERO, round_money
from invoicing import hooks
from invoicing.models import (
    BillingPeriodItem,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
    SequencePolicy,
)
from invoicing.services.generation import (
    INVOICE_HEADER_FIELDS,
    GenerationOptions,
    GenerationResult,
    PlannedKey,
    invoice_header_fields,
    invoice_totals,
    line_description,
    line_unit_price,
    schedule_next_bill,
)
from invoicing.services.numbering import sequence_numbers_take, sequence_policy_select
from invoicing.tax import TaxableLine, TaxContext, get_tax_engine

# The columns the lean path reads; attribute names as on BillingSchedule, so the shared
# schedule rules (schedule_billable_end, schedule_cadence) accept a row as a schedule.
_COLUMNS = (
    "id",
    "account_id",
    "bill_to_id",
    "currency",
    "payment_term_id",
    "legal_entity_id",
    "tax_treatment",
    "saved_payment_method_id",
    "order_id",
    "group_id",
    "product_id",
    "unit_id",
    "billing_address_id",
    "start_date",
    "end_date",
    "cancellation_date",
    "billing_frequency",
    "period_boundary",
    "billing_type",
    "bill_day_of_month",
    "next_charge_from_date",
    "quantity",
    "unit_price",
    "pricing_term",
    "category",
    "zero_amount_handling",
    "charge_type",
    "parent_schedule_id",
    "original_schedule_id",
    "billed_amount",
    "total_amount",
    "pending_amount",
)
Row = namedtuple("Row", (*_COLUMNS, "has_children"))

_LINE_FIELDS = (
    "id",
    "invoice_id",
    "sort_order",
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
    "tax_amount",
    "taxable",
    "tax_code",
    "billing_schedule_id",
    "schedule_group_id",
)
_TAX_FIELDS = ("line_id", "name", "code", "rate", "kind", "taxable_amount", "amount", "status")
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
    "total_charges",
    "total_adjustments",
    "total_tax",
    "total",
    "balance",
)


def enabled() -> bool:
    """COPY and reserved ids are PostgreSQL's; elsewhere (SQLite for `make run`) every key
    takes the general path."""
    return connection.vendor == "postgresql"


class _Line:
    __slots__ = ("row", "period", "amount", "unit_price", "proration", "id", "tax", "taxes")

    def __init__(self, row, period, amount, unit_price, proration):
        self.row, self.period, self.amount = row, period, amount
        self.unit_price, self.proration = unit_price, proration
        self.id = None
        self.tax = ZERO
        self.taxes = ()


class _Invoice:
    __slots__ = ("key", "lines", "id", "fields", "location", "address", "number")

    def __init__(self, key, lines):
        self.key, self.lines = key, lines
        self.id = self.fields = self.location = self.address = self.number = None


def generate(
    chunk: Sequence[PlannedKey], *, options: GenerationOptions
) -> tuple[GenerationResult, list[PlannedKey]]:
    """Generate the chunk's simple keys; return the result and the keys left to the general
    path. Runs inside the chunk's transaction."""
    result = GenerationResult(request_id=options.request_id)
    key_of = {sid: planned.key for planned in chunk for sid in planned.schedule_ids}
    rows = _lock(list(key_of), options=options)
    by_key: dict[tuple, list[Row]] = {}
    for row in rows:
        by_key.setdefault(key_of[row.id], []).append(row)
    simple = {key: rows for key, rows in by_key.items() if _is_simple(rows)}
    _drop_keys_with_debit_memos(simple, options=options)
    policies = _policies(simple, options=options)
    rest = [planned for planned in chunk if planned.key in by_key and planned.key not in simple]
    if simple:
        _generate_keys(simple, policies, options=options, result=result)
    return result, rest


def _lock(ids: list[int], *, options: GenerationOptions) -> list[Row]:
    """Lock the chunk's schedules in id order, re-checking eligibility (as the general path's
    lock does), and read the lean path's columns as tuples."""
    meta = BillingSchedule._meta
    q = connection.ops.quote_name
    table = q(meta.db_table)
    columns = ", ".join(f"s.{q(meta.get_field(name).column)}" for name in _COLUMNS)
    parent = q(meta.get_field("parent_schedule").column)
    sql = (
        f"SELECT {columns}, EXISTS (SELECT 1 FROM {table} c WHERE c.{parent} = s.id) "
        f"FROM {table} s WHERE s.id = ANY(%s) AND s.status = %s AND s.next_billing_date <= %s "
        "ORDER BY s.id FOR UPDATE OF s" + (" SKIP LOCKED" if options.skip_locked else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids, ScheduleStatus.READY, options.target_date])
        return [Row(*r) for r in cursor.fetchall()]


def _is_simple(rows: list[Row]) -> bool:
    groups = set()
    for r in rows:
        if (
            r.charge_type == ChargeType.USAGE
            or r.category != ScheduleCategory.ORIGINAL
            or r.original_schedule_id is not None
            or r.parent_schedule_id is not None
            or r.has_children
            or r.group_id in groups  # two schedules of one group could merge into one line
        ):
            return False
        groups.add(r.group_id)
    return True


def _drop_keys_with_debit_memos(simple: dict, *, options: GenerationOptions) -> None:
    """A due debit memo rides on its account's first invoice: the general path does that."""
    if not simple:
        return
    from invoicing.models import DebitMemo

    due = set(
        DebitMemo.objects.filter(
            account_id__in={key[0] for key in simple},
            status=DebitMemo.Status.POSTED,
            next_billing_date__lte=options.target_date,
        ).values_list("account_id", "currency", "legal_entity_id")
    )
    for key in [k for k in simple if (k[0], k[2], k[4]) in due]:  # see invoice_key()
        del simple[key]


def _policies(simple: dict, *, options: GenerationOptions) -> dict[tuple, SequencePolicy]:
    """With posted output, the one sequence policy per (legal entity, currency). A group
    without exactly one goes to the general path, which keeps its invoices draft and logs
    why."""
    if not options.post:
        return {}
    policies = {}
    for group in sorted({(key[4], key[2]) for key in simple}, key=str):
        try:
            policies[group] = sequence_policy_select(
                target=SequencePolicy.Target.INVOICE,
                legal_entity_id=group[0],
                currency=group[1],
                on_date=timezone.localdate(),
            )
        except DomainError:
            for key in [k for k in simple if (k[4], k[2]) == group]:
                del simple[key]
    return policies


@functools.lru_cache(maxsize=4096)
def _periods(start, end, through, from_date, limit, cadence: tuple) -> tuple:
    return tuple(
        periods_through(
            start=start,
            end=end,
            through=through,
            from_date=from_date,
            limit=limit,
            **dict(cadence),
        )
    )


@functools.lru_cache(maxsize=4096)
def _prices(quantity, unit_price, pricing_term, frequency, currency, prorations: tuple):
    """(line unit price, amount per proration) of one price and cadence."""
    full = period_price(
        quantity=quantity, unit_price=unit_price, pricing_term=pricing_term, frequency=frequency
    )
    amounts = tuple(round_money(full * p, currency) for p in prorations)
    return line_unit_price(unit_price, pricing_term, frequency), amounts


def _cadence(row: Row) -> tuple:
    return tuple(sorted(schedule_cadence(row).items()))


def _generate_keys(
    simple: dict[tuple, list[Row]],
    policies: dict[tuple, SequencePolicy],
    *,
    options: GenerationOptions,
    result: GenerationResult,
) -> None:
    limit = options.line_limit()
    # Keys in the order of their first billed schedule, lines in the general path's order.
    key_by_id = {r.id: key for key, rows in simple.items() for r in rows}
    billed: dict[int, list[_Line]] = {}
    lines_by_key: dict[tuple, list[_Line]] = {}
    for row in sorted((r for rows in simple.values() for r in rows), key=lambda r: r.id):
        end = schedule_billable_end(row)
        periods = _periods(
            row.start_date,
            end,
            options.target_date,
            row.next_charge_from_date,
            options.period_count,
            _cadence(row),
        )
        if not periods:
            continue
        unit_price, amounts = _prices(
            row.quantity,
            row.unit_price,
            row.pricing_term,
            row.billing_frequency,
            row.currency,
            tuple(p.proration for p in periods),
        )
        billed[row.id] = [
            _Line(row, p, amount, unit_price, p.proration)
            for p, amount in zip(periods, amounts, strict=True)
        ]
        lines_by_key.setdefault(key_by_id[row.id], []).extend(billed[row.id])
    if not billed:
        return

    invoices: list[_Invoice] = []
    holder: dict[int, _Invoice] = {}  # line id() → its invoice
    first_of_key: dict[tuple, _Invoice] = {}
    for key, items in lines_by_key.items():
        items.sort(key=lambda i: (i.period.start, i.row.id))
        # A zero amount the treatment skips makes no line; its period item still goes on
        # the key's first invoice (below).
        on_lines = [
            it
            for it in items
            if not (it.amount == ZERO and it.row.zero_amount_handling == ZeroAmountHandling.SKIP)
        ]
        for start in range(0, len(on_lines), limit):
            invoice = _Invoice(key, on_lines[start : start + limit])
            invoices.append(invoice)
            first_of_key.setdefault(key, invoice)
            for it in invoice.lines:
                holder[id(it)] = invoice
        for it in items:
            if id(it) not in holder and key in first_of_key:
                holder[id(it)] = first_of_key[key]

    related = _related([r for rows in simple.values() for r in rows])
    invoice_ids = ids_allocate(Invoice, len(invoices))
    line_ids = iter(ids_allocate(InvoiceLine, sum(len(i.lines) for i in invoices)))
    for invoice, invoice_id in zip(invoices, invoice_ids, strict=True):
        invoice.id = invoice_id
        first = min((it.row for it in invoice.lines), key=lambda r: r.id)
        orders = {it.row.order_id for it in invoice.lines}
        invoice.fields = invoice_header_fields(
            invoice.key,
            first,
            related.terms.get(first.payment_term_id),
            orders,
            options=options,
        )
        address = related.addresses.get(invoice.lines[0].row.billing_address_id)
        invoice.address = address
        invoice.location = (address.country, address.region) if address else ("", "")
        for it in invoice.lines:
            it.id = next(line_ids)
    _tax(invoices, related, estimate=not options.post)

    tax_status = (
        InvoiceLineTax.Status.ESTIMATED if not options.post else InvoiceLineTax.Status.POSTED
    )
    copy_insert(InvoiceLine, _LINE_FIELDS, _line_rows(invoices, related))
    copy_insert(
        InvoiceLineTax,
        _TAX_FIELDS,
        (
            (it.id, t.name, t.code, t.rate, t.kind, t.taxable_amount, t.amount, tax_status)
            for invoice in invoices
            for it in invoice.lines
            for t in it.taxes
        ),
    )
    copy_insert(
        InvoiceAddress,
        _ADDRESS_FIELDS,
        (
            (
                invoice.id,
                InvoiceAddress.Kind.BILLING,
                related.account_names[invoice.fields["account_id"]],
                *(getattr(invoice.address, f) for f in Address.FIELDS),
            )
            for invoice in invoices
            if invoice.address is not None
        ),
    )
    item_posted = BillingPeriodItem.InvoiceStatus.POSTED
    item_draft = BillingPeriodItem.InvoiceStatus.DRAFT
    copy_insert(
        BillingPeriodItem,
        _ITEM_FIELDS,
        (
            (
                it.row.id,
                it.row.group_id,
                it.period.start,
                it.period.end,
                it.amount,
                it.row.quantity,
                it.unit_price,
                Decimal(it.proration.numerator) / Decimal(it.proration.denominator),
                item_posted if options.post and id(it) in holder else item_draft,
                holder[id(it)].id if id(it) in holder else None,
                it.id,
                options.batch_run_id or None,
            )
            for items in billed.values()
            for it in items
        ),
    )
    _advance(billed)

    # Numbers last, so the policy row is locked for the shortest time (the invoices'
    # foreign keys are checked at commit, so the lines above could reference them already).
    posted_date = timezone.localdate()
    if options.post:
        by_group: dict[tuple, list[_Invoice]] = defaultdict(list)
        for invoice in invoices:
            by_group[(invoice.key[4], invoice.key[2])].append(invoice)
        for group, members in sorted(by_group.items(), key=lambda g: policies[g[0]].pk):
            numbers = sequence_numbers_take(
                policy_id=policies[group].pk, on_dates=[options.invoice_date] * len(members)
            )
            for invoice, number in zip(members, numbers, strict=True):
                invoice.number = number
    now = timezone.now()
    copy_insert(
        Invoice,
        _INVOICE_FIELDS,
        (
            _invoice_row(invoice, options=options, posted_date=posted_date, now=now)
            for invoice in invoices
        ),
    )
    ids = [invoice.id for invoice in invoices]
    if options.post and ids:
        transaction.on_commit(partial(hooks.invoices_posted, ids))
    result.invoice_ids += ids
    result.schedule_ids += billed


class _Related:
    __slots__ = ("terms", "addresses", "account_names", "exempt", "products")


def _related(rows: list[Row]) -> _Related:
    """The few distinct rows the chunk's schedules point to, one query each."""
    related = _Related()
    related.terms = PaymentTerm.objects.in_bulk({r.payment_term_id for r in rows} - {None})
    related.addresses = Address.objects.in_bulk({r.billing_address_id for r in rows} - {None})
    accounts = Account.objects.filter(pk__in={r.account_id for r in rows}).values_list(
        "pk", "name", "tax_exempt"
    )
    related.account_names = {pk: name for pk, name, _ in accounts}
    related.exempt = {pk: exempt for pk, _, exempt in accounts}
    related.products = {
        pk: (name, taxable, tax_code)
        for pk, name, taxable, tax_code in Product.objects.filter(
            pk__in={r.product_id for r in rows}
        ).values_list("pk", "name", "taxable", "tax_code")
    }
    return related


def _tax(invoices: list[_Invoice], related: _Related, *, estimate: bool) -> None:
    """The tax engine over the lines, one call per tax context (as the general path). An
    engine whose results depend only on the line's inputs (`deterministic`) sees each
    distinct line once."""
    engine = get_tax_engine()
    by_context: dict[TaxContext, list[_Line]] = defaultdict(list)
    for invoice in invoices:
        country, region = invoice.location
        context = TaxContext(
            legal_entity_id=invoice.fields["legal_entity_id"],
            currency=invoice.fields["currency"],
            invoice_date=invoice.fields["invoice_date"],
            country=country,
            region=region,
            tax_exempt=related.exempt.get(invoice.fields["account_id"], False),
        )
        by_context[context].extend(invoice.lines)
    for context, lines in by_context.items():
        inputs = []
        for it in lines:
            _, taxable, tax_code = related.products[it.row.product_id]
            inputs.append((it.amount, tax_code, taxable, it.row.quantity))
        if getattr(engine, "deterministic", False):
            distinct = list(dict.fromkeys(inputs))
            keys = {value: index for index, value in enumerate(distinct)}
        else:
            distinct = inputs
            keys = None
        results = engine.calculate(
            lines=[
                TaxableLine(key=index, amount=a, tax_code=c, taxable=t, quantity=q)
                for index, (a, c, t, q) in enumerate(distinct)
            ],
            context=context,
            estimate=estimate,
        )
        for index, it in enumerate(lines):
            taxes = results.get(keys[inputs[index]] if keys is not None else index, [])
            it.taxes = taxes
            it.tax = sum((t.amount for t in taxes), ZERO)


def _line_rows(invoices: list[_Invoice], related: _Related):
    charge = InvoiceLine.Type.CHARGE
    for invoice in invoices:
        for order, it in enumerate(invoice.lines, start=1):
            row = it.row
            name, taxable, tax_code = related.products[row.product_id]
            yield (
                it.id,
                invoice.id,
                order,
                charge,
                row.product_id,
                name,
                line_description(
                    category=row.category,
                    period_start=it.period.start,
                    period_end=it.period.end,
                    proration=it.proration,
                    quantity=row.quantity,
                    is_usage=False,
                ),
                it.period.start,
                it.period.end,
                row.quantity,
                row.unit_id,
                it.unit_price,
                it.amount,
                it.tax,
                taxable,
                tax_code,
                row.id,
                row.group_id,
            )


def _invoice_row(invoice: _Invoice, *, options, posted_date, now) -> tuple:
    totals = invoice_totals((InvoiceLine.Type.CHARGE, it.amount, it.tax) for it in invoice.lines)
    posted = invoice.number is not None
    return (
        invoice.id,
        *(invoice.fields[f] for f in INVOICE_HEADER_FIELDS),
        InvoiceStatus.POSTED if posted else InvoiceStatus.DRAFT,
        invoice.number,
        posted_date if posted else None,
        now if posted else None,
        options.posted_by if posted else "",
        *totals.values(),
    )


def _advance(billed: dict[int, list[_Line]]) -> None:
    """Move each billed schedule past what it billed, as schedule_advance() does."""
    ids, next_from, next_bill, billed_amounts, pending, status = [], [], [], [], [], []
    for schedule_id, items in billed.items():
        row = items[0].row
        through = max(it.period.end for it in items)
        nxt_from = through + dt.timedelta(days=1)
        nxt_bill, nxt_status = schedule_next_bill(
            start=row.start_date,
            end=schedule_billable_end(row),
            from_date=nxt_from,
            cadence=_cadence(row),
        )
        amount = row.billed_amount + sum((it.amount for it in items), ZERO)
        ids.append(schedule_id)
        next_from.append(nxt_from)
        next_bill.append(nxt_bill)
        billed_amounts.append(amount)
        pending.append(
            row.pending_amount if row.total_amount is None else row.total_amount - amount
        )
        status.append(nxt_status)
    values_update(
        BillingSchedule,
        ["next_charge_from_date", "next_billing_date", "billed_amount", "pending_amount", "status"],
        ids,
        [next_from, next_bill, billed_amounts, pending, status],
    )
