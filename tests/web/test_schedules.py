"""Billing schedules: list with filters; detail with period items and their invoices."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse

from billing.services.orders import order_activate, order_create
from invoicing.models import Invoice
from invoicing.services.generation import invoices_generate
from tests.factories import make_account

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def two(billed):
    """Acme's seats (recurring, next 2026-01-01) and Globex's setup fee (one-time,
    2026-03-10)."""
    globex = make_account("Globex Ltd", seller=billed.seller)
    order = order_create(
        account=globex,
        items=[
            {
                "product": billed.setup,
                "quantity": D("1"),
                "unit_price": D("250.00"),
                "pricing_term": "one_time",
                "start_date": d(2026, 3, 10),
                "billing_frequency": "one_time",
            }
        ],
    )
    order_activate(order_id=order.pk)
    billed.setup_schedule = order.schedules.get()
    billed.globex = globex
    return billed


def listed(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'href="/schedules/(\d+)/"', page)]


def test_schedule_list_filters(ops, two):
    seats, setup = two.schedule.pk, two.setup_schedule.pk
    url = reverse("web:schedule_list")

    def get(**params):
        return listed(ops.get(url, params).content.decode())

    assert get() == [seats, setup]  # by next billing date
    assert get(charge_type="one_time") == [setup]
    assert get(charge_type="recurring") == [seats]
    assert get(account="globex") == [setup]
    assert get(account=str(two.account.pk)) == [seats]
    assert get(next_from="2026-02-01") == [setup]
    assert get(next_to="2026-02-01") == [seats]
    assert get(next_from="2026-01-01", next_to="2026-03-10") == [seats, setup]
    assert get(status="ready_for_invoicing") == [seats, setup]
    assert get(status="completely_billed") == []
    invoices_generate(account_id=two.globex.pk, target_date=d(2026, 3, 31))
    assert get(status="completely_billed") == [setup]


def test_schedule_list_shows_amounts(ops, two):
    page = ops.get(reverse("web:schedule_list")).content.decode()
    assert "250.00 USD" in page and "50.00 USD" in page and "Globex Ltd" in page
    assert "2 in all" in page


def test_schedule_detail_with_period_items_and_their_invoices(ops, billed):
    first = invoices_generate(account_id=billed.account.pk, target_date=d(2026, 1, 31))
    second = invoices_generate(
        account_id=billed.account.pk, target_date=d(2026, 2, 28), action="posted"
    )
    draft = Invoice.objects.get(pk=first.invoice_ids[0])
    posted = Invoice.objects.get(pk=second.invoice_ids[0])
    page = ops.get(reverse("web:schedule_detail", args=[billed.schedule.pk])).content.decode()
    assert f"Billing schedule BS-{billed.schedule.pk:07d}" in page
    assert "2026-03-01" in page  # next billing date
    assert "100.00 USD" in page  # billed
    assert "500.00 USD" in page  # pending (10 months of 50.00)
    assert "600.00 USD" in page  # total
    periods = page.split('id="periods"')[1]
    assert periods.index("2026-02-01 – 2026-02-28") < periods.index("2026-01-01 – 2026-01-31")
    assert f'<a href="/invoices/{draft.pk}/">Draft invoice #{draft.pk}</a>' in periods
    assert f'<a href="/invoices/{posted.pk}/">INV-0001</a>' in periods
    assert periods.count("50.00 USD") == 2


def test_unknown_schedule_is_404(ops, db):
    assert ops.get(reverse("web:schedule_detail", args=[424242])).status_code == 404
