"""The period engine (billing/periods.py): pure functions, no database.

Expected dates, prorations and amounts in the tables below are computed by hand; the
property-based tests check the engine against an independent description of the grid.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing import periods as engine
from billing.choices import BillingFrequency, BillingType, PeriodBoundary, PricingTerm
from billing.periods import iter_periods, make_grid, periods_through
from billing.pricing import period_amount, period_price, term_total
from core.money import minor_unit

D = dt.date
F = Fraction
ONE_DAY = dt.timedelta(days=1)

MONTHLY = BillingFrequency.MONTHLY
QUARTERLY = BillingFrequency.QUARTERLY
SEMIANNUAL = BillingFrequency.SEMIANNUAL
ANNUAL = BillingFrequency.ANNUAL
ONE_TIME = BillingFrequency.ONE_TIME
ANNIVERSARY = PeriodBoundary.ANNIVERSARY
CALENDAR = PeriodBoundary.ALIGN_TO_CALENDAR
DAY_OF_PERIOD = PeriodBoundary.DAY_OF_PERIOD
ADVANCE = BillingType.ADVANCE
ARREARS = BillingType.ARREARS

STEP = {MONTHLY: 1, QUARTERLY: 3, SEMIANNUAL: 6, ANNUAL: 12}
TERM_MONTHS = {PricingTerm.MONTH: 1, PricingTerm.QUARTER: 3, PricingTerm.YEAR: 12}


def rows(periods):
    return [(p.start, p.end, p.billing_date, p.proration) for p in periods]


# ---------------------------------------------------------------------------------------------
# 1. Table: every frequency × boundary, both billing types, exact dates and amounts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    start: dt.date
    end: dt.date | None
    frequency: str
    boundary: str
    quantity: str
    unit_price: str
    pricing_term: str
    currency: str
    # (start, end, proration, amount); the billing date is start (advance) or end (arrears)
    periods: tuple
    bill_day: int | None = None
    anchor: dt.date | None = None


CASES = [
    # -- monthly ------------------------------------------------------------------------------
    Case(
        "monthly-anniversary-jan31-leap",
        D(2024, 1, 31),
        D(2024, 5, 15),
        MONTHLY,
        ANNIVERSARY,
        "1",
        "100.00",
        PricingTerm.MONTH,
        "USD",
        (
            (D(2024, 1, 31), D(2024, 2, 28), F(1), "100.00"),
            (D(2024, 2, 29), D(2024, 3, 30), F(1), "100.00"),
            (D(2024, 3, 31), D(2024, 4, 29), F(1), "100.00"),
            # full period Apr 30 – May 30 (31 days), 16 used
            (D(2024, 4, 30), D(2024, 5, 15), F(16, 31), "51.61"),
        ),
    ),
    Case(
        "monthly-anniversary-jan31-non-leap",
        D(2023, 1, 31),
        D(2023, 4, 30),
        MONTHLY,
        ANNIVERSARY,
        "1",
        "100.00",
        PricingTerm.MONTH,
        "USD",
        (
            (D(2023, 1, 31), D(2023, 2, 27), F(1), "100.00"),
            (D(2023, 2, 28), D(2023, 3, 30), F(1), "100.00"),
            (D(2023, 3, 31), D(2023, 4, 29), F(1), "100.00"),
            # full period Apr 30 – May 30 (31 days), 1 used: 100/31 = 3.2258
            (D(2023, 4, 30), D(2023, 4, 30), F(1, 31), "3.23"),
        ),
    ),
    Case(
        "monthly-calendar-stubs",
        D(2024, 1, 15),
        D(2024, 4, 10),
        MONTHLY,
        CALENDAR,
        "1",
        "100.00",
        PricingTerm.MONTH,
        "USD",
        (
            (D(2024, 1, 15), D(2024, 1, 31), F(17, 31), "54.84"),
            (D(2024, 2, 1), D(2024, 2, 29), F(1), "100.00"),
            (D(2024, 3, 1), D(2024, 3, 31), F(1), "100.00"),
            (D(2024, 4, 1), D(2024, 4, 10), F(1, 3), "33.33"),
        ),
    ),
    Case(
        "monthly-day-of-period-31-short-months",
        D(2023, 1, 10),
        D(2023, 5, 20),
        MONTHLY,
        DAY_OF_PERIOD,
        "1",
        "100.00",
        PricingTerm.MONTH,
        "USD",
        (
            # stub against the full period Dec 31 – Jan 30 (31 days)
            (D(2023, 1, 10), D(2023, 1, 30), F(21, 31), "67.74"),
            (D(2023, 1, 31), D(2023, 2, 27), F(1), "100.00"),
            (D(2023, 2, 28), D(2023, 3, 30), F(1), "100.00"),
            (D(2023, 3, 31), D(2023, 4, 29), F(1), "100.00"),
            # full period Apr 30 – May 30 (31 days)
            (D(2023, 4, 30), D(2023, 5, 20), F(21, 31), "67.74"),
        ),
        bill_day=31,
    ),
    Case(
        "monthly-day-of-period-15-start-after-bill-day",
        D(2024, 3, 20),
        D(2024, 6, 30),
        MONTHLY,
        DAY_OF_PERIOD,
        "1",
        "100.00",
        PricingTerm.MONTH,
        "USD",
        (
            # first bill day on or after Mar 20 is Apr 15; stub in Mar 15 – Apr 14 (31 days)
            (D(2024, 3, 20), D(2024, 4, 14), F(26, 31), "83.87"),
            (D(2024, 4, 15), D(2024, 5, 14), F(1), "100.00"),
            (D(2024, 5, 15), D(2024, 6, 14), F(1), "100.00"),
            # full period Jun 15 – Jul 14 (30 days)
            (D(2024, 6, 15), D(2024, 6, 30), F(8, 15), "53.33"),
        ),
        bill_day=15,
    ),
    # -- quarterly ----------------------------------------------------------------------------
    Case(
        "quarterly-anniversary-aug31",
        D(2023, 8, 31),
        D(2024, 9, 15),
        QUARTERLY,
        ANNIVERSARY,
        "1",
        "300.00",
        PricingTerm.QUARTER,
        "USD",
        (
            (D(2023, 8, 31), D(2023, 11, 29), F(1), "300.00"),
            (D(2023, 11, 30), D(2024, 2, 28), F(1), "300.00"),
            (D(2024, 2, 29), D(2024, 5, 30), F(1), "300.00"),
            (D(2024, 5, 31), D(2024, 8, 30), F(1), "300.00"),
            # full period Aug 31 – Nov 29 2024 (91 days): 4800/91 = 52.747
            (D(2024, 8, 31), D(2024, 9, 15), F(16, 91), "52.75"),
        ),
    ),
    Case(
        "quarterly-calendar-jpy",
        D(2024, 2, 10),
        D(2024, 11, 20),
        QUARTERLY,
        CALENDAR,
        "1",
        "30000",
        PricingTerm.QUARTER,
        "JPY",
        (
            # Q1 2024 has 91 days: 1530000/91 = 16813.19
            (D(2024, 2, 10), D(2024, 3, 31), F(51, 91), "16813"),
            (D(2024, 4, 1), D(2024, 6, 30), F(1), "30000"),
            (D(2024, 7, 1), D(2024, 9, 30), F(1), "30000"),
            # Q4 has 92 days: 1530000/92 = 16630.43
            (D(2024, 10, 1), D(2024, 11, 20), F(51, 92), "16630"),
        ),
    ),
    Case(
        "quarterly-day-of-period-15",
        D(2024, 1, 1),
        D(2024, 12, 31),
        QUARTERLY,
        DAY_OF_PERIOD,
        "1",
        "300.00",
        PricingTerm.QUARTER,
        "USD",
        (
            # stub in Oct 15 2023 – Jan 14 2024 (92 days): 2100/46 = 45.652
            (D(2024, 1, 1), D(2024, 1, 14), F(7, 46), "45.65"),
            (D(2024, 1, 15), D(2024, 4, 14), F(1), "300.00"),
            (D(2024, 4, 15), D(2024, 7, 14), F(1), "300.00"),
            (D(2024, 7, 15), D(2024, 10, 14), F(1), "300.00"),
            # Oct 15 2024 – Jan 14 2025 (92 days), 78 used: 11700/46 = 254.348
            (D(2024, 10, 15), D(2024, 12, 31), F(39, 46), "254.35"),
        ),
        bill_day=15,
    ),
    # -- semiannual ---------------------------------------------------------------------------
    Case(
        "semiannual-anniversary-mar31-bhd-yearly-price",
        D(2024, 3, 31),
        D(2025, 6, 15),
        SEMIANNUAL,
        ANNIVERSARY,
        "1",
        "1200.500",
        PricingTerm.YEAR,
        "BHD",
        (
            (D(2024, 3, 31), D(2024, 9, 29), F(1), "600.250"),
            (D(2024, 9, 30), D(2025, 3, 30), F(1), "600.250"),
            # Mar 31 – Sep 29 2025 (183 days), 77 used: 46219.25/183 = 252.56421
            (D(2025, 3, 31), D(2025, 6, 15), F(77, 183), "252.564"),
        ),
    ),
    Case(
        "semiannual-calendar",
        D(2023, 5, 1),
        D(2024, 9, 30),
        SEMIANNUAL,
        CALENDAR,
        "1",
        "1200.00",
        PricingTerm.YEAR,
        "USD",
        (
            # H1 2023 has 181 days: 36600/181 = 202.2099
            (D(2023, 5, 1), D(2023, 6, 30), F(61, 181), "202.21"),
            (D(2023, 7, 1), D(2023, 12, 31), F(1), "600.00"),
            (D(2024, 1, 1), D(2024, 6, 30), F(1), "600.00"),
            (D(2024, 7, 1), D(2024, 9, 30), F(1, 2), "300.00"),
        ),
    ),
    Case(
        "semiannual-day-of-period-10",
        D(2024, 2, 20),
        D(2024, 12, 31),
        SEMIANNUAL,
        DAY_OF_PERIOD,
        "1",
        "1200.00",
        PricingTerm.YEAR,
        "USD",
        (
            # first bill day Mar 10; stub in Sep 10 2023 – Mar 9 2024 (182 days)
            (D(2024, 2, 20), D(2024, 3, 9), F(19, 182), "62.64"),
            (D(2024, 3, 10), D(2024, 9, 9), F(1), "600.00"),
            # Sep 10 2024 – Mar 9 2025 (181 days): 67800/181 = 374.5856
            (D(2024, 9, 10), D(2024, 12, 31), F(113, 181), "374.59"),
        ),
        bill_day=10,
    ),
    # -- annual -------------------------------------------------------------------------------
    Case(
        "annual-anniversary-feb29",
        D(2024, 2, 29),
        D(2029, 3, 31),
        ANNUAL,
        ANNIVERSARY,
        "1",
        "1200.00",
        PricingTerm.YEAR,
        "USD",
        (
            (D(2024, 2, 29), D(2025, 2, 27), F(1), "1200.00"),
            (D(2025, 2, 28), D(2026, 2, 27), F(1), "1200.00"),
            (D(2026, 2, 28), D(2027, 2, 27), F(1), "1200.00"),
            (D(2027, 2, 28), D(2028, 2, 28), F(1), "1200.00"),
            (D(2028, 2, 29), D(2029, 2, 27), F(1), "1200.00"),
            # Feb 28 2029 – Feb 27 2030 (365 days), 32 used: 38400/365 = 105.2055
            (D(2029, 2, 28), D(2029, 3, 31), F(32, 365), "105.21"),
        ),
    ),
    Case(
        "annual-calendar",
        D(2023, 7, 1),
        D(2025, 3, 31),
        ANNUAL,
        CALENDAR,
        "1",
        "1200.00",
        PricingTerm.YEAR,
        "USD",
        (
            (D(2023, 7, 1), D(2023, 12, 31), F(184, 365), "604.93"),
            (D(2024, 1, 1), D(2024, 12, 31), F(1), "1200.00"),
            (D(2025, 1, 1), D(2025, 3, 31), F(18, 73), "295.89"),
        ),
    ),
    Case(
        "annual-day-of-period-31-monthly-price",
        D(2024, 3, 15),
        D(2026, 3, 14),
        ANNUAL,
        DAY_OF_PERIOD,
        "1",
        "100.00",
        PricingTerm.MONTH,
        "USD",
        (
            # stub in Mar 31 2023 – Mar 30 2024 (366 days): 19200/366 = 52.459
            (D(2024, 3, 15), D(2024, 3, 30), F(8, 183), "52.46"),
            (D(2024, 3, 31), D(2025, 3, 30), F(1), "1200.00"),
            # Mar 31 2025 – Mar 30 2026 (365 days), 349 used: 418800/365 = 1147.397
            (D(2025, 3, 31), D(2026, 3, 14), F(349, 365), "1147.40"),
        ),
        bill_day=31,
    ),
    # -- one-time -----------------------------------------------------------------------------
    *(
        Case(
            f"one-time-{boundary}",
            D(2024, 5, 10),
            D(2024, 6, 30),
            ONE_TIME,
            boundary,
            "2",
            "250.00",
            PricingTerm.ONE_TIME,
            "USD",
            ((D(2024, 5, 10), D(2024, 6, 30), F(1), "500.00"),),
            bill_day=5 if boundary == DAY_OF_PERIOD else None,
        )
        for boundary in (ANNIVERSARY, CALENDAR, DAY_OF_PERIOD)
    ),
    Case(
        "one-time-evergreen",
        D(2024, 5, 10),
        None,
        ONE_TIME,
        ANNIVERSARY,
        "1",
        "99.99",
        PricingTerm.ONE_TIME,
        "USD",
        ((D(2024, 5, 10), D(2024, 5, 10), F(1), "99.99"),),
    ),
]


@pytest.mark.parametrize("billing_type", [ADVANCE, ARREARS])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_periods_and_amounts_table(case, billing_type):
    periods = list(
        iter_periods(
            start=case.start,
            end=case.end,
            frequency=case.frequency,
            boundary=case.boundary,
            billing_type=billing_type,
            bill_day=case.bill_day,
            anchor=case.anchor,
        )
    )
    expected = [
        (s, e, s if billing_type == ADVANCE else e, proration)
        for s, e, proration, _amount in case.periods
    ]
    assert rows(periods) == expected

    full_price = period_price(
        quantity=Decimal(case.quantity),
        unit_price=Decimal(case.unit_price),
        pricing_term=case.pricing_term,
        frequency=case.frequency,
    )
    amounts = [
        period_amount(full_price=full_price, period=p, currency=case.currency) for p in periods
    ]
    assert [str(a) for a in amounts] == [amount for *_rest, amount in case.periods]

    if case.end is not None:
        total = term_total(
            start=case.start,
            end=case.end,
            frequency=case.frequency,
            boundary=case.boundary,
            billing_type=billing_type,
            full_price=full_price,
            currency=case.currency,
            bill_day=case.bill_day,
            anchor=case.anchor,
        )
        assert total == sum(Decimal(amount) for *_rest, amount in case.periods)


def test_quarterly_day_of_period_total_is_a_whole_year():
    # 45.65 + 3 × 300 + 254.35: the two stubs make up exactly one quarter
    total = term_total(
        start=D(2024, 1, 1),
        end=D(2024, 12, 31),
        frequency=QUARTERLY,
        boundary=DAY_OF_PERIOD,
        billing_type=ADVANCE,
        full_price=F(300),
        currency="USD",
        bill_day=15,
    )
    assert total == Decimal("1200.00")


def test_full_periods_of_clipped_stubs():
    (first, *_middle, last) = iter_periods(
        start=D(2023, 1, 10),
        end=D(2023, 5, 20),
        frequency=MONTHLY,
        boundary=DAY_OF_PERIOD,
        billing_type=ADVANCE,
        bill_day=31,
    )
    assert (first.full_start, first.full_end, first.is_partial) == (
        D(2022, 12, 31),
        D(2023, 1, 30),
        True,
    )
    assert (last.full_start, last.full_end, last.days, last.full_days) == (
        D(2023, 4, 30),
        D(2023, 5, 30),
        21,
        31,
    )
    assert not _middle[0].is_partial


def test_annual_anniversary_feb29_never_drifts():
    periods = islice(
        iter_periods(
            start=D(2024, 2, 29),
            end=None,
            frequency=ANNUAL,
            boundary=ANNIVERSARY,
            billing_type=ADVANCE,
        ),
        6,
    )
    assert [p.start for p in periods] == [
        D(2024, 2, 29),
        D(2025, 2, 28),
        D(2026, 2, 28),
        D(2027, 2, 28),
        D(2028, 2, 29),
        D(2029, 2, 28),
    ]
    # 2100 is not a leap year; 2104 is
    later = islice(
        iter_periods(
            start=D(2024, 2, 29),
            end=None,
            frequency=ANNUAL,
            boundary=ANNIVERSARY,
            billing_type=ARREARS,
            from_date=D(2096, 3, 1),
        ),
        9,
    )
    assert [(p.start, p.end, p.billing_date) for p in later] == [
        (D(2096, 2, 29), D(2097, 2, 27), D(2097, 2, 27)),
        (D(2097, 2, 28), D(2098, 2, 27), D(2098, 2, 27)),
        (D(2098, 2, 28), D(2099, 2, 27), D(2099, 2, 27)),
        (D(2099, 2, 28), D(2100, 2, 27), D(2100, 2, 27)),
        (D(2100, 2, 28), D(2101, 2, 27), D(2101, 2, 27)),
        (D(2101, 2, 28), D(2102, 2, 27), D(2102, 2, 27)),
        (D(2102, 2, 28), D(2103, 2, 27), D(2103, 2, 27)),
        (D(2103, 2, 28), D(2104, 2, 28), D(2104, 2, 28)),
        (D(2104, 2, 29), D(2105, 2, 27), D(2105, 2, 27)),
    ]


# -- evergreen and from_date --------------------------------------------------------------------


class _CountingPoint:
    """Counts Grid.point calls, to show that from_date does not walk the grid."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = engine.Grid.point

        def point(grid, k):
            self.calls += 1
            return original(grid, k)

        monkeypatch.setattr(engine.Grid, "point", point)


