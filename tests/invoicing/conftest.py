"""Fixtures of the invoicing tests. Plain builders and readers (generate, snapshot,
line_rows, customers, ...) are in tests/support/invoicing.py.

- `lw`: the lifecycle world (tests/support/invoicing.py): numbering, Texas state and city
  taxes, the world's account with a seats and a support order; a month bills 75.77.
- `billed`: the batch world: USD numbering INV-0001…, Texas sales tax 6.25 % for the seller.
- `run_batch`: start a batch run and let every queued task run (eager Celery);
  `no_dispatch`: plan runs without queueing their chunks; `broken_tax`: a tax service that
  does not know sellers named "Unregistered …".
- `api`: an API client of a billing admin; `admin_client_logged`: a superuser's browser client.
"""

from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from billing.models import BillingSchedule
from billing.services.orders import order_activate, order_create
from core.permissions import BILLING_ADMIN, roles_sync
from invoicing.models import InvoiceBatchRun, SequencePolicy, TaxRate
from invoicing.services import runs
from invoicing.services.runs import batch_run_start
from tests.support.invoicing import monthly
from tests.support.tax_engines import TAX_ENGINE


@pytest.fixture
def lw(world):
    """The lifecycle world (see tests/support/invoicing.py)."""
    world.policy = SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    TaxRate.objects.create(name="TX state tax", rate=D("6.25"), country="US", region="TX")
    TaxRate.objects.create(
        name="Austin city tax", rate=D("2.00"), country="US", region="TX", priority=2
    )
    order = order_create(
        account=world.account,
        items=[monthly(world.seat, "10", "5.00"), monthly(world.support, "1", "19.99")],
    )
    world.order = order_activate(order_id=order.pk)
    world.seat_schedule = BillingSchedule.objects.get(order=order, product=world.seat)
    world.support_schedule = BillingSchedule.objects.get(order=order, product=world.support)
    return world


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


@pytest.fixture
def run_batch(django_capture_on_commit_callbacks):
    """Start a run and let every queued task run (eager), then return it refreshed."""

    def run(**kwargs) -> InvoiceBatchRun:
        with django_capture_on_commit_callbacks(execute=True):
            started = batch_run_start(**kwargs)
        started.refresh_from_db()
        return started

    return run


@pytest.fixture
def no_dispatch(monkeypatch):
    """Plan runs without queueing their chunks (the test processes them itself)."""
    monkeypatch.setattr(runs, "_queue_chunks", lambda run_id: None)


@pytest.fixture
def broken_tax(settings):
    """Sellers named "Unregistered …" are unknown to the tax service."""
    settings.LEDGERLINE = {**settings.LEDGERLINE, "TAX_ENGINE": TAX_ENGINE}


@pytest.fixture
def api(db):
    """A billing admin's API client (roles: core/permissions.py)."""
    roles_sync()
    user = User.objects.create_user("ops", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=BILLING_ADMIN))
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def admin_client_logged(client, db):
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client
