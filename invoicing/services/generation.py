"""Invoice generation: billing schedules → period items → invoice lines → invoices.

The algorithm (DESIGN.md §3, docs/adr/0003-generation-engine.md):

1. Select the eligible schedules of the request and plan their grouping keys.
2. Process the keys in chunks, each chunk in one transaction: lock the chunk's schedules
   (FOR UPDATE, re-checking eligibility so a concurrent generator's work is never redone;
   batch workers add SKIP LOCKED), cut their periods, and write period items, lines, taxes
   and invoices with bulk statements, then advance the schedules.
3. A chunk that fails is retried one key at a time, so only the broken key rolls back: its
   schedules go to error with an ErrorLog row; the other keys' invoices are kept.

The partial unique constraint on BillingPeriodItem (schedule, period_start) makes a double
bill impossible even if every other guard failed.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from array import array
from collections import defaultdict, namedtuple
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from accounts.models import BillingProfile
from billing.choices import (
    FREQUENCY_MONTHS,
    PRICING_TERM_MONTHS,
    ChargeType,
    InvoiceGroupType,
    ScheduleCategory,
    ScheduleStatus,
    ZeroAmountHandling,
)
from billing.models import BillingSchedule, UsageSummary
from billing.periods import Period, iter_periods, period_price, periods_through
from billing.schedules import schedule_billable_end, schedule_cadence
from core.db import rows_update
from core.exceptions import DomainError, ValidationError
from core.money import ZERO, round_money
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceStatus,
)
from invoicing.services.errors import error_log_record
from invoicing.services.taxing import invoice_lines_tax

logger = logging.getLogger(__name__)

ONE_DAY = dt.timedelta(days=1)
CHUNK_SCHEDULES = 1000  # schedules locked and written per transaction
_LIVE = [BillingPeriodItem.InvoiceStatus.DRAFT, BillingPeriodItem.InvoiceStatus.POSTED]


# --------------------------------------------------------------------------------------------
# Inputs and outputs


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
    lean: bool = True  # False: every key takes the general path (the lean path's tests)

    def line_limit(self) -> int:
        return self.max_lines or settings.LEDGERLINE["MAX_INVOICE_LINES"]


@dataclass(frozen=True)
class ScheduleError:
    schedule_id: int
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"billing_schedule": self.schedule_id, "code": self.code, "message": self.message}


class Ids(array):
    """Ids packed 8 bytes each, not 36 as a list of ints: a run's result holds one per
    billed schedule, and the benchmark's memory target allows no growth with the run's size
    beyond that. Equal to any sequence of the same ids; += takes any iterable."""

    def __new__(cls, values=()):
        return super().__new__(cls, "q", values)

    def __iadd__(self, other):
        self.extend(other)
        return self

    def __eq__(self, other):
        if isinstance(other, (list, tuple, array)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return f"Ids({list(self)!r})"


@dataclass
class GenerationResult:
    request_id: str
    invoice_ids: Ids = field(default_factory=Ids)
    schedule_ids: Ids = field(default_factory=Ids)  # schedules that billed something
    errors: list[ScheduleError] = field(default_factory=list)
    posting_errors: list[dict] = field(default_factory=list)  # invoices left draft
    failed_keys: int = 0

    @property
    def invoices(self):
        return Invoice.objects.filter(pk__in=self.invoice_ids).order_by("id")

    def merge(self, other: GenerationResult) -> None:
        self.invoice_ids += other.invoice_ids
        self.schedule_ids += other.schedule_ids
        self.errors += other.errors
        self.posting_errors += other.posting_errors
        self.failed_keys += other.failed_keys


@dataclass(frozen=True)
class PlannedKey:
    """The schedules that share one invoice (before the max-lines split)."""

    key: tuple
    schedule_ids: tuple[int, ...]


# --------------------------------------------------------------------------------------------
# The service


def invoices_generate(
    *,
    target_date: dt.date,
    order_id: int | None = None,
    account_id: int | None = None,
    billing_schedule_ids: Sequence[int] | None = None,
    all_schedules: bool = False,
    invoice_date: dt.date | None = None,
    action: str = "draft",
    correlation_id: str = "",
    requested_by: str = "",
) -> GenerationResult:
    """Generate invoices on demand for an order, an account or a list of schedules.

    Precedence: the order wins over the account, which wins over the schedule list
    (`all_schedules`: every eligible schedule, for operators). If any selected schedule is
    suspended, nothing is invoiced and the errors say which.
    """
    if action not in ("draft", "posted"):
        raise ValidationError({"action": "Use 'draft' or 'posted'."})
    if order_id is None and account_id is None and not billing_schedule_ids and not all_schedules:
        raise ValidationError(
            {"non_field_errors": "Name an order, an account or a list of billing schedules."}
        )
    invoice_date = invoice_date or target_date
    request_id = uuid.uuid4().hex
    options = GenerationOptions(
        target_date=target_date,
        invoice_date=invoice_date,
        post=action == "posted",
        request_id=request_id,
        correlation_id=correlation_id,
        posted_by=requested_by,
    )
    if order_id is not None:
        scope = Q(order_id=order_id)
    elif account_id is not None:
        scope = Q(account_id=account_id)
    elif billing_schedule_ids:
        scope = Q(pk__in=list(billing_schedule_ids))
    else:
        scope = Q()

    result = GenerationResult(request_id=request_id)
    eligible = list(schedules_eligible(target_date=target_date).filter(scope))
    if order_id is None and account_id is None and billing_schedule_ids:
        result.errors += _explain_ineligible(set(billing_schedule_ids), eligible, target_date)

    suspended = schedules_suspended(eligible)
    if suspended:
        result.errors += [
            ScheduleError(
                s.pk,
                "schedule_suspended",
                f"Billing schedule {s} is suspended on {s.next_billing_date}: no schedule of "
                "this request was invoiced. Resume billing (clear the suspension on the "
                "account's billing profile or the schedule group), or leave the schedule out "
                "of the request.",
            )
            for s in suspended
        ]
        return result
    result.merge(generate_for_keys(plan_keys(eligible), options=options))
    return result


def schedules_eligible(*, target_date: dt.date):
    """Schedules ready for invoicing whose next billing date is on or before the target date,
    not past their cancellation date; usage schedules only when they have usage to bill."""
    billable_usage = UsageSummary.objects.filter(
        order_item_id=OuterRef("order_item_id"),
        status=UsageSummary.Status.READY,
        period_end__lte=target_date,
    ).exclude(
        Exists(
            BillingPeriodItem.objects.filter(
                usage_summary_id=OuterRef("pk"), invoice_status__in=_LIVE
            )
        )
    )
    return (
        BillingSchedule.objects.filter(
            status=ScheduleStatus.READY, next_billing_date__lte=target_date
        )
        .exclude(
            cancellation_date__isnull=False,
            next_charge_from_date__gte=F("cancellation_date"),
        )
        .filter(~Q(charge_type=ChargeType.USAGE) | Exists(billable_usage))
        .select_related("group", "parent_schedule__parent_schedule")
        .order_by("id")
    )


def schedules_suspended(schedules: Iterable[BillingSchedule]) -> list[BillingSchedule]:
    """The schedules whose group or account's default profile suspends their next bill."""
    schedules = list(schedules)
    profiles = {
        p.account_id: p
        for p in BillingProfile.objects.filter(
            account_id__in={s.account_id for s in schedules},
            is_default=True,
            suspension_date__isnull=False,
        )
    }
    out = []
    for s in schedules:
        day = s.next_billing_date
        group = s.group
        group_suspended = (
            group.suspension_date is not None
            and group.suspension_date <= day
            and not (group.resumption_date and day >= group.resumption_date)
        )
        profile = profiles.get(s.account_id)
        if group_suspended or (profile is not None and profile.is_suspended_on(day)):
            out.append(s)
    return out


