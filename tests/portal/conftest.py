"""Fixtures of the hosted page tests: the lifecycle world of tests/support/invoicing.py (a
month bills 69.99 + 5.78 tax = 75.77 USD, due 30 days after the invoice date), with invoice
numbers INV-0001…, credit memo numbers CM-001… and a seller email customers can write to."""

from decimal import Decimal as D

import pytest
from django.test import Client

from billing.services.orders import order_activate, order_create
from invoicing.models import SequencePolicy, TaxRate
from tests.support.invoicing import monthly


@pytest.fixture
def shop(world):
    SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    SequencePolicy.objects.create(
        name="Credit memos", target="credit_memo", pattern="CM-{SEQ}", min_width=3
    )
    TaxRate.objects.create(name="TX state tax", rate=D("6.25"), country="US", region="TX")
    TaxRate.objects.create(
        name="Austin city tax", rate=D("2.00"), country="US", region="TX", priority=2
    )
    world.seller.email = "billing@ledgerline.example"
    world.seller.save()
    order = order_create(
        account=world.account,
        items=[monthly(world.seat, "10", "5.00"), monthly(world.support, "1", "19.99")],
    )
    world.order = order_activate(order_id=order.pk)
    return world


@pytest.fixture
def customer() -> Client:
    """A browser that has never logged in."""
    return Client()
