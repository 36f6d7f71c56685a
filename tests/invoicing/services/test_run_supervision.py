"""Self-healing batch runs on real PostgreSQL connections (docs/batch-runs.md, "Self-healing"):
chunk leases and their heartbeat, the supervisor that queues lost chunks again and closes
finished runs, schedules held by another transaction retried (or reported), a worker whose
lease was taken over rolling its chunk back, and recovery billing what a run left.

Workers are simulated as in test_runs.py: chunk processing called in this thread or in
threads of their own (each with its own database connection); Celery is eager, so a chunk
the supervisor queues again runs at once, after the supervisor's commit. A "dead" worker is
a lease claimed under a name that never renews it.

Figures: a seats schedule bills 10 × 5.00 = 50.00 a month; Texas tax 6.25 % is 3.13 per
line, so January and February make 106.26 per customer.
"""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.models import BillingSchedule
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
)
from invoicing.services import generation, runs
from invoicing.services.recovery import batch_run_recover
from invoicing.services.runs import (
    LeaseHeartbeat,
    batch_run_cancel,
    batch_run_chunk_process,
    batch_run_start,
    batch_runs_supervise,
    keys_claim,
)
from tests.support.invoicing import billed_counts, customers, schedules_of

pytestmark = pytest.mark.django_db(transaction=True)

d = dt.date
TARGET = d(2026, 2, 15)
DEAD = "dead-task@worker-1:4242"  # a worker that claimed keys, then was SIGKILLed
AFTER_LEASE = dt.timedelta(seconds=31)  # the default lease is 30 s
AFTER_GRACE = dt.timedelta(seconds=46)  # a queued chunk counts as lost after 45 s


@pytest.fixture
def quick_retries(monkeypatch):
    """Held schedules are tried again after 0.05 s (not 0.5, 1, 2 s)."""
    monkeypatch.setattr(runs, "HELD_RETRY_DELAYS", (0.05,))


@pytest.fixture
def planned_only(monkeypatch):
    """Runs are planned, their chunks not queued: the test plays the workers."""
    monkeypatch.setattr(runs, "_queue_chunks", lambda run_id: None)


def later(delta: dt.timedelta) -> dt.datetime:
    return timezone.now() + delta


def keys_of(run) -> list[InvoiceBatchRunKey]:
    return list(InvoiceBatchRunKey.objects.filter(run=run).order_by("id"))


def every_period_billed_once(n_schedules: int) -> None:
    counts = billed_counts()
    assert set(counts.values()) == {1}
    assert len(counts) == 2 * n_schedules  # January and February


def counters_tell_the_truth(run) -> None:
    run.refresh_from_db()
    invoices = Invoice.objects.filter(batch_run=run)
    assert run.invoices_generated == invoices.count()
    assert run.draft_invoices == invoices.filter(status="draft").count()
    billed = set(
        BillingPeriodItem.objects.filter(batch_run=run).values_list("schedule_id", flat=True)
    )
    assert run.schedules_processed == len(billed)
    assert sum((i.total for i in invoices), D("0")) == sum(
        (line.amount + line.tax_amount for i in invoices for line in i.lines.all()), D("0")
    )


class RowsHeld:
    """Lock billing schedules FOR UPDATE from a thread with a connection of its own, as a
    long transaction elsewhere (an on-demand generation, another run) would, until exit."""

    def __init__(self, ids) -> None:
        self.ids = list(ids)
        self.held, self.release = threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def _hold(self) -> None:
        from django.db import connection as own

        try:
            with transaction.atomic():
                list(BillingSchedule.objects.select_for_update().filter(pk__in=self.ids))
                self.held.set()
                self.release.wait(timeout=60)
        except BaseException as exc:  # reported to the test
            self.error = exc
            self.held.set()
        finally:
            own.close()

    def __enter__(self) -> "RowsHeld":
        self.thread = threading.Thread(target=self._hold, daemon=True)
        self.thread.start()
        assert self.held.wait(timeout=30)
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.thread.join(timeout=30)