def _explain_ineligible(
    requested: set[int], eligible: list[BillingSchedule], target_date: dt.date
) -> list[ScheduleError]:
    missing = requested - {s.pk for s in eligible}
    if not missing:
        return []
    found = {s.pk: s for s in BillingSchedule.objects.filter(pk__in=missing)}
    errors = []
    for pk in sorted(missing):
        s = found.get(pk)
        if s is None:
            errors.append(ScheduleError(pk, "not_found", f"Billing schedule {pk} does not exist."))
        elif s.status != ScheduleStatus.READY:
            errors.append(
                ScheduleError(
                    pk,
                    "schedule_not_ready",
                    f"Billing schedule {s} is {s.get_status_display().lower()}, not ready for "
                    "invoicing."
                    + (" Recover it first." if s.status in ("error", "processing") else ""),
                )
            )
        else:
            errors.append(
                ScheduleError(
                    pk,
                    "nothing_to_bill",
                    f"Billing schedule {s} has nothing to bill through {target_date} (next "
                    f"billing date {s.next_billing_date or 'none'}).",
                )
            )
    return errors


# --------------------------------------------------------------------------------------------
# Planning grouping keys


def invoice_key(schedule: BillingSchedule) -> tuple:
    """The consolidation key. Bundle children take their bundle root's key."""
    root = schedule
    while root.parent_schedule_id is not None and root.parent_schedule is not None:
        root = root.parent_schedule
    return root_key(root)


