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
import logging
import uuid
from array import array
from collections import defaultdict, namedtuple
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Self

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Account, BillingProfile
from billing.choices import ChargeType, ScheduleCategory, ScheduleStatus
from billing.models import BillingSchedule, Order, UsageSummary
from billing.schedules import SCHEDULE_BILLED_FIELDS, schedule_billed
from core.db import values_update
from core.exceptions import DomainError, NotFound, ValidationError
from core.money import ZERO
from core.progress import ProgressCallback
from invoicing import hooks
from invoicing.locks import (
    BillableSchedule,
    billing_schedules_lock_billable,
    usage_summaries_lock_billable,
)
from invoicing.models import BillingPeriodItem, ErrorLog, Invoice
from invoicing.services.errors import error_log_record
from invoicing.services.generation_plan import (
    GenerationOptions,
    GenerationPlan,
    InvoiceKey,
    PlannedKey,
    invoice_key,
    key_chunks,
    memo_line,
    plan_invoices,
    plan_items,
    plan_totals,
    root_key,
)
from invoicing.services.generation_write import schedule_rows, write_models, write_rows
from invoicing.services.memos import (
    debit_memo_lines_for_keys,
    debit_memos_due_scopes,
    debit_memos_mark_invoiced,
)
from invoicing.services.posting import PostingFailure
from invoicing.services.taxing import invoice_tax_contexts, lines_tax

logger = logging.getLogger(__name__)

ONE_DAY = dt.timedelta(days=1)
CHUNK_SCHEDULES = 1000  # schedules locked and written per transaction
# An invoice date may lie at most this many days after the later of the target date and
# today: further out it is a typing error (9999-12-31), and its due date could overflow.
INVOICE_DATE_MAX_DAYS_AHEAD = 366
_LIVE = [BillingPeriodItem.InvoiceStatus.DRAFT, BillingPeriodItem.InvoiceStatus.POSTED]


# --------------------------------------------------------------------------------------------
# Inputs and outputs


@dataclass(frozen=True)
class ScheduleError:
    schedule_id: int
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"billing_schedule": self.schedule_id, "code": self.code, "message": self.message}


