"""Batch runs through the API: schedulers CRUD, run-now, runs, recover, draft-to-posted,
send-email, cancel, schedule recovery, the permissions they need, and the error log."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from freezegun import freeze_time
from rest_framework.test import APIClient

from billing.models import BillingSchedule
from core.permissions import READ_ONLY
from invoicing.models import ErrorLog, Invoice, InvoiceBatchRun, InvoiceScheduler
from invoicing.services.errors import error_log_record
from invoicing.services.schedulers import scheduler_save
from tests.factories import InvoiceBatchRunFactory, InvoiceFactory
from tests.support.invoicing import broken_customer, customers, schedules_of
from tests.support.tax_engines import TAX_ENGINE

pytestmark = pytest.mark.django_db

d = dt.date
TARGET = d(2026, 2, 15)


SCHEDULER = {
    "name": "Monthly, last business day",
    "cadence": "monthly",
    "day_of_month": "L",
    "time": "22:30:00",
    "timezone": "Europe/Berlin",
    "start_date": "2026-01-01",
    "end_date": "2026-12-31",
    "exclude_weekends": True,
    "invoice_status": "posted",
    "target_date_offset": 0,
    "invoice_date_offset": 1,
    "billing_period_count": 3,
    "filters": {"currencies": ["USD"], "matching_values": ["enterprise"]},
}


# --------------------------------------------------------------------------------------------
# API


@freeze_time("2026-03-10 12:00:00")
def test_api_scheduler_crud_follows_the_status_rules(api):
    url = reverse("invoice-scheduler-list")
    created = api.post(url, SCHEDULER, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    assert {k: body[k] for k in SCHEDULER} == {**SCHEDULER, "time": "22:30:00"}
    assert (body["status"], body["next_run_at"], body["periodic_task"]) == ("draft", None, None)

    bad = api.post(url, {**SCHEDULER, "name": "Other", "day_of_month": "31"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid"
    assert "day_of_month" in bad.json()["details"]
    dup = api.post(url, SCHEDULER, format="json")
    assert dup.status_code == 400 and "name" in dup.json()["details"]

    detail = reverse("invoice-scheduler-detail", args=[pk])
    patched = api.patch(detail, {"day_of_month": "L-1"}, format="json")
    assert patched.status_code == 200 and patched.json()["day_of_month"] == "L-1"

    active = api.patch(detail, {"status": "active"}, format="json")
    assert active.status_code == 200, active.content
    # Mar 30 (L-1) is a Monday: 22:30 in Berlin (CEST since Mar 29) is 20:30 UTC.
    assert active.json()["next_run_at"] == "2026-03-30T22:30:00+02:00"
    task = PeriodicTask.objects.get()
    assert active.json()["periodic_task"] == task.pk
    assert task.crontab.day_of_month == "1,27-31"

    refused = api.patch(detail, {"billing_period_count": 1}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "scheduler_not_editable"
    assert api.delete(detail).status_code == 409

    assert api.patch(detail, {"status": "inactive"}, format="json").status_code == 200
    assert not PeriodicTask.objects.exists()
    listed = api.get(url, {"status": "inactive"}).json()
    assert [r["id"] for r in listed["results"]] == [pk]
    assert api.get(url, {"status": "active"}).json()["count"] == 0
    assert api.delete(detail).status_code == 204
    assert not InvoiceScheduler.objects.exists()


def test_api_run_now_then_the_run_its_recovery_and_draft_to_posted(
    billed, api, django_capture_on_commit_callbacks
):
    customers(billed, 2)
    scheduler = scheduler_save(
        name="Ad hoc",
        cadence="once",
        day_of_month="",
        start_date=d(2026, 1, 1),
        target_date=TARGET,
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(reverse("invoice-scheduler-run-now", args=[scheduler.pk]))
    assert response.status_code == 202, response.content
    run_id = response.json()["batch_run"]
    assert response.json()["status_url"] == (
        f"http://testserver/api/v1/invoice-batch-runs/{run_id}"
    )
    body = api.get(response.json()["status_url"]).json()
    assert {
        k: body[k]
        for k in (
            "scheduler",
            "status",
            "stage",
            "progress",
            "target_date",
            "invoice_date",
            "matching_schedules",
            "schedules_processed",
            "schedules_failed",
            "invoices_generated",
            "invoices_failed",
            "draft_invoices",
            "posted_invoices",
            "amounts",
        )
    } == {
        "scheduler": scheduler.pk,
        "status": "completed",
        "stage": "done",
        "progress": 100,
        "target_date": "2026-02-15",
        "invoice_date": "2026-02-15",
        "matching_schedules": 2,
        "schedules_processed": 2,
        "schedules_failed": 0,
        "invoices_generated": 2,
        "invoices_failed": 0,
        "draft_invoices": 2,
        "posted_invoices": 0,
        "amounts": [{"currency": "USD", "draft": "212.52", "posted": "0.00"}],
    }
    assert (
        api.get(reverse("invoice-batch-run-list"), {"scheduler": scheduler.pk}).json()["count"] == 1
    )

    with django_capture_on_commit_callbacks(execute=True):
        posted = api.post(reverse("invoice-batch-run-draft-to-posted", args=[run_id]))
    assert posted.status_code == 202
    assert (posted.json()["kind"], posted.json()["parent_run"]) == ("draft_to_posted", run_id)
    sub = api.get(reverse("invoice-batch-run-detail", args=[posted.json()["id"]])).json()
    assert (sub["status"], sub["posted_invoices"]) == ("completed", 2)
    assert sorted(Invoice.objects.values_list("number", flat=True)) == ["INV-0001", "INV-0002"]

    with django_capture_on_commit_callbacks(execute=True):
        emailed = api.post(reverse("invoice-batch-run-send-email", args=[run_id]))
    assert emailed.status_code == 202
    assert (emailed.json()["kind"], emailed.json()["parent_run"]) == ("email", run_id)
    sub = api.get(reverse("invoice-batch-run-detail", args=[emailed.json()["id"]])).json()
    assert (sub["status"], sub["summary"]["sent"]) == ("completed", 2)

    with django_capture_on_commit_callbacks(execute=True):
        recovered = api.post(reverse("invoice-batch-run-recover", args=[run_id]))
    assert recovered.status_code == 202
    assert recovered.json()["kind"] == "recovery"
    run = api.get(reverse("invoice-batch-run-detail", args=[run_id])).json()
    assert sorted(run["sub_runs"]) == sorted(
        [posted.json()["id"], emailed.json()["id"], recovered.json()["id"]]
    )
    assert run["amounts"] == [{"currency": "USD", "draft": "0.00", "posted": "212.52"}]

    missing = api.post(reverse("invoice-batch-run-recover", args=[987654]))
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_api_schedule_recovery_and_cancel(billed, api, settings, run_batch):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "TAX_ENGINE": TAX_ENGINE}
    broken = broken_customer(billed)
    (schedule,) = schedules_of([broken])
    run_batch(target_date=TARGET)
    assert BillingSchedule.objects.get(pk=schedule.pk).status == "error"

    response = api.post(
        reverse("billing-schedule-recover"), {"billing_schedule_ids": [schedule.pk]}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "invoice": None,
                "invoice_status": None,
                "billing_schedules": [{"id": schedule.pk, "status": "ready_for_invoicing"}],
                "errors": [],
            }
        ]
    }
    bad = api.post(reverse("billing-schedule-recover"), {"billing_schedule_ids": []}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"

    run = InvoiceBatchRun.objects.get()
    refused = api.post(reverse("invoice-batch-run-cancel", args=[run.pk]))
    assert (refused.status_code, refused.json()["code"]) == (409, "batch_run_finished")


def test_api_needs_the_batch_run_permissions(billed, roles):
    user = User.objects.create_user("viewer", password="x")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_invoicescheduler", "view_invoicebatchrun"])
    )
    client = APIClient()
    client.force_authenticate(user)
    scheduler = scheduler_save(name="S", day_of_month="1", start_date=d(2026, 1, 1))
    # Django grants add to a role, never replace one: without a role, no access (deny by
    # default, core/permissions.py).
    assert client.get(reverse("invoice-scheduler-list")).status_code == 403
    user.groups.add(Group.objects.get(name=READ_ONLY))
    client.force_authenticate(User.objects.get(pk=user.pk))
    assert client.get(reverse("invoice-scheduler-list")).status_code == 200
    assert client.get(reverse("invoice-batch-run-list")).status_code == 200
    denied = client.post(reverse("invoice-scheduler-run-now", args=[scheduler.pk]))
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    assert not InvoiceBatchRun.objects.exists()
    anonymous = APIClient().get(reverse("invoice-batch-run-list"))
    assert anonymous.status_code in (401, 403)


# --- error logs -------------------------------------------------------------------------------


ERROR_LOGS = "/api/v1/error-logs/"


def test_error_logs_list_and_filters(reader, world):
    run = InvoiceBatchRunFactory()
    invoice = InvoiceFactory(account=world.account)
    other = InvoiceFactory(account=world.account)
    error_log_record(
        category="posting",
        code="no_sequence_policy",
        message="No policy.",
        primary=invoice,
        batch_run=run,
    )
    error_log_record(category="tax", code="tax_engine_error", message="Down.", primary=other)
    data = reader.get(ERROR_LOGS).json()
    assert data["count"] == 2

    def codes(**params):
        response = reader.get(ERROR_LOGS, params)
        assert response.status_code == 200, response.content
        return [e["code"] for e in response.json()["results"]]

    assert codes(batch_run=run.pk) == ["no_sequence_policy"]
    assert codes(category="tax") == ["tax_engine_error"]
    assert codes(primary=f"invoice:{invoice.pk}") == ["no_sequence_policy"]
    assert codes(primary=f"invoicing.invoice:{other.pk}") == ["tax_engine_error"]
    assert codes(primary="invoice:x") == []
    row = reader.get(ERROR_LOGS, {"category": "posting"}).json()["results"][0]
    assert row["primary"] == {"type": "invoicing.invoice", "id": invoice.pk}
    assert row["related"] is None and row["batch_run"] == run.pk
    assert reader.get(ERROR_LOGS, {"category": "bogus"}).status_code == 400
    assert reader.post(ERROR_LOGS, {}).status_code == 403
    assert ErrorLog.objects.count() == 2
