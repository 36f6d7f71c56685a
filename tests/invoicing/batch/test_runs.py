"""Batch runs in-process (eager Celery, after-commit callbacks executed): a run's counters,
filters, offsets and period-count caps with exact invoices, failure isolation, posting,
draft-to-posted, recovery (run and per schedule), cancel, idempotent tasks, and two runs
over the same schedules processed concurrently by two threads.

Figures: a seats schedule bills 10 × 5.00 = 50.00 a month; Texas tax 6.25 % is 3.13 per
line (3.125 rounded half up), so one month is 53.13 and two are 106.26.
"""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.models import Count

from accounts.models import LegalEntity
from billing.models import BillingSchedule, BillingScheduleGroup
from core.exceptions import ValidationError
from invoicing.exceptions import BatchRunFinished, BatchRunInProgress, BatchRunWrongKind
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
)
from invoicing.services import batch
from invoicing.services.batch import (
    batch_run_cancel,
    batch_run_chunk_process,
    batch_run_draft_to_posted,
    batch_run_plan,
    batch_run_recover,
    batch_run_start,
    batch_run_summarise,
    billing_schedules_recover,
    scheduler_fire,
    schedules_for_run,
)
from invoicing.services.posting import invoice_post
from invoicing.services.scheduling import scheduler_activate, scheduler_save
from tests.conftest import make_account
from tests.invoicing.batch import support
from tests.invoicing.batch.conftest import (
    broken_customer,
    customers,
    schedules_of,
    seats_item,
    subscribe,
)

pytestmark = pytest.mark.django_db

d = dt.date
UTC = dt.UTC
TARGET = d(2026, 2, 15)


def lines(invoice) -> list[tuple]:
    return list(
        invoice.lines.order_by("sort_order").values_list(
            "period_start", "period_end", "amount", "tax_amount"
        )
    )


def billed_counts() -> dict:
    rows = (
        BillingPeriodItem.objects.filter(invoice_status__in=["draft", "posted"])
        .values("schedule_id", "period_start")
        .annotate(n=Count("id"))
    )
    return {(r["schedule_id"], r["period_start"]): r["n"] for r in rows}


def state(schedule) -> tuple:
    schedule.refresh_from_db()
    return (
        schedule.status,
        schedule.next_charge_from_date,
        schedule.next_billing_date,
        schedule.billed_amount,
        schedule.pending_amount,
    )


@pytest.fixture
def broken_tax(settings):
    """Sellers named "Unregistered …" are unknown to the tax service."""
    settings.LEDGERLINE = {**settings.LEDGERLINE, "TAX_ENGINE": support.TAX_ENGINE}


@pytest.fixture
def no_dispatch(monkeypatch):
    """Plan runs without queueing their chunks (the test processes them itself)."""
    monkeypatch.setattr(batch, "_queue_chunks", lambda run_id: None)


# --------------------------------------------------------------------------------------------
# A run


def test_a_run_generates_one_invoice_per_key_and_counts_everything(billed, run_batch):
    accounts = customers(billed, 5)
    run = run_batch(target_date=TARGET, chunk_size=2, requested_by="ops")

    assert (run.kind, run.status, run.stage, run.progress) == (
        "generation",
        "completed",
        "done",
        100,
    )
    assert (run.target_date, run.invoice_date, run.invoice_status) == (TARGET, TARGET, "draft")
    assert (run.matching_schedules, run.schedules_processed, run.schedules_failed) == (5, 5, 0)
    assert (run.invoices_generated, run.invoices_failed) == (5, 0)
    assert (run.draft_invoices, run.posted_invoices) == (5, 0)
    assert (run.chunks_total, run.chunks_done) == (3, 3)
    assert run.amounts == [{"currency": "USD", "draft": "531.30", "posted": "0.00"}]
    assert run.summary == {
        "keys": 5,
        "keys_done": 5,
        "keys_failed": 0,
        "chunk_size": 2,
        "schedules_skipped": 0,
    }
    assert run.started_at <= run.completed_at

    keys = list(InvoiceBatchRunKey.objects.filter(run=run).order_by("id"))
    assert [(k.chunk, k.status) for k in keys] == [
        (0, "done"),
        (0, "done"),
        (1, "done"),
        (1, "done"),
        (2, "done"),
    ]
    invoices = list(Invoice.objects.order_by("account_id"))
    assert [i.account_id for i in invoices] == [a.pk for a in accounts]
    assert [k.invoice_ids for k in keys] == [[i.pk] for i in invoices]
    for invoice in invoices:
        assert (invoice.batch_run_id, invoice.status, invoice.total) == (
            run.pk,
            "draft",
            D("106.26"),
        )
        assert lines(invoice) == [
            (d(2026, 1, 1), d(2026, 1, 31), D("50.00"), D("3.13")),
            (d(2026, 2, 1), d(2026, 2, 28), D("50.00"), D("3.13")),
        ]
    assert set(BillingPeriodItem.objects.values_list("batch_run_id", flat=True)) == {run.pk}
    assert set(billed_counts().values()) == {1} and len(billed_counts()) == 10