class Ids(array):  # array[int]: not subscriptable before Python 3.12
    """Ids packed 8 bytes each, not 36 as a list of ints: a run's result holds one per
    billed schedule, and the benchmark's memory target allows no growth with the run's size
    beyond that. Equal to any sequence of the same ids; + and += take any iterable."""

    def __new__(cls, values: Iterable[int] = ()) -> Self:
        # typeshed types array.__new__ as returning array[int], not the subclass asked for.
        return super().__new__(cls, "q", values)  # type: ignore[return-value]

    def __add__(self, other: Iterable[int]) -> Self:
        return type(self)((*self, *other))

    def __iadd__(self, other: Iterable[int]) -> Self:
        self.extend(other)
        return self

    def __eq__(self, other: object) -> bool:
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
    # Batch workers (skip_locked): billable schedules another transaction held locked, so
    # this request passed over them (its caller retries or reports them).
    skipped_locked: Ids = field(default_factory=Ids)

    @property
    def invoices(self) -> QuerySet[Invoice]:
        return Invoice.objects.filter(pk__in=self.invoice_ids).order_by("id")

    def merge(self, other: GenerationResult) -> None:
        self.invoice_ids += other.invoice_ids
        self.schedule_ids += other.schedule_ids
        self.errors += other.errors
        self.posting_errors += other.posting_errors
        self.failed_keys += other.failed_keys
        self.skipped_locked += other.skipped_locked


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
    progress: ProgressCallback | None = None,
) -> GenerationResult:
    """Generate invoices on demand for an order, an account or a list of schedules.

    Precedence: the order wins over the account, which wins over the schedule list
    (`all_schedules`: every eligible schedule, for operators). If any selected schedule is
    suspended, nothing is invoiced and the errors say which. `progress(done, total)` is
    called after each chunk with the schedules processed so far.
    """
    if action not in ("draft", "posted"):
        raise ValidationError({"action": "Use 'draft' or 'posted'."})
    if order_id is None and account_id is None and not billing_schedule_ids and not all_schedules:
        raise ValidationError(
            {"non_field_errors": "Name an order, an account or a list of billing schedules."}
        )
    invoice_date_check(target_date=target_date, invoice_date=invoice_date)
    references_check(
        order_id=order_id, account_id=account_id, billing_schedule_ids=billing_schedule_ids
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
    result.merge(generate_for_keys(plan_keys(eligible), options=options, progress=progress))
    return result


def invoice_date_error(
    *, target_date: dt.date, invoice_date: dt.date | None, today: dt.date | None = None
) -> str:
    """Why `invoice_date` cannot date the invoices of a generation up to `target_date` ("" if
    it can): it may lie at most INVOICE_DATE_MAX_DAYS_AHEAD days after the later of the target
    date and today (a run catching up on an old target date may be dated today)."""
    if invoice_date is None or target_date is None:
        return ""
    today = today or timezone.localdate()
    base = max(target_date, today)
    if (invoice_date - base).days <= INVOICE_DATE_MAX_DAYS_AHEAD:
        return ""
    which = "the target date" if base == target_date else "today"
    latest = dt.date.fromordinal(base.toordinal() + INVOICE_DATE_MAX_DAYS_AHEAD)
    return (
        f"{invoice_date.isoformat()} is more than {INVOICE_DATE_MAX_DAYS_AHEAD} days after "
        f"{which} ({base.isoformat()}). Use an invoice date on or before {latest.isoformat()}, "
        "or leave it empty to date the invoices on the target date."
    )


def invoice_date_check(*, target_date: dt.date, invoice_date: dt.date | None) -> None:
    """Refuse an invoice date too far ahead (invoice_date_error) before anything is written."""
    if error := invoice_date_error(target_date=target_date, invoice_date=invoice_date):
        raise ValidationError({"invoice_date": error})


def references_check(
    *,
    order_id: int | None = None,
    account_id: int | None = None,
    billing_schedule_ids: Sequence[int] | None = None,
) -> None:
    """Refuse a request that names an order, an account or billing schedules that do not
    exist (NotFound naming the field), before anything is read for billing or written. Every
    reference sent is checked, also one that the precedence would leave unused."""
    missing: dict[str, list[str]] = {}
    if order_id is not None and not Order.objects.filter(pk=order_id).exists():
        missing["order"] = [f"Order {order_id} does not exist."]
    if account_id is not None and not Account.objects.filter(pk=account_id).exists():
        missing["account"] = [f"Account {account_id} does not exist."]
    if billing_schedule_ids:
        requested = set(billing_schedule_ids)
        found = set(BillingSchedule.objects.filter(pk__in=requested).values_list("pk", flat=True))
        if unknown := sorted(requested - found):
            ids = ", ".join(str(pk) for pk in unknown)
            noun = "Billing schedule" if len(unknown) == 1 else "Billing schedules"
            verb = "does" if len(unknown) == 1 else "do"
            missing["billing_schedule_ids"] = [f"{noun} {ids} {verb} not exist."]
    if missing:
        message = " ".join(m for messages in missing.values() for m in messages)
        raise NotFound(message, details=missing)


def schedules_eligible(*, target_date: dt.date) -> QuerySet[BillingSchedule]:
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
        if day is None:  # nothing left to bill, so nothing to suspend
            continue
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
    keys: dict[InvoiceKey, list[int]] = defaultdict(list)
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
    keys: dict[InvoiceKey, list[int]] = defaultdict(list)
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
    planned: Iterable[PlannedKey],
    *,
    options: GenerationOptions,
    progress: ProgressCallback | None = None,
) -> GenerationResult:
    """Process planned keys in chunks, each in one transaction; a failing chunk is retried
    key by key, so only the broken key rolls back. `planned` may be a stream
    (plan_keys_stream): it is consumed one chunk at a time. `progress(done, total)`, for a
    planned list, counts its schedules after each chunk."""
    result = GenerationResult(request_id=options.request_id)
    counted = progress is not None and isinstance(planned, list)
    total = sum(len(key.schedule_ids) for key in planned) if counted else 0
    done = 0
    if progress is not None and total:
        progress(0, total)
    for chunk in key_chunks(planned, CHUNK_SCHEDULES):
        try:
            with transaction.atomic():
                result.merge(_generate_chunk(chunk, options=options))
        except Exception as exc:  # noqa: BLE001 - isolate the failure, then retry key by key
            if len(chunk) == 1:
                result.merge(_fail_key(chunk[0], exc, options=options))
            else:
                for key in chunk:
                    result.merge(_retry_alone(key, options=options))
        if progress is not None:
            done += sum(len(key.schedule_ids) for key in chunk)
            progress(done, max(total, done))
    return result