def test_evergreen_from_date_fast_forwards(monkeypatch):
    counter = _CountingPoint(monkeypatch)
    periods = list(
        islice(
            iter_periods(
                start=D(2015, 1, 31),
                end=None,
                frequency=MONTHLY,
                boundary=ANNIVERSARY,
                billing_type=ADVANCE,
                from_date=D(2026, 11, 1),
            ),
            3,
        )
    )
    assert rows(periods) == [
        (D(2026, 10, 31), D(2026, 11, 29), D(2026, 10, 31), F(1)),
        (D(2026, 11, 30), D(2026, 12, 30), D(2026, 11, 30), F(1)),
        (D(2026, 12, 31), D(2027, 1, 30), D(2026, 12, 31), F(1)),
    ]
    # 141 months after the start: walking would call point() well over 100 times
    assert counter.calls <= 12


def test_evergreen_from_date_far_future_is_cheap(monkeypatch):
    counter = _CountingPoint(monkeypatch)
    (period,) = islice(
        iter_periods(
            start=D(1990, 3, 17),
            end=None,
            frequency=MONTHLY,
            boundary=DAY_OF_PERIOD,
            bill_day=31,
            billing_type=ARREARS,
            from_date=D(9000, 2, 10),
        ),
        1,
    )
    assert (period.start, period.end, period.billing_date) == (
        D(9000, 1, 31),
        D(9000, 2, 27),
        D(9000, 2, 27),
    )
    assert counter.calls <= 8