def test_a_run_with_nothing_due_completes_empty(billed, run_batch):
    customers(billed, 2)
    run = run_batch(target_date=d(2025, 12, 31))
    assert (run.status, run.matching_schedules, run.chunks_total, run.progress) == (
        "completed",
        0,
        0,
        100,
    )
    assert run.amounts == [] and not Invoice.objects.exists()


def test_posted_run_numbers_its_invoices(billed, run_batch):
    customers(billed, 3)
    run = run_batch(target_date=d(2026, 1, 15), invoice_status="posted")
    assert (run.status, run.draft_invoices, run.posted_invoices) == ("completed", 0, 3)
    assert run.amounts == [{"currency": "USD", "draft": "0.00", "posted": "159.39"}]
    assert sorted(Invoice.objects.values_list("number", "status", "total")) == [
        ("INV-0001", "posted", D("53.13")),
        ("INV-0002", "posted", D("53.13")),
        ("INV-0003", "posted", D("53.13")),
    ]


def test_filters_select_exactly_the_matching_schedules(billed, run_batch):
    europe = LegalEntity.objects.create(name="Ledgerline Europe GmbH")
    east = subscribe(billed, make_account("East", seller=billed.seller), matching_value="east")
    west = subscribe(billed, make_account("West", seller=billed.seller), matching_value="west")
    euro = subscribe(billed, make_account("Euro", seller=europe, currency="EUR"))
    setup = subscribe(
        billed,
        make_account("With setup", seller=billed.seller),
        items=[
            seats_item(billed),
            seats_item(
                billed,
                product=billed.setup,
                quantity=D("1"),
                unit_price=D("250.00"),
                pricing_term="one_time",
                billing_frequency="one_time",
                end_date=None,
            ),
        ],
    )

    def ids(*orders):
        return {s.pk for s in BillingSchedule.objects.filter(order__in=orders)}

    def matching(**filters):
        probe = InvoiceBatchRun(target_date=TARGET, filters=filters)
        return {s.pk for s in schedules_for_run(probe)}

    everything = ids(east, west, euro, setup)
    assert matching() == everything
    assert matching(currencies=["EUR"]) == ids(euro)
    assert matching(currencies=["USD"]) == ids(east, west, setup)
    assert matching(legal_entity=europe.pk) == ids(euro)
    assert matching(accounts=[east.account_id, euro.account_id]) == ids(east, euro)
    assert matching(matching_values=["west", "east"]) == ids(east, west)
    one_time = {s.pk for s in BillingSchedule.objects.filter(charge_type="one_time")}
    assert len(one_time) == 1
    assert matching(charge_types=["one_time"]) == one_time
    assert matching(charge_types=["recurring"]) == everything - one_time
    assert matching(currencies=["USD"], matching_values=["east"]) == ids(east)

    run = run_batch(
        target_date=TARGET, filters={"currencies": ["usd"], "matching_values": ["east"]}
    )
    assert run.filters == {"currencies": ["USD"], "matching_values": ["east"]}
    assert (run.matching_schedules, run.invoices_generated) == (1, 1)
    assert Invoice.objects.get().account_id == east.account_id

    with pytest.raises(ValidationError) as caught:
        batch_run_start(target_date=TARGET, filters={"currencies": ["EURO"]})
    assert "filters.currencies" in caught.value.details


def test_suspended_schedules_are_left_out(billed, run_batch):
    accounts = customers(billed, 3)
    BillingScheduleGroup.objects.filter(account=accounts[1]).update(suspension_date=d(2026, 1, 1))
    run = run_batch(target_date=TARGET)
    assert (run.matching_schedules, run.schedules_processed) == (2, 2)
    assert run.summary["schedules_suspended"] == 1
    assert not Invoice.objects.filter(account=accounts[1]).exists()