def _retry_alone(key: PlannedKey, *, options: GenerationOptions) -> GenerationResult:
    """Generate one key in its own transaction; if it fails, record the failure."""
    try:
        with transaction.atomic():
            return _generate_chunk([key], options=options)
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


# --------------------------------------------------------------------------------------------
# One chunk: lock, plan, write


def _generate_chunk(chunk: Sequence[PlannedKey], *, options: GenerationOptions) -> GenerationResult:
    """Lock the chunk's schedules, plan their invoices and write them: the COPY writer for
    the keys it takes (copy_writer_keys), the ORM writer for the rest."""
    result = GenerationResult(request_id=options.request_id)
    key_of = {sid: planned.key for planned in chunk for sid in planned.schedule_ids}
    rows = billing_schedules_lock_billable(
        list(key_of), target_date=options.target_date, skip_locked=options.skip_locked
    )
    if options.skip_locked and len(rows) < len(key_of):
        result.skipped_locked = Ids(_held_elsewhere(set(key_of) - {r.id for r in rows}, options))
    if not rows:
        return result
    rows_by_key: dict[InvoiceKey, list[BillableSchedule]] = defaultdict(list)
    for row in rows:
        rows_by_key[key_of[row.id]].append(row)
    copy_keys = copy_writer_keys(rows_by_key, options=options)

    copy_rows = [row for row in rows if key_of[row.id] in copy_keys]
    if copy_rows:
        schedules = schedule_rows(copy_rows)
        items_by_key, billed = plan_items(schedules, key_of, options=options)
        plan = plan_invoices(schedules, items_by_key, billed, options=options)
        result.merge(_persist(plan, write_rows, options=options))

    orm_ids = [row.id for row in rows if key_of[row.id] not in copy_keys]
    if orm_ids:
        orm_schedules = list(
            BillingSchedule.objects.filter(pk__in=orm_ids)  # locked above
            .select_related(
                "product",
                "unit",
                "original_schedule",
                "payment_term",
                "billing_address",
                "account",
                "parent_schedule__parent_schedule",
            )
            .order_by("id")
        )
        usage = _usage_summaries(orm_schedules, options.target_date)
        items_by_key, billed = plan_items(orm_schedules, key_of, options=options, usage=usage)
        memo_pairs = debit_memo_lines_for_keys(
            {key: key.debit_memo_scope for key in items_by_key},
            target_date=options.target_date,
            skip_locked=options.skip_locked,
        )
        plan = plan_invoices(
            orm_schedules,
            items_by_key,
            billed,
            options=options,
            memo_lines={
                key: [memo_line(line) for _, line in pairs] for key, pairs in memo_pairs.items()
            },
        )
        result.merge(_persist(plan, write_models, options=options))
        if memo_pairs:
            debit_memos_mark_invoiced(pair for pairs in memo_pairs.values() for pair in pairs)
    return result


def _held_elsewhere(ids: set[int], options: GenerationOptions) -> list[int]:
    """Among schedules the locking query passed over, those still billable in the last
    committed state: another transaction holds them locked (the others are billed, or no
    longer due). The same filter as the lock, without a lock."""
    return sorted(
        BillingSchedule.objects.filter(
            pk__in=list(ids),
            status=ScheduleStatus.READY,
            next_billing_date__lte=options.target_date,
        ).values_list("pk", flat=True)
    )


