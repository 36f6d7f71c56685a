"""Invoice schedulers: run-date arithmetic for every cadence (month ends, L-1/L-2, weekends
moving to Monday, start/end windows), timezones across daylight-saving changes, target and
invoice dates, validation, the Celery beat periodic task following the scheduler's status,
beat's entry point (one run per run date, only on run dates, only when active), and the
offsets and period-count caps of a scheduler's runs, with exact invoices.

Calendar facts used below (2026): Jan 1 is a Thursday; Jan 31, Feb 28, May 30, Aug 15, Oct
31 are Saturdays; Mar 8, Mar 29, May 31, Oct 25 are Sundays. Europe/Berlin springs forward on
Mar 29 and falls back on Oct 25; America/New_York springs forward on Mar 8.
"""

import datetime as dt
import json
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from freezegun import freeze_time

from core.exceptions import ValidationError
from invoicing.exceptions import SchedulerNotEditable, SchedulerStatusConflict
from invoicing.models import Invoice, InvoiceBatchRun, InvoiceScheduler
from invoicing.services.schedulers import (
    scheduler_activate,
    scheduler_cancel,
    scheduler_crontab,
    scheduler_dates,
    scheduler_deactivate,
    scheduler_delete,
    scheduler_fire,
    scheduler_is_run_date,
    scheduler_next_run_at,
    scheduler_next_run_date,
    scheduler_run_dates,
    scheduler_save,
)
from tests.support.invoicing import (
    billed_counts,
    customers,
    invoice_line_periods,
    schedule_state,
    schedules_of,
)

d = dt.date
UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def sched(**fields) -> InvoiceScheduler:
    """An unsaved scheduler (date arithmetic needs no database)."""
    values = {
        "name": "Test",
        "cadence": "monthly",
        "day_of_month": "1",
        "time": dt.time(2, 0),
        "timezone": "UTC",
        "start_date": d(2026, 1, 1),
        "target_date_offset": 0,
    }
    values.update(fields)
    return InvoiceScheduler(**values)


YEAR_START, YEAR_END = d(2026, 1, 1), d(2026, 12, 31)


def dates(s, first=YEAR_START, last=YEAR_END) -> list[dt.date]:
    return scheduler_run_dates(s, first=first, last=last)


# --------------------------------------------------------------------------------------------
# Run dates per cadence


def test_monthly_on_a_day_of_the_month():
    assert dates(sched(day_of_month="15"), last=d(2026, 4, 30)) == [
        d(2026, 1, 15),
        d(2026, 2, 15),
        d(2026, 3, 15),
        d(2026, 4, 15),
    ]
    assert scheduler_next_run_date(sched(day_of_month="28"), after=d(2026, 2, 28)) == d(2026, 3, 28)


def test_monthly_last_day_follows_each_months_length():
    assert dates(sched(day_of_month="L"), last=d(2026, 6, 30)) == [
        d(2026, 1, 31),
        d(2026, 2, 28),
        d(2026, 3, 31),
        d(2026, 4, 30),
        d(2026, 5, 31),
        d(2026, 6, 30),
    ]
    leap = sched(day_of_month="L", start_date=d(2028, 1, 1))
    assert scheduler_next_run_date(leap, after=d(2028, 1, 31)) == d(2028, 2, 29)


def test_second_and_third_to_last_days():
    assert dates(sched(day_of_month="L-1"), last=d(2026, 4, 30)) == [
        d(2026, 1, 30),
        d(2026, 2, 27),
        d(2026, 3, 30),
        d(2026, 4, 29),
    ]
    assert dates(sched(day_of_month="L-2"), last=d(2026, 4, 30)) == [
        d(2026, 1, 29),
        d(2026, 2, 26),
        d(2026, 3, 29),
        d(2026, 4, 28),
    ]
    leap = sched(day_of_month="L-1", start_date=d(2028, 2, 1))
    assert scheduler_next_run_date(leap, after=d(2028, 2, 1)) == d(2028, 2, 28)
    leap = sched(day_of_month="L-2", start_date=d(2028, 2, 1))
    assert scheduler_next_run_date(leap, after=d(2028, 2, 1)) == d(2028, 2, 27)