def test_evergreen_from_date_quarterly_calendar_arrears():
    (period,) = islice(
        iter_periods(
            start=D(2015, 6, 15),
            end=None,
            frequency=QUARTERLY,
            boundary=CALENDAR,
            billing_type=ARREARS,
            from_date=D(2026, 11, 1),
        ),
        1,
    )
    assert rows([period]) == [(D(2026, 10, 1), D(2026, 12, 31), D(2026, 12, 31), F(1))]


def test_from_date_before_start_is_the_start():
    kwargs = {
        "start": D(2024, 1, 15),
        "end": D(2024, 3, 31),
        "frequency": MONTHLY,
        "boundary": CALENDAR,
        "billing_type": ADVANCE,
    }
    assert list(iter_periods(**kwargs, from_date=D(2020, 1, 1))) == list(iter_periods(**kwargs))
    (first, *_rest) = iter_periods(**kwargs, from_date=D(2024, 1, 1))
    assert (first.start, first.proration) == (D(2024, 1, 15), F(17, 31))


def test_from_date_after_a_stubbed_end_yields_nothing():
    # The last period (Mar 1 – Mar 15) is billed; the next charge is from Mar 16: nothing
    # is left, and the stub must not come back (its full grid period runs to Mar 31).
    kwargs = {
        "start": D(2024, 1, 1),
        "end": D(2024, 3, 15),
        "frequency": MONTHLY,
        "boundary": ANNIVERSARY,
        "billing_type": ADVANCE,
    }
    assert rows(iter_periods(**kwargs, from_date=D(2024, 3, 15))) == [
        (D(2024, 3, 1), D(2024, 3, 15), D(2024, 3, 1), F(15, 31))
    ]
    assert list(iter_periods(**kwargs, from_date=D(2024, 3, 16))) == []
    assert list(iter_periods(**kwargs, from_date=D(2024, 3, 31))) == []
    assert list(iter_periods(**kwargs, from_date=D(2030, 1, 1))) == []
    assert periods_through(**kwargs, from_date=D(2024, 3, 16), through=D(2024, 12, 31)) == []