# --------------------------------------------------------------------------------------------
# Offsets and period-count caps, through a scheduler


def test_scheduler_offsets_and_period_count_cap_give_exact_invoices(
    billed, django_capture_on_commit_callbacks
):
    (account,) = customers(billed, 1)
    (schedule,) = schedules_of([account])
    s = scheduler_save(
        name="First of the month",
        day_of_month="1",
        time=dt.time(3, 0),
        start_date=d(2026, 1, 1),
        target_date_offset=-1,  # bill through the day before the run
        invoice_date_from_run_date=True,
        invoice_date_offset=0,
        billing_period_count=2,
        invoice_status="posted",
    )
    scheduler_activate(scheduler_id=s.pk)

    def fire(day):
        with django_capture_on_commit_callbacks(execute=True):
            run = scheduler_fire(
                scheduler_id=s.pk, now=dt.datetime.combine(day, dt.time(3, 0), tzinfo=UTC)
            )
        run.refresh_from_db()
        return run, Invoice.objects.get(batch_run=run)

    # Apr 1: target Mar 31; Jan, Feb and Mar are due, the cap bills two.
    run, invoice = fire(d(2026, 4, 1))
    assert (run.target_date, run.invoice_date, run.status) == (
        d(2026, 3, 31),
        d(2026, 4, 1),
        "completed",
    )
    assert (invoice.number, invoice.invoice_date, invoice.due_date, invoice.total) == (
        "INV-0001",
        d(2026, 4, 1),
        d(2026, 5, 1),
        D("106.26"),
    )
    assert lines(invoice) == [
        (d(2026, 1, 1), d(2026, 1, 31), D("50.00"), D("3.13")),
        (d(2026, 2, 1), d(2026, 2, 28), D("50.00"), D("3.13")),
    ]
    assert state(schedule) == (
        "ready_for_invoicing",
        d(2026, 3, 1),
        d(2026, 3, 1),
        D("100.00"),
        D("500.00"),
    )

    # May 1: target Apr 30; Mar and Apr (two more, the cap again).
    run, invoice = fire(d(2026, 5, 1))
    assert [line[0] for line in lines(invoice)] == [d(2026, 3, 1), d(2026, 4, 1)]
    assert (invoice.number, invoice.invoice_date) == ("INV-0002", d(2026, 5, 1))

    # Jun 1: target May 31; only May is due.
    run, invoice = fire(d(2026, 6, 1))
    assert lines(invoice) == [(d(2026, 5, 1), d(2026, 5, 31), D("50.00"), D("3.13"))]
    assert (invoice.number, invoice.total) == ("INV-0003", D("53.13"))
    assert state(schedule)[1:4] == (d(2026, 6, 1), d(2026, 6, 1), D("250.00"))
    assert set(billed_counts().values()) == {1} and len(billed_counts()) == 5