def root_key(root) -> tuple:
    """The key of a bundle root or a stand-alone schedule (a model or a _KeyRow)."""
    base = (
        root.account_id,
        root.bill_to_id,
        root.currency,
        root.payment_term_id,
        root.legal_entity_id,
        root.tax_treatment,
        root.saved_payment_method_id,
    )
    if root.invoice_group_type == InvoiceGroupType.PER_SCHEDULE:
        return (*base, "schedule", root.id)
    if root.invoice_group_type == InvoiceGroupType.CUSTOM:
        return (*base, "custom", root.custom_group_key.strip().lower())
    return (*base, "default", None)


_KeyRow = namedtuple(
    "_KeyRow",
    (
        "id",
        "parent_schedule_id",
        "account_id",
        "bill_to_id",
        "currency",
        "payment_term_id",
        "legal_entity_id",
        "tax_treatment",
        "saved_payment_method_id",
        "invoice_group_type",
        "custom_group_key",
    ),
)


def plan_keys(schedules: Iterable[BillingSchedule]) -> list[PlannedKey]:
    """Group schedule ids by invoice key, in the order of each key's first schedule. A
    queryset is read as key columns only (plan_keys_stream)."""
    if isinstance(schedules, QuerySet):
        return list(plan_keys_stream(schedules))
    keys: dict[tuple, list[int]] = defaultdict(list)
    for s in schedules:
        keys[invoice_key(s)].append(s.pk)
    return [PlannedKey(key, tuple(ids)) for key, ids in keys.items()]


def plan_keys_stream(schedules: QuerySet) -> Iterator[PlannedKey]:
    """Plan a queryset of schedules lazily, in account order: only the key columns are read
    (a server-side cursor), and an account's keys are yielded once its rows end (every key
    starts with the account), so memory holds one account's plan, whatever the run's size."""
    rows = (
        schedules.order_by("account_id", "id")
        .values_list(*_KeyRow._fields)
        .iterator(chunk_size=2000)
    )
    account: object = object()
    buffered: list[_KeyRow] = []
    for values in rows:
        row = _KeyRow(*values)
        if row.account_id != account:
            yield from _plan_rows(buffered)
            account, buffered = row.account_id, []
        buffered.append(row)
    yield from _plan_rows(buffered)


def _plan_rows(rows: list[_KeyRow]) -> Iterator[PlannedKey]:
    """Keys of one account's rows; bundle children take their root's key (ancestors that are
    not in the rows are read, one query per bundle level)."""
    known = {row.id: row for row in rows}
    missing = {r.parent_schedule_id for r in rows if r.parent_schedule_id} - set(known)
    while missing:
        fetched = [
            _KeyRow(*v)
            for v in BillingSchedule.objects.filter(pk__in=missing).values_list(*_KeyRow._fields)
        ]
        known.update((r.id, r) for r in fetched)
        missing = {r.parent_schedule_id for r in fetched if r.parent_schedule_id} - set(known)
    keys: dict[tuple, list[int]] = defaultdict(list)
    for row in rows:
        root, depth = row, 0
        while root.parent_schedule_id is not None and depth < 10:
            root, depth = known[root.parent_schedule_id], depth + 1
        keys[root_key(root)].append(row.id)
    for key, ids in keys.items():
        yield PlannedKey(key, tuple(ids))


# --------------------------------------------------------------------------------------------
# Execution


def generate_for_keys(
    planned: Iterable[PlannedKey], *, options: GenerationOptions
) -> GenerationResult:
    """Process planned keys in chunks; a failing chunk is retried key by key. `planned` may
    be a stream (plan_keys_stream): it is consumed one chunk at a time."""
    result = GenerationResult(request_id=options.request_id)
    for chunk in iter_chunks(planned, CHUNK_SCHEDULES):
        try:
            with transaction.atomic():
                result.merge(_generate_set(chunk, options=options))
        except Exception as exc:  # noqa: BLE001 - isolate the failure, then retry key by key
            if len(chunk) == 1:
                result.merge(_fail_key(chunk[0], exc, options=options))
            else:
                for key in chunk:
                    result.merge(_retry_alone(key, options=options))
    return result


def chunk_keys(planned: Iterable[PlannedKey], size: int) -> list[list[PlannedKey]]:
    return list(iter_chunks(planned, size))


def iter_chunks(planned: Iterable[PlannedKey], size: int) -> Iterator[list[PlannedKey]]:
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


