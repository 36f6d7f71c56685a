"""Batch runs on real Celery workers (subprocesses) with a real Redis broker, not eager:
a run end to end, a worker SIGKILLed in the middle of a chunk then recovery (which bills the
dead worker's chunk once its lease expires) and a re-run, and two overlapping runs on two
workers. Every period is billed exactly once.

Each test starts `celery -A config worker --pool=solo` on the pytest database and a Redis
database of its own (tests/support/celery_workers.py); the workers are stopped in a `finally`.
"""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db.models import Count

from accounts.models import LegalEntity
from billing.models import BillingSchedule
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    SequencePolicy,
    TaxRate,
)
from invoicing.services.recovery import batch_run_recover
from invoicing.services.runs import (
    batch_run_draft_to_posted,
    batch_run_is_finished,
    batch_run_start,
)
from tests.conftest import make_account
from tests.support.celery_workers import (
    Broker,
    PeriodHeld,
    Worker,
    backends_waiting_on_a_lock,
    other_backends,
    wait_until,
)
from tests.support.invoicing import customers, subscribe
from tests.support.tax_engines import TAX_ENGINE, UNREGISTERED

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

d = dt.date
TARGET = d(2026, 2, 15)  # Jan 1 and Feb 1 are due: two periods of 50.00 per schedule
TIMEOUT = 40


@pytest.fixture
def broker(settings):
    with Broker(settings) as b:
        yield b


@pytest.fixture
def seller(world):
    SequencePolicy.objects.create(
        name="US", pattern="INV-{SEQ}", min_width=4, legal_entity=world.seller, currency="USD"
    )
    TaxRate.objects.create(
        legal_entity=None, name="TX sales tax", rate=D("6.25"), country="US", region="TX"
    )
    return world


def finished(run) -> bool:
    run.refresh_from_db()
    return batch_run_is_finished(run)


def billed_once_everywhere() -> dict:
    """{(schedule, period start): live items} for every period billed: all must be 1."""
    rows = (
        BillingPeriodItem.objects.filter(invoice_status__in=["draft", "posted"])
        .values("schedule_id", "period_start")
        .annotate(n=Count("id"))
    )
    return {(r["schedule_id"], r["period_start"]): r["n"] for r in rows}


def assert_every_schedule_billed_jan_and_feb_once():
    counts = billed_once_everywhere()
    expected = {
        (s, p)
        for s in BillingSchedule.objects.values_list("pk", flat=True)
        for p in (d(2026, 1, 1), d(2026, 2, 1))
    }
    assert set(counts) == expected
    assert set(counts.values()) == {1}
    for s in BillingSchedule.objects.all():
        assert (s.status, s.next_charge_from_date, s.billed_amount) == (
            "ready_for_invoicing",
            d(2026, 3, 1),
            D("100.00"),
        )


def assert_counters_true(run: InvoiceBatchRun):
    run.refresh_from_db()
    invoices = Invoice.objects.filter(batch_run=run)
    assert run.invoices_generated == invoices.count()
    assert run.draft_invoices == invoices.filter(status="draft").count()
    assert run.posted_invoices == invoices.filter(status="posted").count()
    billed = set(
        BillingPeriodItem.objects.filter(batch_run=run).values_list("schedule_id", flat=True)
    )
    assert run.schedules_processed == len(billed)


def test_a_run_end_to_end_on_a_worker_then_its_drafts_posted(seller, broker):
    accounts = customers(seller, 9)
    worker = Worker(broker, name="e2e")
    try:
        run = batch_run_start(target_date=TARGET, chunk_size=2, requested_by="test")
        assert run.status == "started" and run.stage == "queued"
        wait_until(lambda: finished(run), timeout=TIMEOUT, what="the run", workers=[worker])

        assert (run.status, run.stage, run.progress) == ("completed", "done", 100)
        assert (run.matching_schedules, run.schedules_processed, run.schedules_failed) == (9, 9, 0)
        assert (run.invoices_generated, run.invoices_failed) == (9, 0)
        assert (run.draft_invoices, run.posted_invoices) == (9, 0)
        assert (run.chunks_total, run.chunks_done) == (5, 5)  # 9 keys, 2 per chunk
        # 2 × 50.00 + 6.25 % tax (3.13 per line) = 106.26 per invoice.
        assert run.amounts == [{"currency": "USD", "draft": "956.34", "posted": "0.00"}]
        assert run.task_id
        assert set(InvoiceBatchRunKey.objects.filter(run=run).values_list("status", flat=True)) == {
            "done"
        }
        invoices = list(Invoice.objects.filter(batch_run=run).order_by("account_id"))
        assert [i.account_id for i in invoices] == [a.pk for a in accounts]
        assert {(i.status, i.total, i.invoice_date) for i in invoices} == {
            ("draft", D("106.26"), TARGET)
        }
        assert_every_schedule_billed_jan_and_feb_once()
        assert_counters_true(run)

        sub = batch_run_draft_to_posted(run_id=run.pk, requested_by="test")
        wait_until(lambda: finished(sub), timeout=TIMEOUT, what="draft to posted", workers=[worker])
        assert (sub.kind, sub.parent_run_id, sub.status) == ("draft_to_posted", run.pk, "completed")
        assert (sub.posted_invoices, sub.invoices_failed, sub.summary) == (
            9,
            0,
            {"invoices_selected": 9},
        )
        assert sub.amounts == [{"currency": "USD", "draft": "0.00", "posted": "956.34"}]
        numbers = sorted(Invoice.objects.filter(batch_run=run).values_list("number", flat=True))
        assert numbers == [f"INV-{n:04d}" for n in range(1, 10)]
        run.refresh_from_db()
        assert (run.draft_invoices, run.posted_invoices) == (0, 9)
        assert run.amounts == [{"currency": "USD", "draft": "0.00", "posted": "956.34"}]
    finally:
        worker.stop()


