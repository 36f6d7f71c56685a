"""Fixtures of the batch-run tests: a seller that can number and tax invoices, customers
with a simple monthly subscription each, and a helper that runs a batch run in-process
(eager Celery, after-commit callbacks executed)."""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts.models import LegalEntity
from billing.models import BillingSchedule, Order
from billing.services.orders import order_activate, order_create
from invoicing.models import InvoiceBatchRun, SequencePolicy, TaxRate
from invoicing.services.batch import batch_run_start
from tests.conftest import make_account
from tests.invoicing.batch import support

d = dt.date


@pytest.fixture
def billed(world):
    """The world's seller numbers USD invoices INV-0001… and taxes Texas at 6.25 %."""
    SequencePolicy.objects.create(
        name="US", pattern="INV-{SEQ}", min_width=4, legal_entity=world.seller, currency="USD"
    )
    TaxRate.objects.create(
        legal_entity=world.seller, name="TX sales tax", rate=D("6.25"), country="US", region="TX"
    )
    return world


def seats_item(world, **kw) -> dict:
    """10 seats at 5.00 a month (50.00 a month), billed monthly in advance, 2026."""
    item = {
        "product": world.seat,
        "quantity": D("10"),
        "unit_price": D("5.00"),
        "pricing_term": "month",
        "start_date": d(2026, 1, 1),
        "end_date": d(2026, 12, 31),
        "billing_frequency": "monthly",
    }
    item.update(kw)
    return item


def subscribe(world, account, items=None, **order_fields) -> Order:
    order = order_create(account=account, items=items or [seats_item(world)], **order_fields)
    return order_activate(order_id=order.pk)


def customers(world, n: int, *, prefix: str = "Customer", seller=None, **order_fields):
    """n new accounts, each with one activated seats order. Returns the accounts."""
    accounts = []
    for i in range(n):
        account = make_account(f"{prefix} {i:03d}", seller=seller or world.seller)
        subscribe(world, account, **order_fields)
        accounts.append(account)
    return accounts


def broken_customer(world, name="Broken Co"):
    """An account whose seller the tax service does not know (support.UnregisteredEntity-
    TaxEngine), with one seats order: its grouping key fails when that engine is in use."""
    seller = LegalEntity.objects.create(name=f"{support.UNREGISTERED} {name} Seller")
    account = make_account(name, seller=seller)
    subscribe(world, account)
    return account


def schedules_of(accounts) -> list[BillingSchedule]:
    return list(BillingSchedule.objects.filter(account__in=accounts).order_by("id"))


@pytest.fixture
def run_batch(django_capture_on_commit_callbacks):
    """Start a run and let every queued task run (eager), then return it refreshed."""

    def run(**kwargs) -> InvoiceBatchRun:
        with django_capture_on_commit_callbacks(execute=True):
            started = batch_run_start(**kwargs)
        started.refresh_from_db()
        return started

    return run