def test_invoice_date_offset_from_the_target_date(billed, django_capture_on_commit_callbacks):
    customers(billed, 1)
    s = scheduler_save(
        name="Mid month",
        day_of_month="15",
        start_date=d(2026, 1, 1),
        target_date_offset=-15,
        invoice_date_offset=3,
        status="active",
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = scheduler_fire(scheduler_id=s.pk, now=dt.datetime(2026, 3, 15, 2, 0, tzinfo=UTC))
    run.refresh_from_db()
    # Run Mar 15 → target Feb 28 (Jan and Feb due) → invoice date Mar 3.
    assert (run.target_date, run.invoice_date) == (d(2026, 2, 28), d(2026, 3, 3))
    invoice = Invoice.objects.get()
    assert (invoice.invoice_date, invoice.due_date, invoice.total) == (
        d(2026, 3, 3),
        d(2026, 4, 2),
        D("106.26"),
    )


# --------------------------------------------------------------------------------------------
# Failure isolation


def test_one_broken_key_fails_alone_and_the_run_says_so(billed, broken_tax, run_batch):
    good = customers(billed, 1, prefix="Good A")
    broken = broken_customer(billed)
    good += customers(billed, 2, prefix="Good B")
    (broken_schedule,) = schedules_of([broken])
    before = state(broken_schedule)

    run = run_batch(target_date=TARGET, chunk_size=2)  # the broken key shares chunk 0

    assert (run.status, run.stage, run.progress) == ("completed_with_errors", "done", 100)
    assert (run.matching_schedules, run.schedules_processed, run.schedules_failed) == (4, 3, 1)
    assert (run.invoices_generated, run.invoices_failed, run.draft_invoices) == (3, 1, 3)
    assert run.amounts == [{"currency": "USD", "draft": "318.78", "posted": "0.00"}]
    assert run.summary["keys_failed"] == 1

    keys = list(InvoiceBatchRunKey.objects.filter(run=run).order_by("id"))
    assert [(k.chunk, k.status) for k in keys] == [
        (0, "done"),
        (0, "failed"),
        (1, "done"),
        (1, "done"),
    ]
    assert keys[1].schedule_ids == [broken_schedule.pk]
    assert keys[1].error.startswith("The tax service has no registration for legal entity")
    assert keys[0].invoice_ids == [Invoice.objects.get(account=good[0]).pk]

    log = ErrorLog.objects.get()
    assert (log.category, log.code, log.primary_id, log.batch_run_id, log.request_id) == (
        "generation",
        "tax_engine_error",
        broken_schedule.pk,
        run.pk,
        f"batch-{run.pk}-0",
    )
    assert "Register the legal entity with the tax service" in log.message
    assert state(broken_schedule) == ("error", *before[1:])
    assert not BillingPeriodItem.objects.filter(schedule=broken_schedule).exists()
    assert sorted(Invoice.objects.values_list("account_id", flat=True)) == sorted(
        a.pk for a in good
    )


def test_a_chunk_that_crashes_around_the_engine_fails_its_keys(billed, run_batch, monkeypatch):
    customers(billed, 3)
    real = batch.generate_for_keys
    calls = []

    def crash_on_second_chunk(planned, *, options):
        calls.append(options.request_id)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(planned, options=options)

    monkeypatch.setattr(batch, "generate_for_keys", crash_on_second_chunk)
    run = run_batch(target_date=TARGET, chunk_size=1)
    assert (run.status, run.schedules_processed, run.schedules_failed) == (
        "completed_with_errors",
        2,
        1,
    )
    assert (run.invoices_generated, run.invoices_failed, run.chunks_done) == (2, 1, 3)
    failed = InvoiceBatchRunKey.objects.get(run=run, status="failed")
    assert failed.chunk == 1 and "RuntimeError: disk full" in failed.error
    log = ErrorLog.objects.get()
    assert (log.category, log.code, log.batch_run_id, log.primary_id) == (
        "batch_run",
        "chunk_failed",
        run.pk,
        run.pk,
    )


def test_planning_that_fails_marks_the_run_failed(billed, run_batch, monkeypatch):
    customers(billed, 1)

    def broken(run):
        raise RuntimeError("statement timeout")

    monkeypatch.setattr(batch, "schedules_for_run", broken)
    run = run_batch(target_date=TARGET)
    assert (run.status, run.stage) == ("failed", "done")
    assert run.summary["error"] == {
        "code": "planning_failed",
        "message": "RuntimeError: statement timeout",
    }
    log = ErrorLog.objects.get()
    assert (log.category, log.code, log.batch_run_id) == ("batch_run", "planning_failed", run.pk)


# --------------------------------------------------------------------------------------------
# Idempotent tasks, cancel


def test_redelivered_tasks_change_nothing(billed, run_batch, django_capture_on_commit_callbacks):
    customers(billed, 3)
    run = run_batch(target_date=TARGET, chunk_size=1)
    before = InvoiceBatchRun.objects.values().get(pk=run.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_run_chunk_process(run_id=run.pk, chunk=0) == 0
        batch_run_plan(run_id=run.pk)
        batch_run_summarise(run_id=run.pk)
    assert InvoiceBatchRun.objects.values().get(pk=run.pk) == before
    assert Invoice.objects.count() == 3
    assert batch_run_chunk_process(run_id=987654, chunk=0) == 0  # a run deleted meanwhile


def test_cancel_drops_the_keys_not_yet_processed(billed, run_batch, no_dispatch):
    customers(billed, 3)
    run = run_batch(target_date=TARGET, chunk_size=1)
    assert (run.status, run.stage, run.chunks_total) == ("started", "generating", 3)
    assert batch_run_chunk_process(run_id=run.pk, chunk=0) == 1
    run = batch_run_cancel(run_id=run.pk)
    assert (run.status, run.stage, run.invoices_generated) == ("canceled", "done", 1)
    assert run.summary["keys_canceled"] == 2
    assert list(
        InvoiceBatchRunKey.objects.filter(run=run).order_by("chunk").values_list("status", "error")
    ) == [
        ("done", ""),
        ("failed", "Canceled before it was processed."),
        ("failed", "Canceled before it was processed."),
    ]
    assert batch_run_chunk_process(run_id=run.pk, chunk=1) == 0
    with pytest.raises(BatchRunFinished):
        batch_run_cancel(run_id=run.pk)


# --------------------------------------------------------------------------------------------
# Draft to posted


def test_draft_to_posted_posts_the_runs_drafts_as_a_sub_run(
    billed, run_batch, django_capture_on_commit_callbacks
):
    customers(billed, 2)
    euro = make_account("Euro buyer", seller=billed.seller, currency="EUR")  # no EUR policy
    subscribe(billed, euro)
    run = run_batch(target_date=TARGET)
    assert run.draft_invoices == 3

    with django_capture_on_commit_callbacks(execute=True):
        sub = batch_run_draft_to_posted(run_id=run.pk, requested_by="ops")
    sub.refresh_from_db()
    assert (sub.kind, sub.parent_run_id, sub.status, sub.stage) == (
        "draft_to_posted",
        run.pk,
        "completed_with_errors",
        "done",
    )
    assert (sub.posted_invoices, sub.invoices_failed, sub.draft_invoices) == (2, 1, 1)
    assert sub.summary == {"invoices_selected": 3}
    assert sub.amounts == [
        {"currency": "EUR", "draft": "106.26", "posted": "0.00"},
        {"currency": "USD", "draft": "0.00", "posted": "212.52"},
    ]
    euro_invoice = Invoice.objects.get(account=euro)
    assert euro_invoice.status == "draft" and euro_invoice.number is None
    log = ErrorLog.objects.get(category="posting")
    assert (log.code, log.primary_id, log.batch_run_id) == (
        "no_sequence_policy",
        euro_invoice.pk,
        sub.pk,
    )
    assert sorted(Invoice.objects.exclude(account=euro).values_list("number", flat=True)) == [
        "INV-0001",
        "INV-0002",
    ]
    assert set(Invoice.objects.exclude(account=euro).values_list("posted_by", flat=True)) == {"ops"}
    run.refresh_from_db()
    assert (run.draft_invoices, run.posted_invoices) == (1, 2)
    assert run.amounts == sub.amounts

    with pytest.raises(BatchRunWrongKind):
        batch_run_draft_to_posted(run_id=sub.pk)


def test_draft_to_posted_waits_for_the_run_to_finish(billed, run_batch, no_dispatch):
    customers(billed, 1)
    run = run_batch(target_date=TARGET)
    assert run.status == "started"
    with pytest.raises(BatchRunInProgress, match="still running"):
        batch_run_draft_to_posted(run_id=run.pk)


# --------------------------------------------------------------------------------------------
# Recovery


def test_run_recovery_resets_failed_schedules_then_a_rerun_bills_them(
    billed, settings, run_batch, django_capture_on_commit_callbacks
):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "TAX_ENGINE": support.TAX_ENGINE}
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
        "keys_abandoned": 0,
        "schedules_abandoned": 0,
        "invoices_canceled": [],
        "schedules_recovered": [schedule.pk],
        "schedules_unrecovered": [],
        "invoices_unrecovered": [],
    }
    assert (sub.matching_schedules, sub.schedules_processed, sub.schedules_failed) == (1, 1, 0)
    assert state(schedule) == (
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
    assert state(schedules[0]) == (
        "ready_for_invoicing",
        d(2026, 1, 1),
        d(2026, 1, 1),
        D("0.00"),
        D("600.00"),
    )
    assert state(schedules[1])[:2] == ("ready_for_invoicing", d(2026, 3, 1))  # untouched

    rerun = run_batch(target_date=TARGET)
    assert (rerun.matching_schedules, rerun.invoices_generated) == (1, 1)
    assert set(billed_counts().values()) == {1} and len(billed_counts()) == 4
    assert state(schedules[0])[1:4] == (d(2026, 3, 1), d(2026, 3, 1), D("100.00"))


def test_recovering_a_run_nobody_finished_abandons_its_pending_keys(
    billed, run_batch, no_dispatch, django_capture_on_commit_callbacks
):
    customers(billed, 3)
    run = run_batch(target_date=TARGET, chunk_size=1)
    assert batch_run_chunk_process(run_id=run.pk, chunk=0) == 1  # then the workers died
    with django_capture_on_commit_callbacks(execute=True):
        sub = batch_run_recover(run_id=run.pk)
    sub.refresh_from_db()
    assert (sub.status, sub.summary["keys_abandoned"], sub.summary["schedules_abandoned"]) == (
        "completed",
        2,
        2,
    )
    run.refresh_from_db()
    assert (run.status, run.stage, run.schedules_processed, run.invoices_generated) == (
        "completed_with_errors",
        "done",
        1,
        1,
    )
    assert (run.summary["keys_done"], run.summary["keys_failed"]) == (1, 2)
    assert run.summary["schedules_abandoned"] == 2 and run.summary["schedules_skipped"] == 0


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
        assert state(s)[:4] == ("ready_for_invoicing", d(2026, 1, 1), d(2026, 1, 1), D("0.00"))
    assert state(healthy)[1] == d(2026, 3, 1)

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


# --------------------------------------------------------------------------------------------
# Two runs at once


@pytest.mark.django_db(transaction=True)
def test_two_runs_over_the_same_schedules_in_two_threads_bill_each_period_once(world, monkeypatch):
    from invoicing.models import SequencePolicy

    SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    customers(world, 16)
    monkeypatch.setattr(batch, "_queue_chunks", lambda run_id: None)
    monkeypatch.setattr(batch, "_queue_summary", lambda run_id: None)
    runs = [batch_run_start(target_date=TARGET, chunk_size=1) for _ in range(2)]
    for run in runs:
        run.refresh_from_db()
        assert (run.stage, run.chunks_total, run.matching_schedules) == ("generating", 16, 16)

    start = threading.Barrier(2)
    errors = []

    def work(run, order):
        try:
            start.wait(timeout=10)
            for chunk in order:
                batch_run_chunk_process(run_id=run.pk, chunk=chunk)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=(runs[0], range(16))),
        threading.Thread(target=work, args=(runs[1], reversed(range(16)))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    for run in runs:
        batch_run_summarise(run_id=run.pk)
        run.refresh_from_db()
        assert run.status == "completed"
        assert run.invoices_generated == Invoice.objects.filter(batch_run=run).count()
        billed = set(
            BillingPeriodItem.objects.filter(batch_run=run).values_list("schedule_id", flat=True)
        )
        assert run.schedules_processed == len(billed)
    counts = billed_counts()
    assert len(counts) == 32 and set(counts.values()) == {1}
    assert sum(r.schedules_processed for r in runs) == 16
    assert sum(r.invoices_generated for r in runs) == Invoice.objects.count() == 16


# --------------------------------------------------------------------------------------------
# Email


def test_send_email_sub_run_emails_the_posted_invoices_once(
    billed, run_batch, django_capture_on_commit_callbacks, mailoutbox
):
    from accounts.models import Account
    from invoicing.services.batch import batch_run_send_email

    accounts = customers(billed, 2)
    Account.objects.filter(pk=accounts[1].pk).update(bulk_email_opt_out=True)
    draft_run = run_batch(target_date=d(2026, 1, 15))  # January, left draft
    run = run_batch(target_date=TARGET, invoice_status="posted")  # February, posted
    assert run.status == "completed" and run.posted_invoices == 2

    def send():
        with django_capture_on_commit_callbacks(execute=True):
            sub = batch_run_send_email(run_id=run.pk, requested_by="ops")
        sub.refresh_from_db()
        return sub

    sub = send()
    assert (sub.kind, sub.parent_run_id, sub.status, sub.stage) == (
        "email",
        run.pk,
        "completed",
        "done",
    )
    assert sub.summary == {
        "invoices_selected": 2,
        "sent": 1,
        "skipped": 1,
        "failed": 0,
        "already_sent": 0,
        "not_posted": 0,
    }
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["ap@example.com"]
    assert sub.summary["sent"] == 1
    again = send()
    assert (again.summary["sent"], again.summary["already_sent"]) == (0, 1)
    assert len(mailoutbox) == 1
    assert draft_run.draft_invoices == 2  # drafts of the other run are not emailed
