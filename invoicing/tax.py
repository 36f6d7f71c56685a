"""The tax engine: estimated tax for drafts, actual tax at posting (DESIGN.md §3 step 5).

The engine is pluggable: settings.LEDGERLINE["TAX_ENGINE"] names a TaxEngine subclass and
get_tax_engine() returns an instance of it. Engines see plain dataclasses, never models, so an
external engine (a tax service behind an HTTP API) needs nothing from the ORM.

The built-in engine applies the active TaxRate rows that match the invoice's legal entity,
country and region and the line's tax code:

- rates apply in priority order (lower first), then by id;
- percentage: line amount × rate / 100;
- compound: (line amount + the taxes already computed on that line) × rate / 100;
- flat: the rate as a fixed amount per line, with the line's sign (a negative line gets a
  negative flat tax);
- each tax is computed exactly (as a Fraction) and rounded per line and per rate with
  core.money.round_money, half up, before any sum; negative lines give negative taxes (the
  rounding is symmetric about zero);
- tax-exempt accounts, non-taxable lines and zero-amount lines get no tax;
- the EU VAT rules of a cross-border sale come before the rates (core.vat
  cross_border_treatment): an EU seller's services to a business with a valid VAT id of
  another member state are reverse-charged (category AE), goods are an intra-community
  supply (K), goods leaving the EU are an export (G) and services to a business outside it
  are outside the scope of EU VAT (O). Such a line gets one 0 % tax carrying the category
  and the exemption reason the document must print, instead of the destination's rates;
- every tax carries the VAT category of its rate (TaxRate.vat_category) and its exemption
  reason, which EN 16931 e-invoices state per line and group by in their VAT breakdown.
"""

import abc
import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.db.models import Q
from django.utils.module_loading import import_string

from core.money import ZERO, round_money, to_decimal, validate_currency
from core.vat import VatTreatment, cross_border_treatment
from invoicing.exceptions import TaxEngineError
from invoicing.models import TaxRate

DEFAULT_TAX_ENGINE = "invoicing.tax.BuiltinTaxEngine"


@dataclass(frozen=True, kw_only=True)
class TaxableLine:
    """One invoice line as the engine sees it. `key` is the caller's handle for the line."""

    key: Hashable
    amount: Decimal
    tax_code: str = ""
    taxable: bool = True
    quantity: Decimal = Decimal("1")
    goods: bool = False


@dataclass(frozen=True, kw_only=True)
class TaxContext:
    """What the whole invoice shares: seller, ship-to jurisdiction, currency, exemption."""

    legal_entity_id: int | None
    currency: str
    invoice_date: dt.date | None
    country: str = ""
    region: str = ""
    tax_exempt: bool = False
    seller_country: str = ""
    buyer_vat_id: str = ""

    @property
    def cross_border(self) -> bool:
        """The seller's country and the place of supply differ (EU VAT rules may apply)."""
        return bool(
            self.seller_country and self.country and self.seller_country != self.country.upper()
        )


@dataclass(frozen=True, kw_only=True)
class TaxResult:
    """One applied rate on one line; becomes one InvoiceLineTax row.

    `rate` is the percentage for percentage and compound rates and 0 for flat rates (as
    InvoiceLineTax.rate documents); a flat tax's value is its `amount`. `taxable_amount` is
    the base the rate applied to: the line amount, plus earlier taxes for a compound rate.
    The built-in engine sets `code` to the rate's tax code ('' for a rate on any code).
    """

    name: str
    code: str
    rate: Decimal
    kind: str
    taxable_amount: Decimal
    amount: Decimal
    vat_category: str = ""
    exemption_reason_code: str = ""
    exemption_reason: str = ""


class TaxEngine(abc.ABC):
    """The interface every tax engine implements.

    `deterministic`: the engine's result for a line depends only on the line's fields
    (amount, tax code, taxable, quantity) and the context, so the generation engine may send
    identical lines of one context once. An engine that records each line (a tax service's
    transaction log) leaves it False.
    """

    deterministic = False

    @abc.abstractmethod
    def calculate(
        self, *, lines: list[TaxableLine], context: TaxContext, estimate: bool
    ) -> dict[Hashable, list[TaxResult]]:
        """Tax for each line, keyed by TaxableLine.key; every line's key is present, with an
        empty list when the line bears no tax. `estimate` is True for drafts and False at
        posting; an engine may, for example, record the transaction only when it is False.
        Raise invoicing.exceptions.TaxEngineError when tax cannot be computed."""


