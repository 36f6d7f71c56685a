"""Rules about one billing schedule that activation and invoice generation share."""

from __future__ import annotations

import datetime as dt

from billing.choices import BillingFrequency
from billing.models import BillingSchedule

ONE_DAY = dt.timedelta(days=1)


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


def schedule_cadence(schedule: BillingSchedule) -> dict:
    """The period engine's cadence arguments for this schedule."""
    return {
        "frequency": schedule.billing_frequency,
        "boundary": schedule.period_boundary,
        "billing_type": schedule.billing_type,
        "bill_day": schedule.bill_day_of_month,
        "anchor": schedule_anchor(schedule),
    }