def _retry_alone(key: PlannedKey, *, options: GenerationOptions) -> GenerationResult:
    """Generate one key in its own transaction; if it fails, record the failure."""
    try:
        with transaction.atomic():
            return _generate_set([key], options=options)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded against the key
        return _fail_key(key, exc, options=options)


def _fail_key(key: PlannedKey, exc: Exception, *, options: GenerationOptions) -> GenerationResult:
    """Record a key's failure: its schedules to error, an ErrorLog row per schedule."""
    if isinstance(exc, DomainError):
        code, message = exc.code, exc.message
    elif isinstance(exc, IntegrityError):
        code = "integrity_error"
        message = (
            "A period of this schedule was already billed by another request (database "
            f"constraint: {str(exc).splitlines()[0]}). Recover the schedule to resynchronise "
            "its next billing date, then generate again."
        )
    else:
        logger.exception("Invoice generation failed for key %s", key.key, exc_info=exc)
        code = "generation_failed"
        message = (
            f"Invoice generation failed: {type(exc).__name__}: {exc}. Fix the cause, recover "
            "the schedule (billing-schedules/recover), and generate again."
        )
    result = GenerationResult(request_id=options.request_id, failed_keys=1)
    with transaction.atomic():
        schedules = list(BillingSchedule.objects.filter(pk__in=key.schedule_ids).order_by("id"))
        BillingSchedule.objects.filter(pk__in=key.schedule_ids).update(status=ScheduleStatus.ERROR)
        for s in schedules:
            error_log_record(
                category=ErrorLog.Category.GENERATION,
                code=code,
                message=f"Billing schedule {s}: {message}",
                primary=s,
                request_id=options.request_id,
                batch_run_id=options.batch_run_id,
            )
            result.errors.append(ScheduleError(s.pk, code, message))
    return result


# --- one chunk, set-based --------------------------------------------------------------------


@dataclass
class _Item:
    """A period item being built, with what its line needs."""

    obj: BillingPeriodItem
    schedule: BillingSchedule
    line_unit_price: Decimal


@dataclass
class _Line:
    obj: InvoiceLine
    items: list[_Item]
    children: list[_Line] = field(default_factory=list)
    depth: int = 0

    def family_size(self) -> int:
        return 1 + sum(c.family_size() for c in self.children)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def _generate_set(chunk: Sequence[PlannedKey], *, options: GenerationOptions) -> GenerationResult:
    from invoicing.services import generation_lean

    result = GenerationResult(request_id=options.request_id)
    if generation_lean.enabled() and options.lean:
        result, chunk = generation_lean.generate(chunk, options=options)
        if not chunk:
            return result
    result.merge(_generate_general(chunk, options=options))
    return result


def _generate_general(
    chunk: Sequence[PlannedKey], *, options: GenerationOptions
) -> GenerationResult:
    """The general path: model instances for bundles, amendments, usage and debit memos."""
    result = GenerationResult(request_id=options.request_id)
    key_of = {sid: key.key for key in chunk for sid in key.schedule_ids}
    schedules = _lock_schedules(list(key_of), options=options)
    if not schedules:
        return result
    usage = _usage_summaries(schedules, options.target_date)

    items_by_key: dict[tuple, list[_Item]] = defaultdict(list)
    billed: dict[int, list[_Item]] = {}
    for s in schedules:
        items = _period_items(s, options=options, usage=usage.get(s.order_item_id, []))
        if items:
            billed[s.pk] = items
            items_by_key[key_of[s.pk]].extend(items)
    if not billed:
        return result

    invoices: list[Invoice] = []
    lines_by_invoice: dict[int, list[_Line]] = {}
    memo_lines = _due_debit_memo_lines(items_by_key, options=options)
    for key, items in items_by_key.items():
        families = _build_lines(items)
        key_invoices = []
        for part in _split(families, options.line_limit()):
            if not part:
                continue
            invoice = _invoice_header(key, part, options=options)
            invoices.append(invoice)
            key_invoices.append(invoice)
            lines_by_invoice[id(invoice)] = part
        _attach_lineless_items(items, key_invoices, lines_by_invoice)
        if key_invoices and key in memo_lines:
            lines_by_invoice[id(key_invoices[-1])] += [
                _Line(obj=line, items=[]) for _, line in memo_lines[key]
            ]

    _write(invoices, lines_by_invoice, billed, options=options)
    if memo_lines:
        from invoicing.services.memos import debit_memos_mark_invoiced

        debit_memos_mark_invoiced(pair for pairs in memo_lines.values() for pair in pairs)
    _advance_schedules(schedules, billed)
    if options.post:
        from invoicing.services.posting import invoices_post_locked

        failures = invoices_post_locked(
            invoices, posted_by=options.posted_by, tax_done=True, keep_drafts_on_error=True
        )
        result.posting_errors += [f.__dict__ for f in failures]
    result.invoice_ids = Ids(i.pk for i in invoices)
    result.schedule_ids = Ids(billed)
    return result


