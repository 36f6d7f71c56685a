"""Batch runs in-process (eager Celery, after-commit callbacks executed): a run's counters,
filters and exact invoices, failure isolation, posting, draft-to-posted, email, cancel,
idempotent tasks, and two runs over the same schedules processed concurrently by two threads.

Figures: a seats schedule bills 10 × 5.00 = 50.00 a month; Texas tax 6.25 % is 3.13 per
line (3.125 rounded half up), so one month is 53.13 and two are 106.26.
"""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.db import connection

from accounts.models import Account, LegalEntity
from billing.models import BillingSchedule, BillingScheduleGroup
from core.exceptions import ValidationError
from invoicing.exceptions import BatchRunFinished, BatchRunInProgress, BatchRunWrongKind
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    SequencePolicy,
)
from invoicing.services import runs
from invoicing.services.runs import (
    batch_run_cancel,
    batch_run_chunk_process,
    batch_run_draft_to_posted,
    batch_run_drafts,
    batch_run_invoice_ids,
    batch_run_plan,
    batch_run_send_email,
    batch_run_start,
    batch_run_summarise,
    schedules_for_run,
)
from tests.conftest import make_account
from tests.support.invoicing import (
    billed_counts,
    broken_customer,
    customers,
    invoice_line_periods,
    schedule_state,
    schedules_of,
    seats_item,
    subscribe,
)

pytestmark = pytest.mark.django_db

d = dt.date
UTC = dt.UTC
TARGET = d(2026, 2, 15)


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
        assert invoice_line_periods(invoice) == [
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
# Failure isolation


def test_one_broken_key_fails_alone_and_the_run_says_so(billed, broken_tax, run_batch):
    good = customers(billed, 1, prefix="Good A")
    broken = broken_customer(billed)
    good += customers(billed, 2, prefix="Good B")
    (broken_schedule,) = schedules_of([broken])
    before = schedule_state(broken_schedule)

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
    assert schedule_state(broken_schedule) == ("error", *before[1:])
    assert not BillingPeriodItem.objects.filter(schedule=broken_schedule).exists()
    assert sorted(Invoice.objects.values_list("account_id", flat=True)) == sorted(
        a.pk for a in good
    )


def test_a_chunk_that_crashes_around_the_engine_fails_its_keys(billed, run_batch, monkeypatch):
    customers(billed, 3)
    real = runs.generate_for_keys
    calls = []

    def crash_on_second_chunk(planned, *, options):
        calls.append(options.request_id)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(planned, options=options)

    monkeypatch.setattr(runs, "generate_for_keys", crash_on_second_chunk)
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

    monkeypatch.setattr(runs, "schedules_for_run", broken)
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

    # What it posted and failed to post is recorded on the sub-run, so it lists them.
    usd_ids = sorted(Invoice.objects.exclude(account=euro).values_list("pk", flat=True))
    assert list(
        InvoiceBatchRunKey.objects.filter(run=sub).values_list("chunk", "status", "invoice_ids")
    ) == [(0, "done", usd_ids), (0, "failed", [euro_invoice.pk])]
    failed_key = InvoiceBatchRunKey.objects.get(run=sub, status="failed")
    assert failed_key.error.startswith(f"Invoice {euro_invoice.pk}: ")
    assert set(Invoice.objects.filter(pk__in=batch_run_invoice_ids(run_id=sub.pk))) == set(
        Invoice.objects.all()
    )

    with pytest.raises(BatchRunWrongKind):
        batch_run_draft_to_posted(run_id=sub.pk)


def test_draft_to_posted_records_each_posting_batch(
    billed, run_batch, django_capture_on_commit_callbacks, monkeypatch
):
    customers(billed, 2)
    run = run_batch(target_date=TARGET)
    drafts = list(batch_run_drafts(run_id=run.pk).order_by("id").values_list("pk", flat=True))
    assert len(drafts) == 2
    monkeypatch.setattr(runs, "POST_BATCH", 1)
    with django_capture_on_commit_callbacks(execute=True):
        sub = batch_run_draft_to_posted(run_id=run.pk)
    sub.refresh_from_db()
    assert (sub.chunks_total, sub.chunks_done, sub.posted_invoices) == (2, 2, 2)
    assert list(
        InvoiceBatchRunKey.objects.filter(run=sub).values_list("chunk", "key", "invoice_ids")
    ) == [(0, "posting batch 1", [drafts[0]]), (1, "posting batch 2", [drafts[1]])]
    assert not batch_run_drafts(run_id=run.pk).exists()


def test_draft_to_posted_waits_for_the_run_to_finish(billed, run_batch, no_dispatch):
    customers(billed, 1)
    run = run_batch(target_date=TARGET)
    assert run.status == "started"
    with pytest.raises(BatchRunInProgress, match="still running"):
        batch_run_draft_to_posted(run_id=run.pk)


# --------------------------------------------------------------------------------------------
# Two runs at once


@pytest.mark.django_db(transaction=True)
def test_two_runs_over_the_same_schedules_in_two_threads_bill_each_period_once(world, monkeypatch):
    SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    customers(world, 16)
    monkeypatch.setattr(runs, "_queue_chunks", lambda run_id: None)
    monkeypatch.setattr(runs, "_queue_summary", lambda run_id: None)
    started = [batch_run_start(target_date=TARGET, chunk_size=1) for _ in range(2)]
    for run in started:
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
        threading.Thread(target=work, args=(started[0], range(16))),
        threading.Thread(target=work, args=(started[1], reversed(range(16)))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    for run in started:
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
    assert sum(r.schedules_processed for r in started) == 16
    assert sum(r.invoices_generated for r in started) == Invoice.objects.count() == 16


# --------------------------------------------------------------------------------------------
# Email


def test_send_email_sub_run_emails_the_posted_invoices_once(
    billed, run_batch, django_capture_on_commit_callbacks, mailoutbox
):
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


def test_an_email_sub_run_reports_its_progress(
    billed, run_batch, django_capture_on_commit_callbacks, monkeypatch
):
    """The run page follows an email run: its selection is counted at once and its progress
    moves as the invoices are gone through."""
    customers(billed, 2)
    run = run_batch(target_date=TARGET, invoice_status="posted")
    seen = []

    def bulk(*, invoice_ids, batch_run_id, progress):
        for done in (1, 2):
            progress(done, 2)
            seen.append(
                InvoiceBatchRun.objects.values_list("progress", "summary").get(pk=batch_run_id)
            )
        return {"sent": 2, "skipped": 0, "failed": 0, "already_sent": 0, "not_posted": 0}

    monkeypatch.setattr(runs, "invoices_email_send_bulk", bulk)
    with django_capture_on_commit_callbacks(execute=True):
        sub = batch_run_send_email(run_id=run.pk)
    assert seen == [(50, {"invoices_selected": 2}), (95, {"invoices_selected": 2})]
    sub.refresh_from_db()
    assert (sub.status, sub.progress, sub.summary["sent"]) == ("completed", 100, 2)
