"""A seller in Berlin selling across borders, for the EU VAT tests (tests/invoicing/
test_eu_vat.py, the documents' tests): its numbering and rates, buyers billed to an address
in a country, orders of services (7 × 12.99 = 90.93 a month) or goods (2 × 249.50), and the
invoice generated for them through invoices_generate (plain functions)."""

import datetime as dt
from decimal import Decimal as D

from billing.services.orders import order_activate, order_create
from invoicing.models import Invoice, SequencePolicy
from invoicing.services.generation import invoices_generate
from tests.factories import (
    AccountFactory,
    AddressFactory,
    BillingProfileFactory,
    LegalEntityFactory,
    PaymentTermFactory,
    ProductFactory,
    SequencePolicyFactory,
    TaxRateFactory,
)

d = dt.date
JAN1 = d(2026, 1, 1)
FR_VAT = "FR40303265045"
ADDRESSES = {
    "DE": {"line1": "Leopoldstraße 31", "city": "München", "postal_code": "80802"},
    "FR": {"line1": "18 rue de la Roquette", "city": "Paris", "postal_code": "75011"},
    "GR": {"line1": "Ermou 10", "city": "Athina", "postal_code": "10563"},
    "US": {"line1": "500 Market Street", "city": "San Francisco", "postal_code": "94105"},
}


def address(country: str):
    region = "CA" if country == "US" else ""
    return AddressFactory(country=country, region=region, **ADDRESSES[country])


def seller(country: str = "DE", currency: str = "EUR"):
    """A seller in `country` numbering its invoices and credit memos, taxing Germany at 19 %
    and France at 20 %."""
    entity = LegalEntityFactory(
        address=address(country), vat_id="DE136695976" if country == "DE" else ""
    )
    SequencePolicyFactory(legal_entity=entity, currency=currency, pattern="INV-{SEQ}")
    SequencePolicyFactory(
        legal_entity=entity,
        currency=currency,
        target=SequencePolicy.Target.CREDIT_MEMO,
        pattern="CM-{SEQ}",
    )
    TaxRateFactory(legal_entity=entity, country="DE", name="USt.", rate=D("19"))
    TaxRateFactory(legal_entity=entity, country="FR", name="TVA", rate=D("20"))
    return entity


def buyer(entity, country: str, vat_id: str = "", currency: str = "EUR"):
    """An account of `entity` billed to an address in `country` (its default profile)."""
    account = AccountFactory(legal_entity=entity, currency=currency, vat_id=vat_id)
    BillingProfileFactory(
        account=account,
        is_default=True,
        billing_address=address(country),
        payment_term=PaymentTermFactory(),
    )
    return account


def service_product():
    return ProductFactory(sku="SEAT", name="Platform seat")


def goods_product():
    return ProductFactory(
        sku="ROUTER", name="Edge router", charge_type="one_time", supply_kind="goods"
    )


def monthly(product) -> dict:
    """7 × 12.99 = 90.93 a month, in advance, 2026."""
    return {
        "product": product,
        "quantity": D("7"),
        "unit_price": D("12.99"),
        "pricing_term": "month",
        "start_date": JAN1,
        "end_date": d(2026, 12, 31),
        "billing_frequency": "monthly",
    }


def once(product, price: str = "249.50") -> dict:
    """Two units of a one-time charge on Jan 1 (2 × 249.50 = 499.00)."""
    return {
        "product": product,
        "quantity": D("2"),
        "unit_price": D(price),
        "pricing_term": "one_time",
        "start_date": JAN1,
        "billing_frequency": "one_time",
    }


def order(account, *items):
    made = order_create(account=account, items=list(items))
    return order_activate(order_id=made.pk)


def generated(account, *items, action: str = "posted") -> Invoice:
    """The one invoice generated for a new order of `items` (January)."""
    made = order(account, *items)
    result = invoices_generate(order_id=made.pk, target_date=JAN1, action=action)
    assert result.errors == [] and result.posting_errors == [], result.errors
    (invoice,) = result.invoices
    return Invoice.objects.get(pk=invoice.pk)