def _due_debit_memo_lines(
    items_by_key: dict[tuple, list[_Item]], *, options: GenerationOptions
) -> dict[tuple, list]:
    """Posted debit memos due by the target date, as extra lines of the first key of their
    account, currency and legal entity (invoicing/services/memos.py). They ride on the key's
    last invoice, after its schedule lines (the max-lines split counts schedule lines)."""
    from invoicing.services.memos import debit_memo_lines_for_keys

    return debit_memo_lines_for_keys(
        {key: (key[0], key[2], key[4]) for key in items_by_key},  # see invoice_key()
        target_date=options.target_date,
        skip_locked=options.skip_locked,
    )


def _attach_lineless_items(
    items: list[_Item], invoices: list[Invoice], lines_by_invoice: dict[int, list[_Line]]
) -> None:
    """A period item that makes no line (zero amount, treatment skip) still belongs to an
    invoice of its key, so it is posted and voided with it: the invoice that carries its
    bundle parent's line, else the key's first invoice."""
    if not invoices:
        return
    on_lines: set[int] = set()
    holder: dict[int, Invoice] = {}
    for invoice in invoices:
        for family in lines_by_invoice[id(invoice)]:
            for line in family.walk():
                for it in line.items:
                    on_lines.add(id(it))
                    holder.setdefault(it.schedule.pk, invoice)
                    if it.schedule.original_schedule_id:
                        holder.setdefault(it.schedule.original_schedule_id, invoice)
    for it in items:
        if id(it) not in on_lines:
            it.obj.invoice = holder.get(it.schedule.parent_schedule_id, invoices[0])


def _lock_schedules(ids: list[int], *, options: GenerationOptions) -> list[BillingSchedule]:
    """Lock the chunk's schedules in id order, re-checking eligibility on the locked rows."""
    return list(
        BillingSchedule.objects.select_for_update(of=("self",), skip_locked=options.skip_locked)
        .filter(
            pk__in=ids,
            status=ScheduleStatus.READY,
            next_billing_date__lte=options.target_date,
        )
        .select_related(
            "product",
            "unit",
            "original_schedule",
            "payment_term",
            "billing_address",
            "account",
        )
        .order_by("id")
    )


def _usage_summaries(
    schedules: list[BillingSchedule], target_date: dt.date
) -> dict[int, list[UsageSummary]]:
    item_ids = [s.order_item_id for s in schedules if s.charge_type == ChargeType.USAGE]
    if not item_ids:
        return {}
    out: dict[int, list[UsageSummary]] = defaultdict(list)
    rows = (
        UsageSummary.objects.select_for_update(of=("self",))
        .filter(
            order_item_id__in=item_ids,
            status=UsageSummary.Status.READY,
            period_end__lte=target_date,
        )
        .exclude(
            Exists(
                BillingPeriodItem.objects.filter(
                    usage_summary_id=OuterRef("pk"), invoice_status__in=_LIVE
                )
            )
        )
        .order_by("period_start", "id")
    )
    for summary in rows:
        out[summary.order_item_id].append(summary)
    return out


def line_unit_price(unit_price: Decimal, pricing_term: str, frequency: str) -> Decimal:
    """The price of one unit for one full billing period (a yearly 1,200 billed monthly: 100)."""
    term = PRICING_TERM_MONTHS.get(pricing_term)
    freq = FREQUENCY_MONTHS.get(frequency)
    if term is None or freq is None:
        return unit_price
    value = Fraction(unit_price) * Fraction(freq, term)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.000001"))


def _period_items(
    s: BillingSchedule, *, options: GenerationOptions, usage: list[UsageSummary]
) -> list[_Item]:
    if s.charge_type == ChargeType.USAGE:
        return [_usage_item(s, summary) for summary in usage[: options.period_count or None]]
    end = schedule_billable_end(s)
    periods: list[Period] = periods_through(
        start=s.start_date,
        end=end,
        through=options.target_date,
        from_date=s.next_charge_from_date,
        limit=options.period_count,
        **schedule_cadence(s),
    )
    full_price = period_price(
        quantity=s.quantity,
        unit_price=s.unit_price,
        pricing_term=s.pricing_term,
        frequency=s.billing_frequency,
    )
    unit_price = line_unit_price(s.unit_price, s.pricing_term, s.billing_frequency)
    items = []
    for p in periods:
        proration = p.proration
        amount = round_money(full_price * proration, s.currency)
        items.append(
            _Item(
                obj=BillingPeriodItem(
                    schedule=s,
                    group_id=s.group_id,
                    period_start=p.start,
                    period_end=p.end,
                    amount=amount,
                    quantity=s.quantity,
                    unit_price=unit_price,
                    proration=Decimal(proration.numerator) / Decimal(proration.denominator),
                    invoice_status=BillingPeriodItem.InvoiceStatus.DRAFT,
                ),
                schedule=s,
                line_unit_price=unit_price,
            )
        )
    return items