def test_one_time_from_date():
    kwargs = {
        "start": D(2024, 5, 10),
        "end": D(2024, 6, 30),
        "frequency": ONE_TIME,
        "boundary": ANNIVERSARY,
        "billing_type": ARREARS,
    }
    expected = [(D(2024, 5, 10), D(2024, 6, 30), D(2024, 6, 30), F(1))]
    assert rows(iter_periods(**kwargs, from_date=D(2024, 1, 1))) == expected
    assert rows(iter_periods(**kwargs, from_date=D(2024, 5, 10))) == expected
    # a from_date inside the single period keeps it, like any period containing from_date
    assert rows(iter_periods(**kwargs, from_date=D(2024, 6, 30))) == expected
    assert list(iter_periods(**kwargs, from_date=D(2024, 7, 1))) == []


def test_window_ending_before_it_starts_is_empty():
    for frequency in (MONTHLY, ONE_TIME):
        assert (
            list(
                iter_periods(
                    start=D(2024, 5, 10),
                    end=D(2024, 5, 9),
                    frequency=frequency,
                    boundary=ANNIVERSARY,
                    billing_type=ADVANCE,
                )
            )
            == []
        )


def test_single_day_window():
    assert rows(
        iter_periods(
            start=D(2024, 2, 29),
            end=D(2024, 2, 29),
            frequency=ANNUAL,
            boundary=CALENDAR,
            billing_type=ARREARS,
        )
    ) == [(D(2024, 2, 29), D(2024, 2, 29), D(2024, 2, 29), F(1, 366))]


# -- anchor (amendments) ------------------------------------------------------------------------


def test_amendment_anchor_reuses_original_monthly_grid():
    kwargs = {
        "start": D(2024, 3, 16),
        "end": D(2024, 6, 30),
        "frequency": MONTHLY,
        "boundary": ANNIVERSARY,
        "billing_type": ADVANCE,
    }
    periods = list(iter_periods(**kwargs, anchor=D(2024, 1, 1)))
    assert rows(periods) == [
        (D(2024, 3, 16), D(2024, 3, 31), D(2024, 3, 16), F(16, 31)),
        (D(2024, 4, 1), D(2024, 4, 30), D(2024, 4, 1), F(1)),
        (D(2024, 5, 1), D(2024, 5, 31), D(2024, 5, 1), F(1)),
        (D(2024, 6, 1), D(2024, 6, 30), D(2024, 6, 1), F(1)),
    ]
    assert (periods[0].full_start, periods[0].full_end) == (D(2024, 3, 1), D(2024, 3, 31))
    assert period_amount(full_price=F(100), period=periods[0], currency="USD") == Decimal("51.61")
    # without the anchor the amendment would get its own grid starting Mar 16
    (own, *_rest) = iter_periods(**kwargs)
    assert (own.start, own.end, own.proration) == (D(2024, 3, 16), D(2024, 4, 15), F(1))


