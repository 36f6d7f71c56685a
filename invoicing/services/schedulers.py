"""Invoice schedulers: validation, run dates, target and invoice dates, the Celery beat
periodic task that fires them, and the runs they start (`scheduler_fire`, `scheduler_run_now`;
the runs themselves are in invoicing/services/runs.py). See docs/batch-runs.md.

Run dates are dates in the scheduler's timezone. A scheduler's *nominal* dates follow its
cadence (once: the start date; daily; weekly on a weekday; monthly on day 1–28, the last day
``L``, the second-to-last ``L-1`` or the third-to-last ``L-2``); with ``exclude_weekends``
a nominal date on a Saturday or Sunday moves to the next Monday (two nominal dates moving
to the same Monday make one run). A run date lies between the start and end dates.

The run time is ``time`` in the scheduler's timezone. Across daylight-saving changes the
wall-clock time stays the same (02:00 in Berlin is 01:00 UTC in winter, 00:00 UTC in
summer). A wall-clock time that does not exist on a spring-forward day (02:30 in New York on
the second Sunday of March) runs the length of the gap later (03:30); a time that occurs
twice on a fall-back day runs at its first occurrence.

Celery beat fires an active scheduler through a django-celery-beat PeriodicTask whose
CrontabSchedule is in the scheduler's timezone. Cron cannot say "last day of the month" or
"next business day", so the crontab fires on every day that *can* be a run date and the
task (`invoicing.scheduler_fire`) starts a run only when the day is one
(`scheduler_is_run_date`), once per run date.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from core.exceptions import NotFound, ValidationError, django_validation_details
from invoicing.dispatch import SCHEDULER_FIRE
from invoicing.exceptions import SchedulerCanceled, SchedulerNotEditable, SchedulerStatusConflict
from invoicing.locks import scheduler_lock
from invoicing.models import InvoiceBatchRun, InvoiceScheduler
from invoicing.services.generation import INVOICE_DATE_MAX_DAYS_AHEAD, invoice_date_error
from invoicing.services.runs import batch_run_create, batch_run_start, run_filters_clean

ONE_DAY = dt.timedelta(days=1)
MONTH_END_CODES = {"L": 0, "L-1": 1, "L-2": 2}  # days before the month's last day
MAX_PERIOD_COUNT = 12

Run = InvoiceBatchRun
Status = InvoiceScheduler.Status
Cadence = InvoiceScheduler.Cadence

# Fields a scheduler's owner sets (status goes through activate/deactivate/cancel).
EDITABLE_FIELDS = (
    "name",
    "cadence",
    "weekday",
    "day_of_month",
    "time",
    "timezone",
    "start_date",
    "end_date",
    "exclude_weekends",
    "invoice_status",
    "target_date",
    "target_date_offset",
    "invoice_date",
    "invoice_date_offset",
    "invoice_date_from_run_date",
    "billing_period_count",
    "filters",
)


# --------------------------------------------------------------------------------------------
# Validation


def scheduler_validate(s: InvoiceScheduler) -> None:
    """Every rule of a scheduler, reported together as {field: [messages]}.

    Normalises `filters` and `day_of_month` in place.
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    try:  # types first (it also converts strings: "02:00" → a time)
        s.clean_fields(exclude=["periodic_task", "filters"])
    except DjangoValidationError as exc:
        raise ValidationError(django_validation_details(exc))
    if s.cadence not in Cadence.values:
        add("cadence", f"Use one of {', '.join(Cadence.values)}.")
    if s.cadence == Cadence.WEEKLY:
        if s.weekday is None or not 0 <= int(s.weekday) <= 6:
            add("weekday", "A weekly scheduler needs a weekday: 0 (Monday) … 6 (Sunday).")
    elif s.weekday is not None:
        add("weekday", "Only a weekly scheduler has a weekday.")
    s.day_of_month = (s.day_of_month or "").strip().upper()
    if s.cadence == Cadence.MONTHLY:
        if not _valid_day_of_month(s.day_of_month):
            add(
                "day_of_month",
                "A monthly scheduler runs on day 1–28, L (last day), L-1 (second to last) or "
                "L-2 (third to last).",
            )
    elif s.day_of_month:
        add("day_of_month", "Only a monthly scheduler has a day of the month.")
    try:
        ZoneInfo(s.timezone or "")
        if s.timezone not in _zones():
            raise ZoneInfoNotFoundError(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        add("timezone", f"'{s.timezone}' is not an IANA time zone, e.g. Europe/Berlin or UTC.")
    if s.start_date is None:
        add("start_date", "Required.")
    elif s.end_date is not None and s.end_date < s.start_date:
        add("end_date", "The end date is before the start date.")
    if s.invoice_status not in ("draft", "posted"):
        add("invoice_status", "Use draft or posted.")
    if s.cadence == Cadence.ONCE:
        if s.target_date is None and s.target_date_offset is None:
            add("target_date", "A one-off scheduler needs a target date (or a target offset).")
    else:
        if s.target_date is not None:
            add(
                "target_date",
                "A recurring scheduler bills up to its run date + target_date_offset; an "
                "explicit target date would bill the same date on every run.",
            )
        if s.invoice_date is not None:
            add(
                "invoice_date",
                "A recurring scheduler's invoice date is its target or run date + "
                "invoice_date_offset.",
            )
    if s.invoice_date is not None and s.invoice_date_offset is not None:
        add("invoice_date_offset", "Give an invoice date or an invoice date offset, not both.")
    if s.invoice_date_offset is not None and s.invoice_date_offset > INVOICE_DATE_MAX_DAYS_AHEAD:
        add(
            "invoice_date_offset",
            f"At most {INVOICE_DATE_MAX_DAYS_AHEAD} days: invoices are dated at most "
            f"{INVOICE_DATE_MAX_DAYS_AHEAD} days after their target date (or today), so every "
            "run of this scheduler would be refused.",
        )
    if s.invoice_date is not None and s.target_date is not None:
        too_far = invoice_date_error(target_date=s.target_date, invoice_date=s.invoice_date)
        if too_far:
            add("invoice_date", too_far)
    if s.invoice_date_from_run_date and s.invoice_date is not None:
        add("invoice_date_from_run_date", "Not with an explicit invoice date.")
    if s.billing_period_count is not None and not (
        1 <= int(s.billing_period_count) <= MAX_PERIOD_COUNT
    ):
        add("billing_period_count", f"Between 1 and {MAX_PERIOD_COUNT}.")
    try:
        s.filters = run_filters_clean(s.filters)
    except ValidationError as exc:
        for field, messages in exc.details.items():
            errors.setdefault(field, []).extend(messages)
    if not errors:
        try:
            s.validate_unique()
            s.validate_constraints()
        except DjangoValidationError as exc:
            errors.update(django_validation_details(exc))
    if errors:
        raise ValidationError(errors)


def _valid_day_of_month(value: str) -> bool:
    if value in MONTH_END_CODES:
        return True
    return value.isdigit() and 1 <= int(value) <= 28


_ZONES: set[str] | None = None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    return _ZONES


# --------------------------------------------------------------------------------------------
# Run dates


def scheduler_zone(s: InvoiceScheduler) -> ZoneInfo:
    return ZoneInfo(s.timezone or "UTC")


def _weekday(s: InvoiceScheduler) -> int:
    """A weekly scheduler's weekday, 0 = Monday (scheduler_validate requires one)."""
    if s.weekday is None:
        raise ValidationError(
            {"weekday": "A weekly scheduler needs a weekday: 0 (Monday) … 6 (Sunday)."}
        )
    return int(s.weekday)


def _day_of_month(s: InvoiceScheduler, year: int, month: int) -> dt.date:
    last = calendar.monthrange(year, month)[1]
    code = (s.day_of_month or "").upper()
    if code in MONTH_END_CODES:
        return dt.date(year, month, last - MONTH_END_CODES[code])
    return dt.date(year, month, min(int(code), last))


def _nominal_dates(s: InvoiceScheduler, from_date: dt.date) -> Iterator[dt.date]:
    """The cadence's dates on or after max(from_date, start date), in order."""
    day = max(from_date, s.start_date)
    if s.cadence == Cadence.ONCE:
        if s.start_date >= from_date:
            yield s.start_date
        return
    if s.cadence == Cadence.DAILY:
        while True:
            yield day
            day += ONE_DAY
    if s.cadence == Cadence.WEEKLY:
        day += dt.timedelta(days=(_weekday(s) - day.weekday()) % 7)
        while True:
            yield day
            day += dt.timedelta(days=7)
    year, month = day.year, day.month
    while True:
        candidate = _day_of_month(s, year, month)
        if candidate >= day:
            yield candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def run_date_move(s: InvoiceScheduler, day: dt.date) -> dt.date:
    """A weekend date moves to the next Monday when the scheduler excludes weekends."""
    if s.exclude_weekends and day.weekday() >= 5:
        return day + dt.timedelta(days=7 - day.weekday())
    return day


def scheduler_next_run_date(s: InvoiceScheduler, *, after: dt.date) -> dt.date | None:
    """The first run date strictly after `after`, or None when the scheduler has no more."""
    # A nominal date up to two days before `after` may move past it (Sat → Mon).
    for nominal in _nominal_dates(s, after - dt.timedelta(days=2)):
        if s.end_date is not None and nominal > s.end_date:
            return None
        day = run_date_move(s, nominal)
        if s.end_date is not None and day > s.end_date:
            return None
        if day > after:
            return day
    return None


def scheduler_run_dates(s: InvoiceScheduler, *, first: dt.date, last: dt.date) -> list[dt.date]:
    """Every run date in [first, last]."""
    out = []
    day = scheduler_next_run_date(s, after=first - ONE_DAY)
    while day is not None and day <= last:
        out.append(day)
        day = scheduler_next_run_date(s, after=day)
    return out


def scheduler_is_run_date(s: InvoiceScheduler, day: dt.date) -> bool:
    return scheduler_next_run_date(s, after=day - ONE_DAY) == day


def scheduler_run_at(s: InvoiceScheduler, day: dt.date) -> dt.datetime:
    """The aware instant of the run on `day`: the wall-clock time in the scheduler's zone."""
    zone = scheduler_zone(s)
    local = dt.datetime.combine(day, s.time, tzinfo=zone)
    # A time inside a spring-forward gap does not exist: normalising through UTC moves it by
    # the gap (fold=0 takes the offset in force before the change).
    return local.astimezone(dt.UTC).astimezone(zone)


def scheduler_next_run_at(s: InvoiceScheduler, *, after: dt.datetime) -> dt.datetime | None:
    """The first run instant strictly after `after` (aware), in the scheduler's zone."""
    local_day = after.astimezone(scheduler_zone(s)).date()
    day = scheduler_next_run_date(s, after=local_day - ONE_DAY)
    while day is not None:
        at = scheduler_run_at(s, day)
        if at > after:
            return at
        day = scheduler_next_run_date(s, after=day)
    return None


def scheduler_local_date(s: InvoiceScheduler, now: dt.datetime | None = None) -> dt.date:
    """Today in the scheduler's timezone."""
    return (now or timezone.now()).astimezone(scheduler_zone(s)).date()


@dataclass(frozen=True)
class RunDates:
    run_date: dt.date
    target_date: dt.date
    invoice_date: dt.date


def scheduler_dates(s: InvoiceScheduler, *, run_date: dt.date) -> RunDates:
    """Target date = the explicit one, else run date + target offset (0 when empty).
    Invoice date = the explicit one, else (run date if invoice_date_from_run_date, else the
    target date) + invoice offset (0 when empty)."""
    target = s.target_date or run_date + dt.timedelta(days=s.target_date_offset or 0)
    if s.invoice_date is not None:
        invoice = s.invoice_date
    else:
        base = run_date if s.invoice_date_from_run_date else target
        invoice = base + dt.timedelta(days=s.invoice_date_offset or 0)
    return RunDates(run_date=run_date, target_date=target, invoice_date=invoice)


# --------------------------------------------------------------------------------------------
# The crontab


def scheduler_crontab(s: InvoiceScheduler) -> dict[str, str]:
    """Crontab fields (celery: day_of_week 0 = Sunday) firing on every possible run date."""
    fields = {
        "minute": str(s.time.minute),
        "hour": str(s.time.hour),
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
    }
    if s.cadence == Cadence.ONCE:
        day = run_date_move(s, s.start_date)
        fields.update(day_of_month=str(day.day), month_of_year=str(day.month))
    elif s.cadence == Cadence.DAILY:
        if s.exclude_weekends:
            fields["day_of_week"] = "1-5"
    elif s.cadence == Cadence.WEEKLY:
        weekday = _weekday(s)
        if s.exclude_weekends and weekday >= 5:
            weekday = 0
        fields["day_of_week"] = str((weekday + 1) % 7)
    else:
        fields["day_of_month"] = _cron_list(_possible_days_of_month(s))
    return fields


def _possible_days_of_month(s: InvoiceScheduler) -> set[int]:
    """Days of the month a monthly scheduler's run can fall on: 28 years of months cover every
    combination of month length and weekday."""
    probe = InvoiceScheduler(
        cadence=s.cadence,
        day_of_month=s.day_of_month,
        exclude_weekends=s.exclude_weekends,
        start_date=dt.date(2000, 1, 1),
        time=s.time,
        timezone="UTC",
    )
    days = scheduler_run_dates(probe, first=dt.date(2000, 1, 1), last=dt.date(2027, 12, 31))
    return {d.day for d in days}


def _cron_list(days: set[int]) -> str:
    """1,2,28,29,30,31 → '1-2,28-31'."""
    parts: list[list[int]] = []
    run: list[int] = []
    for day in sorted(days):
        if run and day != run[-1] + 1:
            parts.append(run)
            run = []
        run.append(day)
    if run:
        parts.append(run)
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in parts)


