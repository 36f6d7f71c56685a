"""Every page answers well under a second on the demo data, with a bounded number of queries
(no query per row)."""

import datetime as dt
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account
from billing.models import BillingSchedule, Order
from demo.data import demo_load
from invoicing.models import Invoice
from invoicing.services.generation import invoices_generate
from tests.factories import InvoiceBatchRunFactory, InvoiceSchedulerFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 24)
MAX_QUERIES = 30
MAX_SECONDS = 1.0


@pytest.fixture
def demo(db):
    demo_load(today=TODAY)
    result = invoices_generate(all_schedules=True, target_date=TODAY, action="posted")
    assert result.invoice_ids and not result.errors
    invoices_generate(all_schedules=True, target_date=dt.date(2026, 12, 31))
    run = InvoiceBatchRunFactory(status="completed")
    Invoice.objects.filter(status="draft").update(batch_run=run)
    InvoiceSchedulerFactory(status="active", start_date=dt.date(2026, 1, 1))
    return run


def test_every_page_is_fast_and_bounded(ops, demo):
    invoice = Invoice.objects.filter(status="posted").order_by("-total").first()
    draft = Invoice.objects.filter(status="draft").order_by("-total").first()
    busiest = Account.objects.order_by("-schedules__id").first()
    urls = [
        reverse("web:dashboard"),
        reverse("web:account_list"),
        reverse("web:account_detail", args=[busiest.pk]),
        reverse("web:order_list"),
        *[reverse("web:order_detail", args=[o.pk]) for o in Order.objects.all()],
        reverse("web:schedule_list"),
        reverse("web:schedule_detail", args=[BillingSchedule.objects.first().pk]),
        reverse("web:invoice_list"),
        reverse("web:invoice_detail", args=[invoice.pk]),
        reverse("web:invoice_detail", args=[draft.pk]),
        reverse("web:invoice_edit", args=[draft.pk]),
        reverse("web:invoice_void", args=[invoice.pk]),
        reverse("web:run_list"),
        reverse("web:run_detail", args=[demo.pk]),
        reverse("web:run_progress", args=[demo.pk]),
        reverse("web:scheduler_list"),
        reverse("web:error_list"),
    ]
    ops.get(reverse("web:dashboard"))  # warm up templates and the URL resolver
    slow = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = ops.get(url)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, url
        if elapsed >= MAX_SECONDS or len(queries) > MAX_QUERIES:
            slow.append((url, round(elapsed, 3), len(queries)))
    assert slow == []