def test_amendment_anchor_month_end_original():
    periods = list(
        iter_periods(
            start=D(2024, 3, 16),
            end=D(2024, 4, 29),
            frequency=MONTHLY,
            boundary=ANNIVERSARY,
            billing_type=ARREARS,
            anchor=D(2024, 1, 31),
        )
    )
    # the original's grid: Jan 31, Feb 29, Mar 31, Apr 30; full period Feb 29 – Mar 30
    assert rows(periods) == [
        (D(2024, 3, 16), D(2024, 3, 30), D(2024, 3, 30), F(15, 31)),
        (D(2024, 3, 31), D(2024, 4, 29), D(2024, 4, 29), F(1)),
    ]


def test_amendment_anchor_quarterly_anniversary():
    assert rows(
        iter_periods(
            start=D(2024, 5, 10),
            end=D(2024, 12, 31),
            frequency=QUARTERLY,
            boundary=ANNIVERSARY,
            billing_type=ADVANCE,
            anchor=D(2024, 1, 1),
        )
    ) == [
        # full period Apr 1 – Jun 30 (91 days), 52 used
        (D(2024, 5, 10), D(2024, 6, 30), D(2024, 5, 10), F(4, 7)),
        (D(2024, 7, 1), D(2024, 9, 30), D(2024, 7, 1), F(1)),
        (D(2024, 10, 1), D(2024, 12, 31), D(2024, 10, 1), F(1)),
    ]


def test_amendment_anchor_quarterly_day_of_period():
    kwargs = {
        "start": D(2024, 3, 1),
        "end": D(2024, 7, 19),
        "frequency": QUARTERLY,
        "boundary": DAY_OF_PERIOD,
        "bill_day": 20,
        "billing_type": ADVANCE,
    }
    # original started Jan 5 → bill days Jan 20, Apr 20, Jul 20, ...
    assert rows(iter_periods(**kwargs, anchor=D(2024, 1, 5))) == [
        # full period Jan 20 – Apr 19 (91 days), 50 used
        (D(2024, 3, 1), D(2024, 4, 19), D(2024, 3, 1), F(50, 91)),
        (D(2024, 4, 20), D(2024, 7, 19), D(2024, 4, 20), F(1)),
    ]
    # on its own grid the first bill day would be Mar 20
    assert rows(iter_periods(**kwargs)) == [
        # full period Dec 20 2023 – Mar 19 2024 (91 days), 19 used
        (D(2024, 3, 1), D(2024, 3, 19), D(2024, 3, 1), F(19, 91)),
        (D(2024, 3, 20), D(2024, 6, 19), D(2024, 3, 20), F(1)),
        # full period Jun 20 – Sep 19 (92 days), 30 used
        (D(2024, 6, 20), D(2024, 7, 19), D(2024, 6, 20), F(15, 46)),
    ]


# -- prices and rounding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "unit_price", "pricing_term", "frequency", "expected"),
    [
        ("1", "1200", PricingTerm.YEAR, MONTHLY, F(100)),
        ("1", "300", PricingTerm.QUARTER, MONTHLY, F(100)),
        ("1", "10", PricingTerm.MONTH, ANNUAL, F(120)),
        ("1", "10", PricingTerm.MONTH, QUARTERLY, F(30)),
        ("1", "1200", PricingTerm.YEAR, SEMIANNUAL, F(600)),
        ("1", "300", PricingTerm.QUARTER, ANNUAL, F(1200)),
        ("1", "300", PricingTerm.QUARTER, SEMIANNUAL, F(600)),
        ("2", "1000", PricingTerm.YEAR, MONTHLY, F(500, 3)),
        ("2.5", "19.99", PricingTerm.MONTH, QUARTERLY, F(149925, 1000)),
        ("0.001", "0.0001", PricingTerm.YEAR, MONTHLY, F(1, 120_000_000)),
        ("3", "499", PricingTerm.ONE_TIME, ONE_TIME, F(1497)),
    ],
)
def test_period_price_is_exact(quantity, unit_price, pricing_term, frequency, expected):
    price = period_price(
        quantity=Decimal(quantity),
        unit_price=Decimal(unit_price),
        pricing_term=pricing_term,
        frequency=frequency,
    )
    assert isinstance(price, Fraction)
    assert price == expected


@pytest.mark.parametrize(
    ("unit_price", "pricing_term", "frequency", "start", "end", "expected"),
    [
        ("1200", PricingTerm.YEAR, MONTHLY, D(2024, 1, 1), D(2024, 1, 31), "100.00"),
        ("300", PricingTerm.QUARTER, MONTHLY, D(2024, 2, 1), D(2024, 2, 29), "100.00"),
        ("10", PricingTerm.MONTH, ANNUAL, D(2024, 1, 1), D(2024, 12, 31), "120.00"),
        # yearly 1200 billed monthly, half of April
        ("1200", PricingTerm.YEAR, MONTHLY, D(2024, 4, 1), D(2024, 4, 15), "50.00"),
    ],
)
def test_pricing_term_differs_from_frequency(
    unit_price, pricing_term, frequency, start, end, expected
):
    full_price = period_price(
        quantity=Decimal("1"),
        unit_price=Decimal(unit_price),
        pricing_term=pricing_term,
        frequency=frequency,
    )
    (period,) = iter_periods(
        start=start, end=end, frequency=frequency, boundary=CALENDAR, billing_type=ADVANCE
    )
    assert str(period_amount(full_price=full_price, period=period, currency="USD")) == expected


def _calendar_month_period(start, end):
    (period,) = iter_periods(
        start=start, end=end, frequency=MONTHLY, boundary=CALENDAR, billing_type=ADVANCE
    )
    return period


