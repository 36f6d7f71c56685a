"""What invoicing adds to the admins of accounts, orders and schedules
(invoicing/admin/generation.py): the "Generate invoices" action (invoices_generate) and a
schedule's billed periods, read-only."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib import admin
from django.urls import reverse

from billing.admin import BillingScheduleAdmin
from billing.models import BillingSchedule
from invoicing.models import BillingPeriodItem, Invoice
from tests import factories
from tests.support.invoicing import snapshot

pytestmark = pytest.mark.django_db
d = dt.date


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_generate_action_asks_then_generates_through_the_service(lw, admin_client_logged):
    url = reverse("admin:accounts_account_changelist")
    data = {"action": "generate_invoices", "_selected_action": [lw.account.pk]}
    before = snapshot()

    form = admin_client_logged.post(url, data)
    assert form.status_code == 200
    assert b"Generate invoices" in form.content and b"target_date" in form.content
    assert snapshot() == before

    done = admin_client_logged.post(
        url, {**data, "apply": "1", "target_date": "2026-01-31", "output": "draft"}, follow=True
    )

    invoice = Invoice.objects.get()
    assert f"1 invoice(s) generated: draft #{invoice.pk}" in done.content.decode()
    assert (invoice.status, invoice.total, invoice.invoice_date) == (
        "draft",
        D("75.77"),
        d(2026, 1, 31),
    )
    assert BillingPeriodItem.objects.filter(invoice=invoice).count() == 2


def test_generate_action_for_orders_posts_when_asked(lw, admin_client_logged):
    done = admin_client_logged.post(
        reverse("admin:billing_order_changelist"),
        {
            "action": "generate_invoices",
            "_selected_action": [lw.order.pk],
            "apply": "1",
            "target_date": "2026-01-15",
            "output": "posted",
        },
        follow=True,
    )

    assert "1 invoice(s) generated: INV-0001" in done.content.decode()
    assert Invoice.objects.get().status == "posted"


def test_schedule_change_page_lists_its_billed_periods(admin_client_logged):
    item = factories.BillingPeriodItemFactory(period_start=dt.date(2026, 3, 1))
    assert isinstance(admin.site._registry[BillingSchedule], BillingScheduleAdmin)

    response = admin_client_logged.get(_url(BillingSchedule, "change", item.schedule_id))

    content = response.content.decode()
    assert "billed periods" in content.lower()
    assert "March 1, 2026" in content
    assert 'name="period_amount"' not in content
    assert 'name="billed_amount"' not in content
    assert 'name="next_billing_date"' not in content


def test_period_item_is_read_only(admin_client_logged):
    item = factories.BillingPeriodItemFactory()

    response = admin_client_logged.get(_url(BillingPeriodItem, "change", item.pk))

    assert 'name="_save"' not in response.content.decode()
    assert admin_client_logged.post(_url(BillingPeriodItem, "change", item.pk), {}).status_code == (
        403
    )
