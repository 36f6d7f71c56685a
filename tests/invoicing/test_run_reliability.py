"""What makes runs finish by themselves, at the doors: the Celery settings for lost workers,
the supervisor in the beat schedule, re-dispatches shown by the API and the run page, and a
far-future invoice date refused up front (on-demand generation, runs, run-now, the start
form, a scheduler's firing) with nothing written."""

import datetime as dt

import pytest
from celery import current_app
from django.conf import settings as django_settings
from django.urls import reverse

from billing.models import BillingSchedule
from core.exceptions import ValidationError
from invoicing import dispatch, tasks
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceScheduler,
)
from invoicing.services.generation import invoices_generate
from invoicing.services.runs import batch_run_start, batch_runs_supervise, keys_claim
from invoicing.services.schedulers import scheduler_activate, scheduler_fire, scheduler_save
from tests.support.invoicing import customers

d = dt.date
UTC = dt.UTC
TARGET = d(2026, 2, 15)
FAR = "9999-12-31"


def nothing_written() -> None:
    assert not Invoice.objects.exists()
    assert not BillingPeriodItem.objects.exists()
    assert not InvoiceBatchRun.objects.exists()
    assert not ErrorLog.objects.exists()
    assert set(BillingSchedule.objects.values_list("status", "next_billing_date")) == {
        ("ready_for_invoicing", d(2026, 1, 1))
    }


# --------------------------------------------------------------------------------------------
# Celery


def test_celery_gives_a_lost_task_back_and_beat_runs_the_supervisor():
    conf = current_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    # The visibility timeout outlasts every task (else a running task would start twice).
    longest = max(
        current_app.tasks[name].time_limit or conf.task_time_limit for name in dispatch.TASK_NAMES
    )
    assert longest == 3600
    assert conf.broker_transport_options["visibility_timeout"] == 3900 > longest
    chunk = tasks.batch_run_chunk_task
    assert (chunk.soft_time_limit, chunk.time_limit, chunk.acks_late) == (600, 660, True)
    entry = django_settings.CELERY_BEAT_SCHEDULE["invoicing-supervise-runs"]
    assert entry == {
        "task": dispatch.SUPERVISE_RUNS,
        "schedule": 30.0,
        "options": {"expires": 24.0},
    }
    assert current_app.tasks[entry["task"]] == tasks.supervise_runs_task


# --------------------------------------------------------------------------------------------
# The supervisor's record, at the doors


@pytest.mark.django_db(transaction=True)
def test_the_api_and_the_run_page_show_what_the_supervisor_did(
    billed, api, admin_client_logged, monkeypatch
):
    from invoicing.services import runs

    customers(billed, 2)
    monkeypatch.setattr(runs, "_queue_chunks", lambda run_id: None)
    run = batch_run_start(target_date=TARGET, chunk_size=1)
    keys_claim(run.pk, owner="dead@w:1", chunk=0)  # a worker that died
    assert batch_run_chunk_process_all(run.pk, chunks=[1]) == 1
    now = dt.datetime.now(UTC) + dt.timedelta(seconds=31)
    assert batch_runs_supervise(now=now) == {"runs": 1, "redispatched": 1}

    body = api.get(reverse("invoice-batch-run-detail", args=[run.pk])).json()
    assert (body["status"], body["redispatches"]) == ("completed", 1)
    (event,) = body["events"]
    assert {k: v for k, v in event.items() if k != "at"} == {
        "event": "chunk_redispatched",
        "chunk": 0,
        "keys": 1,
        "attempt": 2,
        "detail": "lease expired: its worker was lost",
    }
    dt.datetime.fromisoformat(event["at"])

    page = admin_client_logged.get(reverse("web:run_detail", args=[run.pk])).content.decode()
    assert "What the supervisor did (1 re-dispatch)" in page
    assert '<tr data-event="chunk_redispatched">' in page
    assert "Chunk queued again</td><td>chunk 0, 1 key, attempt 2, lease expired: its worker" in (
        page
    )
    progress = admin_client_logged.get(reverse("web:run_progress", args=[run.pk])).json()
    assert progress["redispatches"] == 1


def batch_run_chunk_process_all(run_id: int, *, chunks: list[int]) -> int:
    from invoicing.services.runs import batch_run_chunk_process

    return sum(batch_run_chunk_process(run_id=run_id, chunk=c) for c in chunks)