def get_tax_engine() -> TaxEngine:
    """An instance of the engine named by settings.LEDGERLINE["TAX_ENGINE"]."""
    path = getattr(settings, "LEDGERLINE", {}).get("TAX_ENGINE") or DEFAULT_TAX_ENGINE
    try:
        engine_class = import_string(path)
    except ImportError as exc:
        raise TaxEngineError.for_unloadable_engine(path=path, reason=str(exc))
    if not (isinstance(engine_class, type) and issubclass(engine_class, TaxEngine)):
        raise TaxEngineError.for_unloadable_engine(
            path=path, reason="it is not a subclass of invoicing.tax.TaxEngine"
        )
    return engine_class()


class BuiltinTaxEngine(TaxEngine):
    """Tax from the TaxRate table. One query per calculate() call, whatever the line count."""

    deterministic = True

    def calculate(
        self, *, lines: list[TaxableLine], context: TaxContext, estimate: bool
    ) -> dict[Hashable, list[TaxResult]]:
        currency = validate_currency(context.currency)
        results: dict[Hashable, list[TaxResult]] = {line.key: [] for line in lines}
        if len(results) != len(lines):
            raise ValueError("TaxableLine keys must be unique within one calculate() call")
        if context.tax_exempt:
            return results

        taxed = [line for line in lines if line.taxable and to_decimal(line.amount) != ZERO]
        if not taxed:
            return results

        rates = self._matching_rates(context, tax_codes={line.tax_code for line in taxed})
        for line in taxed:
            treatment = (
                cross_border_treatment(
                    seller_country=context.seller_country,
                    buyer_country=context.country,
                    buyer_vat_id=context.buyer_vat_id,
                    goods=line.goods,
                )
                if context.cross_border
                else None
            )
            if treatment is not None:
                results[line.key] = [self._zero_rated(to_decimal(line.amount), line, treatment)]
                continue
            line_rates = [rate for rate in rates if rate.tax_code in ("", line.tax_code)]
            results[line.key] = self._line_taxes(
                to_decimal(line.amount), line_rates, currency=currency
            )
        return results

    @staticmethod
    def _zero_rated(amount: Decimal, line: TaxableLine, treatment: VatTreatment) -> TaxResult:
        return TaxResult(
            name=treatment.label,
            code=line.tax_code,
            rate=ZERO,
            kind=TaxRate.Kind.PERCENTAGE,
            taxable_amount=amount,
            amount=ZERO,
            vat_category=treatment.category,
            exemption_reason_code=treatment.reason_code,
            exemption_reason=treatment.reason,
        )

    @staticmethod
    def _matching_rates(context: TaxContext, *, tax_codes: set[str]) -> list[TaxRate]:
        """Active rates whose non-empty conditions all equal the context's (one query).

        The tax code condition is narrowed here to the codes on the lines and resolved per
        line by the caller.
        """
        if context.legal_entity_id is None:
            entity = Q(legal_entity__isnull=True)
        else:
            entity = Q(legal_entity__isnull=True) | Q(legal_entity_id=context.legal_entity_id)
        country = Q(country="")
        if context.country:
            country |= Q(country__iexact=context.country)
        region = Q(region="")
        if context.region:
            region |= Q(region__iexact=context.region)
        codes = Q(tax_code="") | Q(tax_code__in=sorted(code for code in tax_codes if code))
        return list(
            TaxRate.objects.filter(entity, country, region, codes, is_active=True).order_by(
                "priority", "id"
            )
        )

    @staticmethod
    def _line_taxes(amount: Decimal, rates: list[TaxRate], *, currency: str) -> list[TaxResult]:
        sign = 1 if amount > 0 else -1
        taxes: list[TaxResult] = []
        earlier = ZERO
        for rate in rates:
            if rate.kind == TaxRate.Kind.FLAT:
                base = amount
                percent = ZERO
                tax = round_money(rate.rate * sign, currency)
            elif rate.kind == TaxRate.Kind.COMPOUND:
                base = amount + earlier
                percent = rate.rate
                tax = round_money(Fraction(base) * Fraction(rate.rate) / 100, currency)
            elif rate.kind == TaxRate.Kind.PERCENTAGE:
                base = amount
                percent = rate.rate
                tax = round_money(Fraction(amount) * Fraction(rate.rate) / 100, currency)
            else:
                raise TaxEngineError(
                    f"Tax rate '{rate.name}' has an unknown kind '{rate.kind}'. Edit it under "
                    "Tax rates and choose percentage, compound or flat.",
                    details={"tax_rate_id": rate.pk, "kind": rate.kind},
                )
            earlier += tax
            taxes.append(
                TaxResult(
                    name=rate.name,
                    code=rate.tax_code,
                    rate=percent,
                    kind=rate.kind,
                    taxable_amount=base,
                    amount=tax,
                    vat_category=rate.vat_category,
                    exemption_reason_code=rate.exemption_reason_code,
                    exemption_reason=rate.exemption_reason,
                )
            )
        return taxes
