import datetime as dt
from decimal import Decimal
from itertools import count

import pytest

from accounts.models import LegalEntity
from core.money import round_money
from invoicing.exceptions import TaxEngineError
from invoicing.models import TaxRate
from invoicing.tax import (
    BuiltinTaxEngine,
    TaxableLine,
    TaxContext,
    TaxEngine,
    TaxResult,
    get_tax_engine,
)

pytestmark = pytest.mark.django_db

_names = count(1)


def make_entity(name: str) -> LegalEntity:
    return LegalEntity.objects.create(name=name)


def make_rate(rate: str, **fields) -> TaxRate:
    fields.setdefault("name", f"Tax {next(_names)}")
    return TaxRate.objects.create(rate=Decimal(rate), **fields)


def context(**fields) -> TaxContext:
    fields.setdefault("legal_entity_id", None)
    fields.setdefault("currency", "USD")
    fields.setdefault("invoice_date", dt.date(2026, 11, 1))
    return TaxContext(**fields)


def line(amount: str, key="L1", **fields) -> TaxableLine:
    return TaxableLine(key=key, amount=Decimal(amount), **fields)


def calculate(lines, ctx=None, *, estimate=False):
    return BuiltinTaxEngine().calculate(lines=lines, context=ctx or context(), estimate=estimate)


def amounts(results) -> list[Decimal]:
    return [r.amount for r in results]


# --- Rate kinds and order ------------------------------------------------------------------


def test_percentage_then_compound_on_100():
    make_rate("10", name="VAT", priority=1)
    make_rate("5", name="Surtax", kind=TaxRate.Kind.COMPOUND, priority=2)

    result = calculate([line("100.00")])

    assert result == {
        "L1": [
            TaxResult(
                name="VAT",
                code="",
                rate=Decimal("10.0000"),
                kind="percentage",
                taxable_amount=Decimal("100.00"),
                amount=Decimal("10.00"),
                vat_category="S",
            ),
            TaxResult(
                name="Surtax",
                code="",
                rate=Decimal("5.0000"),
                kind="compound",
                taxable_amount=Decimal("110.00"),
                amount=Decimal("5.50"),
                vat_category="S",
            ),
        ]
    }
    assert str(result["L1"][1].amount) == "5.50"


def test_rates_apply_in_priority_order_not_creation_order():
    make_rate("10", name="Second", priority=2)
    make_rate("5", name="First (compound, nothing before it)", kind="compound", priority=1)

    taxes = calculate([line("100.00")])["L1"]

    assert [t.name for t in taxes] == ["First (compound, nothing before it)", "Second"]
    assert amounts(taxes) == [Decimal("5.00"), Decimal("10.00")]
    assert taxes[0].taxable_amount == Decimal("100.00")


def test_equal_priority_applies_in_id_order():
    first = make_rate("10", name="A", priority=3)
    second = make_rate("10", name="B", kind="compound", priority=3)
    assert first.pk < second.pk

    taxes = calculate([line("100.00")])["L1"]

    assert [t.name for t in taxes] == ["A", "B"]
    assert amounts(taxes) == [Decimal("10.00"), Decimal("11.00")]


def test_compound_includes_every_earlier_tax():
    make_rate("10", priority=1)
    make_rate("2.50", kind="flat", priority=2)
    make_rate("5", kind="compound", priority=3)

    taxes = calculate([line("100.00")])["L1"]

    # 5% of (100.00 + 10.00 + 2.50) = 5.625 → 5.63
    assert amounts(taxes) == [Decimal("10.00"), Decimal("2.50"), Decimal("5.63")]
    assert taxes[2].taxable_amount == Decimal("112.50")


def test_flat_is_a_fixed_amount_per_line():
    make_rate("2.50", name="Eco fee", kind="flat")

    result = calculate([line("100.00", key="a"), line("7.00", key="b")])

    assert result["a"] == [
        TaxResult(
            name="Eco fee",
            code="",
            rate=Decimal("0"),
            kind="flat",
            taxable_amount=Decimal("100.00"),
            amount=Decimal("2.50"),
            vat_category="S",
        )
    ]
    assert amounts(result["b"]) == [Decimal("2.50")]


def test_flat_is_rounded_to_the_currency():
    make_rate("0.6", kind="flat")

    assert amounts(calculate([line("100")], context(currency="JPY"))["L1"]) == [Decimal("1")]


def test_zero_percent_rate_still_shows_as_a_tax_row():
    make_rate("0", name="Zero-rated")

    assert amounts(calculate([line("100.00")])["L1"]) == [Decimal("0.00")]


# --- Matching ------------------------------------------------------------------------------


def test_country_matches_exactly_or_any():
    make_rate("19", name="DE VAT", country="DE")
    make_rate("20", name="FR VAT", country="FR")
    make_rate("1", name="Anywhere")

    de = calculate([line("100.00")], context(country="DE"))["L1"]
    none = calculate([line("100.00")], context(country=""))["L1"]

    assert [t.name for t in de] == ["DE VAT", "Anywhere"]
    assert [t.name for t in none] == ["Anywhere"]