# --------------------------------------------------------------------------------------------
# A far-future invoice date


@pytest.mark.django_db
def test_on_demand_generation_refuses_a_far_invoice_date(billed, api):
    (account,) = customers(billed, 1)
    with pytest.raises(ValidationError) as caught:
        invoices_generate(account_id=account.pk, target_date=TARGET, invoice_date=d(9999, 12, 31))
    assert list(caught.value.details) == ["invoice_date"]
    response = api.post(
        reverse("invoice-generate"),
        {"account": account.pk, "target_date": "2026-02-15", "invoice_date": FAR},
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    (message,) = body["details"]["invoice_date"]
    assert message.startswith("9999-12-31 is more than 366 days after today (")
    assert "Use an invoice date on or before " in message
    nothing_written()
    # Within the bound it bills.
    ok = api.post(
        reverse("invoice-generate"),
        {"account": account.pk, "target_date": "2026-02-15", "invoice_date": "2026-02-20"},
        format="json",
    )
    assert ok.status_code == 200, ok.content
    assert Invoice.objects.get().invoice_date == d(2026, 2, 20)


@pytest.mark.django_db
def test_runs_refuse_a_far_invoice_date_at_every_door(billed, api, admin_client_logged):
    customers(billed, 2)
    with pytest.raises(ValidationError) as caught:
        batch_run_start(target_date=TARGET, invoice_date=d(9999, 12, 31))
    assert list(caught.value.details) == ["invoice_date"]

    scheduler = scheduler_save(
        name="Far",
        cadence="once",
        day_of_month="",
        start_date=d(2026, 1, 1),
        target_date=TARGET,
    )
    # scheduler_save now refuses such a date; one saved before that rule is still refused
    # when it runs.
    InvoiceScheduler.objects.filter(pk=scheduler.pk).update(invoice_date=d(9999, 12, 31))
    response = api.post(reverse("invoice-scheduler-run-now", args=[scheduler.pk]))
    assert response.status_code == 400, response.content
    assert list(response.json()["details"]) == ["invoice_date"]

    page = admin_client_logged.post(
        reverse("web:run_start"),
        {
            "target_date": "2026-02-15",
            "invoice_date": FAR,
            "invoice_status": "draft",
        },
    )
    assert page.status_code == 200
    assert "9999-12-31 is more than 366 days after today" in page.content.decode()
    nothing_written()


@pytest.mark.django_db
def test_a_scheduler_firing_with_a_far_invoice_date_records_a_failed_run(billed):
    customers(billed, 1)
    s = scheduler_save(
        name="Monthly, invoice date 500 days on",
        day_of_month="1",
        start_date=d(2026, 1, 1),
        target_date_offset=-1,
    )
    scheduler_activate(scheduler_id=s.pk)
    # Saving and activating now refuse this offset; an active scheduler saved before that
    # rule records a failed run when beat fires it.
    InvoiceScheduler.objects.filter(pk=s.pk).update(invoice_date_offset=500)
    run = scheduler_fire(scheduler_id=s.pk, now=dt.datetime(2027, 1, 1, 2, 0, tzinfo=UTC))
    run.refresh_from_db()
    assert (run.status, run.stage, run.target_date, run.invoice_date) == (
        "failed",
        "done",
        d(2026, 12, 31),
        d(2028, 5, 14),
    )
    assert run.summary["error"]["code"] == "invoice_date_too_far"
    assert run.summary["error"]["message"] == (
        "Invoice date 2028-05-14 is more than 366 days after the target date (2026-12-31). Use "
        "an invoice date on or before 2028-01-01, or leave it empty to date the invoices on the "
        "target date."
    )
    log = ErrorLog.objects.get()
    assert (log.code, log.batch_run_id) == ("invoice_date_too_far", run.pk)
    assert "Fix the scheduler's invoice date (or its offset)." in log.message
    assert not InvoiceBatchRunKey.objects.exists()
    assert not Invoice.objects.exists() and not BillingPeriodItem.objects.exists()
    # Beat firing again that day makes no second run.
    assert scheduler_fire(scheduler_id=s.pk, now=dt.datetime(2027, 1, 1, 3, 0, tzinfo=UTC)) is None