def _usage_item(s: BillingSchedule, summary: UsageSummary) -> _Item:
    unit = s.unit
    consumed = unit.round(summary.quantity)
    included = unit.round(s.included_quantity or ZERO)
    overage = max(ZERO, unit.round(consumed - included))
    price = s.overage_unit_price if s.overage_unit_price is not None else s.unit_price
    return _Item(
        obj=BillingPeriodItem(
            schedule=s,
            group_id=s.group_id,
            period_start=summary.period_start,
            period_end=summary.period_end,
            amount=round_money(Fraction(overage) * Fraction(price), s.currency),
            quantity=overage,
            unit_price=price,
            usage_summary=summary,
            consumed_quantity=consumed,
            included_quantity=included,
            overage_quantity=overage,
            invoice_status=BillingPeriodItem.InvoiceStatus.DRAFT,
        ),
        schedule=s,
        line_unit_price=price,
    )


_CATEGORY_ORDER = {
    ScheduleCategory.ORIGINAL: 0,
    ScheduleCategory.RENEWAL: 1,
    ScheduleCategory.AMENDMENT: 2,
    ScheduleCategory.CANCELLATION: 3,
}


def _build_lines(items: list[_Item]) -> list[_Line]:
    """Lines of one invoice key, as families (a top-level line and its bundle children).

    Positive items of one schedule group for the same period and unit price merge into one
    line (original + increase); decreases and cancellations stay lines of their own, negative.
    A zero-amount period makes no line when its treatment says skip (the period item is still
    billed). A bundle child hangs under its parent schedule's line for the earliest period
    that overlaps its own; with no such line on this invoice it stands alone.
    """
    merged: dict[tuple, _Line] = {}
    lines: list[_Line] = []
    for it in sorted(
        items,
        key=lambda i: (
            _depth(i.schedule),
            i.obj.period_start,
            _CATEGORY_ORDER.get(i.schedule.category, 9),
            i.schedule.pk,
        ),
    ):
        s = it.schedule
        if (
            it.obj.amount == ZERO
            and s.zero_amount_handling == ZeroAmountHandling.SKIP
            and not it.obj.usage_summary_id
        ):
            continue
        mergeable = (
            it.obj.quantity > 0
            and s.charge_type != ChargeType.USAGE
            and s.category != ScheduleCategory.CANCELLATION
        )
        merge_key = (s.group_id, it.obj.period_start, it.obj.period_end, it.line_unit_price)
        line = merged.get(merge_key) if mergeable else None
        if line is not None:
            line.items.append(it)
            line.obj.quantity = s.unit.round(line.obj.quantity + it.obj.quantity)
            line.obj.amount += it.obj.amount
            line.obj.has_multiple_items = True
            continue
        line = _Line(obj=_line_for(it), items=[it], depth=_depth(s))
        lines.append(line)
        if mergeable:
            merged[merge_key] = line

    # Attach bundle children to their parent lines (parents come first: sorted by depth).
    by_schedule: dict[int, list[_Line]] = defaultdict(list)
    top: list[_Line] = []
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
            by_schedule[it.schedule.pk].append(line)
            if it.schedule.original_schedule_id:
                by_schedule[it.schedule.original_schedule_id].append(line)
    for family in top:
        _roll_up_bundle(family)
    return top


def _depth(schedule: BillingSchedule) -> int:
    depth, current = 0, schedule
    while current.parent_schedule_id is not None:
        depth += 1
        current = current.parent_schedule
        if current is None or depth > 3:
            break
    return depth


def _earliest_overlap(candidates: list[_Line], line: _Line) -> _Line | None:
    start, end = line.obj.period_start, line.obj.period_end
    overlapping = [c for c in candidates if c.obj.period_start <= end and c.obj.period_end >= start]
    return min(overlapping, key=lambda c: c.obj.period_start) if overlapping else None


def _roll_up_bundle(line: _Line) -> Decimal:
    """Parent lines show the bundle total (own amount + children's) in bundle_total."""
    total = line.obj.amount
    for child in line.children:
        total += _roll_up_bundle(child)
    if line.children:
        line.obj.bundle_total = total
    return total