# --------------------------------------------------------------------------------------------
# A lost chunk


def test_a_chunk_whose_worker_died_is_queued_again_once_its_lease_expires(billed, planned_only):
    accounts = customers(billed, 4)
    run = batch_run_start(target_date=TARGET, chunk_size=2)
    run.refresh_from_db()
    assert (run.stage, run.chunks_total) == ("generating", 2)

    # A worker claims chunk 0 and dies; another worker processes chunk 1.
    dead = keys_claim(run.pk, owner=DEAD, chunk=0)
    assert [(k.chunk, k.attempts, k.lease_owner) for k in dead] == [(0, 1, DEAD), (0, 1, DEAD)]
    assert batch_run_chunk_process(run_id=run.pk, chunk=1) == 2

    # Within the lease, nothing is done: the worker may be alive.
    assert batch_runs_supervise() == {"runs": 1}
    run.refresh_from_db()
    assert (run.status, run.redispatches, run.events) == ("started", 0, [])
    # The dead worker's chunk message comes back (another copy): it cannot take live keys.
    assert batch_run_chunk_process(run_id=run.pk, chunk=0) == 0

    # Its lease expired: the supervisor queues chunk 0 again; a worker (eager) bills it, the
    # run completes.
    report = batch_runs_supervise(now=later(AFTER_LEASE))
    assert report == {"runs": 1, "redispatched": 1}
    run.refresh_from_db()
    assert (run.status, run.stage, run.progress) == ("completed", "done", 100)
    assert (run.matching_schedules, run.schedules_processed, run.schedules_failed) == (4, 4, 0)
    assert (run.invoices_generated, run.invoices_failed, run.chunks_done) == (4, 0, 2)
    assert run.amounts == [{"currency": "USD", "draft": "425.04", "posted": "0.00"}]
    assert run.redispatches == 1
    (event,) = run.events
    assert {k: v for k, v in event.items() if k != "at"} == {
        "event": "chunk_redispatched",
        "chunk": 0,
        "keys": 2,
        "attempt": 2,
        "detail": "lease expired: its worker was lost",
    }
    assert [(k.chunk, k.status, k.attempts, k.lease_owner) for k in keys_of(run)] == [
        (0, "done", 2, ""),
        (0, "done", 2, ""),
        (1, "done", 1, ""),
        (1, "done", 1, ""),
    ]
    assert sorted(Invoice.objects.values_list("account_id", flat=True)) == [a.pk for a in accounts]
    every_period_billed_once(4)
    counters_tell_the_truth(run)

    # The dead worker's message redelivered at last (Redis visibility timeout): nothing left.
    assert batch_run_chunk_process(run_id=run.pk, chunk=0, owner=DEAD) == 0
    assert Invoice.objects.count() == 4
    assert batch_runs_supervise(now=later(AFTER_LEASE)) == {}


