"""Fixtures of the role tests: the role groups, API clients that send a user's token, and a
billed world (10 seats at 5.00 USD a month for 2026, Texas sales tax 6.25 %)."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.services.orders import order_activate, order_create
from core.permissions import roles_sync
from invoicing.models import SequencePolicy, TaxRate

d = dt.date


@pytest.fixture
def roles(db) -> None:
    """The role groups with their permissions (as `migrate` leaves them)."""
    roles_sync()


@pytest.fixture
def token_client(roles) -> Callable[..., APIClient]:
    """Make a (new) user, in `role` if given, and a client sending its token; the client's
    `user` is that user."""

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
def billed(world):
    """The shared world plus numbering, a Texas tax and an activated seat order."""
    SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    TaxRate.objects.create(name="TX sales tax", rate=D("6.25"), country="US", region="TX")
    world.order = order_create(
        account=world.account,
        items=[
            {
                "product": world.seat,
                "quantity": D("10"),
                "unit_price": D("5.00"),
                "pricing_term": "month",
                "start_date": d(2026, 1, 1),
                "end_date": d(2026, 12, 31),
                "billing_frequency": "monthly",
            }
        ],
    )
    order_activate(order_id=world.order.pk)
    return world
