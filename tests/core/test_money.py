from decimal import Decimal
from fractions import Fraction

import pytest

from core.exceptions import ValidationError
from core.money import currency_exponent, round_money, round_quantity


@pytest.mark.parametrize(("code", "exponent"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("BHD", 3)])
def test_currency_exponent_is_iso_4217(code, exponent):
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("10.005", "USD", "10.01"),
        ("10.004999", "USD", "10.00"),
        ("-10.005", "USD", "-10.01"),
        ("1234.5", "JPY", "1235"),
        ("1234.4", "JPY", "1234"),
        ("1.0005", "BHD", "1.001"),
        ("1.0004", "BHD", "1.000"),
    ],
)
def test_round_money_half_up_to_minor_unit(amount, currency, expected):
    assert round_money(Decimal(amount), currency) == Decimal(expected)
    assert str(round_money(Decimal(amount), currency)) == expected


def test_round_money_fraction_is_exact():
    # 100/3 = 33.333... ; 1/200 = 0.005 exactly half → rounds up
    assert round_money(Fraction(100, 3), "USD") == Decimal("33.33")
    assert round_money(Fraction(1, 200), "USD") == Decimal("0.01")
    assert round_money(Fraction(-1, 200), "USD") == Decimal("-0.01")
    assert round_money(Fraction(2, 3), "JPY") == Decimal("1")


def test_float_is_refused():
    with pytest.raises(TypeError):
        round_money(1.5, "USD")


def test_unknown_currency_is_a_clear_error():
    with pytest.raises(ValidationError) as exc:
        round_money(Decimal("1"), "XYZ")
    assert "ISO 4217" in exc.value.message


@pytest.mark.parametrize(
    ("qty", "scale", "mode", "expected"),
    [
        ("1.2345", 3, "half_up", "1.235"),
        ("1.2341", 3, "up", "1.235"),
        ("1.2349", 3, "down", "1.234"),
        ("2.5", 0, "half_up", "3"),
        ("7.125", 2, "half_up", "7.13"),
    ],
)
def test_round_quantity_by_unit(qty, scale, mode, expected):
    assert round_quantity(Decimal(qty), scale=scale, rounding=mode) == Decimal(expected)