def test_a_worker_whose_lease_was_taken_over_rolls_its_chunk_back(
    billed, planned_only, quick_retries, settings, monkeypatch
):
    """A worker that stalls past its lease (no heartbeat) while its chunk's transaction is
    open: the supervisor queues the chunk again; the new worker finds the schedules locked
    and gives the keys back; the stalled worker then finds its keys no longer its own and
    rolls back; the next re-dispatch bills them. Every period is billed exactly once."""
    settings.LEDGERLINE = {**settings.LEDGERLINE, "BATCH_HEARTBEAT_SECONDS": 0}
    customers(billed, 2)
    run = batch_run_start(target_date=TARGET, chunk_size=2)
    real = runs.generate_for_keys
    generated, go_on = threading.Event(), threading.Event()

    def stalls_in_the_slow_thread(planned, *, options):
        result = real(planned, options=options)
        if threading.current_thread().name == "slow":
            generated.set()  # invoices written, schedules locked, not committed
            go_on.wait(timeout=30)
        return result

    monkeypatch.setattr(runs, "generate_for_keys", stalls_in_the_slow_thread)
    finished = []

    def slow_worker():
        try:
            finished.append(batch_run_chunk_process(run_id=run.pk, chunk=0, owner="slow@w:1"))
        finally:
            connection.close()

    thread = threading.Thread(target=slow_worker, name="slow")
    thread.start()
    assert generated.wait(timeout=30)

    assert batch_runs_supervise(now=later(AFTER_LEASE)) == {"runs": 1, "redispatched": 1}
    # The re-dispatched chunk ran (eager): the schedules were held, so it billed nothing and
    # gave the keys back.
    assert Invoice.objects.count() == 0
    assert [(k.status, k.lease_owner, k.error_code) for k in keys_of(run)] == [
        ("pending", "", "schedules_held"),
        ("pending", "", "schedules_held"),
    ]

    go_on.set()
    thread.join(timeout=30)
    assert finished == [0]  # its keys were no longer its own: rolled back
    assert not BillingPeriodItem.objects.exists() and not Invoice.objects.exists()

    assert batch_runs_supervise(now=later(AFTER_LEASE)) == {"runs": 1, "redispatched": 1}
    run.refresh_from_db()
    assert (run.status, run.schedules_processed, run.invoices_generated) == ("completed", 2, 2)
    assert run.redispatches == 2
    assert [e["detail"] for e in run.events] == [
        "lease expired: its worker was lost",
        "its schedules were held by another transaction",
    ]
    every_period_billed_once(2)
    counters_tell_the_truth(run)


def test_a_chunk_lost_every_time_is_reported_then_recovery_bills_it(
    billed, planned_only, settings, monkeypatch
):
    """A chunk that kills its worker each time (say, it runs out of memory): after
    BATCH_KEY_ATTEMPTS claims the supervisor stops queueing it, reports it and closes the
    run; a human fixes the workers and presses Recover, which bills it."""
    settings.LEDGERLINE = {**settings.LEDGERLINE, "BATCH_KEY_ATTEMPTS": 2}
    accounts = customers(billed, 2)
    run = batch_run_start(target_date=TARGET, chunk_size=1)
    assert batch_run_chunk_process(run_id=run.pk, chunk=1) == 1
    assert len(keys_claim(run.pk, owner="doomed-1@w:1", chunk=0)) == 1

    def taken_by_a_worker_that_dies(run_id, chunks):
        for chunk in chunks:
            keys_claim(run_id, owner="doomed-2@w:2", chunk=chunk)

    monkeypatch.setattr(runs, "_queue_chunk_list", taken_by_a_worker_that_dies)
    assert batch_runs_supervise(now=later(AFTER_LEASE)) == {"runs": 1, "redispatched": 1}
    assert batch_runs_supervise(now=later(2 * AFTER_LEASE)) == {
        "runs": 1,
        "given_up": 1,
        "closed": 1,
    }
    run.refresh_from_db()
    assert (run.status, run.schedules_processed, run.schedules_failed) == (
        "completed_with_errors",
        1,
        1,
    )
    assert (run.invoices_generated, run.invoices_failed, run.redispatches) == (1, 1, 1)
    key = InvoiceBatchRunKey.objects.get(run=run, chunk=0)
    assert (key.status, key.error_code, key.attempts, key.lease_owner) == (
        "failed",
        "chunk_lost",
        2,
        "",
    )
    log = ErrorLog.objects.get()
    assert (log.code, log.batch_run_id, log.related_id) == ("chunk_lost", run.pk, key.pk)
    assert log.message.startswith(
        f"Chunk 0 of batch run {run.pk} was lost with its worker 2 times; its 1 schedules ("
    )
    assert [e["event"] for e in run.events] == ["chunk_redispatched", "keys_reported", "closed"]
    assert not Invoice.objects.filter(account=accounts[0]).exists()

    sub = batch_run_recover(run_id=run.pk, requested_by="ops")
    sub.refresh_from_db()
    assert (sub.status, sub.invoices_generated, sub.summary["keys_billed"]) == ("completed", 1, 1)
    run.refresh_from_db()
    assert (run.status, run.schedules_processed, run.schedules_failed) == ("completed", 2, 0)
    assert (run.invoices_generated, run.invoices_failed) == (2, 0)
    assert [e["event"] for e in run.events][-2:] == ["keys_reopened", "recovered"]
    assert ErrorLog.objects.get().is_resolved
    every_period_billed_once(2)
    counters_tell_the_truth(run)


