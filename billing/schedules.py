"""Rules about one billing schedule that activation, invoice generation, void and recovery
share: its effective and billable end, its period grid, and how it advances once billed."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import TypedDict

from billing.choices import BillingFrequency, ChargeType, ScheduleStatus
from billing.models import BillingSchedule
from billing.periods import iter_periods

ONE_DAY = dt.timedelta(days=1)


class Cadence(TypedDict):
    """The period engine's cadence arguments (billing.periods.iter_periods, term_total)."""

    frequency: str
    boundary: str
    billing_type: str
    bill_day: int | None
    anchor: dt.date


def schedule_effective_end(schedule: BillingSchedule) -> dt.date | None:
    """The last day in force: the end date, or the day before the cancellation date
    (None: evergreen)."""
    if schedule.cancellation_date:
        cancel_end = schedule.cancellation_date - ONE_DAY
        return min(schedule.end_date, cancel_end) if schedule.end_date else cancel_end
    return schedule.end_date


def schedule_billable_end(schedule: BillingSchedule) -> dt.date | None:
    """The last day periods are cut to: the effective end, and for a one-time charge with
    no end date its start date (a single period, never evergreen)."""
    end = schedule_effective_end(schedule)
    if end is None and schedule.billing_frequency == BillingFrequency.ONE_TIME:
        return schedule.start_date
    return end


def schedule_anchor(schedule: BillingSchedule) -> dt.date:
    """The date that fixes a schedule's period grid: its original's start date, so
    amendments, cancellations and renewals fall on the original's periods."""
    if schedule.original_schedule_id:
        return schedule.original_schedule.start_date
    return schedule.start_date


def schedule_cadence(schedule: BillingSchedule) -> Cadence:
    """The period engine's cadence arguments for this schedule."""
    return {
        "frequency": schedule.billing_frequency,
        "boundary": schedule.period_boundary,
        "billing_type": schedule.billing_type,
        "bill_day": schedule.bill_day_of_month,
        "anchor": schedule_anchor(schedule),
    }


def schedule_advance(schedule: BillingSchedule, *, billed_through: dt.date) -> None:
    """Set next_charge_from_date, next_billing_date and status from the day a schedule is
    billed through: forward after generation, back after a void or a recovery. Works on a
    model instance or any object with the schedule's attributes."""
    schedule.next_charge_from_date = billed_through + ONE_DAY
    if schedule.charge_type == ChargeType.USAGE:
        return  # usage stays open for late usage; eligibility looks at its summaries
    schedule.next_billing_date, schedule.status = schedule_next_bill(
        start=schedule.start_date,
        end=schedule_billable_end(schedule),
        from_date=schedule.next_charge_from_date,
        cadence=tuple(sorted(schedule_cadence(schedule).items())),
    )


def schedule_billed(schedule: BillingSchedule, *, billed_through: dt.date, amount: Decimal) -> None:
    """A schedule has billed `amount` through `billed_through`: advance it, add the amount to
    what it billed, and recompute what is pending of a bounded term."""
    schedule_advance(schedule, billed_through=billed_through)
    schedule.billed_amount += amount
    if schedule.total_amount is not None:
        schedule.pending_amount = schedule.total_amount - schedule.billed_amount


SCHEDULE_BILLED_FIELDS = (
    "next_charge_from_date",
    "next_billing_date",
    "billed_amount",
    "pending_amount",
    "status",
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