def test_weekends_move_to_the_next_monday():
    # Last days: Jan 31 (Sat) → Mon Feb 2, Feb 28 (Sat) → Mon Mar 2, May 31 (Sun) → Mon Jun 1.
    assert dates(sched(day_of_month="L", exclude_weekends=True), last=d(2026, 6, 30)) == [
        d(2026, 2, 2),
        d(2026, 3, 2),
        d(2026, 3, 31),
        d(2026, 4, 30),
        d(2026, 6, 1),
        d(2026, 6, 30),
    ]
    # L-1: May 30 (Sat) → Mon Jun 1, then June's own Jun 29 (Mon).
    s = sched(day_of_month="L-1", exclude_weekends=True)
    assert dates(s, first=d(2026, 5, 1), last=d(2026, 6, 30)) == [d(2026, 6, 1), d(2026, 6, 29)]
    # The 15th: Aug 15 (Sat) → Mon Aug 17.
    s = sched(day_of_month="15", exclude_weekends=True)
    assert dates(s, first=d(2026, 7, 1), last=d(2026, 8, 31)) == [d(2026, 7, 15), d(2026, 8, 17)]
    # Without exclude_weekends the Saturday stays.
    assert d(2026, 8, 15) in dates(sched(day_of_month="15"))


def test_daily_without_and_with_weekends():
    s = sched(cadence="daily", day_of_month="")
    assert dates(s, first=d(2026, 1, 1), last=d(2026, 1, 5)) == [
        d(2026, 1, 1),
        d(2026, 1, 2),
        d(2026, 1, 3),
        d(2026, 1, 4),
        d(2026, 1, 5),
    ]
    s = sched(cadence="daily", day_of_month="", exclude_weekends=True)
    # Thu, Fri, then Sat and Sun both move to Monday: one run.
    assert dates(s, first=d(2026, 1, 1), last=d(2026, 1, 6)) == [
        d(2026, 1, 1),
        d(2026, 1, 2),
        d(2026, 1, 5),
        d(2026, 1, 6),
    ]
    assert not scheduler_is_run_date(s, d(2026, 1, 3))
    assert scheduler_is_run_date(s, d(2026, 1, 5))


def test_weekly_on_a_weekday():
    s = sched(cadence="weekly", weekday=0, day_of_month="")  # Mondays
    assert dates(s, last=d(2026, 1, 31)) == [
        d(2026, 1, 5),
        d(2026, 1, 12),
        d(2026, 1, 19),
        d(2026, 1, 26),
    ]
    s = sched(cadence="weekly", weekday=5, day_of_month="", exclude_weekends=True)  # Saturdays
    assert dates(s, last=d(2026, 1, 20)) == [d(2026, 1, 5), d(2026, 1, 12), d(2026, 1, 19)]


def test_once_runs_on_its_start_date_only():
    s = sched(cadence="once", day_of_month="", start_date=d(2026, 3, 10), target_date=d(2026, 3, 1))
    assert dates(s) == [d(2026, 3, 10)]
    assert scheduler_next_run_date(s, after=d(2026, 3, 10)) is None
    sunday = sched(cadence="once", day_of_month="", start_date=d(2026, 3, 8), exclude_weekends=True)
    assert dates(sunday) == [d(2026, 3, 9)]


def test_start_and_end_dates_bound_the_runs():
    s = sched(day_of_month="L", start_date=d(2026, 3, 15), end_date=d(2026, 5, 30))
    assert dates(s) == [d(2026, 3, 31), d(2026, 4, 30)]
    assert scheduler_next_run_date(s, after=d(2026, 4, 30)) is None
    # A run moved past the end date (Sat Oct 31 → Mon Nov 2) does not happen.
    s = sched(day_of_month="L", exclude_weekends=True, end_date=d(2026, 10, 31))
    assert dates(s, first=d(2026, 9, 1))[-1] == d(2026, 9, 30)


# --------------------------------------------------------------------------------------------
# Time and timezone


