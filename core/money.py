"""Money and quantity rounding. The one place in Ledgerline where amounts are rounded.

Amounts are Decimals built from strings, never floats. An amount is rounded once, per line,
to its currency's minor unit (the ISO 4217 exponent: JPY 0, USD 2, BHD 3), half up, before
any sum; sums of rounded lines need no further rounding.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import overload

import moneyed

from core.exceptions import ValidationError

ZERO = Decimal("0")

# What the functions below take as an amount, a price or a quantity. Never a float.
Number = Decimal | int | str | Fraction

_ROUNDING = {"half_up": ROUND_HALF_UP, "up": ROUND_UP, "down": ROUND_DOWN}


# ISO 4217 codes that are no money one invoices in: no currency (XXX), testing (XTS),
# precious metals, the IMF's and other units of account, the bond-market units.
NON_MONETARY_CURRENCIES = frozenset(
    {"XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC", "XBD"}
)


def validate_currency(code: str) -> str:
    """The code, uppercase, when it is an ISO 4217 currency one can invoice in (py-moneyed's
    catalogue, which keeps withdrawn currencies for old invoices, less the non-monetary
    codes); else a ValidationError on `currency`."""
    code = (code or "").upper()
    try:
        currency = moneyed.get_currency(code)
    except moneyed.CurrencyDoesNotExist:
        currency = None
    if code in NON_MONETARY_CURRENCIES:
        raise ValidationError(
            {
                "currency": f"'{code}' is an ISO 4217 code for no currency one invoices in "
                f"({currency.name if currency else 'not money'}); use e.g. USD, EUR, JPY."
            }
        )
    if currency is None or not currency.sub_unit:
        raise ValidationError(
            {"currency": f"'{code}' is not an ISO 4217 currency code; use e.g. USD, EUR, JPY."}
        )
    return code


def currency_exponent(code: str) -> int:
    """Number of decimal places of the currency's minor unit (USD 2, JPY 0, BHD 3)."""
    sub_unit = moneyed.get_currency(validate_currency(code)).sub_unit
    return len(str(sub_unit)) - 1


def minor_unit(code: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(code))


def to_decimal(value: Number) -> Decimal:
    """A Decimal from a Decimal, int, str or Fraction. Floats are refused."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("money is never a float; pass a string or Decimal")
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(str(value))


def round_money(amount: Number, currency: str) -> Decimal:
    """Round an amount half up to the currency's minor unit.

    Fractions are rounded exactly (no intermediate Decimal context rounding).
    """
    quantum = minor_unit(currency)
    if isinstance(amount, Fraction):
        return _round_fraction(amount, quantum, ROUND_HALF_UP)
    return to_decimal(amount).quantize(quantum, rounding=ROUND_HALF_UP)


def money_input(value: object, currency: str, *, field: str, positive: str) -> Decimal:
    """An amount typed by someone: a finite decimal, more than zero, in the currency's minor
    unit; else a ValidationError on `field` (`positive`: the message for zero or less)."""
    try:
        if isinstance(value, float | bool) or value is None:
            raise InvalidOperation
        amount = to_decimal(value)  # type: ignore[arg-type]
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: "Give the amount as a decimal string, e.g. '125.00'."})
    if amount <= ZERO:
        raise ValidationError({field: positive})
    rounded = round_money(amount, currency)
    if rounded != amount:
        raise ValidationError({field: f"{amount} has more decimal places than {currency} has."})
    return rounded  # the same value, at the currency's places ("80.0000" → 80.00)


UNIT_PRICE_PLACES = 6  # the scale of stored unit prices (InvoiceLine.unit_price)


def round_unit_price(value: Number) -> Decimal:
    """A unit price at the stored scale (6 places), half up: a yearly price billed monthly
    shows 1/12 of it per unit. Fractions are rounded exactly."""
    quantum = Decimal(1).scaleb(-UNIT_PRICE_PLACES)
    if isinstance(value, Fraction):
        return _round_fraction(value, quantum, ROUND_HALF_UP)
    return to_decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)


def round_quantity(quantity: Number, *, scale: int, rounding: str = "half_up") -> Decimal:
    """Round a quantity by its unit of measure: `scale` decimal places, the unit's mode."""
    quantum = Decimal(1).scaleb(-scale)
    mode = _ROUNDING[rounding]
    if isinstance(quantity, Fraction):
        return _round_fraction(quantity, quantum, mode)
    return to_decimal(quantity).quantize(quantum, rounding=mode)


def _round_fraction(value: Fraction, quantum: Decimal, mode: str) -> Decimal:
    scale = -int(quantum.as_tuple().exponent)  # a quantum is finite: its exponent is an int
    scaled = value * (10**scale)
    sign = -1 if scaled < 0 else 1
    magnitude = abs(scaled)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if rest and (mode == ROUND_UP or (mode == ROUND_HALF_UP and 2 * rest >= magnitude.denominator)):
        whole += 1
    return (Decimal(sign * whole).scaleb(-scale)).quantize(quantum)


def plain(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent, for messages: 15.000000 → '15'."""
    text = f"{to_decimal(value).normalize():f}"
    return "0" if text in ("-0", "") else text


@overload
def money_str(amount: None, currency: str) -> None: ...
@overload
def money_str(amount: Number, currency: str) -> str: ...
def money_str(amount: Number | None, currency: str) -> str | None:
    """An amount as a plain decimal string in the currency's minor unit: '12.50', '1235';
    never "-0.00" (a sum of credits that cancel out)."""
    if amount is None:
        return None
    value = to_decimal(amount).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
    return str(abs(value) if value == 0 else value)


def number_display(value: Number, places: int) -> str:
    """For documents: thousands separators and `places` decimals, half up, never "-0.00"."""
    rounded = to_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)
    return f"{rounded:,.{places}f}"


def money_display(amount: Number | None, currency: str) -> str:
    """For people: thousands separators and the currency code, '1,234.50 USD'."""
    if amount is None:
        return "—"
    places = currency_exponent(currency)
    value = to_decimal(amount).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
    if value == 0:
        value = abs(value)  # never "-0.00 USD"
    return f"{value:,.{places}f} {currency}"


def _places(value: Decimal) -> int:
    """How many decimals `value` really has (15.500000 → 1), so showing them rounds nothing."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def price_display(value: Number | None, currency: str) -> str:
    """A unit price for people, without the code: the currency's places, more when the price
    has them (a yearly price billed monthly), never rounded: '5.00', '8.333333', '1,200'
    (JPY)."""
    if value is None:
        return "—"
    price = to_decimal(value)
    return number_display(price, max(currency_exponent(currency), _places(price)))


def quantity_display(value: Number | None) -> str:
    """A quantity for people: its significant places only, '10', '1.5', '1,000.25'."""
    if value is None:
        return "—"
    quantity = to_decimal(value)
    return number_display(quantity, _places(quantity))