# --------------------------------------------------------------------------------------------
# Schedules held by another transaction


def test_a_schedule_held_by_another_transaction_is_retried_until_billed(billed, quick_retries):
    accounts = customers(billed, 3)
    held = schedules_of([accounts[1]])[0]
    with RowsHeld([held.pk]):
        run = batch_run_start(target_date=TARGET)  # one chunk, run at once (eager)
        run.refresh_from_db()
        # Two keys billed; the held schedule's key waits: the run is not completed.
        assert (run.status, run.stage, run.schedules_processed, run.invoices_generated) == (
            "started",
            "generating",
            2,
            2,
        )
        key = InvoiceBatchRunKey.objects.get(run=run, schedule_ids=[held.pk])
        assert (key.status, key.error_code, key.lease_owner, key.attempts) == (
            "pending",
            "schedules_held",
            "",
            1,
        )
        assert f"Billing schedule(s) {held.pk} held locked by another transaction" in key.error
        # The supervisor tries again; still held.
        assert batch_runs_supervise(now=later(dt.timedelta(seconds=1))) == {
            "runs": 1,
            "redispatched": 1,
        }
        run.refresh_from_db()
        assert run.status == "started"
        assert not BillingPeriodItem.objects.filter(schedule=held).exists()
    # Released: the next round bills it and the run completes.
    assert batch_runs_supervise(now=later(dt.timedelta(seconds=1))) == {
        "runs": 1,
        "redispatched": 1,
    }
    run.refresh_from_db()
    assert (run.status, run.schedules_processed, run.schedules_failed) == ("completed", 3, 0)
    assert (run.invoices_generated, run.redispatches) == (3, 2)
    assert run.summary["schedules_skipped"] == 0
    assert [e["detail"] for e in run.events] == [
        "its schedules were held by another transaction",
        "its schedules were held by another transaction",
    ]
    key.refresh_from_db()
    assert (key.status, key.error_code, key.attempts) == ("done", "", 3)
    assert key.invoice_ids == [Invoice.objects.get(account=accounts[1]).pk]
    every_period_billed_once(3)
    counters_tell_the_truth(run)
    assert not ErrorLog.objects.exists()