def test_next_run_keeps_the_wall_clock_time_across_berlins_dst_changes():
    s = sched(cadence="daily", day_of_month="", time=dt.time(2, 30), timezone="Europe/Berlin")
    at = scheduler_next_run_at(s, after=dt.datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    assert at.astimezone(UTC) == dt.datetime(2026, 3, 28, 1, 30, tzinfo=UTC)  # CET, UTC+1
    # Mar 29: 02:30 does not exist (02:00 → 03:00); it runs the gap later, 03:30 CEST.
    at = scheduler_next_run_at(s, after=at)
    assert at.astimezone(UTC) == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert (at.astimezone(BERLIN).hour, at.astimezone(BERLIN).minute) == (3, 30)
    at = scheduler_next_run_at(s, after=at)
    assert at.astimezone(UTC) == dt.datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # CEST, UTC+2
    # Oct 25: 02:30 happens twice; the first one (still CEST) runs, once.
    at = scheduler_next_run_at(s, after=dt.datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    assert at.astimezone(UTC) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    at = scheduler_next_run_at(s, after=at)
    assert at.astimezone(UTC) == dt.datetime(2026, 10, 26, 1, 30, tzinfo=UTC)  # CET again


def test_new_york_spring_forward():
    s = sched(cadence="daily", day_of_month="", time=dt.time(2, 30), timezone="America/New_York")
    runs = []
    at = dt.datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    for _ in range(3):
        at = scheduler_next_run_at(s, after=at)
        runs.append(at.astimezone(UTC))
    assert runs == [
        dt.datetime(2026, 3, 7, 7, 30, tzinfo=UTC),  # 02:30 EST
        dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # 02:30 missing: 03:30 EDT
        dt.datetime(2026, 3, 9, 6, 30, tzinfo=UTC),  # 02:30 EDT
    ]
    assert runs[1].astimezone(NEW_YORK).hour == 3


def test_run_dates_are_dates_in_the_schedulers_timezone():
    # 23:00 UTC on Jan 31 is already Feb 1 in Berlin: a "1st of the month" scheduler at
    # 00:30 Berlin time runs then.
    s = sched(day_of_month="1", time=dt.time(0, 30), timezone="Europe/Berlin")
    at = scheduler_next_run_at(s, after=dt.datetime(2026, 1, 31, 22, 0, tzinfo=UTC))
    assert at.astimezone(UTC) == dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    assert at.astimezone(BERLIN).date() == d(2026, 2, 1)


# --------------------------------------------------------------------------------------------
# Target date, invoice date


def test_target_and_invoice_dates():
    run = d(2026, 4, 1)
    once = sched(cadence="once", day_of_month="", target_date=d(2026, 3, 31), invoice_date=None)
    assert (scheduler_dates(once, run_date=run).target_date, once.invoice_date) == (
        d(2026, 3, 31),
        None,
    )
    assert scheduler_dates(once, run_date=run).invoice_date == d(2026, 3, 31)
    once.invoice_date = d(2026, 4, 2)
    assert scheduler_dates(once, run_date=run).invoice_date == d(2026, 4, 2)

    s = sched(target_date_offset=-1, invoice_date_offset=5)
    got = scheduler_dates(s, run_date=run)
    assert (got.run_date, got.target_date, got.invoice_date) == (
        d(2026, 4, 1),
        d(2026, 3, 31),
        d(2026, 4, 5),  # target + 5
    )
    s.invoice_date_from_run_date = True
    assert scheduler_dates(s, run_date=run).invoice_date == d(2026, 4, 6)  # run + 5
    s = sched(target_date_offset=None)
    assert scheduler_dates(s, run_date=run).target_date == run


# --------------------------------------------------------------------------------------------
# Validation


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"cadence": "weekly", "day_of_month": ""}, "weekday", "weekday: 0 (Monday)"),
        ({"day_of_month": "31"}, "day_of_month", "day 1–28, L (last day)"),
        ({"day_of_month": "L-3"}, "day_of_month", "day 1–28"),
        ({"cadence": "daily"}, "day_of_month", "Only a monthly scheduler"),
        ({"timezone": "Mars/Olympus"}, "timezone", "not an IANA time zone"),
        ({"end_date": d(2025, 12, 31)}, "end_date", "before the start date"),
        ({"billing_period_count": 13}, "billing_period_count", "Between 1 and 12"),
        ({"target_date": d(2026, 1, 31)}, "target_date", "recurring scheduler bills up to"),
        (
            {"cadence": "once", "day_of_month": "", "target_date_offset": None},
            "target_date",
            "needs a target date",
        ),
        ({"filters": {"currencies": ["XXQ"]}}, "filters.currencies", "not an ISO 4217"),
        ({"filters": {"accounts": [999999]}}, "filters.accounts", "999999 do not exist"),
        ({"filters": {"charge_types": ["lunar"]}}, "filters.charge_types", "Unknown charge"),
        ({"filters": {"colour": "red"}}, "filters", "Unknown filter(s) colour"),
        ({"invoice_date_offset": 367}, "invoice_date_offset", "At most 366 days"),
        (
            {
                "cadence": "once",
                "day_of_month": "",
                "target_date_offset": None,
                "target_date": d(2026, 1, 31),
                "invoice_date": d(2099, 1, 31),
            },
            "invoice_date",
            "2099-01-31 is more than 366 days after",
        ),
    ],
)
def test_scheduler_rules(fields, field, message):
    values = {
        "name": "Bad",
        "cadence": "monthly",
        "day_of_month": "1",
        "start_date": d(2026, 1, 1),
        "target_date_offset": 0,
    }
    values.update(fields)
    with pytest.raises(ValidationError) as caught:
        scheduler_save(**values)
    assert message in " ".join(caught.value.details[field])
    assert not InvoiceScheduler.objects.exists()


