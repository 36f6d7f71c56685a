"""Recovery in-process (eager Celery): a run's recovery sub-run (failed schedules reset,
invoices stuck in draft_in_progress canceled, pending keys billed) followed by a re-run that
bills exactly what is left, and the recovery of schedules' latest invoices.

Figures: a seats schedule bills 10 × 5.00 = 50.00 a month; Texas tax 6.25 % is 3.13 per
line (3.125 rounded half up), so one month is 53.13 and two are 106.26.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.models import BillingSchedule
from core.exceptions import ValidationError
from invoicing.models import (
    ErrorLog,
    Invoice,
)
from invoicing.services.posting import invoice_post
from invoicing.services.recovery import batch_run_recover, billing_schedules_recover
from invoicing.services.runs import (
    batch_run_chunk_process,
)
from tests.conftest import make_account
from tests.support.invoicing import (
    billed_counts,
    broken_customer,
    customers,
    schedule_state,
    schedules_of,
    seats_item,
    subscribe,
)
from tests.support.tax_engines import TAX_ENGINE

pytestmark = pytest.mark.django_db

d = dt.date
UTC = dt.UTC
TARGET = d(2026, 2, 15)


# --------------------------------------------------------------------------------------------
# Recovery


def test_run_recovery_resets_failed_schedules_then_a_rerun_bills_them(
    billed, settings, run_batch, django_capture_on_commit_callbacks
):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "TAX_ENGINE": TAX_ENGINE}
    customers(billed, 2)
    broken = broken_customer(billed)
    (schedule,) = schedules_of([broken])
    run = run_batch(target_date=TARGET)
    assert run.status == "completed_with_errors"

    with django_capture_on_commit_callbacks(execute=True):
        sub = batch_run_recover(run_id=run.pk, requested_by="ops")
    sub.refresh_from_db()
    assert (sub.kind, sub.status, sub.parent_run_id, sub.requested_by) == (
        "recovery",
        "completed",
        run.pk,
        "ops",
    )
    assert sub.summary == {
        "keys_reopened": 0,
        "keys_billed": 0,
        "schedules_billed": 0,
        "keys_reported": 0,
        "keys_left_to_workers": 0,
        "invoices_canceled": [],
        "schedules_recovered": [schedule.pk],
        "schedules_unrecovered": [],
        "invoices_unrecovered": [],
    }
    assert (sub.matching_schedules, sub.schedules_processed, sub.schedules_failed) == (1, 1, 0)
    assert schedule_state(schedule) == (
        "ready_for_invoicing",
        d(2026, 1, 1),
        d(2026, 1, 1),
        D("0.00"),
        D("600.00"),
    )
    assert ErrorLog.objects.get().is_resolved
    run.refresh_from_db()
    assert run.status == "completed_with_errors"  # what the run did stays recorded
    assert run.summary["recovery"] == {
        "sub_run": sub.pk,
        "status": "completed",
        "schedules_recovered": 1,
        "schedules_unrecovered": 0,
        "invoices_canceled": 0,
        "schedules_billed": 0,
        "invoices_generated": 0,
    }

    settings.LEDGERLINE = {**settings.LEDGERLINE, "TAX_ENGINE": "invoicing.tax.BuiltinTaxEngine"}
    rerun = run_batch(target_date=TARGET)
    assert (rerun.status, rerun.matching_schedules, rerun.invoices_generated) == (
        "completed",
        1,
        1,
    )
    assert Invoice.objects.get(batch_run=rerun).account_id == broken.pk
    assert set(billed_counts().values()) == {1} and len(billed_counts()) == 6


def test_run_recovery_cancels_invoices_stuck_in_draft_in_progress(
    billed, run_batch, django_capture_on_commit_callbacks
):
    accounts = customers(billed, 2)
    schedules = schedules_of(accounts)
    run = run_batch(target_date=TARGET)
    stuck = Invoice.objects.get(account=accounts[0])
    # What a crash between writing an invoice and finishing it would leave.
    Invoice.objects.filter(pk=stuck.pk).update(status="draft_in_progress")
    BillingSchedule.objects.filter(pk=schedules[0].pk).update(status="processing")

    with django_capture_on_commit_callbacks(execute=True):
        sub = batch_run_recover(run_id=run.pk)
    sub.refresh_from_db()
    assert sub.status == "completed"
    assert sub.summary["invoices_canceled"] == [stuck.pk]
    assert sub.summary["schedules_recovered"] == [schedules[0].pk]
    stuck.refresh_from_db()
    assert stuck.status == "canceled"
    assert set(stuck.period_items.values_list("invoice_status", flat=True)) == {"canceled"}
    assert schedule_state(schedules[0]) == (
        "ready_for_invoicing",
        d(2026, 1, 1),
        d(2026, 1, 1),
        D("0.00"),
        D("600.00"),
    )
    assert schedule_state(schedules[1])[:2] == ("ready_for_invoicing", d(2026, 3, 1))  # untouched

    rerun = run_batch(target_date=TARGET)
    assert (rerun.matching_schedules, rerun.invoices_generated) == (1, 1)
    assert set(billed_counts().values()) == {1} and len(billed_counts()) == 4
    assert schedule_state(schedules[0])[1:4] == (d(2026, 3, 1), d(2026, 3, 1), D("100.00"))


def test_recovering_a_run_nobody_finished_bills_its_pending_keys(
    billed, run_batch, no_dispatch, django_capture_on_commit_callbacks
):
    accounts = customers(billed, 3)
    run = run_batch(target_date=TARGET, chunk_size=1)
    assert batch_run_chunk_process(run_id=run.pk, chunk=0) == 1  # then the workers died
    with django_capture_on_commit_callbacks(execute=True):
        sub = batch_run_recover(run_id=run.pk)
    sub.refresh_from_db()
    assert sub.status == "completed"
    assert {k: sub.summary[k] for k in ("keys_billed", "schedules_billed", "keys_reported")} == {
        "keys_billed": 2,
        "schedules_billed": 2,
        "keys_reported": 0,
    }
    assert sub.invoices_generated == 2
    run.refresh_from_db()
    assert (run.status, run.stage, run.schedules_processed, run.invoices_generated) == (
        "completed",
        "done",
        3,
        3,
    )
    assert (run.chunks_total, run.chunks_done, run.progress) == (3, 3, 100)
    assert (run.summary["keys_done"], run.summary["keys_failed"]) == (3, 0)
    assert run.summary["schedules_skipped"] == 0
    assert run.amounts == [{"currency": "USD", "draft": "318.78", "posted": "0.00"}]
    assert sorted(Invoice.objects.filter(batch_run=run).values_list("account_id", flat=True)) == [
        a.pk for a in accounts
    ]
    assert set(billed_counts().values()) == {1} and len(billed_counts()) == 6
    assert [e["event"] for e in run.events] == ["recovered"]


def test_per_schedule_recovery_repairs_the_latest_invoice_and_its_siblings(billed, run_batch):
    account = make_account("Two products", seller=billed.seller)
    subscribe(
        billed,
        account,
        items=[
            seats_item(billed),
            seats_item(billed, product=billed.support, quantity=D("1"), unit_price=D("20.00")),
        ],
    )
    (other,) = customers(billed, 1)
    seats, support_schedule = schedules_of([account])
    (healthy,) = schedules_of([other])
    run_batch(target_date=TARGET)
    invoice = Invoice.objects.get(account=account)
    Invoice.objects.filter(pk=invoice.pk).update(status="draft_in_progress")
    BillingSchedule.objects.filter(pk=seats.pk).update(status="error")

    results = billing_schedules_recover(schedule_ids=[seats.pk, 999999, healthy.pk])
    assert results[0] == {
        "invoice": invoice.pk,
        "invoice_status": "canceled",
        "billing_schedules": [
            {"id": seats.pk, "status": "ready_for_invoicing"},
            {"id": support_schedule.pk, "status": "ready_for_invoicing"},
        ],
        "errors": [],
    }
    assert results[1] == {
        "invoice": None,
        "invoice_status": None,
        "billing_schedules": [],
        "errors": [{"code": "not_found", "message": "Billing schedule 999999 does not exist."}],
    }
    assert results[2]["invoice_status"] == "draft"
    assert results[2]["errors"][0]["code"] == "nothing_to_recover"
    for s in (seats, support_schedule):
        assert schedule_state(s)[:4] == (
            "ready_for_invoicing",
            d(2026, 1, 1),
            d(2026, 1, 1),
            D("0.00"),
        )
    assert schedule_state(healthy)[1] == d(2026, 3, 1)

    # A posted invoice stuck in void_in_progress goes back to posted.
    posted = invoice_post(invoice_id=Invoice.objects.get(account=other).pk)
    Invoice.objects.filter(pk=posted.pk).update(status="void_in_progress")
    (result,) = billing_schedules_recover(schedule_ids=[healthy.pk])
    assert (result["invoice"], result["invoice_status"], result["errors"]) == (
        posted.pk,
        "posted",
        [],
    )
    with pytest.raises(ValidationError):
        billing_schedules_recover(schedule_ids=[])
