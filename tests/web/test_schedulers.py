"""Invoice schedulers: list with next run times, the form (every field) with its preview of
the next run times, save, run now, activate/deactivate/cancel."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from freezegun import freeze_time

from invoicing.models import InvoiceBatchRun, InvoiceScheduler
from tests.factories import InvoiceSchedulerFactory
from tests.support.confirm import confirmation_of, post_confirmed
from tests.support.pages import field_error

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
    assert (
        '<time datetime="2026-12-01T02:00:00+00:00">2026-12-01 02:00 UTC</time><br>'
        '<time datetime="2027-01-01T02:00:00+00:00">2027-01-01 02:00 UTC</time><br>'
        '<time datetime="2027-02-01T02:00:00+00:00">2027-02-01 02:00 UTC</time>'
    ) in page
    assert "not scheduled (draft)" in page
    assert "Run now</button>" in page


@freeze_time(NOW)
def test_dashboard_lists_the_next_scheduled_run(ops, db):
    scheduler = InvoiceSchedulerFactory(name="First of month", status="active")
    page = ops.get(reverse("web:dashboard")).content.decode()
    assert f'href="/schedulers/{scheduler.pk}/">First of month</a>' in page
    assert "2026-12-01 02:00 UTC</time>" in page


@freeze_time(NOW)
def test_next_runs_are_shown_in_the_scheduler_s_own_time_zone(ops, db):
    """Point 11: 02:00 in New York is shown as 02:00 America/New_York (07:00 UTC), on the
    dashboard and on the schedulers list; times that are not a scheduler's say UTC."""
    scheduler = InvoiceSchedulerFactory(
        name="New York 5th",
        status="active",
        day_of_month="5",
        timezone="America/New_York",
        last_run_at=dt.datetime(2026, 11, 5, 7, 0, 12, tzinfo=dt.UTC),
    )
    dashboard = ops.get(reverse("web:dashboard")).content.decode()
    cell = dashboard.split("<td data-next-run>")[1].split("</td>")[0]
    assert cell == (
        '<time datetime="2026-12-05T02:00:00-05:00">2026-12-05 02:00 America/New_York</time>'
    )
    assert "07:00" not in cell
    listing = ops.get(reverse("web:scheduler_list")).content.decode()
    row = listing.split(f'href="/schedulers/{scheduler.pk}/"')[1].split("</tr>")[0]
    assert row.split("<td data-next-runs>")[1].split("</td>")[0] == (
        '<time datetime="2026-12-05T02:00:00-05:00">2026-12-05 02:00 America/New_York</time><br>'
        '<time datetime="2027-01-05T02:00:00-05:00">2027-01-05 02:00 America/New_York</time><br>'
        '<time datetime="2027-02-05T02:00:00-05:00">2027-02-05 02:00 America/New_York</time>'
    )
    assert '<time datetime="2026-11-05T07:00:12+00:00">2026-11-05 07:00 UTC</time>' in row


@freeze_time(NOW)
def test_run_now_asks_first_stating_the_run(ops, billed):
    """Point 15: "Run now" answers its confirmation page (dates, schedules due, draft or
    posted) and starts nothing until confirmed."""
    scheduler = InvoiceSchedulerFactory(
        name="Posting", start_date=d(2026, 1, 1), invoice_status="posted", invoice_date_offset=1
    )
    url = reverse("web:scheduler_run_now", args=[scheduler.pk])
    response = ops.post(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Run scheduler &#x27;Posting&#x27; now?" in page
    assert (
        "A batch run of <strong>Posting</strong> starts now for run date 2026-11-24 (today in "
        "UTC): target date <strong>2026-11-24</strong>, invoice date <strong>2026-11-25</strong>."
    ) in page
    assert (
        "<strong>1 billing schedule</strong> is due by the target date and matches its filters "
        "(suspended ones are left out); the run bills them as posted (numbered) invoices."
    ) in page
    assert "posting cannot be undone" in page
    assert "Start the run (1 schedule)</button>" in page
    assert confirmation_of(response) == "2026-11-24 2026-11-24 2026-11-25 posted 1"
    assert not InvoiceBatchRun.objects.exists()
    stale = ops.post(url, {"confirm": "2026-11-23 2026-11-23 2026-11-24 posted 1"})
    assert "The figures changed" in stale.content.decode()
    assert not InvoiceBatchRun.objects.exists()


def test_run_now_of_a_canceled_scheduler_shows_the_service_message(ops, db):
    scheduler = InvoiceSchedulerFactory(name="Gone", status="canceled")
    response = ops.post(reverse("web:scheduler_run_now", args=[scheduler.pk]), follow=True)
    assert "Scheduler &#x27;Gone&#x27; is canceled" in response.content.decode()
    assert not InvoiceBatchRun.objects.exists()


def test_run_now(ops, billed, django_capture_on_commit_callbacks):
    scheduler = InvoiceSchedulerFactory(name="Now", start_date=d(2026, 1, 1))
    with django_capture_on_commit_callbacks(execute=True):
        response = post_confirmed(ops, reverse("web:scheduler_run_now", args=[scheduler.pk]))
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


# --- every error at its field, at once (issue 12, point 16) ---

DAY_OF_MONTH = (
    "A monthly scheduler runs on day 1–28, L (last day), L-1 (second to last) or L-2 (third to "
    "last)."
)
TIMEZONE = "&#x27;Mars/Base&#x27; is not an IANA time zone, e.g. Europe/Berlin or UTC."


@freeze_time("2026-11-24 12:00:00")
@pytest.mark.parametrize("button", ["save", "preview"])
def test_scheduler_form_shows_every_error_at_its_field(ops, db, button):
    response = ops.post(
        reverse("web:scheduler_new"),
        {**FORM, "day_of_month": "32", "timezone": "Mars/Base", button: "1"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert field_error(page, "day_of_month") == DAY_OF_MONTH
    assert field_error(page, "timezone") == TIMEZONE
    summary = page.split('class="msg msg-error form-errors"')[1].split("</div>")[0]
    assert "Fix the fields marked below:" in summary
    assert re.findall(r'<li><a href="#id_(\w+)">([^<]+)</a>: ', summary) == [
        ("day_of_month", "Day of month"),
        ("timezone", "Time zone"),
    ]
    assert "more)" not in page
    assert not InvoiceScheduler.objects.exists()