@pytest.mark.django_db
def test_filters_are_normalised(world):
    s = scheduler_save(
        name="Filtered",
        start_date=d(2026, 1, 1),
        day_of_month="l-1",
        filters={
            "currencies": ["usd", "EUR", "USD"],
            "legal_entity": str(world.seller.pk),
            "accounts": [world.account.pk],
            "matching_values": [" batch-a ", ""],
            "charge_types": ["recurring"],
        },
    )
    s.refresh_from_db()
    assert s.day_of_month == "L-1"
    assert s.filters == {
        "currencies": ["EUR", "USD"],
        "legal_entity": world.seller.pk,
        "accounts": [world.account.pk],
        "matching_values": ["batch-a"],
        "charge_types": ["recurring"],
    }


# --------------------------------------------------------------------------------------------
# The crontab


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"day_of_month": "15"}, {"day_of_month": "15", "day_of_week": "*"}),
        ({"day_of_month": "15", "exclude_weekends": True}, {"day_of_month": "15-17"}),
        ({"day_of_month": "L"}, {"day_of_month": "28-31"}),
        ({"day_of_month": "L", "exclude_weekends": True}, {"day_of_month": "1-2,28-31"}),
        ({"day_of_month": "L-1"}, {"day_of_month": "27-30"}),
        ({"day_of_month": "L-2", "exclude_weekends": True}, {"day_of_month": "26-31"}),
        ({"cadence": "daily", "day_of_month": ""}, {"day_of_month": "*", "day_of_week": "*"}),
        (
            {"cadence": "daily", "day_of_month": "", "exclude_weekends": True},
            {"day_of_week": "1-5"},
        ),
        ({"cadence": "weekly", "weekday": 2, "day_of_month": ""}, {"day_of_week": "3"}),
        (
            {"cadence": "weekly", "weekday": 6, "day_of_month": "", "exclude_weekends": True},
            {"day_of_week": "1"},
        ),
        (
            {"cadence": "once", "day_of_month": "", "start_date": d(2026, 3, 8)},
            {"day_of_month": "8", "month_of_year": "3"},
        ),
    ],
)
def test_crontab_fires_on_every_possible_run_date(fields, expected):
    crontab = scheduler_crontab(sched(time=dt.time(6, 45), **fields))
    assert (crontab["minute"], crontab["hour"]) == ("45", "6")
    for key, value in expected.items():
        assert crontab[key] == value


# --------------------------------------------------------------------------------------------
# The periodic task follows the status