@pytest.mark.parametrize(
    ("price", "currency", "start", "end", "expected"),
    [
        # half of April 2024 (15/30): exact halves round up (half-even would round down)
        ("10.01", "USD", D(2024, 4, 1), D(2024, 4, 15), "5.01"),
        ("1001", "JPY", D(2024, 4, 1), D(2024, 4, 15), "501"),
        ("10.001", "BHD", D(2024, 4, 1), D(2024, 4, 15), "5.001"),
        ("0.01", "USD", D(2024, 4, 1), D(2024, 4, 15), "0.01"),
        ("1", "JPY", D(2024, 4, 1), D(2024, 4, 15), "1"),
        # a third of April (10/30)
        ("10.01", "USD", D(2024, 4, 1), D(2024, 4, 10), "3.34"),
        ("1000", "JPY", D(2024, 4, 1), D(2024, 4, 10), "333"),
        ("1001", "JPY", D(2024, 4, 1), D(2024, 4, 10), "334"),
        ("10.000", "BHD", D(2024, 4, 1), D(2024, 4, 10), "3.333"),
        ("10.002", "BHD", D(2024, 4, 1), D(2024, 4, 10), "3.334"),
        # 10/31 of January: 322.58 / 32.2580645 / 3.2258
        ("1000", "JPY", D(2024, 1, 1), D(2024, 1, 10), "323"),
        ("100", "BHD", D(2024, 1, 1), D(2024, 1, 10), "32.258"),
        ("10", "USD", D(2024, 1, 1), D(2024, 1, 10), "3.23"),
        # full month: the price itself, at the currency's scale
        ("1000", "JPY", D(2024, 1, 1), D(2024, 1, 31), "1000"),
        ("7.5", "BHD", D(2024, 1, 1), D(2024, 1, 31), "7.500"),
    ],
)
def test_prorated_amounts_round_half_up(price, currency, start, end, expected):
    full_price = period_price(
        quantity=Decimal("1"),
        unit_price=Decimal(price),
        pricing_term=PricingTerm.MONTH,
        frequency=MONTHLY,
    )
    amount = period_amount(
        full_price=full_price, period=_calendar_month_period(start, end), currency=currency
    )
    assert str(amount) == expected


def test_prorated_amount_rounds_quantity_times_price_once():
    # 3 × 0.35 = 1.05 a month; half of April = 0.525 → 0.53 (rounding 0.35/2 first gives 0.54)
    full_price = period_price(
        quantity=Decimal("3"),
        unit_price=Decimal("0.35"),
        pricing_term=PricingTerm.MONTH,
        frequency=MONTHLY,
    )
    period = _calendar_month_period(D(2024, 4, 1), D(2024, 4, 15))
    assert period_amount(full_price=full_price, period=period, currency="USD") == Decimal("0.53")


@pytest.mark.parametrize(
    ("unit_price", "currency", "expected"),
    [
        ("1000", "USD", "999.96"),  # 12 × 83.33
        ("10000", "JPY", "9996"),  # 12 × 833
        ("1000", "BHD", "999.996"),  # 12 × 83.333
        ("1200", "USD", "1200.00"),
    ],
)
def test_term_total_sums_rounded_periods(unit_price, currency, expected):
    full_price = period_price(
        quantity=Decimal("1"),
        unit_price=Decimal(unit_price),
        pricing_term=PricingTerm.YEAR,
        frequency=MONTHLY,
    )
    total = term_total(
        start=D(2025, 1, 1),
        end=D(2025, 12, 31),
        frequency=MONTHLY,
        boundary=CALENDAR,
        billing_type=ARREARS,
        full_price=full_price,
        currency=currency,
    )
    assert str(total) == expected


# ---------------------------------------------------------------------------------------------
# 2. periods_through
# ---------------------------------------------------------------------------------------------

YEAR_2024 = {
    "start": D(2024, 1, 1),
    "end": D(2024, 12, 31),
    "frequency": MONTHLY,
    "boundary": CALENDAR,
}


def _starts(periods):
    return [p.start for p in periods]


def test_periods_through_advance_bills_on_first_day():
    through = periods_through(**YEAR_2024, billing_type=ADVANCE, through=D(2024, 3, 1))
    assert _starts(through) == [D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)]
    through = periods_through(**YEAR_2024, billing_type=ADVANCE, through=D(2024, 2, 29))
    assert _starts(through) == [D(2024, 1, 1), D(2024, 2, 1)]
    assert periods_through(**YEAR_2024, billing_type=ADVANCE, through=D(2023, 12, 31)) == []


def test_periods_through_arrears_not_billable_before_end():
    assert periods_through(**YEAR_2024, billing_type=ARREARS, through=D(2024, 1, 30)) == []
    through = periods_through(**YEAR_2024, billing_type=ARREARS, through=D(2024, 3, 30))
    assert rows(through) == [
        (D(2024, 1, 1), D(2024, 1, 31), D(2024, 1, 31), F(1)),
        (D(2024, 2, 1), D(2024, 2, 29), D(2024, 2, 29), F(1)),
    ]
    through = periods_through(**YEAR_2024, billing_type=ARREARS, through=D(2024, 3, 31))
    assert _starts(through) == [D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)]
    assert len(periods_through(**YEAR_2024, billing_type=ARREARS, through=D(2030, 1, 1))) == 12


def test_periods_through_arrears_stub_billable_on_clipped_end():
    kwargs = {**YEAR_2024, "end": D(2024, 3, 15), "billing_type": ARREARS}
    assert _starts(periods_through(**kwargs, through=D(2024, 3, 14))) == [
        D(2024, 1, 1),
        D(2024, 2, 1),
    ]
    assert rows(periods_through(**kwargs, through=D(2024, 3, 15)))[-1] == (
        D(2024, 3, 1),
        D(2024, 3, 15),
        D(2024, 3, 15),
        F(15, 31),
    )


def test_periods_through_limit():
    kwargs = {**YEAR_2024, "billing_type": ADVANCE, "through": D(2024, 12, 31)}
    assert periods_through(**kwargs, limit=0) == []
    assert _starts(periods_through(**kwargs, limit=2)) == [D(2024, 1, 1), D(2024, 2, 1)]
    assert len(periods_through(**kwargs, limit=100)) == 12
    # the earlier of limit and through wins
    assert len(periods_through(**{**kwargs, "through": D(2024, 2, 1)}, limit=5)) == 2


def test_periods_through_from_date():
    through = periods_through(
        **YEAR_2024, billing_type=ARREARS, from_date=D(2024, 4, 1), through=D(2024, 6, 30)
    )
    assert _starts(through) == [D(2024, 4, 1), D(2024, 5, 1), D(2024, 6, 1)]
    # from a date inside a period: that whole period is still due
    through = periods_through(
        **YEAR_2024, billing_type=ADVANCE, from_date=D(2024, 4, 17), through=D(2024, 5, 1)
    )
    assert rows(through) == [
        (D(2024, 4, 1), D(2024, 4, 30), D(2024, 4, 1), F(1)),
        (D(2024, 5, 1), D(2024, 5, 31), D(2024, 5, 1), F(1)),
    ]


