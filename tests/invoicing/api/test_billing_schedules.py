"""invoicing/api/billing_schedules.py: billing-schedules (with their period items), and
schedule recovery (tested with the runs, tests/invoicing/api/test_runs_schedulers.py)."""

import pytest

from billing.models import BillingSchedule

pytestmark = pytest.mark.django_db
API = "/api/v1/"


def test_billing_schedules_with_their_period_items(reader, invoiced):
    schedule = BillingSchedule.objects.get()
    data = reader.get(API + "billing-schedules/", {"account": invoiced.account.pk}).json()
    assert data["count"] == 1
    (row,) = data["results"]
    assert (row["id"], row["status"], row["currency"]) == (
        schedule.pk,
        "ready_for_invoicing",
        "USD",
    )
    assert (row["period_amount"], row["total_amount"], row["billed_amount"]) == (
        "50.00",
        "600.00",
        "150.00",
    )
    assert row["pending_amount"] == "450.00"
    assert row["next_billing_date"] == "2026-04-01"
    items = row["period_items"]
    assert [(i["period_start"], i["amount"], i["invoice_status"]) for i in items] == [
        ("2026-01-01", "50.00", "posted"),
        ("2026-02-01", "50.00", "posted"),
        ("2026-03-01", "50.00", "draft"),
    ]
    assert items[0]["invoice"] == invoiced.invoices[0].pk
    assert reader.get(f"{API}billing-schedules/{schedule.pk}").json()["id"] == schedule.pk


def test_billing_schedule_filters_404_and_no_writes(reader, admin, invoiced):
    def count(**params):
        return reader.get(API + "billing-schedules/", params).json()["count"]

    assert count(order=invoiced.order.pk) == 1
    assert count(status="completely_billed") == 0
    assert count(status="ready_for_invoicing") == 1
    assert reader.get(API + "billing-schedules/", {"order": "x"}).status_code == 400
    assert reader.get(API + "billing-schedules/999999").status_code == 404
    schedule = BillingSchedule.objects.get()
    assert admin.patch(f"{API}billing-schedules/{schedule.pk}", {}).status_code == 405
    assert reader.patch(f"{API}billing-schedules/{schedule.pk}", {}).status_code == 403
