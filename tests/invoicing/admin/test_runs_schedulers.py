"""Batch runs through the admin: the scheduler actions and form rules, the run actions."""

import datetime as dt

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from freezegun import freeze_time

from invoicing.models import Invoice, InvoiceBatchRun, InvoiceScheduler
from invoicing.services.runs import batch_run_start
from invoicing.services.schedulers import scheduler_save
from tests.support.invoicing import customers

pytestmark = pytest.mark.django_db

d = dt.date
TARGET = d(2026, 2, 15)


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


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


def test_admin_scheduler_change_and_delete_go_through_the_services(staff_client):
    scheduler = scheduler_save(name="Monthly", day_of_month="1", start_date=d(2026, 1, 1))
    change = reverse("admin:invoicing_invoicescheduler_change", args=[scheduler.pk])
    form = {
        "name": "Month end",
        "cadence": "monthly",
        "day_of_month": "l",
        "time": "03:30",
        "timezone": "Europe/Berlin",
        "start_date": "2026-01-01",
        "invoice_status": "posted",
        "target_date_offset": "0",
        "filters": "{}",
    }

    changed = staff_client.post(change, form)

    assert changed.status_code == 302
    scheduler.refresh_from_db()
    assert (scheduler.name, scheduler.day_of_month, scheduler.timezone, scheduler.status) == (
        "Month end",
        "L",
        "Europe/Berlin",
        "draft",
    )
    delete = reverse("admin:invoicing_invoicescheduler_delete", args=[scheduler.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 302
    assert not InvoiceScheduler.objects.exists()


def test_an_active_scheduler_is_not_deleted(staff_client):
    scheduler = scheduler_save(name="Monthly", day_of_month="1", start_date=d(2026, 1, 1))
    scheduler.status = InvoiceScheduler.Status.ACTIVE
    scheduler.save(update_fields=["status"])

    response = staff_client.post(
        reverse("admin:invoicing_invoicescheduler_delete", args=[scheduler.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert InvoiceScheduler.objects.filter(pk=scheduler.pk, status="active").exists()