def _periodic_task_sync(s: InvoiceScheduler) -> None:
    """An active scheduler has exactly one enabled periodic task with its crontab; any other
    status has none. Call inside the caller's transaction, with the scheduler locked."""
    if s.status != Status.ACTIVE:
        _periodic_task_delete(s)
        return
    zone = scheduler_zone(s)
    crontab, _ = CrontabSchedule.objects.get_or_create(**scheduler_crontab(s), timezone=zone)
    start_time = dt.datetime.combine(s.start_date, dt.time(0, 0), tzinfo=zone)
    expires = (
        dt.datetime.combine(s.end_date + ONE_DAY, dt.time(0, 0), tzinfo=zone)
        if s.end_date
        else None
    )
    values = {
        "task": SCHEDULER_FIRE,
        "crontab": crontab,
        "interval": None,
        "solar": None,
        "clocked": None,
        "kwargs": json.dumps({"scheduler_id": s.pk}),
        "args": "[]",
        "one_off": s.cadence == Cadence.ONCE,
        "start_time": start_time,
        "expires": expires,
        "enabled": True,
        "description": f"Invoice scheduler '{s.name}' (#{s.pk}): starts its batch runs.",
    }
    task = s.periodic_task
    if task is None:
        task, _ = PeriodicTask.objects.update_or_create(
            name=f"invoice-scheduler-{s.pk}", defaults=values
        )
    else:
        old_crontab_id = task.crontab_id
        for field, value in values.items():
            setattr(task, field, value)
        task.save()
        if old_crontab_id and old_crontab_id != crontab.pk:
            _crontab_delete_if_unused(old_crontab_id)
    if s.periodic_task_id != task.pk:
        s.periodic_task = task
        InvoiceScheduler.objects.filter(pk=s.pk).update(periodic_task=task)


