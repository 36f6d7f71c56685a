"""Fixtures of the dunning tests. Builders and readers are in tests/support/dunning.py.

- `dw`: the dunning world: the shared world with US numbering (INV-0001…) and Texas sales tax
  6.25 %; Acme and Globex Ltd (bill-to ap@example.com each) subscribe to 10 seats at 5.00 a
  month (53.13 a month with tax), Net 30; the seller's standard policy (3 days before the due
  date, 7 and 21 days after).
- `staff` / `looker`: staff UI clients of a billing operations and a read-only user.
"""

from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from core.permissions import BILLING_OPERATIONS, READ_ONLY, roles_sync
from invoicing.models import SequencePolicy, TaxRate
from tests.factories import make_account
from tests.support.dunning import standard_policy
from tests.support.invoicing import subscribe


@pytest.fixture
def dw(world):
    SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    TaxRate.objects.create(name="TX sales tax", rate=D("6.25"), country="US", region="TX")
    subscribe(world, world.account)
    world.globex = make_account("Globex Ltd", seller=world.seller)
    subscribe(world, world.globex)
    world.policy = standard_policy(world)
    return world


def _client(username: str, role: str) -> Client:
    roles_sync()
    user = User.objects.create_user(username, password="x")
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff(db) -> Client:
    """A billing operations user's staff UI client."""
    return _client("olga", BILLING_OPERATIONS)


@pytest.fixture
def looker(db) -> Client:
    """A read-only user's staff UI client."""
    return _client("rita", READ_ONLY)
