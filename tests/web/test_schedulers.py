"""Invoice schedulers: list with next run times, the form (every field) with its preview of
the next run times, save, run now, activate/deactivate/cancel."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from freezegun import freeze_time

from invoicing.models import InvoiceBatchRun, InvoiceScheduler
from tests.factories import InvoiceSchedulerFactory

pytestmark = pytest.mark.django_db
d = dt.date

NOW = "2026-11-24 12:00:00"

FORM = {
    "name": "Month end Berlin",
    "status": "draft",
    "cadence": "monthly",
    "weekday": "",
    "day_of_month": "L",
    "time": "02:00",
    "timezone": "Europe/Berlin",
    "start_date": "2026-11-01",
    "end_date": "",
    "invoice_status": "draft",
    "target_date": "",
    "target_date_offset": "0",
    "invoice_date": "",
    "invoice_date_offset": "1",
    "billing_period_count": "",
    "currencies": "eur",
    "accounts": "",
    "matching_values": "",
}


@freeze_time(NOW)
def test_form_has_every_field(ops, db):
    page = ops.get(reverse("web:scheduler_new")).content.decode()
    for field in (
        "name",
        "status",
        "cadence",
        "weekday",
        "day_of_month",
        "time",
        "timezone",
        "start_date",
        "end_date",
        "exclude_weekends",
        "invoice_status",
        "target_date",
        "target_date_offset",
        "invoice_date",
        "invoice_date_offset",
        "invoice_date_from_run_date",
        "billing_period_count",
        "currencies",
        "legal_entity",
        "accounts",
        "matching_values",
        "charge_types",
    ):
        assert f'name="{field}"' in page, field


@freeze_time(NOW)
def test_preview_shows_the_next_run_times_without_saving(ops, db):
    response = ops.post(reverse("web:scheduler_new"), {**FORM, "preview": "1"})
    assert response.status_code == 200
    page = response.content.decode()
    runs = page.split("data-next-runs>")[1].split("</ol>")[0]
    assert re.findall(r"<li>(.*?) <span", runs) == [
        "Monday 30 November 2026, 02:00",
        "Thursday 31 December 2026, 02:00",
        "Sunday 31 January 2027, 02:00",
        "Sunday 28 February 2027, 02:00",
        "Wednesday 31 March 2027, 02:00",
    ]
    assert "Europe/Berlin" in runs
    assert not InvoiceScheduler.objects.exists()


@freeze_time(NOW)
def test_preview_reports_what_is_wrong(ops, db):
    response = ops.post(
        reverse("web:scheduler_new"), {**FORM, "day_of_month": "32", "preview": "1"}
    )
    page = response.content.decode()
    assert 'class="msg msg-error"' in page
    assert "day_of_month" in page
    assert not InvoiceScheduler.objects.exists()


@freeze_time(NOW)
def test_save_a_new_scheduler(ops, db):
    response = ops.post(reverse("web:scheduler_new"), {**FORM, "save": "1"}, follow=True)
    scheduler = InvoiceScheduler.objects.get()
    assert (scheduler.name, scheduler.day_of_month, scheduler.timezone) == (
        "Month end Berlin",
        "L",
        "Europe/Berlin",
    )
    assert scheduler.filters == {"currencies": ["EUR"]}
    assert scheduler.invoice_date_offset == 1
    html = response.content.decode()
    assert "Scheduler &#x27;Month end Berlin&#x27; saved (Draft)." in html
    assert "Monday 30 November 2026, 02:00" in html  # the saved scheduler's next runs


@freeze_time(NOW)
def test_save_refusal_shows_the_service_message(ops, db):
    scheduler = InvoiceSchedulerFactory(status="active", start_date=d(2026, 1, 1))
    response = ops.post(
        reverse("web:scheduler_edit", args=[scheduler.pk]),
        {**FORM, "name": scheduler.name, "status": "active", "save": "1"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "only a draft or inactive scheduler can be edited. Deactivate it first." in html
    scheduler.refresh_from_db()
    assert scheduler.timezone == "UTC"


@freeze_time(NOW)
def test_form_errors_are_shown(ops, db):
    response = ops.post(reverse("web:scheduler_new"), {**FORM, "name": "", "save": "1"})
    assert "This field is required." in response.content.decode()
    assert not InvoiceScheduler.objects.exists()


@freeze_time(NOW)
def test_list_shows_the_next_runs_of_active_schedulers(ops, db):
    InvoiceSchedulerFactory(name="First of month", status="active", start_date=d(2026, 1, 1))
    InvoiceSchedulerFactory(name="Still a draft", start_date=d(2026, 1, 1))
    page = ops.get(reverse("web:scheduler_list")).content.decode()
    assert "Tue 1 Dec 2026 02:00<br>Fri 1 Jan 2027 02:00<br>Mon 1 Feb 2027 02:00" in page
    assert "not scheduled (draft)" in page
    assert "Run now</button>" in page


@freeze_time(NOW)
def test_dashboard_lists_the_next_scheduled_run(ops, db):
    scheduler = InvoiceSchedulerFactory(name="First of month", status="active")
    page = ops.get(reverse("web:dashboard")).content.decode()
    assert f'href="/schedulers/{scheduler.pk}/">First of month</a>' in page
    assert "Tue 1 Dec 2026, 02:00" in page


def test_run_now(ops, billed, django_capture_on_commit_callbacks):
    scheduler = InvoiceSchedulerFactory(name="Now", start_date=d(2026, 1, 1))
    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(reverse("web:scheduler_run_now", args=[scheduler.pk]))
    run = InvoiceBatchRun.objects.get()
    assert run.scheduler_id == scheduler.pk and run.requested_by == "olga"
    assert response["Location"] == reverse("web:run_detail", args=[run.pk])


@freeze_time(NOW)
def test_activate_deactivate_cancel(ops, db):
    scheduler = InvoiceSchedulerFactory(start_date=d(2026, 1, 1))
    url = lambda to: reverse("web:scheduler_status", args=[scheduler.pk, to])  # noqa: E731
    response = ops.post(url("activate"), follow=True)
    scheduler.refresh_from_db()
    assert scheduler.status == "active" and scheduler.periodic_task_id is not None
    assert f"Scheduler &#x27;{scheduler.name}&#x27; activated." in response.content.decode()
    ops.post(url("deactivate"))
    scheduler.refresh_from_db()
    assert scheduler.status == "inactive"
    ops.post(url("cancel"))
    scheduler.refresh_from_db()
    assert scheduler.status == "canceled"
    again = ops.post(url("activate"), follow=True).content.decode()
    assert "is canceled and cannot become active" in again
    assert ops.post(f"/schedulers/{scheduler.pk}/explode").status_code == 404


@freeze_time(NOW)
def test_read_only_user_sees_a_scheduler_but_no_form(ro, db):
    scheduler = InvoiceSchedulerFactory(name="Visible", start_date=d(2026, 1, 1))
    page = ro.get(reverse("web:scheduler_edit", args=[scheduler.pk])).content.decode()
    assert "Scheduler Visible" in page
    assert "Tuesday 1 December 2026, 02:00" in page
    assert "Save scheduler" not in page and "Preview next runs" not in page
    assert "disabled" in page