def test_region_matches_case_insensitively_or_any():
    make_rate("7.25", name="CA sales tax", country="US", region="CA")
    make_rate("4", name="NY sales tax", country="US", region="NY")
    make_rate("1", name="US federal", country="US")

    taxes = calculate([line("100.00")], context(country="US", region="ca"))["L1"]

    assert [t.name for t in taxes] == ["CA sales tax", "US federal"]
    assert amounts(taxes) == [Decimal("7.25"), Decimal("1.00")]


def test_region_rate_needs_a_region():
    make_rate("7.25", name="CA sales tax", country="US", region="CA")

    assert calculate([line("100.00")], context(country="US")) == {"L1": []}


def test_tax_code_matches_per_line():
    make_rate("20", name="Standard")
    make_rate("5", name="Software", tax_code="SW")
    make_rate("3", name="Services", tax_code="SV")

    result = calculate(
        [
            line("100.00", key="sw", tax_code="SW"),
            line("100.00", key="plain"),
            line("100.00", key="other", tax_code="HW"),
        ]
    )

    assert [t.name for t in result["sw"]] == ["Standard", "Software"]
    assert result["sw"][1].code == "SW"
    assert [t.name for t in result["plain"]] == ["Standard"]
    assert [t.name for t in result["other"]] == ["Standard"]


def test_legal_entity_matches_exactly_or_any():
    acme_eu = make_entity("Acme EU")
    acme_us = make_entity("Acme US")
    make_rate("19", name="EU rate", legal_entity=acme_eu)
    make_rate("8", name="US rate", legal_entity=acme_us)
    make_rate("1", name="Every entity")

    eu = calculate([line("100.00")], context(legal_entity_id=acme_eu.pk))["L1"]
    unknown = calculate([line("100.00")], context(legal_entity_id=None))["L1"]

    assert [t.name for t in eu] == ["EU rate", "Every entity"]
    assert [t.name for t in unknown] == ["Every entity"]


def test_all_conditions_must_match():
    acme = make_entity("Acme")
    make_rate("10", name="Exact", legal_entity=acme, country="US", region="CA", tax_code="SW")

    hit = context(legal_entity_id=acme.pk, country="US", region="CA")
    assert [t.name for t in calculate([line("1.00", tax_code="SW")], hit)["L1"]] == ["Exact"]
    for miss in (
        context(legal_entity_id=None, country="US", region="CA"),
        context(legal_entity_id=acme.pk, country="CA", region="CA"),
        context(legal_entity_id=acme.pk, country="US", region="NY"),
    ):
        assert calculate([line("1.00", tax_code="SW")], miss) == {"L1": []}
    assert calculate([line("1.00", tax_code="HW")], hit) == {"L1": []}


def test_inactive_rates_are_ignored():
    make_rate("10", name="Old", is_active=False)
    make_rate("12", name="Current")

    assert [t.name for t in calculate([line("100.00")])["L1"]] == ["Current"]


# --- No tax --------------------------------------------------------------------------------


def test_tax_exempt_account_gets_no_tax_and_no_query(django_assert_num_queries):
    make_rate("10")
    lines = [line("100.00", key=1), line("50.00", key=2)]

    with django_assert_num_queries(0):
        result = calculate(lines, context(tax_exempt=True))

    assert result == {1: [], 2: []}


def test_non_taxable_and_zero_lines_get_no_tax():
    make_rate("10")
    make_rate("1.00", kind="flat")

    result = calculate(
        [
            line("100.00", key="taxed"),
            line("100.00", key="not taxable", taxable=False),
            line("0.00", key="zero"),
        ]
    )

    assert amounts(result["taxed"]) == [Decimal("10.00"), Decimal("1.00")]
    assert result["not taxable"] == []
    assert result["zero"] == []


def test_no_matching_rate_gives_an_empty_list_for_every_line():
    assert calculate([line("100.00", key="a"), line("5.00", key="b")]) == {"a": [], "b": []}


# --- Signs and rounding --------------------------------------------------------------------


def test_negative_line_gives_negative_taxes():
    make_rate("10", priority=1)
    make_rate("5", kind="compound", priority=2)
    make_rate("2.50", kind="flat", priority=3)

    taxes = calculate([line("-100.00")])["L1"]

    assert amounts(taxes) == [Decimal("-10.00"), Decimal("-5.50"), Decimal("-2.50")]
    assert [t.taxable_amount for t in taxes] == [
        Decimal("-100.00"),
        Decimal("-110.00"),
        Decimal("-100.00"),
    ]


def test_negative_rounding_mirrors_positive_rounding():
    make_rate("10")

    result = calculate([line("0.05", key="+"), line("-0.05", key="-")])

    assert amounts(result["+"]) == [Decimal("0.01")]
    assert amounts(result["-"]) == [Decimal("-0.01")]


