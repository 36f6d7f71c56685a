"""Batch runs through every door: the API (schedulers CRUD, run-now, runs, recover,
draft-to-posted, schedule recovery), the admin actions, and the management commands."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from freezegun import freeze_time
from rest_framework.test import APIClient

from billing.models import BillingSchedule
from invoicing.models import Invoice, InvoiceBatchRun, InvoiceScheduler
from invoicing.services.batch import batch_run_start
from invoicing.services.scheduling import scheduler_save
from tests.invoicing.batch import support
from tests.invoicing.batch.conftest import broken_customer, customers, schedules_of

pytestmark = pytest.mark.django_db

d = dt.date
TARGET = d(2026, 2, 15)


@pytest.fixture
def api(db):
    user = User.objects.create_user("ops", password="x", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


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
    settings.LEDGERLINE = {**settings.LEDGERLINE, "TAX_ENGINE": support.TAX_ENGINE}
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


def test_api_needs_the_batch_run_permissions(billed):
    user = User.objects.create_user("viewer", password="x")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_invoicescheduler", "view_invoicebatchrun"])
    )
    client = APIClient()
    client.force_authenticate(user)
    scheduler = scheduler_save(name="S", day_of_month="1", start_date=d(2026, 1, 1))
    assert client.get(reverse("invoice-scheduler-list")).status_code == 200
    assert client.get(reverse("invoice-batch-run-list")).status_code == 200
    denied = client.post(reverse("invoice-scheduler-run-now", args=[scheduler.pk]))
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    assert not InvoiceBatchRun.objects.exists()
    anonymous = APIClient().get(reverse("invoice-batch-run-list"))
    assert anonymous.status_code in (401, 403)


# --------------------------------------------------------------------------------------------
# Admin


def _changelist(model) -> str:
    return reverse(f"admin:invoicing_{model._meta.model_name}_changelist")


@pytest.mark.django_db(transaction=True)
@freeze_time("2026-01-10 12:00:00")
def test_admin_scheduler_actions(billed, staff_client):
    customers(billed, 1)
    scheduler = scheduler_save(
        name="Admin", day_of_month="15", start_date=d(2026, 1, 1), target_date_offset=0
    )
    url = _changelist(InvoiceScheduler)

    def act(action):
        return staff_client.post(
            url, {"action": action, "_selected_action": [scheduler.pk]}, follow=True
        )

    response = act("activate")
    assert "1 scheduler(s) activated." in response.content.decode()
    assert PeriodicTask.objects.filter(name=f"invoice-scheduler-{scheduler.pk}").exists()
    page = staff_client.get(url).content.decode()
    assert "2026-01-15 02:00 UTC" in page  # next run

    response = act("run_now")
    run = InvoiceBatchRun.objects.get()
    assert f"batch run {run.pk}</a> started" in response.content.decode()
    run.refresh_from_db()
    assert (run.status, run.run_date, run.target_date, run.invoices_generated) == (
        "completed",
        d(2026, 1, 10),
        d(2026, 1, 10),
        1,
    )

    # An active scheduler's form is read-only.
    change = staff_client.get(
        reverse("admin:invoicing_invoicescheduler_change", args=[scheduler.pk])
    ).content.decode()
    assert 'name="day_of_month"' not in change

    act("deactivate")
    scheduler.refresh_from_db()
    assert scheduler.status == "inactive" and not PeriodicTask.objects.exists()
    act("cancel")
    scheduler.refresh_from_db()
    assert scheduler.status == "canceled"
    response = act("activate")
    assert "canceled scheduler is final" in response.content.decode()


def test_admin_scheduler_form_uses_the_scheduler_rules(billed, staff_client):
    add = reverse("admin:invoicing_invoicescheduler_add")
    form = {
        "name": "Form",
        "cadence": "monthly",
        "day_of_month": "32",
        "time": "02:00",
        "timezone": "UTC",
        "start_date": "2026-01-01",
        "invoice_status": "draft",
        "target_date_offset": "0",
        "filters": "{}",
    }
    response = staff_client.post(add, form)
    assert response.status_code == 200
    assert "L (last day)" in response.content.decode()
    assert not InvoiceScheduler.objects.exists()
    response = staff_client.post(add, {**form, "day_of_month": "l"})
    assert response.status_code == 302
    assert InvoiceScheduler.objects.get().day_of_month == "L"


@pytest.mark.django_db(transaction=True)
def test_admin_run_actions(billed, staff_client):
    """Without a broker (eager Celery) the sub-runs finish inside the request."""
    customers(billed, 2)
    run = batch_run_start(target_date=TARGET)
    url = _changelist(InvoiceBatchRun)

    def act(action):
        return staff_client.post(
            url, {"action": action, "_selected_action": [run.pk]}, follow=True
        ).content.decode()

    page = act("draft_to_posted")
    sub = InvoiceBatchRun.objects.get(kind="draft_to_posted")
    assert "draft-to-posted <a" in page and f"sub-run {sub.pk}</a> completed" in page
    assert Invoice.objects.filter(status="posted").count() == 2
    page = act("recover")
    assert "recovery <a" in page
    page = act("cancel_run")
    assert "is completed; only a started run can be canceled" in page
    detail = staff_client.get(reverse("admin:invoicing_invoicebatchrun_change", args=[run.pk]))
    assert detail.status_code == 200
    assert "Recovery" in detail.content.decode()


# --------------------------------------------------------------------------------------------
# Commands


@pytest.mark.django_db(transaction=True)
def test_run_invoice_batch_command_ad_hoc_and_by_scheduler(billed):
    """Without a broker (eager Celery) the run completes inside the command."""
    customers(billed, 2)
    customers(billed, 1, prefix="Enterprise", matching_value="enterprise")
    out = StringIO()
    call_command(
        "run_invoice_batch",
        "--target-date",
        "2026-01-31",
        "--matching-value",
        "enterprise",
        "--currency",
        "USD",
        "--post",
        stdout=out,
    )
    text = out.getvalue()
    run = InvoiceBatchRun.objects.get()
    assert f"Run {run.pk} (Invoice generation) — completed, stage done, 100 %" in text
    assert "schedules: 1 matching, 1 processed, 0 failed" in text
    assert "invoices: 1 generated, 0 failed, 0 draft, 1 posted" in text
    assert "USD: draft 0.00, posted 53.13" in text
    assert run.filters == {"currencies": ["USD"], "matching_values": ["enterprise"]}

    scheduler = scheduler_save(
        name="Cmd", cadence="once", day_of_month="", start_date=d(2026, 1, 1), target_date=TARGET
    )
    out = StringIO()
    call_command(
        "run_invoice_batch", "--scheduler", str(scheduler.pk), "--chunk-size", "1", stdout=out
    )
    # Jan + Feb of the other two, Feb of the enterprise customer.
    assert "schedules: 3 matching, 3 processed, 0 failed" in out.getvalue()
    assert InvoiceBatchRun.objects.get(scheduler=scheduler).chunks_total == 3

    with pytest.raises(CommandError, match="Give --scheduler, or --target-date"):
        call_command("run_invoice_batch")
    with pytest.raises(CommandError, match=r"\[invalid\] billing_period_count"):
        call_command("run_invoice_batch", "--target-date", "2026-01-31", "--period-count", "13")
    with pytest.raises(CommandError, match="not a date"):
        call_command("run_invoice_batch", "--target-date", "31.01.2026")


@pytest.mark.django_db(transaction=True)
def test_recover_invoice_batch_command(billed, settings):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "TAX_ENGINE": support.TAX_ENGINE}
    customers(billed, 1)
    broken = broken_customer(billed)
    (schedule,) = schedules_of([broken])
    call_command("run_invoice_batch", "--target-date", "2026-01-31", stdout=StringIO())
    run = InvoiceBatchRun.objects.get()
    assert run.status == "completed_with_errors"

    out = StringIO()
    call_command("recover_invoice_batch", str(run.pk), stdout=out)
    text = out.getvalue()
    assert "(Recovery) — completed" in text
    assert f"'schedules_recovered': [{schedule.pk}]" in text
    assert BillingSchedule.objects.get(pk=schedule.pk).status == "ready_for_invoicing"

    out = StringIO()
    call_command("recover_invoice_batch", "--schedules", str(schedule.pk), "424242", stdout=out)
    text = out.getvalue()
    assert f"no invoice; schedules: {schedule.pk} ready_for_invoicing" in text
    assert "[nothing_to_recover]" in text and "[not_found] Billing schedule 424242" in text
    with pytest.raises(CommandError, match="Give a batch run id"):
        call_command("recover_invoice_batch")
    assert D(str(BillingSchedule.objects.get(pk=schedule.pk).billed_amount)) == D("0.00")
