"""Invoice generation, step 1 of 2: the plan. Pure functions, no database.

Locked billing schedules (model instances, or `ScheduleRow`s read as plain columns) become
planned invoices → lines → period items. Every rule of consolidation lives here once: the
grouping key, the periods and amounts billed, which lines merge, which zero amounts make
no line, bundle lines under their parents, the max-lines split, where a line-less period
item goes, and each invoice's header. Two writers persist a plan
(invoicing/services/generation_write.py): the ORM writer, for any key, and the COPY writer,
for the plain recurring keys of a large run. Preview renders a plan without writing it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple

from django.conf import settings

from billing.choices import ChargeType, InvoiceGroupType, ScheduleCategory, ZeroAmountHandling
from billing.periods import periods_through
from billing.pricing import line_unit_price, period_price, usage_amount
from billing.schedules import schedule_billable_end, schedule_cadence
from core.money import ZERO, round_money, to_decimal
from invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from invoicing.totals import invoice_totals_set

GROUP_KEY_LENGTH = 500  # Invoice.group_key


# --------------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class GenerationOptions:
    target_date: dt.date
    invoice_date: dt.date
    post: bool = False
    request_id: str = ""
    correlation_id: str = ""
    posted_by: str = ""
    period_count: int | None = None  # cap on periods billed per schedule
    skip_locked: bool = False  # batch workers: skip rows another worker holds
    batch_run_id: int | None = None
    max_lines: int = 0  # 0: settings.LEDGERLINE["MAX_INVOICE_LINES"]
    copy_writer: bool = True  # False: every key takes the ORM writer (the writers' tests)

    def line_limit(self) -> int:
        return self.max_lines or settings.LEDGERLINE["MAX_INVOICE_LINES"]


# --------------------------------------------------------------------------------------------
# The grouping key


class InvoiceKey(NamedTuple):
    """What schedules must share to be billed on one invoice (DESIGN.md §3, consolidation).

    `group` is "default", "schedule" (one invoice per schedule: `value` is its id) or
    "custom" (`value` is the case-folded custom group key)."""

    account_id: int
    bill_to_id: int | None
    currency: str
    payment_term_id: int | None
    legal_entity_id: int | None
    tax_treatment: str
    saved_payment_method_id: int | None
    group: str
    value: int | str | None

    @property
    def seller(self) -> tuple[int | None, str]:
        """(legal entity, currency): the scope of one sequence policy."""
        return (self.legal_entity_id, self.currency)

    @property
    def debit_memo_scope(self) -> tuple[int, str, int | None]:
        """(account, currency, legal entity): the debit memos an invoice of this key takes."""
        return (self.account_id, self.currency, self.legal_entity_id)

    def label(self) -> str:
        """The key as invoices store it (Invoice.group_key)."""
        return "|".join("" if v is None else str(v) for v in self)[:GROUP_KEY_LENGTH]

    def dumps(self) -> str:
        """The key as JSON (a batch run's planned key rows): loads() gives it back."""
        return json.dumps(list(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> InvoiceKey:
        return cls(*json.loads(text))


def root_key(root: Any) -> InvoiceKey:
    """The key of a bundle root or a stand-alone schedule (a model or a row of its columns)."""
    if root.invoice_group_type == InvoiceGroupType.PER_SCHEDULE:
        group, value = "schedule", root.id
    elif root.invoice_group_type == InvoiceGroupType.CUSTOM:
        group, value = "custom", root.custom_group_key.strip().lower()
    else:
        group, value = "default", None
    return InvoiceKey(
        root.account_id,
        root.bill_to_id,
        root.currency,
        root.payment_term_id,
        root.legal_entity_id,
        root.tax_treatment,
        root.saved_payment_method_id,
        group,
        value,
    )


def invoice_key(schedule: Any) -> InvoiceKey:
    """A schedule's key. Bundle children take their bundle root's key."""
    root = schedule
    while root.parent_schedule_id is not None and root.parent_schedule is not None:
        root = root.parent_schedule
    return root_key(root)


@dataclass(frozen=True)
class PlannedKey:
    """The schedules that share one key (before the max-lines split)."""

    key: InvoiceKey
    schedule_ids: tuple[int, ...]


def key_chunks(planned: Iterable[PlannedKey], size: int) -> Iterator[list[PlannedKey]]:
    """Whole keys in chunks of up to `size` schedules (a bigger key is a chunk of its own)."""
    current: list[PlannedKey] = []
    count = 0
    for key in planned:
        if current and count + len(key.schedule_ids) > size:
            yield current
            current, count = [], 0
        current.append(key)
        count += len(key.schedule_ids)
    if current:
        yield current


# --------------------------------------------------------------------------------------------
# The plan's types


@dataclass(eq=False, slots=True)
class PlanItem:
    """A billing period item: one period (or usage summary) of one schedule."""

    schedule: Any
    period_start: dt.date
    period_end: dt.date
    amount: Decimal
    quantity: Decimal
    unit_price: Decimal  # one unit for one full period, as the line shows it
    proration: Decimal = Decimal(1)
    usage_summary: Any = None
    consumed_quantity: Decimal | None = None
    included_quantity: Decimal | None = None
    overage_quantity: Decimal | None = None
    invoice: PlanInvoice | None = None
    line: PlanLine | None = None


@dataclass(eq=False, slots=True)
class PlanLine:
    """An invoice line: one or more merged period items, or a debit memo's line (`model`)."""

    items: list[PlanItem]
    type: str
    product_id: int | None
    name: str
    description: str
    period_start: dt.date | None
    period_end: dt.date | None
    quantity: Decimal
    unit_id: int | None
    unit_price: Decimal
    amount: Decimal
    taxable: bool
    tax_code: str
    billing_schedule_id: int | None = None
    schedule_group_id: int | None = None
    is_usage: bool = False
    consumed_quantity: Decimal | None = None
    included_quantity: Decimal | None = None
    overage_quantity: Decimal | None = None
    has_multiple_items: bool = False
    bundle_total: Decimal | None = None
    children: list[PlanLine] = field(default_factory=list)
    depth: int = 0
    parent: PlanLine | None = None
    sort_order: int = 0
    tax_amount: Decimal = ZERO
    computed_taxes: Sequence[Any] = ()
    id: int | None = None  # the COPY writer's reserved id
    model: InvoiceLine | None = None  # a debit memo's unsaved line (ORM writer)

    def family_size(self) -> int:
        return 1 + sum(c.family_size() for c in self.children)

    def walk(self) -> Iterator[PlanLine]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(eq=False, slots=True)
class PlanInvoice:
    """A generated invoice: its header and lines (parents before children, then memo lines)."""

    key: InvoiceKey
    families: list[PlanLine]
    header: dict[str, Any]
    address: Any  # the billing address (a model), or None
    account_name: str
    lines: list[PlanLine] = field(default_factory=list)
    total_charges: Decimal = ZERO
    total_adjustments: Decimal = ZERO
    total_tax: Decimal = ZERO
    total: Decimal = ZERO
    balance: Decimal = ZERO
    id: int | None = None
    # Set by posting (invoicing/services/posting.py invoices_number).
    status: str = InvoiceStatus.DRAFT
    number: str | None = None
    posted_date: dt.date | None = None
    posted_at: dt.datetime | None = None
    posted_by: str = ""

    # What posting and tax read, as on Invoice.
    @property
    def pk(self) -> int | None:
        return self.id

    @property
    def account_id(self) -> int:
        return self.header["account_id"]

    @property
    def legal_entity_id(self) -> int | None:
        return self.header["legal_entity_id"]

    @property
    def currency(self) -> str:
        return self.header["currency"]

    @property
    def invoice_date(self) -> dt.date:
        return self.header["invoice_date"]

    @property
    def location(self) -> tuple[str, str]:
        if self.address is None:
            return ("", "")
        return (self.address.country or "", self.address.region or "")

    def totals_set(self) -> None:
        invoice_totals_set(self, self.lines)


@dataclass
class GenerationPlan:
    invoices: list[PlanInvoice]
    billed: dict[int, list[PlanItem]]  # schedule id → its items, for schedules that bill
    schedules: list[Any]  # the locked schedules the plan was made from

    def release(self) -> None:
        """Break the plan's reference cycles (item ↔ line ↔ invoice, parent ↔ child) once it
        is written, so a chunk's objects are freed at once rather than by the cyclic garbage
        collector: memory stays one chunk's and no collector passes cost time."""
        for items in self.billed.values():
            for it in items:
                it.invoice = it.line = None
        for invoice in self.invoices:
            for line in invoice.lines:
                line.parent = None
                line.children = []
                line.items = []
            invoice.families = []
            invoice.lines = []


# --------------------------------------------------------------------------------------------
# Periods and amounts


class _Cut(NamedTuple):
    """A period as planning uses it: its days and its proration, exact and as stored."""

    start: dt.date
    end: dt.date
    proration: Fraction
    stored_proration: Decimal


@functools.lru_cache(maxsize=4096)
def _periods(
    start: dt.date,
    end: dt.date | None,
    through: dt.date,
    from_date: dt.date | None,
    limit: int | None,
    cadence: tuple,
) -> tuple[tuple[_Cut, ...], tuple[Fraction, ...]]:
    """The periods billed through `through` and their prorations (pure, so cached: schedules
    on the same grid share them)."""
    cuts = tuple(
        _Cut(p.start, p.end, p.proration, to_decimal(p.proration))
        for p in periods_through(
            start=start, end=end, through=through, from_date=from_date, limit=limit, **dict(cadence)
        )
    )
    return cuts, tuple(c.proration for c in cuts)


@functools.lru_cache(maxsize=4096)
def _prices(
    quantity: Decimal,
    unit_price: Decimal,
    pricing_term: str,
    frequency: str,
    currency: str,
    prorations: tuple[Fraction, ...],
) -> tuple[Decimal, tuple[Decimal, ...]]:
    """(line unit price, amount per proration) of one price and cadence."""
    full = period_price(
        quantity=quantity, unit_price=unit_price, pricing_term=pricing_term, frequency=frequency
    )
    amounts = tuple(round_money(full * p, currency) for p in prorations)
    return line_unit_price(unit_price, pricing_term, frequency), amounts


def period_items(
    schedule: Any, *, options: GenerationOptions, usage: Sequence[Any] = ()
) -> list[PlanItem]:
    """The periods a schedule bills through the target date (at most `period_count`), or its
    ready usage summaries, as period items with their amounts."""
    if schedule.charge_type == ChargeType.USAGE:
        return [_usage_item(schedule, summary) for summary in usage[: options.period_count or None]]
    periods, prorations = _periods(
        schedule.start_date,
        schedule_billable_end(schedule),
        options.target_date,
        schedule.next_charge_from_date,
        options.period_count,
        tuple(sorted(schedule_cadence(schedule).items())),
    )
    if not periods:
        return []
    unit_price, amounts = _prices(
        schedule.quantity,
        schedule.unit_price,
        schedule.pricing_term,
        schedule.billing_frequency,
        schedule.currency,
        prorations,
    )
    return [
        PlanItem(
            schedule=schedule,
            period_start=p.start,
            period_end=p.end,
            amount=amount,
            quantity=schedule.quantity,
            unit_price=unit_price,
            proration=p.stored_proration,
        )
        for p, amount in zip(periods, amounts, strict=True)
    ]


def _usage_item(schedule: Any, summary: Any) -> PlanItem:
    unit = schedule.unit
    consumed = unit.round(summary.quantity)
    included = unit.round(schedule.included_quantity or ZERO)
    overage = max(ZERO, unit.round(consumed - included))
    price = (
        schedule.overage_unit_price
        if schedule.overage_unit_price is not None
        else schedule.unit_price
    )
    return PlanItem(
        schedule=schedule,
        period_start=summary.period_start,
        period_end=summary.period_end,
        amount=usage_amount(overage=overage, unit_price=price, currency=schedule.currency),
        quantity=overage,
        unit_price=price,
        usage_summary=summary,
        consumed_quantity=consumed,
        included_quantity=included,
        overage_quantity=overage,
    )


# --------------------------------------------------------------------------------------------
# Lines


_CATEGORY_ORDER = {
    ScheduleCategory.ORIGINAL: 0,
    ScheduleCategory.RENEWAL: 1,
    ScheduleCategory.AMENDMENT: 2,
    ScheduleCategory.CANCELLATION: 3,
}


def makes_no_line(item: PlanItem) -> bool:
    """A zero-amount period makes no line when its schedule's treatment says skip (the
    period item is still billed); usage always shows its line."""
    return (
        item.amount == ZERO
        and item.schedule.zero_amount_handling == ZeroAmountHandling.SKIP
        and item.usage_summary is None
    )


def build_lines(items: list[PlanItem]) -> list[PlanLine]:
    """Lines of one invoice key, as families (a top-level line and its bundle children).

    Positive items of one schedule group for the same period and unit price merge into one
    line (original + increase); decreases and cancellations stay lines of their own, negative.
    A bundle child hangs under its parent schedule's line for the earliest period that
    overlaps its own; with no such line on this invoice it stands alone.
    """
    merged: dict[tuple, PlanLine] = {}
    lines: list[PlanLine] = []
    for it in sorted(
        items,
        key=lambda i: (
            _depth(i.schedule),
            i.period_start,
            _CATEGORY_ORDER.get(i.schedule.category, 9),
            i.schedule.id,
        ),
    ):
        if makes_no_line(it):
            continue
        s = it.schedule
        mergeable = (
            it.quantity > 0
            and s.charge_type != ChargeType.USAGE
            and s.category != ScheduleCategory.CANCELLATION
        )
        merge_key = (s.group_id, it.period_start, it.period_end, it.unit_price)
        line = merged.get(merge_key) if mergeable else None
        if line is not None:
            line.items.append(it)
            line.quantity = s.unit.round(line.quantity + it.quantity)
            line.amount += it.amount
            line.has_multiple_items = True
            continue
        line = _line_for(it)
        line.depth = _depth(s)
        lines.append(line)
        if mergeable:
            merged[merge_key] = line

    # Attach bundle children to their parent lines (parents come first: sorted by depth).
    by_schedule: dict[int, list[PlanLine]] = defaultdict(list)
    top: list[PlanLine] = []
    for line in lines:
        s = line.items[0].schedule
        parent_id = s.parent_schedule_id
        parent = _earliest_overlap(by_schedule.get(parent_id, []), line) if parent_id else None
        if parent is not None and parent.depth < 3:
            parent.children.append(line)
            line.depth = parent.depth + 1
        else:
            line.depth = 0
            top.append(line)
        for it in line.items:
            by_schedule[it.schedule.id].append(line)
            if it.schedule.original_schedule_id:
                by_schedule[it.schedule.original_schedule_id].append(line)
    for family in top:
        _roll_up_bundle(family)
    return top


def _depth(schedule: Any) -> int:
    depth, current = 0, schedule
    while current.parent_schedule_id is not None:
        depth += 1
        current = current.parent_schedule
        if current is None or depth > 3:
            break
    return depth


def _earliest_overlap(candidates: list[PlanLine], line: PlanLine) -> PlanLine | None:
    """The candidate whose period overlaps `line`'s and starts first (a line without a
    period, such as a memo's, overlaps nothing)."""
    start, end = line.period_start, line.period_end
    if start is None or end is None:
        return None
    overlapping = [
        (c.period_start, c)
        for c in candidates
        if c.period_start is not None
        and c.period_end is not None
        and c.period_start <= end
        and c.period_end >= start
    ]
    return min(overlapping, key=lambda pair: pair[0])[1] if overlapping else None


def _roll_up_bundle(line: PlanLine) -> Decimal:
    """Parent lines show the bundle total (own amount + children's) in bundle_total."""
    total = line.amount
    for child in line.children:
        total += _roll_up_bundle(child)
    if line.children:
        line.bundle_total = total
    return total


@functools.lru_cache(maxsize=4096)
def _description(
    category: str,
    period_start: dt.date,
    period_end: dt.date,
    proration: Decimal,
    quantity: Decimal,
    is_usage: bool,
) -> str:
    """A generated line's description: prorated days, credit or decrease (pure, cached)."""
    description = ""
    if proration != 1 and not is_usage:
        description = f"Prorated {period_end.toordinal() - period_start.toordinal() + 1} days"
    if category == ScheduleCategory.CANCELLATION:
        description = ("Cancellation credit. " + description).strip()
    elif category == ScheduleCategory.AMENDMENT and quantity < 0:
        description = ("Quantity decrease. " + description).strip()
    return description


def _line_for(it: PlanItem) -> PlanLine:
    s = it.schedule
    is_usage = it.usage_summary is not None
    product = s.product
    return PlanLine(
        items=[it],
        type=InvoiceLine.Type.CHARGE,
        product_id=s.product_id,
        name=product.name,
        description=_description(
            s.category, it.period_start, it.period_end, it.proration, it.quantity, is_usage
        ),
        period_start=it.period_start,
        period_end=it.period_end,
        quantity=it.quantity,
        unit_id=s.unit_id,
        unit_price=it.unit_price,
        amount=it.amount,
        taxable=product.taxable,
        tax_code=product.tax_code,
        billing_schedule_id=s.id,
        schedule_group_id=s.group_id,
        is_usage=is_usage,
        consumed_quantity=it.consumed_quantity,
        included_quantity=it.included_quantity,
        overage_quantity=it.overage_quantity,
    )


def memo_line(pair_line: InvoiceLine) -> PlanLine:
    """A due debit memo's (unsaved) invoice line, to ride on an invoice of its account."""
    return PlanLine(
        items=[],
        type=pair_line.type,
        product_id=pair_line.product_id,
        name=pair_line.name,
        description=pair_line.description,
        period_start=pair_line.period_start,
        period_end=pair_line.period_end,
        quantity=pair_line.quantity,
        unit_id=pair_line.unit_id,
        unit_price=pair_line.unit_price,
        amount=pair_line.amount,
        taxable=pair_line.taxable,
        tax_code=pair_line.tax_code,
        model=pair_line,
    )


def split(families: list[PlanLine], limit: int) -> list[list[PlanLine]]:
    """A key's line families in invoices of at most `limit` lines each; a family (a bundle
    line and its children) is never split. No families: no invoice."""
    parts: list[list[PlanLine]] = []
    count = 0
    for family in families:
        size = family.family_size()
        if not parts or (parts[-1] and count + size > limit):
            parts.append([])
            count = 0
        parts[-1].append(family)
        count += size
    return parts


def flatten(families: list[PlanLine]) -> list[PlanLine]:
    """Lines in invoice order: each family's top line, then its children (depth first),
    each with its parent set."""
    out: list[PlanLine] = []
    for family in families:
        family.parent = None
        out.append(family)
        if family.children:
            _descendants(family, out)
    return out


def _descendants(line: PlanLine, out: list[PlanLine]) -> None:
    for child in line.children:
        child.parent = line
        out.append(child)
        if child.children:
            _descendants(child, out)


def attach_lineless_items(items: list[PlanItem], invoices: list[PlanInvoice]) -> None:
    """Every item goes on an invoice of its key: an item on a line on that line's invoice; an
    item that makes no line (zero amount, treatment skip) on the invoice that carries its
    bundle parent's line, else on the key's first invoice, so it is posted and voided with
    it. A key with no invoice leaves its items on none."""
    if not invoices:
        return
    holder: dict[int, PlanInvoice] = {}
    for invoice in invoices:
        for line in invoice.lines:
            for it in line.items:
                it.invoice, it.line = invoice, line
                holder.setdefault(it.schedule.id, invoice)
                if it.schedule.original_schedule_id:
                    holder.setdefault(it.schedule.original_schedule_id, invoice)
    for it in items:
        if it.invoice is None:
            it.invoice = holder.get(it.schedule.parent_schedule_id, invoices[0])


# --------------------------------------------------------------------------------------------
# Invoices


INVOICE_HEADER_FIELDS = (
    "account_id",
    "legal_entity_id",
    "bill_to_id",
    "currency",
    "invoice_date",
    "due_date",
    "target_date",
    "source",
    "request_id",
    "correlation_id",
    "reference_order_id",
    "payment_term_id",
    "saved_payment_method_id",
    "tax_treatment",
    "group_key",
    "batch_run_id",
)


def invoice_header(
    key: InvoiceKey, families: list[PlanLine], *, options: GenerationOptions
) -> dict[str, Any]:
    """A generated invoice's header: from its key, its first schedule (stand-alone before
    bundle children, then by id), that schedule's payment term and the orders of its lines."""
    schedules = [it.schedule for f in families for line in f.walk() for it in line.items]
    first = min(schedules, key=lambda s: (s.parent_schedule_id is not None, s.id))
    orders = {s.order_id for s in schedules}
    term = first.payment_term
    values = (
        first.account_id,
        first.legal_entity_id,
        first.bill_to_id,
        first.currency,
        options.invoice_date,
        term.due_date(options.invoice_date) if term else options.invoice_date,
        options.target_date,
        Invoice.Source.GENERATED,
        options.request_id,
        options.correlation_id,
        next(iter(orders)) if len(orders) == 1 else None,
        first.payment_term_id,
        first.saved_payment_method_id,
        first.tax_treatment,
        key.label(),
        options.batch_run_id or None,
    )
    return dict(zip(INVOICE_HEADER_FIELDS, values, strict=True))


def plan_items(
    schedules: Sequence[Any],
    key_of: Mapping[int, InvoiceKey],
    *,
    options: GenerationOptions,
    usage: Mapping[int, Sequence[Any]] | None = None,
) -> tuple[dict[InvoiceKey, list[PlanItem]], dict[int, list[PlanItem]]]:
    """The period items of locked schedules (in id order; `key_of` maps each id to its key):
    (items per key, keys in the order of their first billing schedule; items per schedule
    that bills). Usage schedules bill `usage[order_item_id]`."""
    usage = usage or {}
    items_by_key: dict[InvoiceKey, list[PlanItem]] = defaultdict(list)
    billed: dict[int, list[PlanItem]] = {}
    for s in schedules:
        items = period_items(s, options=options, usage=usage.get(s.order_item_id, ()))
        if items:
            billed[s.id] = items
            items_by_key[key_of[s.id]].extend(items)
    return items_by_key, billed


def plan_invoices(
    schedules: Sequence[Any],
    items_by_key: Mapping[InvoiceKey, list[PlanItem]],
    billed: dict[int, list[PlanItem]],
    *,
    options: GenerationOptions,
    memo_lines: Mapping[InvoiceKey, list[PlanLine]] | None = None,
) -> GenerationPlan:
    """Plan the invoices of each key's items (plan_items): lines, split into invoices of at
    most the line limit, every item on an invoice of its key; due debit memo lines
    (`memo_lines`) ride on the key's last invoice, after its schedule lines."""
    memo_lines = memo_lines or {}
    invoices: list[PlanInvoice] = []
    limit = options.line_limit()
    for key, items in items_by_key.items():
        key_invoices = []
        for part in split(build_lines(items), limit):
            first = part[0].items[0].schedule
            invoice = PlanInvoice(
                key=key,
                families=part,
                header=invoice_header(key, part, options=options),
                address=first.billing_address,
                account_name=first.account.name,
            )
            invoice.lines = flatten(part)
            key_invoices.append(invoice)
        attach_lineless_items(items, key_invoices)
        if key_invoices and key in memo_lines:
            key_invoices[-1].lines += memo_lines[key]
        for invoice in key_invoices:
            for order, line in enumerate(invoice.lines, start=1):
                line.sort_order = order
        invoices += key_invoices
    return GenerationPlan(invoices=invoices, billed=billed, schedules=list(schedules))


def plan_totals(plan: GenerationPlan) -> None:
    """Each planned invoice's totals from its (taxed) lines."""
    for invoice in plan.invoices:
        invoice.totals_set()