def test_a_worker_killed_mid_chunk_then_recovery_and_a_rerun_bill_every_period_once(seller, broker):
    """Chunk size 1: one key per chunk, processed in order by one solo worker. Customer 1's
    seller is unknown to the tax service (its key fails). This test holds an uncommitted
    period item for customer 4's January, so the worker blocks inside chunk 4's transaction
    (its invoice and lines written, its period items waiting on the unique index) and is
    SIGKILLed there. (A row lock on the account would not do: foreign keys are checked at
    COMMIT, and a COMMIT the server has received completes even if the client is dead.)"""
    broken_seller = LegalEntity.objects.create(name=f"{UNREGISTERED} GmbH")
    accounts = []
    for i in range(8):
        if i == 1:
            account = make_account("Customer 001 (broken)", seller=broken_seller)
            subscribe(seller, account)
            accounts.append(account)
        else:
            accounts += customers(seller, 1, prefix=f"Customer {i:03d}")
    schedules = {s.account_id: s for s in BillingSchedule.objects.all()}
    broken = schedules[accounts[1].pk]
    blocked = accounts[4]

    first = Worker(broker, name="doomed", env={"LEDGERLINE_TAX_ENGINE": TAX_ENGINE})
    try:
        with PeriodHeld(schedules[blocked.pk], d(2026, 1, 1), d(2026, 1, 31)):
            run = batch_run_start(target_date=TARGET, chunk_size=1)
            wait_until(
                lambda: (
                    InvoiceBatchRun.objects.get(pk=run.pk).chunks_done == 4
                    and backends_waiting_on_a_lock() == 1
                ),
                timeout=TIMEOUT,
                what="the worker to block inside chunk 4",
                workers=[first],
            )
            first.kill()
        # The held period is rolled back; the killed worker's backend then finds its client
        # gone and rolls chunk 4 back.
        wait_until(lambda: other_backends() == 0, timeout=TIMEOUT, what="the dead connection")
    finally:
        first.stop()

    run.refresh_from_db()
    assert (run.status, run.stage, run.chunks_total, run.chunks_done) == (
        "started",
        "generating",
        8,
        4,
    )
    assert (run.schedules_processed, run.schedules_failed, run.invoices_generated) == (3, 1, 3)
    keys = dict(InvoiceBatchRunKey.objects.filter(run=run).values_list("chunk", "status"))
    assert keys == {
        0: "done",
        1: "failed",
        2: "done",
        3: "done",
        4: "pending",
        5: "pending",
        6: "pending",
        7: "pending",
    }
    assert not BillingPeriodItem.objects.filter(schedule=schedules[blocked.pk]).exists()
    assert set(Invoice.objects.values_list("account_id", flat=True)) == {
        accounts[0].pk,
        accounts[2].pk,
        accounts[3].pk,
    }
    broken.refresh_from_db()
    assert broken.status == "error"
    log = ErrorLog.objects.get(primary_id=broken.pk, primary_type__model="billingschedule")
    assert (log.code, log.batch_run_id) == ("tax_engine_error", run.pk)

    # Chunk 4's key is still leased by the dead worker (its heartbeat stopped with it).
    (dead_key,) = InvoiceBatchRunKey.objects.filter(run=run, chunk=4)
    assert (dead_key.status, dead_key.attempts) == ("pending", 1)
    assert dead_key.lease_owner and dead_key.lease_expires_at

    # A fresh worker whose tax service knows every seller. It first takes the chunks still
    # queued (5–7: the run goes on), then the recovery: chunk 4's message died unacknowledged
    # with the killed worker; recovery waits for its lease to expire (30 s at most) and
    # bills it.
    second = Worker(broker, name="fixed")
    try:
        recovery = batch_run_recover(run_id=run.pk, requested_by="test")
        wait_until(lambda: finished(recovery), timeout=90, what="recovery", workers=[second])
        assert (recovery.kind, recovery.status) == ("recovery", "completed")
        assert recovery.summary == {
            "keys_reopened": 0,
            "keys_billed": 1,
            "schedules_billed": 1,
            "keys_reported": 0,
            "keys_left_to_workers": 0,
            "invoices_canceled": [],
            "schedules_recovered": [broken.pk],
            "schedules_unrecovered": [],
            "invoices_unrecovered": [],
        }
        assert (recovery.schedules_processed, recovery.schedules_failed) == (1, 0)
        assert recovery.invoices_generated == 1
        run.refresh_from_db()
        assert (run.status, run.stage, run.progress) == ("completed_with_errors", "done", 100)
        assert dict(InvoiceBatchRunKey.objects.filter(run=run).values_list("chunk", "status")) == {
            0: "done",
            1: "failed",
            2: "done",
            3: "done",
            4: "done",
            5: "done",
            6: "done",
            7: "done",
        }
        assert (run.schedules_processed, run.schedules_failed, run.invoices_generated) == (7, 1, 7)
        assert run.summary["recovery"]["sub_run"] == recovery.pk
        assert (run.summary["keys_done"], run.summary["keys_failed"]) == (7, 1)
        assert run.summary["schedules_skipped"] == 0
        dead_key.refresh_from_db()
        assert (dead_key.status, dead_key.attempts, dead_key.lease_owner) == ("done", 2, "")
        assert_counters_true(run)
        broken.refresh_from_db()
        assert broken.status == "ready_for_invoicing"
        log.refresh_from_db()
        assert log.is_resolved

        rerun = batch_run_start(target_date=TARGET, chunk_size=3)
        wait_until(lambda: finished(rerun), timeout=TIMEOUT, what="the re-run", workers=[second])
    finally:
        second.stop()
    assert rerun.status == "completed"
    # The re-run bills what the first run left: the recovered customer 1 (customer 4 was
    # billed by the recovery).
    assert (rerun.matching_schedules, rerun.schedules_processed, rerun.schedules_failed) == (
        1,
        1,
        0,
    )
    assert (rerun.invoices_generated, rerun.draft_invoices) == (1, 1)
    assert set(Invoice.objects.filter(batch_run=rerun).values_list("account_id", flat=True)) == {
        accounts[1].pk
    }
    assert_counters_true(rerun)
    assert_every_schedule_billed_jan_and_feb_once()
    assert Invoice.objects.count() == 8
    assert sorted(Invoice.objects.values_list("account_id", flat=True)) == sorted(
        a.pk for a in accounts
    )