def test_periods_through_evergreen_stops():
    through = periods_through(
        start=D(2015, 1, 31),
        end=None,
        frequency=MONTHLY,
        boundary=ANNIVERSARY,
        billing_type=ARREARS,
        from_date=D(2026, 11, 1),
        through=D(2027, 1, 31),
    )
    assert [(p.start, p.end) for p in through] == [
        (D(2026, 10, 31), D(2026, 11, 29)),
        (D(2026, 11, 30), D(2026, 12, 30)),
        (D(2026, 12, 31), D(2027, 1, 30)),
    ]
    limited = periods_through(
        start=D(2015, 1, 1),
        end=None,
        frequency=MONTHLY,
        boundary=CALENDAR,
        billing_type=ADVANCE,
        through=D(2100, 1, 1),
        limit=3,
    )
    assert _starts(limited) == [D(2015, 1, 1), D(2015, 2, 1), D(2015, 3, 1)]


# ---------------------------------------------------------------------------------------------
# 4. Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bill_day", [None, 0, 32])
def test_day_of_period_needs_a_bill_day(bill_day):
    with pytest.raises(ValueError, match="bill day"):
        list(
            iter_periods(
                start=D(2024, 1, 1),
                end=D(2024, 12, 31),
                frequency=MONTHLY,
                boundary=DAY_OF_PERIOD,
                billing_type=ADVANCE,
                bill_day=bill_day,
            )
        )
    with pytest.raises(ValueError):
        make_grid(
            anchor=D(2024, 1, 1), frequency=MONTHLY, boundary=DAY_OF_PERIOD, bill_day=bill_day
        )


@pytest.mark.parametrize(
    ("pricing_term", "frequency"),
    [
        (PricingTerm.ONE_TIME, MONTHLY),
        (PricingTerm.ONE_TIME, ANNUAL),
        (PricingTerm.MONTH, ONE_TIME),
    ],
)
def test_one_time_and_recurring_do_not_mix(pricing_term, frequency):
    with pytest.raises(ValueError, match="one-time"):
        period_price(
            quantity=Decimal("1"),
            unit_price=Decimal("10"),
            pricing_term=pricing_term,
            frequency=frequency,
        )


def test_unknown_boundary_and_one_time_grid():
    with pytest.raises(ValueError, match="boundary"):
        list(
            iter_periods(
                start=D(2024, 1, 1),
                end=None,
                frequency=MONTHLY,
                boundary="fortnightly",
                billing_type=ADVANCE,
            )
        )
    with pytest.raises(ValueError, match="one-time"):
        make_grid(anchor=D(2024, 1, 1), frequency=ONE_TIME, boundary=ANNIVERSARY)


# ---------------------------------------------------------------------------------------------
# 3. Properties
# ---------------------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None)
START_DATES = st.dates(D(1990, 1, 1), D(2060, 12, 31))
CURRENCIES = ["USD", "JPY", "BHD"]


def _clamp(year: int, month_index: int, day: int) -> dt.date:
    """Day `day` of the month year*12 + month_index (0-based), clamped to the month's end."""
    year, month0 = divmod(year * 12 + month_index, 12)
    return D(year, month0 + 1, min(day, calendar.monthrange(year, month0 + 1)[1]))


def _months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


def _grid_origin(*, anchor: dt.date, boundary: str, bill_day: int | None) -> tuple[dt.date, int]:
    """An independent description of the grid: one grid point and the grid's day of month."""
    if boundary == ANNIVERSARY:
        return anchor, anchor.day
    if boundary == CALENDAR:
        return D(anchor.year, 1, 1), 1
    first = _clamp(anchor.year, anchor.month - 1, bill_day)
    if first < anchor:
        first = _clamp(anchor.year, anchor.month, bill_day)
    return first, bill_day


def _is_grid_point(d: dt.date, *, origin: dt.date, day: int, step: int) -> bool:
    months = _months_between(origin, d)
    return months % step == 0 and d == _clamp(d.year, d.month - 1, day)


@st.composite
def schedules(draw, frequencies=(MONTHLY, QUARTERLY, SEMIANNUAL, ANNUAL, ONE_TIME)):
    frequency = draw(st.sampled_from(frequencies))
    boundary = draw(st.sampled_from([ANNIVERSARY, CALENDAR, DAY_OF_PERIOD]))
    start = draw(START_DATES)
    anchor = draw(st.none() | st.integers(0, 800).map(lambda days: start - days * ONE_DAY))
    return {
        "start": start,
        "end": start + draw(st.integers(0, 3 * 366)) * ONE_DAY,
        "frequency": frequency,
        "boundary": boundary,
        "bill_day": draw(st.integers(1, 31)) if boundary == DAY_OF_PERIOD else None,
        "anchor": anchor,
        "billing_type": draw(st.sampled_from([ADVANCE, ARREARS])),
    }


def _check_period_shape(periods, s):
    """Contiguous, clipped from full grid periods, billed on the right day."""
    for a, b in zip(periods, periods[1:], strict=False):
        assert b.start == a.end + ONE_DAY
        assert b.full_start == a.full_end + ONE_DAY
    for p in periods:
        assert p.full_start <= p.start <= p.end <= p.full_end
        assert p.start == max(p.full_start, s["start"])
        if s["end"] is not None:
            assert p.end == min(p.full_end, s["end"])
        assert 0 < p.proration <= 1
        assert p.proration == F(p.days, p.full_days)
        assert p.billing_date == (p.start if s["billing_type"] == ADVANCE else p.end)
    if s["frequency"] == ONE_TIME:
        return
    step = STEP[s["frequency"]]
    origin, day = _grid_origin(
        anchor=s["anchor"] or s["start"], boundary=s["boundary"], bill_day=s["bill_day"]
    )
    for p in periods:
        # every full period is exactly one grid step: grid point to the day before the next
        assert _is_grid_point(p.full_start, origin=origin, day=day, step=step)
        assert _is_grid_point(p.full_end + ONE_DAY, origin=origin, day=day, step=step)
        assert _months_between(p.full_start, p.full_end + ONE_DAY) == step
    # only the first and last periods can be clipped
    for p in periods[1:-1]:
        assert not p.is_partial


