"""API test fixtures: token clients for each role, and a billed world to read."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.services.orders import order_activate, order_create
from core.permissions import BILLING_ADMIN, BILLING_OPERATIONS, READ_ONLY, roles_sync
from invoicing.models import SequencePolicy, TaxRate

d = dt.date
API = "/api/v1/"


def token_client(username: str, role: str | None = None, **user_fields) -> APIClient:
    """A client that sends `Authorization: Token <key>` for a (new) user with `role`."""
    user = User.objects.create_user(username, password="x", **user_fields)
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = APIClient()
    client.default_format = "json"
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    client.user = user
    return client


@pytest.fixture
def roles(db):
    roles_sync()


@pytest.fixture
def admin(roles) -> APIClient:
    return token_client("admin-token", BILLING_ADMIN)


@pytest.fixture
def ops(roles) -> APIClient:
    return token_client("ops-token", BILLING_OPERATIONS)


@pytest.fixture
def reader(roles) -> APIClient:
    return token_client("reader-token", READ_ONLY)


def monthly(product, quantity: str = "10", price: str = "5.00", **kw) -> dict:
    item = {
        "product": product,
        "quantity": D(quantity),
        "unit_price": D(price),
        "pricing_term": "month",
        "start_date": d(2026, 1, 1),
        "end_date": d(2026, 12, 31),
        "billing_frequency": "monthly",
    }
    item.update(kw)
    return item


@pytest.fixture
def billed(world):
    """The shared world plus numbering, a Texas tax and an activated seat order
    (10 × 5.00 a month, 2026)."""
    world.policy = SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    world.tax = TaxRate.objects.create(
        name="TX sales tax", rate=D("6.25"), country="US", region="TX"
    )
    world.order = order_create(account=world.account, items=[monthly(world.seat)])
    order_activate(order_id=world.order.pk)
    return world