def _periodic_task_delete(s: InvoiceScheduler) -> None:
    task = s.periodic_task
    if task is None:
        return
    crontab_id = task.crontab_id
    task.delete()  # SET_NULL on the scheduler's periodic_task
    s.periodic_task = None
    if crontab_id:
        _crontab_delete_if_unused(crontab_id)


def _crontab_delete_if_unused(crontab_id: int) -> None:
    if not PeriodicTask.objects.filter(crontab_id=crontab_id).exists():
        CrontabSchedule.objects.filter(pk=crontab_id).delete()


# --------------------------------------------------------------------------------------------
# Services


def _locked(scheduler_id: int) -> InvoiceScheduler:
    scheduler = scheduler_lock(scheduler_id, related=("periodic_task",))
    if scheduler is None:
        raise NotFound(f"Invoice scheduler {scheduler_id} does not exist.")
    return scheduler


def _check_activatable(s: InvoiceScheduler) -> None:
    if scheduler_next_run_at(s, after=timezone.now()) is None:
        raise ValidationError(
            {
                "status": "This scheduler has no run date left (start, end date and cadence are "
                "all in the past). Change its dates, or use run-now for a one-off run."
            }
        )


def scheduler_save(*, scheduler_id: int | None = None, **fields: Any) -> InvoiceScheduler:
    """Create a scheduler, or change one that is draft or inactive.

    `status` may be given: draft/active/inactive on creation, or a transition on update
    (an active scheduler accepts only a status change). Saving an active scheduler creates or
    updates its periodic task; any other status removes it.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS) - {"status"}
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Not a scheduler field."))
    status = fields.pop("status", None)
    with transaction.atomic(durable=True):
        if scheduler_id is None:
            scheduler = InvoiceScheduler(**fields)
            scheduler.status = status or Status.DRAFT
            if scheduler.status == Status.CANCELED:
                raise ValidationError(
                    {"status": "Create the scheduler as draft, active or inactive."}
                )
            scheduler_validate(scheduler)
            if scheduler.status == Status.ACTIVE:
                _check_activatable(scheduler)
            scheduler.save()
        else:
            scheduler = _locked(scheduler_id)
            changed = [f for f, v in fields.items() if getattr(scheduler, f) != v]
            if changed and scheduler.status not in (Status.DRAFT, Status.INACTIVE):
                raise SchedulerNotEditable(
                    f"Scheduler '{scheduler.name}' is {scheduler.status}: only a draft or "
                    "inactive scheduler can be edited. Deactivate it first.",
                    details={"status": scheduler.status, "fields": sorted(changed)},
                )
            for field, value in fields.items():
                setattr(scheduler, field, value)
            if status is not None and status != scheduler.status:
                _transition_check(scheduler, status)
                scheduler.status = status
            scheduler_validate(scheduler)
            if scheduler.status == Status.ACTIVE and (changed or status):
                _check_activatable(scheduler)
            scheduler.save()
        _periodic_task_sync(scheduler)
    return scheduler


_TRANSITIONS: dict[str, set[str]] = {
    Status.DRAFT: {Status.ACTIVE, Status.INACTIVE, Status.CANCELED},
    Status.ACTIVE: {Status.INACTIVE, Status.CANCELED},
    Status.INACTIVE: {Status.ACTIVE, Status.CANCELED},
    Status.CANCELED: set(),
}


def _transition_check(s: InvoiceScheduler, to: str) -> None:
    if to not in Status.values:
        raise ValidationError({"status": f"Use one of {', '.join(Status.values)}."})
    if to not in _TRANSITIONS[s.status]:
        raise SchedulerStatusConflict(
            f"Scheduler '{s.name}' is {s.status} and cannot become {to}."
            + (
                " A canceled scheduler is final; create a new one."
                if s.status == "canceled"
                else ""
            ),
            details={"status": s.status, "requested": to},
        )


def _status_set(scheduler_id: int, to: str) -> InvoiceScheduler:
    with transaction.atomic(durable=True):
        scheduler = _locked(scheduler_id)
        if scheduler.status != to:
            _transition_check(scheduler, to)
            scheduler.status = to
            if to == Status.ACTIVE:
                scheduler_validate(scheduler)
                _check_activatable(scheduler)
            scheduler.save(update_fields=["status", "updated_at"])
        _periodic_task_sync(scheduler)
    return scheduler


def scheduler_activate(*, scheduler_id: int) -> InvoiceScheduler:
    """Active: beat fires it (its periodic task is created)."""
    return _status_set(scheduler_id, Status.ACTIVE)


def scheduler_deactivate(*, scheduler_id: int) -> InvoiceScheduler:
    """Inactive: it no longer fires (its periodic task is removed) and can be edited."""
    return _status_set(scheduler_id, Status.INACTIVE)


def scheduler_cancel(*, scheduler_id: int) -> InvoiceScheduler:
    """Canceled for good: its periodic task is removed; its runs stay."""
    return _status_set(scheduler_id, Status.CANCELED)


def scheduler_delete(*, scheduler_id: int) -> None:
    """Delete a scheduler that is not active (its runs stay, without a scheduler)."""
    with transaction.atomic(durable=True):
        scheduler = _locked(scheduler_id)
        if scheduler.status == Status.ACTIVE:
            raise SchedulerNotEditable(
                f"Scheduler '{scheduler.name}' is active: deactivate or cancel it before "
                "deleting it.",
                details={"status": scheduler.status},
            )
        _periodic_task_delete(scheduler)
        scheduler.delete()


# --------------------------------------------------------------------------------------------
# Runs of a scheduler


def _scheduler_run_fields(
    scheduler: InvoiceScheduler,
    *,
    run_date: dt.date,
    requested_by: str,
    chunk_size: int | None = None,
) -> dict[str, Any]:
    dates = scheduler_dates(scheduler, run_date=run_date)
    return {
        "target_date": dates.target_date,
        "invoice_date": dates.invoice_date,
        "invoice_status": scheduler.invoice_status,
        "filters": scheduler.filters,
        "billing_period_count": scheduler.billing_period_count,
        "scheduler_id": scheduler.pk,
        "run_date": dates.run_date,
        "requested_by": requested_by,
        "chunk_size": chunk_size,
    }


def scheduler_run_now(
    *, scheduler_id: int, requested_by: str = "", chunk_size: int | None = None
) -> Run:
    """Start a run of a scheduler at once (any status but canceled), for today in its
    timezone."""
    scheduler = InvoiceScheduler.objects.filter(pk=scheduler_id).first()
    if scheduler is None:
        raise NotFound(f"Invoice scheduler {scheduler_id} does not exist.")
    if scheduler.status == InvoiceScheduler.Status.CANCELED:
        raise SchedulerCanceled(
            f"Scheduler '{scheduler.name}' is canceled; create a new scheduler to run it.",
            details={"scheduler": scheduler.pk},
        )
    return batch_run_start(
        **_scheduler_run_fields(
            scheduler,
            run_date=scheduler_local_date(scheduler),
            requested_by=requested_by,
            chunk_size=chunk_size,
        )
    )


def scheduler_fire(*, scheduler_id: int, now: dt.datetime | None = None) -> Run | None:
    """Beat's entry point: start today's run (in the scheduler's timezone) when the scheduler
    is active, today is one of its run dates and no run of it exists for today."""
    with transaction.atomic(durable=True):
        scheduler = scheduler_lock(scheduler_id)
        if scheduler is None or scheduler.status != InvoiceScheduler.Status.ACTIVE:
            return None
        today = scheduler_local_date(scheduler, now)
        if not scheduler_is_run_date(scheduler, today):
            return None
        if scheduler.runs.filter(kind=Run.Kind.GENERATION, run_date=today).exists():
            return None  # beat fired twice, or the task was redelivered
        # The run is recorded under the scheduler's lock: "one run per date" holds between
        # concurrent firings.
        fields = _scheduler_run_fields(scheduler, run_date=today, requested_by="scheduler")
        fields["filters"] = run_filters_clean(fields["filters"])
        return batch_run_create(**fields)