@PROPERTY_SETTINGS
@given(schedules())
def test_property_periods_tile_the_window(s):
    periods = list(iter_periods(**s))
    assert periods
    assert periods[0].start == s["start"]
    assert periods[-1].end == s["end"]
    _check_period_shape(periods, s)
    if s["frequency"] == ONE_TIME:
        assert rows(periods) == [
            (
                s["start"],
                s["end"],
                s["start"] if s["billing_type"] == ADVANCE else s["end"],
                F(1),
            )
        ]


@PROPERTY_SETTINGS
@given(schedules(frequencies=(MONTHLY, QUARTERLY, SEMIANNUAL, ANNUAL)))
def test_property_evergreen_periods_are_contiguous(s):
    s = {**s, "end": None}
    periods = list(islice(iter_periods(**s), 14))
    assert len(periods) == 14
    assert periods[0].start == s["start"]
    assert all(not p.is_partial for p in periods[1:])
    _check_period_shape(periods, s)


@PROPERTY_SETTINGS
@given(schedules(), st.data())
def test_property_from_date_yields_the_suffix(s, data):
    full = list(iter_periods(**s))
    from_date = data.draw(st.dates(s["start"], s["end"]), label="from_date")
    got = list(iter_periods(**s, from_date=from_date))
    (index,) = [i for i, p in enumerate(full) if p.start <= from_date <= p.end]
    assert got == full[index:]
    # before the window: everything; after it: nothing
    assert list(iter_periods(**s, from_date=s["start"] - ONE_DAY)) == full
    assert list(iter_periods(**s, from_date=s["end"] + ONE_DAY)) == []


@PROPERTY_SETTINGS
@given(
    schedules(frequencies=(MONTHLY, QUARTERLY, SEMIANNUAL, ANNUAL)),
    st.integers(0, 4000),
)
def test_property_evergreen_from_date_matches_walking(s, offset):
    s = {**s, "end": None}
    from_date = s["start"] + offset * ONE_DAY
    walked = []
    for p in iter_periods(**s):
        if p.end >= from_date:
            walked.append(p)
            if len(walked) == 3:
                break
    assert list(islice(iter_periods(**s, from_date=from_date), 3)) == walked
    assert walked[0].start <= from_date <= walked[0].end or from_date < s["start"]


PRICES = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(1, 10_000_000),
    st.integers(0, 4),
)
QUANTITIES = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(1, 100_000),
    st.integers(0, 3),
)


@st.composite
def grid_aligned_terms(draw):
    """A start on a grid point and an end the day before the n-th grid point after it."""
    frequency = draw(st.sampled_from([MONTHLY, QUARTERLY, SEMIANNUAL, ANNUAL]))
    step = STEP[frequency]
    boundary = draw(st.sampled_from([ANNIVERSARY, CALENDAR, DAY_OF_PERIOD]))
    n_periods = draw(st.integers(1, 24 // step + 12))
    year = draw(st.integers(1990, 2060))
    bill_day = None
    if boundary == ANNIVERSARY:
        start = draw(START_DATES)
        day = start.day
        year, month_index = start.year, start.month - 1
    elif boundary == CALENDAR:
        day = 1
        month_index = step * draw(st.integers(0, 12 // step - 1))
        start = D(year, month_index + 1, 1)
    else:
        bill_day = day = draw(st.integers(1, 31))
        month_index = draw(st.integers(0, 11))
        start = _clamp(year, month_index, day)
    end = _clamp(year, month_index + n_periods * step, day) - ONE_DAY
    return {
        "start": start,
        "end": end,
        "frequency": frequency,
        "boundary": boundary,
        "bill_day": bill_day,
        "billing_type": draw(st.sampled_from([ADVANCE, ARREARS])),
    }, n_periods


@PROPERTY_SETTINGS
@given(
    grid_aligned_terms(),
    QUANTITIES,
    PRICES,
    st.sampled_from([PricingTerm.MONTH, PricingTerm.QUARTER, PricingTerm.YEAR]),
    st.sampled_from(CURRENCIES),
)
def test_property_whole_periods_total_is_the_undiscounted_total(
    term, quantity, unit_price, pricing_term, currency
):
    s, n_periods = term
    periods = list(iter_periods(**s))
    assert len(periods) == n_periods
    assert all(p.proration == 1 and not p.is_partial for p in periods)

    full_price = period_price(
        quantity=quantity,
        unit_price=unit_price,
        pricing_term=pricing_term,
        frequency=s["frequency"],
    )
    amounts = [period_amount(full_price=full_price, period=p, currency=currency) for p in periods]
    total = term_total(**s, full_price=full_price, currency=currency)
    assert total == sum(amounts, Decimal("0"))
    minor = F(minor_unit(currency))
    assert all(a.as_tuple().exponent == minor_unit(currency).as_tuple().exponent for a in amounts)

    undiscounted = (
        F(quantity) * F(unit_price) * n_periods * F(STEP[s["frequency"]], TERM_MONTHS[pricing_term])
    )
    assert abs(F(total) - undiscounted) <= n_periods * minor / 2


@PROPERTY_SETTINGS
@given(
    schedules(frequencies=(MONTHLY, QUARTERLY, SEMIANNUAL, ANNUAL)),
    QUANTITIES,
    PRICES,
    st.sampled_from([PricingTerm.MONTH, PricingTerm.QUARTER, PricingTerm.YEAR]),
    st.sampled_from(CURRENCIES),
)
def test_property_stubbed_total_is_close_to_exact_prorated_sum(
    s, quantity, unit_price, pricing_term, currency
):
    periods = list(iter_periods(**s))
    n_periods = len(periods)
    full_price = period_price(
        quantity=quantity,
        unit_price=unit_price,
        pricing_term=pricing_term,
        frequency=s["frequency"],
    )
    total = term_total(**s, full_price=full_price, currency=currency)
    exact = sum((full_price * p.proration for p in periods), F(0))
    minor = F(minor_unit(currency))
    # each period is rounded once, so each is off by at most half a minor unit
    assert abs(F(total) - exact) <= n_periods * minor / 2
    assert abs(F(total) - exact) <= (n_periods + 1) * minor
    # prorations never add up to more than the number of periods touched
    assert exact <= full_price * n_periods