def test_a_schedule_held_through_every_attempt_is_reported_then_recovery_bills_it(
    billed, quick_retries, settings
):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "BATCH_KEY_ATTEMPTS": 2}
    accounts = customers(billed, 2)
    held = schedules_of([accounts[0]])[0]
    with RowsHeld([held.pk]):
        run = batch_run_start(target_date=TARGET)
        assert batch_runs_supervise(now=later(dt.timedelta(seconds=1)))["redispatched"] == 1
        # Claimed twice: the next round reports the key instead of trying a third time.
        report = batch_runs_supervise(now=later(dt.timedelta(seconds=2)))
        assert report == {"runs": 1, "given_up": 1, "closed": 1}
        run.refresh_from_db()
        assert (run.status, run.schedules_processed, run.schedules_failed) == (
            "completed_with_errors",
            1,
            1,
        )
        assert (run.invoices_failed, run.summary["keys_failed"]) == (1, 1)
        log = ErrorLog.objects.get()
        assert (log.category, log.code, log.batch_run_id, log.primary_id) == (
            "batch_run",
            "schedules_held",
            run.pk,
            run.pk,
        )
        assert f"billing schedules ({held.pk}) stayed locked by another transaction" in (
            log.message
        )
        assert "recover the run: recovery bills them" in log.message
        held.refresh_from_db()
        assert held.status == "ready_for_invoicing"  # not in error: nothing went wrong with it
        assert [e["event"] for e in run.events] == [
            "chunk_redispatched",
            "keys_reported",
            "closed",
        ]

    # Whatever held it is gone; a human presses Recover: the schedule is billed by the run.
    sub = batch_run_recover(run_id=run.pk, requested_by="ops")
    sub.refresh_from_db()
    assert (sub.status, sub.invoices_generated) == ("completed", 1)
    assert {k: sub.summary[k] for k in ("keys_reopened", "keys_billed", "schedules_billed")} == {
        "keys_reopened": 1,
        "keys_billed": 1,
        "schedules_billed": 1,
    }
    run.refresh_from_db()
    assert (run.status, run.schedules_processed, run.schedules_failed) == ("completed", 2, 0)
    assert (run.invoices_generated, run.invoices_failed, run.summary["keys_failed"]) == (2, 0, 0)
    assert ErrorLog.objects.get().is_resolved
    every_period_billed_once(2)
    counters_tell_the_truth(run)


# --------------------------------------------------------------------------------------------
# Lost messages, lost summaries


def test_a_run_whose_summary_was_lost_is_closed_by_the_supervisor(billed, monkeypatch):
    customers(billed, 2)
    monkeypatch.setattr(runs, "_queue_summary", lambda run_id: None)
    run = batch_run_start(target_date=TARGET)
    run.refresh_from_db()
    assert (run.status, run.schedules_processed) == ("started", 2)
    assert batch_runs_supervise() == {"runs": 1, "closed": 1}
    run.refresh_from_db()
    assert (run.status, run.stage, run.progress) == ("completed", "done", 100)
    assert [(e["event"], e["detail"]) for e in run.events] == [("closed", "every key finished")]
    assert run.redispatches == 0
    assert batch_runs_supervise() == {}


def test_chunks_whose_messages_were_lost_are_queued_again_once_the_run_stands_still(
    billed, planned_only
):
    customers(billed, 3)
    run = batch_run_start(target_date=TARGET, chunk_size=1)
    # Queued a moment ago: a worker may still take them.
    assert batch_runs_supervise(now=later(dt.timedelta(seconds=10))) == {"runs": 1}
    report = batch_runs_supervise(now=later(AFTER_GRACE))
    assert report == {"runs": 1, "redispatched": 3}
    run.refresh_from_db()
    assert (run.status, run.invoices_generated, run.redispatches) == ("completed", 3, 3)
    assert {e["detail"] for e in run.events} == {"queued but never started: its message was lost"}
    every_period_billed_once(3)


def test_a_run_whose_planning_message_was_lost_is_planned_again(billed, monkeypatch):
    customers(billed, 2)
    monkeypatch.setattr(runs, "_queue_plan", lambda run_id, chunk_size: None)
    run = batch_run_start(target_date=TARGET)
    run.refresh_from_db()
    assert (run.status, run.stage) == ("started", "queued")
    assert batch_runs_supervise() == {"runs": 1}
    assert batch_runs_supervise(now=later(AFTER_GRACE)) == {"runs": 1, "replanned": 1}
    run.refresh_from_db()
    assert (run.status, run.matching_schedules, run.invoices_generated) == ("completed", 2, 2)
    assert (run.redispatches, run.events[0]["event"]) == (1, "plan_redispatched")