def line_description(
    *,
    category: str,
    period_start: dt.date,
    period_end: dt.date,
    proration,
    quantity: Decimal,
    is_usage: bool,
) -> str:
    """A generated line's description: prorated days, credit or decrease."""
    description = ""
    if proration != 1 and not is_usage:
        description = f"Prorated {period_end.toordinal() - period_start.toordinal() + 1} days"
    if category == ScheduleCategory.CANCELLATION:
        description = ("Cancellation credit. " + description).strip()
    elif category == ScheduleCategory.AMENDMENT and quantity < 0:
        description = ("Quantity decrease. " + description).strip()
    return description


def _line_for(it: _Item) -> InvoiceLine:
    s = it.schedule
    p = it.obj
    return InvoiceLine(
        type=InvoiceLine.Type.CHARGE,
        product=s.product,
        name=s.product.name,
        description=line_description(
            category=s.category,
            period_start=p.period_start,
            period_end=p.period_end,
            proration=p.proration,
            quantity=p.quantity,
            is_usage=bool(p.usage_summary_id),
        ),
        period_start=p.period_start,
        period_end=p.period_end,
        quantity=p.quantity,
        unit=s.unit,
        unit_price=it.line_unit_price,
        amount=p.amount,
        taxable=s.product.taxable,
        tax_code=s.product.tax_code,
        billing_schedule=s,
        schedule_group_id=s.group_id,
        is_usage=bool(p.usage_summary_id),
        consumed_quantity=p.consumed_quantity,
        included_quantity=p.included_quantity,
        overage_quantity=p.overage_quantity,
    )


def _split(families: list[_Line], limit: int) -> list[list[_Line]]:
    """Split a key's line families into invoices of at most `limit` lines each; a family
    (a bundle line and its children) is never split."""
    parts: list[list[_Line]] = [[]]
    count = 0
    for family in families:
        size = family.family_size()
        if parts[-1] and count + size > limit:
            parts.append([])
            count = 0
        parts[-1].append(family)
        count += size
    return parts


def _invoice_header(key: tuple, families: list[_Line], *, options: GenerationOptions) -> Invoice:
    first = min(
        (it.schedule for f in families for line in f.walk() for it in line.items),
        key=lambda s: (s.parent_schedule_id is not None, s.pk),
    )
    orders = {it.schedule.order_id for f in families for line in f.walk() for it in line.items}
    term = first.payment_term
    fields = invoice_header_fields(key, first, term, orders, options=options)
    del fields["payment_term_id"]
    return Invoice(status=InvoiceStatus.DRAFT, payment_term=term, **fields)


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


def invoice_header_fields(
    key: tuple, first, term, orders: set[int], *, options: GenerationOptions
) -> dict:
    """A generated invoice's header from its key, its first schedule (`first`: anything with
    the schedule's attributes), payment term and the orders of its lines."""
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
        "|".join("" if v is None else str(v) for v in key)[:500],
        options.batch_run_id or None,
    )
    return dict(zip(INVOICE_HEADER_FIELDS, values, strict=True))


def _write(
    invoices: list[Invoice],
    lines_by_invoice: dict[int, list[_Line]],
    billed: dict[int, list[_Item]],
    *,
    options: GenerationOptions,
) -> None:
    """Insert invoices, lines (parents before children), taxes, addresses and period items,
    each kind in one bulk statement per depth."""
    Invoice.objects.bulk_create(invoices)
    by_depth: dict[int, list[InvoiceLine]] = defaultdict(list)
    line_sets: list[tuple[Invoice, list[_Line]]] = []
    for invoice in invoices:
        families = lines_by_invoice[id(invoice)]
        flat: list[_Line] = []
        for family in families:
            flat.extend(_walk_with_parents(family, None))
        for order, line in enumerate(flat, start=1):
            line.obj.invoice = invoice
            line.obj.sort_order = order
            by_depth[line.depth].append(line.obj)
        line_sets.append((invoice, flat))
    for depth in sorted(by_depth):
        for obj in by_depth[depth]:
            if obj.parent_line is not None:
                obj.parent_line_id = obj.parent_line.pk
        InvoiceLine.objects.bulk_create(by_depth[depth])

    InvoiceAddress.objects.bulk_create(_addresses(line_sets))
    invoice_lines_tax(
        [(invoice, [line.obj for line in flat]) for invoice, flat in line_sets],
        estimate=not options.post,
    )
    rows_update(
        [line.obj for _, flat in line_sets for line in flat if line.obj.tax_amount],
        ["tax_amount"],
    )
    for invoice, flat in line_sets:
        invoice_totals_set(invoice, [line.obj for line in flat])
    rows_update(invoices, ["total_charges", "total_adjustments", "total_tax", "total", "balance"])

    period_items = []
    for _, flat in line_sets:
        for line in flat:
            for it in line.items:
                it.obj.invoice = line.obj.invoice
                it.obj.invoice_line = line.obj
    for items in billed.values():
        for it in items:
            if options.batch_run_id:
                it.obj.batch_run_id = options.batch_run_id
            if it.obj.invoice_id is None and it.obj.invoice is not None:
                it.obj.invoice_id = it.obj.invoice.pk
            period_items.append(it.obj)
    BillingPeriodItem.objects.bulk_create(period_items, batch_size=5000)


