"""Fixtures of the staff UI tests: one user per role, logged-in clients, and a small billed
world (10 seats at 5.00 USD a month for 2026, Texas sales tax 6.25 %)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from billing.services.orders import order_activate, order_create
from invoicing.models import SequencePolicy, TaxRate
from web.roles import BILLING_ADMIN, BILLING_OPERATIONS, READ_ONLY

d = dt.date


def _user(username: str, *, group: str | None = None, **flags) -> User:
    user = User.objects.create_user(username, password="pw-" + username, **flags)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def admin_user(db) -> User:
    return _user("boss", is_superuser=True, is_staff=True)


@pytest.fixture
def billing_admin(db) -> User:
    return _user("alice", group=BILLING_ADMIN)


@pytest.fixture
def ops_user(db) -> User:
    return _user("olga", group=BILLING_OPERATIONS)


@pytest.fixture
def ro_user(db) -> User:
    return _user("rita", group=READ_ONLY)


@pytest.fixture
def nogroup_user(db) -> User:
    return _user("nate", is_staff=True)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ops(ops_user) -> Client:
    """A billing operations user's client: may run every action."""
    return _client(ops_user)


@pytest.fixture
def ro(ro_user) -> Client:
    """A read-only user's client: sees every page, runs no action."""
    return _client(ro_user)


@pytest.fixture
def admin_client_(admin_user) -> Client:
    return _client(admin_user)


@pytest.fixture
def billed(world):
    """`world` plus a US invoice sequence, Texas tax and an activated order for Acme:
    10 seats at 5.00 USD a month, billed monthly in advance, 2026-01-01 to 2026-12-31."""
    SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    TaxRate.objects.create(name="TX sales tax", rate=D("6.25"), country="US", region="TX")
    world.order = order_create(
        account=world.account,
        description="Seats 2026",
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
    world.schedule = world.order.schedules.get()
    return world


# The browser harness's fixtures, for every browser test file in tests/web/.
from tests.support.browser import browser, demo, page  # noqa: E402, F401