@pytest.mark.django_db
@freeze_time("2026-01-10 12:00:00")
def test_periodic_task_created_updated_and_removed_with_the_status(world):
    s = scheduler_save(
        name="Month end",
        day_of_month="L",
        time=dt.time(22, 15),
        timezone="America/New_York",
        start_date=d(2026, 1, 1),
        end_date=d(2026, 12, 31),
        status="active",
    )
    task = PeriodicTask.objects.get(name=f"invoice-scheduler-{s.pk}")
    assert s.periodic_task_id == task.pk
    assert (task.task, json.loads(task.kwargs), task.enabled, task.one_off) == (
        "invoicing.scheduler_fire",
        {"scheduler_id": s.pk},
        True,
        False,
    )
    c = task.crontab
    assert (c.minute, c.hour, c.day_of_month, c.day_of_week, c.month_of_year) == (
        "15",
        "22",
        "28-31",
        "*",
        "*",
    )
    assert str(c.timezone) == "America/New_York"
    assert task.start_time == dt.datetime(2026, 1, 1, 5, 0, tzinfo=UTC)  # midnight EST
    assert task.expires == dt.datetime(2027, 1, 1, 5, 0, tzinfo=UTC)

    # Active: only a status change is accepted.
    with pytest.raises(SchedulerNotEditable):
        scheduler_save(scheduler_id=s.pk, time=dt.time(6, 0))
    s.refresh_from_db()
    assert s.time == dt.time(22, 15)

    scheduler_deactivate(scheduler_id=s.pk)
    s.refresh_from_db()
    assert (s.status, s.periodic_task_id) == ("inactive", None)
    assert not PeriodicTask.objects.exists() and not CrontabSchedule.objects.exists()

    # Inactive: editable; activating again creates the task with the new crontab.
    scheduler_save(scheduler_id=s.pk, time=dt.time(6, 0), day_of_month="10", timezone="UTC")
    scheduler_activate(scheduler_id=s.pk)
    task = PeriodicTask.objects.get()
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_month) == ("6", "0", "10")
    assert str(task.crontab.timezone) == "UTC"

    # A status change through save (as the API's PATCH does) keeps the task in step.
    scheduler_save(scheduler_id=s.pk, status="inactive")
    assert not PeriodicTask.objects.exists()
    scheduler_save(scheduler_id=s.pk, status="active", time=dt.time(7, 30))
    assert PeriodicTask.objects.get().crontab.hour == "7"

    with pytest.raises(SchedulerNotEditable):
        scheduler_delete(scheduler_id=s.pk)
    scheduler_cancel(scheduler_id=s.pk)
    s.refresh_from_db()
    assert (s.status, s.periodic_task_id) == ("canceled", None)
    assert not PeriodicTask.objects.exists()
    with pytest.raises(SchedulerStatusConflict, match="canceled scheduler is final"):
        scheduler_activate(scheduler_id=s.pk)
    scheduler_delete(scheduler_id=s.pk)
    assert not InvoiceScheduler.objects.exists()


@pytest.mark.django_db
@freeze_time("2026-06-01 12:00:00")
def test_a_scheduler_without_future_runs_cannot_be_activated(world):
    with pytest.raises(ValidationError, match="no run date left"):
        scheduler_save(
            name="Past",
            cadence="once",
            day_of_month="",
            start_date=d(2026, 3, 1),
            target_date=d(2026, 2, 28),
            status="active",
        )
    assert not InvoiceScheduler.objects.exists()


# --------------------------------------------------------------------------------------------
# Beat's entry point


@pytest.mark.django_db
def test_fire_starts_one_run_per_run_date_in_the_schedulers_timezone(world):
    s = scheduler_save(
        name="First of the month, Kiritimati",
        day_of_month="1",
        time=dt.time(0, 30),
        timezone="Pacific/Kiritimati",  # UTC+14
        start_date=d(2026, 1, 1),
        target_date_offset=-1,
        invoice_date_offset=0,
        invoice_date_from_run_date=True,
        billing_period_count=2,
        invoice_status="posted",
        filters={"currencies": ["USD"]},
    )
    now = dt.datetime(2026, 3, 31, 10, 31, tzinfo=UTC)  # Apr 1, 00:31 in Kiritimati
    assert scheduler_fire(scheduler_id=s.pk, now=now) is None  # draft: beat does nothing
    scheduler_activate(scheduler_id=s.pk)

    run = scheduler_fire(scheduler_id=s.pk, now=now)
    assert (run.kind, run.status, run.stage, run.scheduler_id) == (
        "generation",
        "started",
        "queued",
        s.pk,
    )
    assert (run.run_date, run.target_date, run.invoice_date) == (
        d(2026, 4, 1),
        d(2026, 3, 31),
        d(2026, 4, 1),
    )
    assert (run.invoice_status, run.billing_period_count, run.filters) == (
        "posted",
        2,
        {"currencies": ["USD"]},
    )
    assert run.requested_by == "scheduler"
    s.refresh_from_db()
    assert s.last_run_at == run.started_at

    # Beat firing again (or the message redelivered) on the same date: no second run.
    assert scheduler_fire(scheduler_id=s.pk, now=now + dt.timedelta(minutes=5)) is None
    # Not a run date in Kiritimati (Apr 2 there).
    assert scheduler_fire(scheduler_id=s.pk, now=now + dt.timedelta(days=1)) is None
    assert InvoiceBatchRun.objects.count() == 1
    scheduler_deactivate(scheduler_id=s.pk)
    assert scheduler_fire(scheduler_id=s.pk, now=now + dt.timedelta(days=31)) is None


