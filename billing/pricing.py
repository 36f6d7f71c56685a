"""Pricing: what one billing period of a schedule costs. Pure functions, no database.

The one home of the pricing rules that activation (a schedule's period amount and term
total), invoice generation (each period's amount and the line's unit price) and preview
share. Amounts are computed exactly as Fractions and rounded once, per period, in
core/money.py.

Bounds: amounts are stored with 15 digits before the point (core.models.MONEY_DIGITS), unit
prices with 13 (PRICE_DIGITS). `amounts_problem` refuses an item whose one period would bill
PERIOD_AMOUNT_LIMIT or more (a thousandth of the column, so an invoice summing many periods,
lines and their tax still fits), whose line unit price would not fit its column, or whose
term's total would not fit; activation asks it before it writes anything.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from billing.choices import FREQUENCY_MONTHS, PRICING_TERM_MONTHS, BillingFrequency, PricingTerm
from billing.periods import Period, iter_periods
from core.models import MONEY_DIGITS, PRICE_DIGITS
from core.money import ZERO, money_display, plain, round_money, round_unit_price

AMOUNT_LIMIT = Decimal(10) ** (MONEY_DIGITS["max_digits"] - MONEY_DIGITS["decimal_places"])
PERIOD_AMOUNT_LIMIT = AMOUNT_LIMIT / 1000
UNIT_PRICE_LIMIT = Decimal(10) ** (PRICE_DIGITS["max_digits"] - PRICE_DIGITS["decimal_places"])


def period_price(
    *, quantity: Decimal, unit_price: Decimal, pricing_term: str, frequency: str
) -> Fraction:
    """The exact (unrounded) amount of one full billing period.

    A price per pricing term billed on another frequency scales by their months:
    a yearly price billed monthly is price / 12 per month; a monthly price billed
    quarterly is price × 3.
    """
    base = Fraction(quantity) * Fraction(unit_price)
    term_months = PRICING_TERM_MONTHS[PricingTerm(pricing_term)]
    freq_months = FREQUENCY_MONTHS[BillingFrequency(frequency)]
    if term_months is None or freq_months is None:
        if term_months is None and freq_months is None:
            return base
        raise ValueError(
            "a one-time price is billed with a one-time frequency, and a recurring price with a "
            "recurring frequency"
        )
    return base * Fraction(freq_months, term_months)


def period_amount(*, full_price: Fraction, period: Period, currency: str) -> Decimal:
    """A period's amount: the full period's price prorated by days, rounded once."""
    return round_money(full_price * period.proration, currency)


def term_total(
    *,
    start: dt.date,
    end: dt.date,
    frequency: str,
    boundary: str,
    billing_type: str,
    full_price: Fraction,
    currency: str,
    bill_day: int | None = None,
    anchor: dt.date | None = None,
) -> Decimal:
    """The sum of every period's rounded amount over a bounded window."""
    return sum(
        (
            period_amount(full_price=full_price, period=p, currency=currency)
            for p in iter_periods(
                start=start,
                end=end,
                frequency=frequency,
                boundary=boundary,
                billing_type=billing_type,
                bill_day=bill_day,
                anchor=anchor,
            )
        ),
        ZERO,
    )


def line_unit_price(unit_price: Decimal, pricing_term: str, frequency: str) -> Decimal:
    """The price of one unit for one full billing period (a yearly 1,200 billed monthly: 100),
    as an invoice line shows it."""
    term = PRICING_TERM_MONTHS.get(pricing_term)
    freq = FREQUENCY_MONTHS.get(frequency)
    if term is None or freq is None:
        return unit_price
    return round_unit_price(Fraction(unit_price) * Fraction(freq, term))


def usage_amount(*, overage: Decimal, unit_price: Decimal, currency: str) -> Decimal:
    """The amount of a usage period: the overage quantity at the overage price, rounded once."""
    return round_money(Fraction(overage) * Fraction(unit_price), currency)


def schedule_period_price(schedule) -> Fraction:
    """The exact price of one full billing period of a schedule (or anything with its
    quantity, unit_price, pricing_term and billing_frequency)."""
    return period_price(
        quantity=schedule.quantity,
        unit_price=schedule.unit_price,
        pricing_term=schedule.pricing_term,
        frequency=schedule.billing_frequency,
    )


def amounts_problem(
    *,
    quantity: Decimal,
    unit_price: Decimal,
    pricing_term: str,
    frequency: str,
    currency: str,
    start: dt.date,
    end: dt.date | None,
) -> tuple[str, str] | None:
    """(field, message) when a schedule of this quantity and price would bill more than the
    amount columns hold (module docstring); None when it fits. The term's total is bounded
    from above (every period counted as a full one), without walking its periods."""
    try:
        full = abs(
            period_price(
                quantity=quantity,
                unit_price=unit_price,
                pricing_term=pricing_term,
                frequency=frequency,
            )
        )
    except ValueError:
        return None  # a cadence problem, reported by the caller's own checks
    if full >= PERIOD_AMOUNT_LIMIT:
        amount = money_display(round_money(full, currency), currency)
        return (
            "quantity",
            f"{plain(quantity)} × {plain(unit_price)} comes to {amount} a billing period; one "
            f"period of an item must stay below {money_display(PERIOD_AMOUNT_LIMIT, currency)}. "
            "Lower the quantity or the unit price, or split the item.",
        )
    if abs(line_unit_price(unit_price, pricing_term, frequency)) >= UNIT_PRICE_LIMIT:
        return (
            "unit_price",
            f"The unit price {plain(unit_price)} per {pricing_term}, billed {frequency}, comes "
            f"to {UNIT_PRICE_LIMIT:,.0f} or more a period, more than a unit price can hold; "
            "lower it.",
        )
    months = FREQUENCY_MONTHS[BillingFrequency(frequency)]
    if end is not None and months:
        span = (end.year - start.year) * 12 + end.month - start.month
        periods = span // months + 2  # a stub at each end at most
        if full * periods >= AMOUNT_LIMIT:
            return (
                "end_date",
                f"Over its term ({start} to {end}) the item would bill about "
                f"{money_display(round_money(full * periods, currency), currency)}, more than an "
                f"amount can hold ({money_display(AMOUNT_LIMIT, currency)}); shorten the term or "
                "lower the price.",
            )
    return None