def test_jpy_has_no_minor_unit():
    make_rate("8")

    taxes = calculate([line("1234")], context(currency="JPY"))["L1"]

    # 1234 × 8% = 98.72 → 99
    assert amounts(taxes) == [Decimal("99")]
    assert str(taxes[0].amount) == "99"


def test_bhd_has_three_decimals():
    make_rate("5", priority=1)
    make_rate("10", kind="compound", priority=2)

    taxes = calculate([line("12.345")], context(currency="BHD"))["L1"]

    # 5% of 12.345 = 0.61725 → 0.617; 10% of (12.345 + 0.617) = 1.2962 → 1.296
    assert [str(t.amount) for t in taxes] == ["0.617", "1.296"]


def test_tax_is_rounded_per_line_before_any_sum():
    make_rate("10")

    result = calculate([line("0.05", key=k) for k in ("a", "b", "c")])

    # Each line: 0.05 × 10% = 0.005 → 0.01 (half up); three lines → 0.03.
    assert [amounts(result[k]) for k in ("a", "b", "c")] == [[Decimal("0.01")]] * 3
    assert sum(amounts(result["a"] + result["b"] + result["c"])) == Decimal("0.03")
    # Rounding the sum instead would have given 0.015 → 0.02.
    assert round_money(Decimal("0.15") * Decimal("0.10"), "USD") == Decimal("0.02")


def test_large_amount_with_four_decimal_rate():
    make_rate("7.1234")

    taxes = calculate([line("123456789012.34")])["L1"]

    # 123456789012.34 × 7.1234% = 8794320908.50502756 → 8794320908.51
    assert amounts(taxes) == [Decimal("8794320908.51")]


def test_estimate_and_actual_agree():
    make_rate("10")

    assert calculate([line("33.33")], estimate=True) == calculate([line("33.33")], estimate=False)


def test_float_amounts_are_refused():
    make_rate("10")

    with pytest.raises(TypeError):
        calculate([TaxableLine(key="x", amount=1.5)])


def test_duplicate_line_keys_are_refused():
    with pytest.raises(ValueError, match="unique"):
        calculate([line("1.00", key="same"), line("2.00", key="same")])


# --- Queries -------------------------------------------------------------------------------


@pytest.mark.parametrize("line_count", [1, 50])
def test_one_query_whatever_the_line_count(django_assert_num_queries, line_count):
    make_rate("10", priority=1)
    make_rate("5", kind="compound", priority=2)
    make_rate("3", tax_code="SW", priority=3)
    lines = [line("10.00", key=i, tax_code="SW" if i % 2 else "") for i in range(line_count)]

    with django_assert_num_queries(1):
        result = calculate(lines, context(country="US"))

    assert len(result) == line_count
    assert amounts(result[0]) == [Decimal("1.00"), Decimal("0.55")]
    if line_count > 1:
        assert amounts(result[1]) == [Decimal("1.00"), Decimal("0.55"), Decimal("0.30")]


# --- Engine selection ----------------------------------------------------------------------


class DummyTaxEngine(TaxEngine):
    def calculate(self, *, lines, context, estimate):
        return {
            ln.key: [
                TaxResult(
                    name="Dummy",
                    code="DUMMY",
                    rate=Decimal("1"),
                    kind="percentage",
                    taxable_amount=ln.amount,
                    amount=Decimal("0.42"),
                )
            ]
            for ln in lines
        }


class NotAnEngine:
    pass


def _use_engine(settings, path):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "TAX_ENGINE": path}


def test_default_engine_is_builtin(settings):
    assert settings.LEDGERLINE["TAX_ENGINE"] == "invoicing.tax.BuiltinTaxEngine"
    assert isinstance(get_tax_engine(), BuiltinTaxEngine)


def test_missing_setting_falls_back_to_builtin(settings):
    settings.LEDGERLINE = {k: v for k, v in settings.LEDGERLINE.items() if k != "TAX_ENGINE"}

    assert isinstance(get_tax_engine(), BuiltinTaxEngine)


def test_settings_override_selects_another_engine(settings):
    make_rate("10")
    _use_engine(settings, "tests.invoicing.test_tax.DummyTaxEngine")

    engine = get_tax_engine()
    result = engine.calculate(lines=[line("100.00")], context=context(), estimate=True)

    assert isinstance(engine, DummyTaxEngine)
    assert amounts(result["L1"]) == [Decimal("0.42")]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("tests.invoicing.test_tax.NoSuchEngine", "does not define"),
        ("no_such_module.Engine", "No module named"),
        ("tests.invoicing.test_tax.NotAnEngine", "not a subclass"),
    ],
)
def test_unusable_engine_is_a_tax_engine_error(settings, path, reason):
    _use_engine(settings, path)

    with pytest.raises(TaxEngineError) as exc:
        get_tax_engine()

    assert exc.value.code == "tax_engine_error"
    assert path in exc.value.message
    assert reason in exc.value.message
    assert "invoicing.tax.BuiltinTaxEngine" in exc.value.message
    assert exc.value.details == {"setting": "LEDGERLINE.TAX_ENGINE", "path": path}
