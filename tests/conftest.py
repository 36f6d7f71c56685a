"""Shared fixtures: a small, fixed world of sellers, terms, units, products and an account."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import (
    Account,
    Address,
    BillingProfile,
    Contact,
    LegalEntity,
    PaymentTerm,
    SavedPaymentMethod,
)
from billing.models import Product, UnitOfMeasure


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


class World:
    """Plain attribute bag of the rows a test builds on."""


@pytest.fixture
def world(db) -> World:
    w = World()
    w.seller = LegalEntity.objects.create(
        name="Ledgerline Demo Inc.",
        tax_id="US-12-3456789",
        is_default=True,
        address=Address.objects.create(
            line1="1 Market St",
            city="San Francisco",
            region="CA",
            postal_code="94105",
            country="US",
        ),
    )
    w.net30 = PaymentTerm.objects.create(name="Net 30", kind="net", days=30, is_default=True)
    w.each = UnitOfMeasure.objects.create(code="EA", name="Each", scale=0)
    w.hours = UnitOfMeasure.objects.create(code="HR", name="Hours", scale=2)
    w.gb = UnitOfMeasure.objects.create(code="GB", name="Gigabytes", scale=3)
    w.seat = Product.objects.create(sku="SEAT", name="Seat", charge_type="recurring", unit=w.each)
    w.support = Product.objects.create(
        sku="SUPPORT", name="Premium support", charge_type="recurring", unit=w.each
    )
    w.setup = Product.objects.create(sku="SETUP", name="Setup", charge_type="one_time", unit=w.each)
    w.storage = Product.objects.create(
        sku="STORAGE", name="Storage", charge_type="usage", unit=w.gb
    )
    w.suite = Product.objects.create(
        sku="SUITE", name="Suite bundle", charge_type="recurring", unit=w.each, is_bundle=True
    )
    w.account = make_account("Acme Corp", seller=w.seller)
    return w


def make_account(name: str, *, seller: LegalEntity, currency: str = "USD", **profile) -> Account:
    account = Account.objects.create(name=name, currency=currency, legal_entity=seller)
    contact = Contact.objects.create(account=account, name=f"{name} AP", email="ap@example.com")
    method = SavedPaymentMethod.objects.create(
        account=account, processor_token="pm_test_1", label="Visa •••• 4242", is_default=True
    )
    BillingProfile.objects.create(
        account=account,
        is_default=True,
        bill_to=contact,
        saved_payment_method=method,
        billing_address=Address.objects.create(
            line1="5 Main St", city="Austin", region="TX", postal_code="73301", country="US"
        ),
        **profile,
    )
    return account


D = Decimal


def seats(world, **kw) -> dict:
    """An order item: 10 seats at 5.00 a month, billed monthly in advance, anniversary
    periods, Jan 1 – Dec 31 2026. Keyword arguments override any field."""
    item = {
        "product": world.seat,
        "quantity": Decimal("10"),
        "unit_price": Decimal("5.00"),
        "pricing_term": "month",
        "start_date": dt.date(2026, 1, 1),
        "end_date": dt.date(2026, 12, 31),
        "billing_frequency": "monthly",
        "billing_type": "advance",
        "period_boundary": "anniversary",
    }
    item.update(kw)
    return item
