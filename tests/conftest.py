"""Shared fixtures: a small, fixed world of sellers, terms, units, products and an account;
the role groups and API clients that send a user's token; and the API world (the shared world
with numbering, a Texas tax and an activated seat order)."""

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Address, LegalEntity, PaymentTerm
from billing.models import Product, UnitOfMeasure
from billing.services.orders import order_activate, order_create
from core.permissions import BILLING_ADMIN, BILLING_OPERATIONS, READ_ONLY, roles_sync
from invoicing.models import SequencePolicy, TaxRate
from tests.factories import make_account, seats
from tests.support.einvoice import eu  # noqa: F401  (the European world of e-invoice tests)


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


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def roles(db) -> None:
    """The role groups with their permissions (as `migrate` leaves them)."""
    roles_sync()


@pytest.fixture
def token_client(roles) -> Callable[..., APIClient]:
    """Make a (new) user, in `role` if given, and a client sending its token
    (`Authorization: Token <key>`); the client's `user` is that user."""

    def make(username: str, role: str | None = None, **user_fields) -> APIClient:
        user = User.objects.create_user(username, password="x", **user_fields)
        if role:
            user.groups.add(Group.objects.get(name=role))
        client = APIClient()
        client.default_format = "json"
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        client.user = user
        return client

    return make


@pytest.fixture
def admin(token_client) -> APIClient:
    """A billing admin's token client."""
    return token_client("admin-token", BILLING_ADMIN)


@pytest.fixture
def ops(token_client) -> APIClient:
    """A billing operations user's token client."""
    return token_client("ops-token", BILLING_OPERATIONS)


@pytest.fixture
def reader(token_client) -> APIClient:
    """A read-only user's token client."""
    return token_client("reader-token", READ_ONLY)


@pytest.fixture
def api_world(world) -> World:
    """The shared world plus numbering (INV-0001…), a Texas tax of 6.25 % and an activated
    seat order for Acme (10 × 5.00 a month, 2026)."""
    world.policy = SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    world.tax = TaxRate.objects.create(
        name="TX sales tax", rate=Decimal("6.25"), country="US", region="TX"
    )
    world.order = order_create(account=world.account, items=[seats(world)])
    order_activate(order_id=world.order.pk)
    return world