# --------------------------------------------------------------------------------------------
# Offsets and period-count caps, through a scheduler


@pytest.mark.django_db
def test_scheduler_offsets_and_period_count_cap_give_exact_invoices(
    billed, django_capture_on_commit_callbacks
):
    (account,) = customers(billed, 1)
    (schedule,) = schedules_of([account])
    s = scheduler_save(
        name="First of the month",
        day_of_month="1",
        time=dt.time(3, 0),
        start_date=d(2026, 1, 1),
        target_date_offset=-1,  # bill through the day before the run
        invoice_date_from_run_date=True,
        invoice_date_offset=0,
        billing_period_count=2,
        invoice_status="posted",
    )
    scheduler_activate(scheduler_id=s.pk)

    def fire(day):
        with django_capture_on_commit_callbacks(execute=True):
            run = scheduler_fire(
                scheduler_id=s.pk, now=dt.datetime.combine(day, dt.time(3, 0), tzinfo=UTC)
            )
        run.refresh_from_db()
        return run, Invoice.objects.get(batch_run=run)

    # Apr 1: target Mar 31; Jan, Feb and Mar are due, the cap bills two.
    run, invoice = fire(d(2026, 4, 1))
    assert (run.target_date, run.invoice_date, run.status) == (
        d(2026, 3, 31),
        d(2026, 4, 1),
        "completed",
    )
    assert (invoice.number, invoice.invoice_date, invoice.due_date, invoice.total) == (
        "INV-0001",
        d(2026, 4, 1),
        d(2026, 5, 1),
        D("106.26"),
    )
    assert invoice_line_periods(invoice) == [
        (d(2026, 1, 1), d(2026, 1, 31), D("50.00"), D("3.13")),
        (d(2026, 2, 1), d(2026, 2, 28), D("50.00"), D("3.13")),
    ]
    assert schedule_state(schedule) == (
        "ready_for_invoicing",
        d(2026, 3, 1),
        d(2026, 3, 1),
        D("100.00"),
        D("500.00"),
    )

    # May 1: target Apr 30; Mar and Apr (two more, the cap again).
    run, invoice = fire(d(2026, 5, 1))
    assert [line[0] for line in invoice_line_periods(invoice)] == [d(2026, 3, 1), d(2026, 4, 1)]
    assert (invoice.number, invoice.invoice_date) == ("INV-0002", d(2026, 5, 1))

    # Jun 1: target May 31; only May is due.
    run, invoice = fire(d(2026, 6, 1))
    assert invoice_line_periods(invoice) == [(d(2026, 5, 1), d(2026, 5, 31), D("50.00"), D("3.13"))]
    assert (invoice.number, invoice.total) == ("INV-0003", D("53.13"))
    assert schedule_state(schedule)[1:4] == (d(2026, 6, 1), d(2026, 6, 1), D("250.00"))
    assert set(billed_counts().values()) == {1} and len(billed_counts()) == 5


@pytest.mark.django_db
def test_invoice_date_offset_from_the_target_date(billed, django_capture_on_commit_callbacks):
    customers(billed, 1)
    s = scheduler_save(
        name="Mid month",
        day_of_month="15",
        start_date=d(2026, 1, 1),
        target_date_offset=-15,
        invoice_date_offset=3,
        status="active",
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = scheduler_fire(scheduler_id=s.pk, now=dt.datetime(2026, 3, 15, 2, 0, tzinfo=UTC))
    run.refresh_from_db()
    # Run Mar 15 → target Feb 28 (Jan and Feb due) → invoice date Mar 3.
    assert (run.target_date, run.invoice_date) == (d(2026, 2, 28), d(2026, 3, 3))
    invoice = Invoice.objects.get()
    assert (invoice.invoice_date, invoice.due_date, invoice.total) == (
        d(2026, 3, 3),
        d(2026, 4, 2),
        D("106.26"),
    )