def copy_writer_keys(
    rows_by_key: dict[InvoiceKey, list[BillableSchedule]], *, options: GenerationOptions
) -> set[InvoiceKey]:
    """The keys the COPY writer takes: on PostgreSQL, keys made only of plain recurring or
    one-time original schedules (no usage, amendment, cancellation or bundle member), each
    alone in its schedule group (two could merge into one line), with no debit memo due and,
    when posting, of an account no posting check applies to. Every other key goes to the
    ORM writer."""
    if not options.copy_writer or connection.vendor != "postgresql":
        return set()
    keys = set()
    for key, rows in rows_by_key.items():
        groups = {r.group_id for r in rows}
        if len(groups) == len(rows) and all(
            r.charge_type != ChargeType.USAGE
            and r.category == ScheduleCategory.ORIGINAL
            and r.original_schedule_id is None
            and r.parent_schedule_id is None
            and not r.has_children
            for r in rows
        ):
            keys.add(key)
    if keys:
        due = debit_memos_due_scopes(
            {key.account_id for key in keys}, target_date=options.target_date
        )
        keys = {key for key in keys if key.debit_memo_scope not in due}
    if keys and options.post:
        # Invoices a posting check may refuse (e-invoicing) are posted by the ORM writer,
        # which runs the checks before numbering.
        checked = hooks.posting_checked_accounts({key.account_id for key in keys})
        keys = {key for key in keys if key.account_id not in checked}
    return keys


def _usage_summaries(schedules: list[BillingSchedule], target_date: dt.date) -> dict[int, list]:
    item_ids = [s.order_item_id for s in schedules if s.charge_type == ChargeType.USAGE]
    if not item_ids:
        return {}
    out: dict[int, list] = defaultdict(list)
    for summary in usage_summaries_lock_billable(item_ids, target_date=target_date):
        out[summary.order_item_id].append(summary)
    return out


class _Writer(Protocol):
    """write_models or write_rows: writes a taxed plan, returns (invoice ids, failures)."""

    def __call__(
        self, plan: GenerationPlan, *, options: GenerationOptions
    ) -> tuple[list[int], list[PostingFailure]]: ...


def _persist(
    plan: GenerationPlan, writer: _Writer, *, options: GenerationOptions
) -> GenerationResult:
    """Tax and totals of the plan, the schedules' advance, then the writer (which posts
    last, with posted output)."""
    result = GenerationResult(request_id=options.request_id)
    if not plan.billed:
        return result
    plan_tax(plan, estimate=not options.post)
    plan_totals(plan)
    schedules_billed_save(plan)
    invoice_ids, failures = writer(plan, options=options)
    plan.release()
    result.invoice_ids = Ids(invoice_ids)
    result.schedule_ids = Ids(plan.billed)
    result.posting_errors += [f.__dict__ for f in failures]
    return result


def plan_tax(plan: GenerationPlan, *, estimate: bool) -> None:
    """Tax of every planned line, one engine call per tax context."""
    if not plan.invoices:
        return
    contexts = invoice_tax_contexts(plan.invoices, [i.location for i in plan.invoices])
    lines_tax(
        [
            (context, invoice.lines)
            for context, invoice in zip(contexts, plan.invoices, strict=True)
        ],
        estimate=estimate,
    )


def schedules_billed_save(plan: GenerationPlan) -> None:
    """Move each billed schedule past what it billed (billing/schedules.py schedule_billed)
    and save its billing state in one statement."""
    changed = []
    for s in plan.schedules:
        items = plan.billed.get(s.id)
        if items:
            schedule_billed(
                s,
                billed_through=max(it.period_end for it in items),
                amount=sum((it.amount for it in items), ZERO),
            )
            changed.append(s)
    values_update(
        BillingSchedule,
        SCHEDULE_BILLED_FIELDS,
        [s.id for s in changed],
        [[getattr(s, f) for s in changed] for f in SCHEDULE_BILLED_FIELDS],
    )
