"""The period engine: pure functions, no database.

A schedule's periods are cut from a *grid* of full periods and clipped by the schedule's
service window [start, end]:

- anniversary: full periods start on the anchor date's day every N months
  (Jan 31 → Feb 28/29 → Mar 31: each grid point is computed from the anchor, so a clamped
  month end never drifts);
- align_to_calendar: full periods are calendar months, quarters (Jan/Apr/Jul/Oct), halves
  (Jan/Jul) or years; a start inside one gives a stub to its end;
- day_of_period: full periods start on the bill day (clamped to short months) every N months,
  the first one on the first bill day on or after the anchor; a start before it gives a stub.

A period clipped by the window is prorated by days used / days in the full grid period it
belongs to. Advance billing bills a period on its first day, arrears on its last day.

Amendments pass the original schedule's anchor, so their periods fall on the same grid and
their first period is prorated against the original's full period.

The engine bills within FIRST_BILLING_DATE .. LAST_BILLING_DATE: the services refuse an item's
dates, and a preview's date, outside them (`billing_date_problem`), so the engine never steps
past the last year a date can hold (9999) when it looks a period or a payment term ahead.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from billing.choices import (
    FREQUENCY_MONTHS,
    BillingFrequency,
    BillingType,
    PeriodBoundary,
)

ONE_DAY = dt.timedelta(days=1)

# The dates Ledgerline bills within: two centuries, from the first day anyone migrates
# history from to far beyond any real subscription term.
FIRST_BILLING_DATE = dt.date(2000, 1, 1)
LAST_BILLING_DATE = dt.date(2199, 12, 31)


def billing_date_problem(value: dt.date | None) -> str | None:
    """Why `value` cannot be billed on (outside FIRST_BILLING_DATE .. LAST_BILLING_DATE), as a
    message saying how to fix it; None when it can (or is None)."""
    if value is None or FIRST_BILLING_DATE <= value <= LAST_BILLING_DATE:
        return None
    return (
        f"{value} is outside the dates Ledgerline bills within ({FIRST_BILLING_DATE} to "
        f"{LAST_BILLING_DATE}); check the year."
    )


def clamp_day(year: int, month: int, day: int) -> dt.date:
    """The date `day` of the month, or the month's last day when it is shorter."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def add_months(d: dt.date, months: int, day: int | None = None) -> dt.date:
    """`d` moved by whole months, on `day` (default d's day), clamped to the month's end."""
    index = d.year * 12 + (d.month - 1) + months
    return clamp_day(index // 12, index % 12 + 1, day or d.day)


@dataclass(frozen=True)
class Grid:
    """Full-period boundaries: point(k) = day `day` of month (base + k*step), clamped."""

    base_year: int
    base_month: int  # 1..12
    day: int
    step: int  # months per period

    def point(self, k: int) -> dt.date:
        index = self.base_year * 12 + (self.base_month - 1) + k * self.step
        return clamp_day(index // 12, index % 12 + 1, self.day)

    def index_of(self, d: dt.date) -> int:
        """The k with point(k) <= d < point(k + 1)."""
        months = (d.year - self.base_year) * 12 + (d.month - self.base_month)
        k = months // self.step
        while self.point(k) > d:
            k -= 1
        while self.point(k + 1) <= d:
            k += 1
        return k


def make_grid(
    *,
    anchor: dt.date,
    frequency: str,
    boundary: str,
    bill_day: int | None = None,
) -> Grid:
    step = FREQUENCY_MONTHS[BillingFrequency(frequency)]
    if step is None:
        raise ValueError("a one-time frequency has no period grid")
    if boundary == PeriodBoundary.ANNIVERSARY:
        return Grid(anchor.year, anchor.month, anchor.day, step)
    if boundary == PeriodBoundary.ALIGN_TO_CALENDAR:
        return Grid(anchor.year, 1, 1, step)
    if boundary == PeriodBoundary.DAY_OF_PERIOD:
        if not bill_day or not 1 <= bill_day <= 31:
            raise ValueError("day_of_period needs a bill day of month between 1 and 31")
        first = clamp_day(anchor.year, anchor.month, bill_day)
        if first < anchor:
            first = add_months(first, 1, bill_day)
        return Grid(first.year, first.month, bill_day, step)
    raise ValueError(f"unknown period boundary {boundary!r}")


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    full_start: dt.date
    full_end: dt.date
    billing_date: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def full_days(self) -> int:
        return (self.full_end - self.full_start).days + 1

    @property
    def is_partial(self) -> bool:
        return self.start != self.full_start or self.end != self.full_end

    @property
    def proration(self) -> Fraction:
        return Fraction(self.days, self.full_days)


def _billing_date(start: dt.date, end: dt.date, billing_type: str) -> dt.date:
    return end if billing_type == BillingType.ARREARS else start


def iter_periods(
    *,
    start: dt.date,
    end: dt.date | None,
    frequency: str,
    boundary: str,
    billing_type: str,
    bill_day: int | None = None,
    anchor: dt.date | None = None,
    from_date: dt.date | None = None,
) -> Iterator[Period]:
    """The periods of the service window [start, end] (end None: evergreen, endless).

    `anchor` fixes the grid (default: start); `from_date` skips periods ending before it
    without walking them, so catching up a long evergreen schedule costs O(1) to find.
    A one-time frequency yields a single period covering the window (or its first day).
    """
    if end is not None and end < start:
        return
    if frequency == BillingFrequency.ONE_TIME:
        last = end or start
        if from_date is None or from_date <= last:
            yield Period(start, last, start, last, _billing_date(start, last, billing_type))
        return
    grid = make_grid(
        anchor=anchor or start, frequency=frequency, boundary=boundary, bill_day=bill_day
    )
    cursor = max(start, from_date) if from_date else start
    if end is not None and cursor > end:
        return  # every period of the window ends before from_date
    k = grid.index_of(cursor)
    while True:
        full_start = grid.point(k)
        full_end = grid.point(k + 1) - ONE_DAY
        p_start = max(full_start, start)
        if end is not None and p_start > end:
            return
        p_end = full_end if end is None else min(full_end, end)
        if p_end >= start:
            yield Period(
                p_start, p_end, full_start, full_end, _billing_date(p_start, p_end, billing_type)
            )
        k += 1


def periods_through(
    *,
    start: dt.date,
    end: dt.date | None,
    frequency: str,
    boundary: str,
    billing_type: str,
    through: dt.date,
    from_date: dt.date | None = None,
    bill_day: int | None = None,
    anchor: dt.date | None = None,
    limit: int | None = None,
) -> list[Period]:
    """The periods from `from_date` whose billing date is on or before `through`."""
    out: list[Period] = []
    for period in iter_periods(
        start=start,
        end=end,
        frequency=frequency,
        boundary=boundary,
        billing_type=billing_type,
        bill_day=bill_day,
        anchor=anchor,
        from_date=from_date,
    ):
        if period.billing_date > through or (limit is not None and len(out) >= limit):
            break
        out.append(period)
    return out