def test_two_overlapping_runs_on_two_workers_bill_each_period_once(seller, broker):
    customers(seller, 24)
    workers = [Worker(broker, name="left"), Worker(broker, name="right")]
    try:
        # The same 24 keys, once in one chunk of 24, once in 24 one-key chunks queued behind
        # it: one worker bills the big chunk while the other plans the second run and works
        # through its small chunks, meeting the same schedules (locked, or billed meanwhile).
        big = batch_run_start(target_date=TARGET, chunk_size=24)
        wait_until(
            lambda: InvoiceBatchRun.objects.get(pk=big.pk).stage != "queued",
            timeout=TIMEOUT,
            what="the first run's plan",
            workers=workers,
        )
        runs = [big, batch_run_start(target_date=TARGET, chunk_size=1)]
        wait_until(
            lambda: all(finished(r) for r in runs),
            timeout=TIMEOUT,
            what="both runs",
            workers=workers,
        )
    finally:
        for w in workers:
            w.stop()
    # Whatever the interleaving (the second run may plan while the first bills, or after it
    # has finished and find nothing due), every period is billed exactly once and each run's
    # counters tell the truth. test_runs.py forces a real split between two runs.
    runs = [InvoiceBatchRun.objects.get(pk=r.pk) for r in runs]
    assert_every_schedule_billed_jan_and_feb_once()
    assert runs[0].matching_schedules == 24
    for run in runs:
        assert run.status == "completed"
        assert run.matching_schedules == run.schedules_processed + run.summary["schedules_skipped"]
        assert_counters_true(run)
    assert sum(r.schedules_processed for r in runs) == 24
    assert sum(r.invoices_generated for r in runs) == Invoice.objects.count()