def _walk_with_parents(line: _Line, parent: _Line | None):
    if parent is not None:
        line.obj.parent_line = parent.obj
    yield line
    for child in line.children:
        yield from _walk_with_parents(child, line)


def invoice_totals_set(invoice: Invoice, lines: Iterable[InvoiceLine]) -> None:
    """Set an invoice's totals from its lines (see invoice_totals)."""
    totals = invoice_totals((line.type, line.amount, line.tax_amount) for line in lines)
    for name, value in totals.items():
        setattr(invoice, name, value)


def invoice_totals(lines: Iterable[tuple[str, Decimal, Decimal]]) -> dict[str, Decimal]:
    """Totals from rounded line amounts, given as (line type, amount, tax): no rounding here.
    Keys in the order of the Invoice fields they set."""
    charges = adjustments = tax = ZERO
    for kind, amount, line_tax in lines:
        if kind == InvoiceLine.Type.ADJUSTMENT:
            adjustments += amount
        else:
            charges += amount
        tax += line_tax
    total = charges + adjustments + tax
    return {
        "total_charges": charges,
        "total_adjustments": adjustments,
        "total_tax": tax,
        "total": total,
        "balance": total,
    }


def _addresses(line_sets) -> list[InvoiceAddress]:
    """Billing address snapshots; each invoice also keeps its tax location for the engine."""
    out = []
    for invoice, flat in line_sets:
        schedule = flat[0].items[0].schedule if flat and flat[0].items else None
        address = schedule.billing_address if schedule else None
        invoice._tax_location = (address.country, address.region) if address else ("", "")
        if address is None:
            continue
        out.append(
            InvoiceAddress(
                invoice=invoice,
                kind=InvoiceAddress.Kind.BILLING,
                name=schedule.account.name,
                **address.as_dict(),
            )
        )
    return out


def _advance_schedules(schedules: list[BillingSchedule], billed: dict[int, list[_Item]]) -> None:
    """Move each billed schedule past what it billed: next charge-from date, next billing
    date, billed and pending amounts; completely billed after its last period."""
    changed = []
    for s in schedules:
        items = billed.get(s.pk)
        if not items:
            continue
        schedule_advance(s, billed_through=max(i.obj.period_end for i in items))
        s.billed_amount += sum((i.obj.amount for i in items), ZERO)
        if s.total_amount is not None:
            s.pending_amount = s.total_amount - s.billed_amount
        changed.append(s)
    rows_update(
        changed,
        ["next_charge_from_date", "next_billing_date", "billed_amount", "pending_amount", "status"],
    )


def schedule_advance(s: BillingSchedule, *, billed_through: dt.date) -> None:
    """Set next_charge_from_date / next_billing_date / status from what is billed through."""
    s.next_charge_from_date = billed_through + ONE_DAY
    if s.charge_type == ChargeType.USAGE:
        return  # usage stays open for late usage; eligibility looks at its summaries
    s.next_billing_date, s.status = schedule_next_bill(
        start=s.start_date,
        end=schedule_billable_end(s),
        from_date=s.next_charge_from_date,
        cadence=tuple(sorted(schedule_cadence(s).items())),
    )


@functools.lru_cache(maxsize=4096)
def schedule_next_bill(
    *, start: dt.date, end: dt.date | None, from_date: dt.date, cadence: tuple
) -> tuple[dt.date | None, str]:
    """(next billing date, status) of a recurring schedule billed up to the day before
    `from_date`: ready with the next period's billing date, or completely billed. Pure, so
    cached: schedules on the same grid share the answer."""
    nxt = next(iter_periods(start=start, end=end, from_date=from_date, **dict(cadence)), None)
    if nxt is None or (end is not None and nxt.start > end):
        return None, ScheduleStatus.COMPLETELY_BILLED
    return nxt.billing_date, ScheduleStatus.READY