def test_the_supervisor_leaves_a_run_another_transaction_holds(billed, planned_only):
    customers(billed, 1)
    run = batch_run_start(target_date=TARGET)
    locked, release = threading.Event(), threading.Event()

    def summarising():  # holds the run's row lock, as planning or a summary does
        try:
            with transaction.atomic():
                list(InvoiceBatchRun.objects.select_for_update().filter(pk=run.pk))
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=summarising)
    thread.start()
    assert locked.wait(timeout=30)
    try:
        assert batch_runs_supervise(now=later(AFTER_GRACE)) == {}
    finally:
        release.set()
        thread.join(timeout=30)
    assert batch_runs_supervise(now=later(AFTER_GRACE)) == {"runs": 1, "redispatched": 1}


# --------------------------------------------------------------------------------------------
# Leases: heartbeat, cancel


def test_the_heartbeat_renews_only_its_own_pending_keys(billed, planned_only):
    customers(billed, 3)
    run = batch_run_start(target_date=TARGET, chunk_size=2)
    mine = keys_claim(run.pk, owner="alive@w:1", chunk=0)
    other = keys_claim(run.pk, owner="other@w:2", chunk=1)
    past = timezone.now() - dt.timedelta(minutes=5)
    InvoiceBatchRunKey.objects.filter(run=run).update(lease_expires_at=past)

    beat = LeaseHeartbeat([k.pk for k in mine + other], owner="alive@w:1")
    assert beat.renew() == 2
    leases = dict(InvoiceBatchRunKey.objects.values_list("pk", "lease_expires_at"))
    for k in mine:
        assert leases[k.pk] > timezone.now() + dt.timedelta(seconds=25)
    assert leases[other[0].pk] == past

    # From its thread, every `interval` seconds, until the chunk ends.
    beat.interval = 0.05
    InvoiceBatchRunKey.objects.filter(run=run).update(lease_expires_at=past)
    with beat:
        deadline = timezone.now() + dt.timedelta(seconds=10)
        while beat.beats < 3 and timezone.now() < deadline:
            threading.Event().wait(0.05)
    assert beat.beats >= 3
    assert InvoiceBatchRunKey.objects.get(pk=mine[0].pk).lease_expires_at > timezone.now()
    assert not beat._thread.is_alive()


def test_cancel_leaves_the_keys_a_live_worker_holds(billed, planned_only):
    customers(billed, 3)
    run = batch_run_start(target_date=TARGET, chunk_size=1)
    (working,) = keys_claim(run.pk, owner="alive@w:1", chunk=0)
    run = batch_run_cancel(run_id=run.pk)
    assert (run.status, run.summary["keys_canceled"]) == ("canceled", 2)
    statuses = [(k.chunk, k.status, k.error_code) for k in keys_of(run)]
    assert statuses == [(0, "pending", ""), (1, "failed", "canceled"), (2, "failed", "canceled")]


# --------------------------------------------------------------------------------------------
# A far-future invoice date


def test_the_invoice_date_bound():
    error = generation.invoice_date_error
    target, today = d(2026, 2, 15), d(2026, 12, 4)
    # At most 366 days after the later of the target date and today.
    assert error(target_date=target, invoice_date=d(2027, 12, 5), today=today) == ""
    assert error(target_date=target, invoice_date=d(2027, 12, 6), today=today) == (
        "2027-12-06 is more than 366 days after today (2026-12-04). Use an invoice date on or "
        "before 2027-12-05, or leave it empty to date the invoices on the target date."
    )
    # A target date ahead of today counts from the target date; any earlier date is fine.
    assert error(target_date=d(2027, 6, 30), invoice_date=d(2028, 6, 30), today=today) == ""
    assert "after the target date (2027-06-30)" in error(
        target_date=d(2027, 6, 30), invoice_date=d(2028, 7, 1), today=today
    )
    assert error(target_date=target, invoice_date=d(1990, 1, 1), today=today) == ""
    assert error(target_date=target, invoice_date=None, today=today) == ""
    assert error(target_date=target, invoice_date=d(9999, 12, 31), today=today).startswith(
        "9999-12-31 is more than 366 days after today (2026-12-04)."
    )
