"""Self-healing sub-runs (docs/batch-runs.md, "Self-healing"): a draft-to-posted, email or
recovery sub-run is claimed by its task with a lease renewed by a heartbeat; the supervisor
queues again a sub-run whose lease expired (or whose message was lost) and fails one lost
too often, with an ErrorLog; a sub-run run again goes on with what is left, posting and
emailing nothing twice.

On real PostgreSQL connections (durable transactions, on_commit at commit). The generation
run a sub-run belongs to runs in-process (eager Celery). The sub-run's queue function is
recorded instead of run (`queued`), so the test decides when a queued task runs, and with
which task id. A "killed" worker is a `Killed` raised out of the task (a BaseException, as
nothing catches SIGKILL): its lease stays, unrenewed.

Figures: a seats schedule bills 10 × 5.00 = 50.00 a month; Texas tax 6.25 % is 3.13 per
line, so one invoice of January and February makes 106.26 per customer.
"""

import datetime as dt
import threading

import pytest
from django.core.mail.backends import locmem
from django.db import transaction
from django.utils import timezone

from invoicing import dispatch, tasks
from invoicing.models import (
    ErrorLog,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceEmail,
    SequencePolicy,
)
from invoicing.services import recovery, runs
from invoicing.services.recovery import batch_run_recover, batch_run_recover_execute
from invoicing.services.runs import (
    batch_run_draft_to_posted,
    batch_run_draft_to_posted_execute,
    batch_run_is_finished,
    batch_run_send_email,
    batch_run_send_email_execute,
    batch_run_start,
    batch_runs_supervise,
    keys_claim,
    sub_run_claim,
)
from tests.support.celery_workers import (
    Broker,
    Worker,
    backends_waiting_on_a_lock,
    other_backends,
    wait_until,
)
from tests.support.invoicing import billed_counts, customers

pytestmark = pytest.mark.django_db(transaction=True)

d = dt.date
TARGET = d(2026, 2, 15)
DEAD = "dead-task@worker-1:4242"  # a task that claimed the sub-run, then its worker died
AFTER_LEASE = dt.timedelta(seconds=31)  # the default lease is 30 s
AFTER_GRACE = dt.timedelta(seconds=46)  # a queued sub-run counts as lost after 45 s
D2P = InvoiceBatchRun.Kind.DRAFT_TO_POSTED


class Killed(BaseException):
    """The worker dies here (SIGKILL: no except clause, no cleanup of its own)."""


def later(delta: dt.timedelta) -> dt.datetime:
    return timezone.now() + delta


SUB_RUN_TASKS = (
    dispatch.BATCH_RUN_DRAFT_TO_POSTED,
    dispatch.BATCH_RUN_SEND_EMAIL,
    dispatch.BATCH_RUN_RECOVER,
)


@pytest.fixture
def queued(monkeypatch):
    """The sub-run tasks queued (name, sub-run id), recorded instead of run; the other
    tasks (a generation run's plan and summary) run as usual."""
    calls: list[tuple[str, int]] = []
    real = runs.task_queue

    def record(name, *args):
        if name not in SUB_RUN_TASKS:
            return real(name, *args)
        calls.append((name, *args))
        return ""

    monkeypatch.setattr(runs, "task_queue", record)
    return calls


def finished_run(world, n: int, **kwargs) -> InvoiceBatchRun:
    """A completed generation run over n new customers (one invoice each)."""
    customers(world, n)
    run = batch_run_start(target_date=TARGET, **kwargs)
    run.refresh_from_db()
    assert (run.status, run.invoices_generated) == ("completed", n)
    return run


def finished(run) -> bool:
    run.refresh_from_db()
    return batch_run_is_finished(run)


def events_of(run) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "at"} for e in run.events]


def lease_of(sub) -> tuple:
    sub.refresh_from_db()
    return (sub.status, sub.lease_owner, sub.attempts, sub.redispatches, sub.events)


# --------------------------------------------------------------------------------------------
# The supervisor


def test_a_sub_run_whose_worker_died_is_queued_again_once_its_lease_expires(billed, queued):
    run = finished_run(billed, 2)
    sub = batch_run_draft_to_posted(run_id=run.pk)
    assert queued == [(dispatch.BATCH_RUN_DRAFT_TO_POSTED, sub.pk)]
    queued.clear()
    assert sub_run_claim(sub_run_id=sub.pk, kind=D2P, owner=DEAD) is not None

    # Within the lease the worker may be alive: nothing is done.
    assert batch_runs_supervise(now=later(dt.timedelta(seconds=20))) == {"sub_runs": 1}
    assert lease_of(sub) == ("started", DEAD, 1, 0, [])
    assert queued == []

    now = later(AFTER_LEASE)
    assert batch_runs_supervise(now=now) == {"sub_runs": 1, "sub_runs_redispatched": 1}
    sub.refresh_from_db()
    assert (sub.status, sub.stage, sub.lease_owner, sub.attempts, sub.redispatches) == (
        "started",
        "queued",
        "",
        1,
        1,
    )
    assert sub.lease_expires_at == now + dt.timedelta(seconds=45)
    assert events_of(sub) == [
        {
            "event": "sub_run_redispatched",
            "attempt": 2,
            "detail": "lease expired: its worker was lost",
        }
    ]
    assert queued == [(dispatch.BATCH_RUN_DRAFT_TO_POSTED, sub.pk)]
    assert Invoice.objects.filter(status="draft").count() == 2  # nothing posted yet

    # The queued task (a new task id) posts the drafts.
    assert tasks.batch_run_draft_to_posted_task.apply(args=(sub.pk,)).result == "completed"
    sub.refresh_from_db()
    assert (sub.status, sub.posted_invoices, sub.attempts, sub.lease_owner) == (
        "completed",
        2,
        2,
        "",
    )
    assert sub.lease_expires_at is None
    assert sorted(Invoice.objects.values_list("number", flat=True)) == ["INV-0001", "INV-0002"]
    # Finished: the supervisor leaves it alone.
    assert batch_runs_supervise(now=later(AFTER_LEASE)) == {}


def test_a_sub_run_whose_message_was_lost_is_queued_again_after_the_grace(billed, queued):
    run = finished_run(billed, 1, invoice_status="posted")
    sub = batch_run_send_email(run_id=run.pk)
    queued.clear()

    assert batch_runs_supervise(now=later(dt.timedelta(seconds=40))) == {"sub_runs": 1}
    assert lease_of(sub) == ("started", "", 0, 0, [])
    assert batch_runs_supervise(now=later(AFTER_GRACE)) == {
        "sub_runs": 1,
        "sub_runs_redispatched": 1,
    }
    sub.refresh_from_db()
    assert (sub.redispatches, events_of(sub)) == (
        1,
        [
            {
                "event": "sub_run_redispatched",
                "attempt": 1,
                "detail": "queued but never started: its message was lost",
            }
        ],
    )
    assert queued == [(dispatch.BATCH_RUN_SEND_EMAIL, sub.pk)]


def test_a_sub_run_with_a_live_lease_is_left_alone(billed, queued):
    run = finished_run(billed, 1)
    sub = batch_run_draft_to_posted(run_id=run.pk)
    queued.clear()
    sub_run_claim(sub_run_id=sub.pk, kind=D2P, owner="alive@worker-2:7")
    assert batch_runs_supervise(now=later(dt.timedelta(seconds=29))) == {"sub_runs": 1}
    # A long sub-run: its heartbeat renews the lease (another owner's renewal changes nothing).
    InvoiceBatchRun.objects.filter(pk=sub.pk).update(lease_expires_at=later(-AFTER_GRACE))
    assert runs.SubRunHeartbeat(sub.pk, owner="other@worker-3:8").renew() == 0
    assert runs.SubRunHeartbeat(sub.pk, owner="alive@worker-2:7").renew() == 1
    sub.refresh_from_db()
    assert sub.lease_expires_at > later(dt.timedelta(seconds=25))
    assert batch_runs_supervise(now=later(dt.timedelta(seconds=20))) == {"sub_runs": 1}
    assert lease_of(sub) == ("started", "alive@worker-2:7", 1, 0, [])
    assert queued == []


def test_a_sub_run_lost_every_time_is_failed_with_an_error_log(billed, queued):
    run = finished_run(billed, 1)
    sub = batch_run_draft_to_posted(run_id=run.pk)
    queued.clear()
    for attempt in range(1, 6):
        owner = f"task-{attempt}@worker:{attempt}"
        assert sub_run_claim(sub_run_id=sub.pk, kind=D2P, owner=owner).attempts == attempt
        report = batch_runs_supervise(now=later(AFTER_LEASE))
        if attempt < 5:
            assert report == {"sub_runs": 1, "sub_runs_redispatched": 1}
    assert report == {"sub_runs": 1, "sub_runs_failed": 1}
    assert queued == [(dispatch.BATCH_RUN_DRAFT_TO_POSTED, sub.pk)] * 4

    sub.refresh_from_db()
    message = (
        f"Draft to posted sub-run {sub.pk} of batch run {run.pk} was lost with its worker 5 "
        "times; it was stopped. The invoices it posted stay posted (the sub-run lists them) "
        "and the rest stay draft. Check the workers' logs (memory, time limits), then post "
        "the run's drafts again: a new sub-run posts what is left."
    )
    assert (sub.status, sub.stage, sub.redispatches, sub.lease_owner) == ("failed", "done", 4, "")
    assert sub.lease_expires_at is None and sub.completed_at is not None
    assert sub.summary == {"error": {"code": "sub_run_lost", "message": message}}
    assert [e["event"] for e in sub.events] == ["sub_run_redispatched"] * 4 + ["sub_run_failed"]
    assert events_of(sub)[-1] == {"event": "sub_run_failed", "attempts": 5, "detail": message}
    log = ErrorLog.objects.get(category="batch_run")
    assert (log.code, log.message, log.primary_id, log.batch_run_id, log.is_resolved) == (
        "sub_run_lost",
        message,
        sub.pk,
        sub.pk,
        False,
    )
    # Failed: a late task does nothing, and the drafts are still drafts.
    assert batch_run_draft_to_posted_execute(sub_run_id=sub.pk).status == "failed"
    assert Invoice.objects.get().status == "draft"


def test_a_sub_run_never_started_is_failed_after_its_tries(billed, queued):
    run = finished_run(billed, 1)
    sub = recovery.batch_run_recover(run_id=run.pk)
    queued.clear()
    # Each round queues it again, to be started within the grace after that round.
    for round_ in range(1, 6):
        assert batch_runs_supervise(now=later(AFTER_GRACE * round_)) == {
            "sub_runs": 1,
            "sub_runs_redispatched": 1,
        }
    assert batch_runs_supervise(now=later(AFTER_GRACE * 6)) == {
        "sub_runs": 1,
        "sub_runs_failed": 1,
    }
    assert queued == [(dispatch.BATCH_RUN_RECOVER, sub.pk)] * 5
    sub.refresh_from_db()
    assert sub.status == "failed"
    assert ErrorLog.objects.get(code="sub_run_lost").message == (
        f"Recovery sub-run {sub.pk} of batch run {run.pk} was queued 6 times and no worker "
        "started it; it was stopped. What it recovered stays recovered. Check the workers' "
        "logs (memory, time limits), then recover the run again."
    )


# --------------------------------------------------------------------------------------------
# Leases


def test_the_same_task_redelivered_takes_its_lease_back_at_once(billed, queued):
    run = finished_run(billed, 2)
    sub = batch_run_draft_to_posted(run_id=run.pk)
    sub_run_claim(sub_run_id=sub.pk, kind=D2P, owner="task-7@worker-1:100")

    # Same message (task id), another process: its lease is live, it is taken back.
    done = batch_run_draft_to_posted_execute(sub_run_id=sub.pk, owner="task-7@worker-2:200")
    assert (done.status, done.posted_invoices, done.attempts, done.lease_owner) == (
        "completed",
        2,
        2,
        "",
    )
    assert set(Invoice.objects.values_list("status", flat=True)) == {"posted"}


def test_another_task_while_the_lease_is_live_does_nothing(billed, queued, mailoutbox):
    run = finished_run(billed, 2)
    sub = batch_run_draft_to_posted(run_id=run.pk)
    sub_run_claim(sub_run_id=sub.pk, kind=D2P, owner=DEAD)
    left = batch_run_draft_to_posted_execute(sub_run_id=sub.pk, owner="other@worker-2:9")
    assert (left.status, left.stage, left.posted_invoices, left.lease_owner, left.attempts) == (
        "started",
        "queued",
        0,
        DEAD,
        1,
    )
    assert set(Invoice.objects.values_list("status", "number")) == {("draft", None)}
    assert not InvoiceBatchRunKey.objects.filter(run=sub).exists()

    posted = finished_run(billed, 1, invoice_status="posted")
    email = batch_run_send_email(run_id=posted.pk)
    sub_run_claim(sub_run_id=email.pk, kind=InvoiceBatchRun.Kind.EMAIL, owner=DEAD)
    left = batch_run_send_email_execute(sub_run_id=email.pk, owner="other@worker-2:9")
    assert (left.status, left.stage, left.summary, left.attempts) == ("started", "queued", {}, 1)
    assert mailoutbox == [] and not InvoiceEmail.objects.exists()


def test_a_task_whose_lease_was_taken_over_stops_before_its_next_batch(billed, queued, monkeypatch):
    """A worker that stalled past its lease: the supervisor gave the sub-run to another task;
    the stalled one posts no further batch and does not finish the sub-run."""
    run = finished_run(billed, 3)
    monkeypatch.setattr(runs, "POST_BATCH", 1)
    sub = batch_run_draft_to_posted(run_id=run.pk)
    real = runs.invoices_post
    calls = []

    def stalls_after_the_first_batch(**kwargs):
        result = real(**kwargs)
        calls.append(kwargs["invoice_ids"])
        if len(calls) == 1:  # meanwhile its lease expired and the supervisor queued it again
            assert batch_runs_supervise(now=later(AFTER_LEASE))["sub_runs_redispatched"] == 1
        return result

    monkeypatch.setattr(runs, "invoices_post", stalls_after_the_first_batch)
    stalled = batch_run_draft_to_posted_execute(sub_run_id=sub.pk, owner="slow@worker-1:1")
    assert (stalled.status, stalled.posted_invoices, stalled.lease_owner) == ("started", 1, "")
    assert len(calls) == 1
    assert Invoice.objects.filter(status="posted").count() == 1

    done = batch_run_draft_to_posted_execute(sub_run_id=sub.pk, owner="next@worker-2:2")
    assert (done.status, done.posted_invoices, done.chunks_done, done.chunks_total) == (
        "completed",
        3,
        3,
        3,
    )
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [
        "INV-0001",
        "INV-0002",
        "INV-0003",
    ]


# --------------------------------------------------------------------------------------------
# Run again after a worker was lost: what is left, nothing twice


def test_draft_to_posted_run_again_posts_the_rest_with_no_number_gap(billed, queued, monkeypatch):
    """Killed after posting its second batch but before recording it: the sub-run queued
    again by the supervisor records that batch, posts the last one, and numbers run on."""
    run = finished_run(billed, 5)
    drafts = list(Invoice.objects.order_by("id").values_list("pk", flat=True))
    monkeypatch.setattr(runs, "POST_BATCH", 2)
    sub = batch_run_draft_to_posted(run_id=run.pk, requested_by="ops")
    queued.clear()
    real = runs.invoices_post
    calls = []

    def killed_in_the_second_batch(**kwargs):
        result = real(**kwargs)  # committed
        calls.append(kwargs["invoice_ids"])
        if len(calls) == 2:
            raise Killed
        return result

    monkeypatch.setattr(runs, "invoices_post", killed_in_the_second_batch)
    with pytest.raises(Killed):
        batch_run_draft_to_posted_execute(sub_run_id=sub.pk, owner="first@worker-1:1")
    monkeypatch.setattr(runs, "invoices_post", real)
    sub.refresh_from_db()
    assert (sub.status, sub.posted_invoices, sub.chunks_done, sub.lease_owner) == (
        "started",
        2,
        1,
        "first@worker-1:1",
    )
    assert list(
        InvoiceBatchRunKey.objects.filter(run=sub).values_list("chunk", "status", "invoice_ids")
    ) == [(0, "done", drafts[:2]), (1, "pending", drafts[2:4])]
    assert list(Invoice.objects.order_by("id").values_list("status", flat=True)) == [
        "posted"
    ] * 4 + ["draft"]

    assert batch_runs_supervise(now=later(AFTER_LEASE)) == {
        "sub_runs": 1,
        "sub_runs_redispatched": 1,
    }
    assert queued == [(dispatch.BATCH_RUN_DRAFT_TO_POSTED, sub.pk)]
    assert tasks.batch_run_draft_to_posted_task.apply(args=(sub.pk,)).result == "completed"

    sub.refresh_from_db()
    assert (sub.status, sub.stage, sub.progress) == ("completed", "done", 100)
    assert (sub.posted_invoices, sub.invoices_failed, sub.draft_invoices) == (5, 0, 0)
    assert (sub.chunks_done, sub.chunks_total, sub.attempts, sub.redispatches) == (3, 3, 2, 1)
    assert sub.summary == {"invoices_selected": 5}
    assert sub.amounts == [{"currency": "USD", "draft": "0.00", "posted": "531.30"}]
    assert list(
        InvoiceBatchRunKey.objects.filter(run=sub).values_list("chunk", "status", "invoice_ids")
    ) == [(0, "done", drafts[:2]), (1, "done", drafts[2:4]), (2, "done", drafts[4:])]
    assert list(Invoice.objects.order_by("id").values_list("number", "posted_by")) == [
        (f"INV-000{i}", "ops") for i in range(1, 6)
    ]
    run.refresh_from_db()
    assert (run.draft_invoices, run.posted_invoices) == (0, 5)


def test_email_run_again_after_a_partial_first_run_sends_each_invoice_once(
    billed, queued, monkeypatch, mailoutbox
):
    """Killed while sending the second invoice's email (its row queued, the provider's answer
    never came): the same message redelivered counts the first as sent, does not send the
    second again (it is failed, logged: a person checks the provider) and sends the third."""
    run = finished_run(billed, 3, invoice_status="posted")
    invoices = list(Invoice.objects.order_by("id"))
    sub = batch_run_send_email(run_id=run.pk, requested_by="ops")
    sends = []
    real_send = locmem.EmailBackend.send_messages

    def killed_at_the_second_send(backend, messages):
        sends.append(messages[0].to)
        if len(sends) == 2:
            raise Killed
        return real_send(backend, messages)

    monkeypatch.setattr(locmem.EmailBackend, "send_messages", killed_at_the_second_send)
    with pytest.raises(Killed):
        batch_run_send_email_execute(sub_run_id=sub.pk, owner="mail-1@worker-1:1")
    assert len(mailoutbox) == 1
    assert list(InvoiceEmail.objects.order_by("id").values_list("invoice_id", "status")) == [
        (invoices[0].pk, "sent"),
        (invoices[1].pk, "queued"),
    ]

    # The same message, redelivered to another worker process.
    done = batch_run_send_email_execute(sub_run_id=sub.pk, owner="mail-1@worker-2:2")
    assert len(sends) == 3
    sent = InvoiceEmail.objects.filter(status="sent").order_by("id")
    assert [m.subject for m in mailoutbox] == [e.subject for e in sent]
    assert [e.invoice_id for e in sent] == [invoices[0].pk, invoices[2].pk]
    assert list(InvoiceEmail.objects.order_by("id").values_list("invoice_id", "status")) == [
        (invoices[0].pk, "sent"),
        (invoices[1].pk, "failed"),
        (invoices[2].pk, "sent"),
    ]
    assert (done.status, done.attempts, done.lease_owner, done.invoices_failed) == (
        "completed_with_errors",
        2,
        "",
        1,
    )
    assert done.summary == {
        "invoices_selected": 3,
        "sent": 2,
        "skipped": 0,
        "failed": 1,
        "already_sent": 0,
        "not_posted": 0,
    }
    assert list(Invoice.objects.order_by("id").values_list("email_status", flat=True)) == [
        "sent",
        "failed",
        "sent",
    ]
    message = (
        f"The email of invoice {invoices[1].pk} to ap@example.com was being sent by email "
        f"sub-run {sub.pk} when its worker was lost, so it is not known whether it went out; "
        "it was not sent again. Check the email provider's log and send it again from the "
        "invoice if it did not go."
    )
    log = ErrorLog.objects.get(category="email")
    assert (log.code, log.message, log.primary_id, log.batch_run_id) == (
        "email_interrupted",
        message,
        invoices[1].pk,
        sub.pk,
    )
    assert InvoiceEmail.objects.get(invoice=invoices[1]).error == message
    # The first task's message redelivered once more: the sub-run is finished, nothing sent.
    assert batch_run_send_email_execute(sub_run_id=sub.pk, owner="mail-1@worker-3:3") == done
    assert len(sends) == 3 and len(mailoutbox) == 2


def test_recovery_run_again_bills_nothing_twice(billed, queued, monkeypatch):
    """A recovery killed right after it billed what the run left: queued again by the
    supervisor, it finds nothing left to bill and finishes the run; every period once."""
    customers(billed, 3)
    monkeypatch.setattr(runs, "_queue_chunks", lambda run_id: None)  # chunks never processed
    run = batch_run_start(target_date=TARGET, chunk_size=2)
    run.refresh_from_db()
    assert (run.status, run.stage, run.chunks_total) == ("started", "generating", 2)
    sub = batch_run_recover(run_id=run.pk)
    queued.clear()
    real = recovery._run_bill_remaining

    def killed_after_billing(run_id, *, sub_run_id):
        real(run_id, sub_run_id=sub_run_id)
        raise Killed

    monkeypatch.setattr(recovery, "_run_bill_remaining", killed_after_billing)
    with pytest.raises(Killed):
        batch_run_recover_execute(sub_run_id=sub.pk, owner="rec-1@worker-1:1")
    monkeypatch.setattr(recovery, "_run_bill_remaining", real)
    assert Invoice.objects.count() == 3
    assert set(InvoiceBatchRunKey.objects.filter(run=run).values_list("status", flat=True)) == {
        "done"
    }
    run.refresh_from_db()
    assert run.status == "completed"  # its last chunk queued the summary
    sub.refresh_from_db()
    assert (sub.status, sub.lease_owner) == ("started", "rec-1@worker-1:1")

    assert batch_runs_supervise(now=later(AFTER_LEASE)) == {
        "sub_runs": 1,
        "sub_runs_redispatched": 1,
    }
    assert queued == [(dispatch.BATCH_RUN_RECOVER, sub.pk)]
    assert tasks.batch_run_recover_task.apply(args=(sub.pk,)).result == "completed"
    sub.refresh_from_db()
    assert (sub.status, sub.attempts, sub.lease_owner, sub.invoices_generated) == (
        "completed",
        2,
        "",
        0,
    )
    assert (sub.summary["keys_billed"], sub.summary["keys_left_to_workers"]) == (0, 0)
    run.refresh_from_db()
    assert (run.status, run.invoices_generated, run.schedules_processed) == ("completed", 3, 3)
    assert Invoice.objects.count() == 3
    counts = billed_counts()
    assert len(counts) == 6 and set(counts.values()) == {1}
    assert [e["event"] for e in run.events] == ["recovered"]
    assert keys_claim(run.pk, owner="late@w:1") == []


# --------------------------------------------------------------------------------------------
# On real workers


class PolicyHeld:
    """Lock the sequence policies FOR UPDATE from a thread with a connection of its own (a
    long numbering elsewhere), until exit: a worker posting waits inside its transaction."""

    def __init__(self) -> None:
        self.held, self.release = threading.Event(), threading.Event()

    def _hold(self) -> None:
        from django.db import connection as own

        try:
            with transaction.atomic():
                list(SequencePolicy.objects.select_for_update())
                self.held.set()
                self.release.wait(timeout=120)
        finally:
            own.close()

    def __enter__(self) -> "PolicyHeld":
        self.thread = threading.Thread(target=self._hold, daemon=True)
        self.thread.start()
        assert self.held.wait(timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.thread.join(timeout=30)


@pytest.mark.slow
def test_a_worker_killed_during_draft_to_posted_is_replaced_by_the_supervisor(billed, settings):
    """A real worker posts a run's drafts and is SIGKILLed inside its posting transaction
    (waiting on the sequence policy's lock). Its message stays in Redis for the visibility
    timeout; the supervisor queues the sub-run again once its lease expired and a second
    worker posts every draft, numbers gapless."""
    with Broker(settings) as broker:
        doomed = Worker(broker, name="doomed")
        try:
            customers(billed, 3)
            run = batch_run_start(target_date=TARGET)
            wait_until(lambda: finished(run), timeout=40, what="the run", workers=[doomed])
            assert run.status == "completed"
            with PolicyHeld():
                sub = batch_run_draft_to_posted(run_id=run.pk, requested_by="ops")
                wait_until(
                    lambda: (
                        InvoiceBatchRunKey.objects.filter(run=sub, status="pending").exists()
                        and backends_waiting_on_a_lock() == 1
                    ),
                    timeout=40,
                    what="the worker to wait inside its posting transaction",
                    workers=[doomed],
                )
                doomed.kill()
            wait_until(lambda: other_backends() == 0, timeout=40, what="the dead connection")
        finally:
            doomed.stop()

        sub.refresh_from_db()
        assert (sub.status, sub.attempts, sub.posted_invoices) == ("started", 1, 0)
        assert sub.lease_owner.endswith(f":{doomed.pid}")
        assert set(Invoice.objects.values_list("status", "number")) == {("draft", None)}

        second = Worker(broker, name="second")
        try:
            report = batch_runs_supervise(now=later(AFTER_LEASE))
            assert report == {"sub_runs": 1, "sub_runs_redispatched": 1}
            wait_until(lambda: finished(sub), timeout=40, what="draft to posted", workers=[second])
        finally:
            second.stop()

    assert (sub.status, sub.posted_invoices, sub.invoices_failed) == ("completed", 3, 0)
    assert (sub.attempts, sub.redispatches, sub.lease_owner) == (2, 1, "")
    assert [e["detail"] for e in sub.events] == ["lease expired: its worker was lost"]
    assert list(
        InvoiceBatchRunKey.objects.filter(run=sub).values_list("chunk", "status", "invoice_ids")
    ) == [(0, "done", sorted(Invoice.objects.values_list("pk", flat=True)))]
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [
        "INV-0001",
        "INV-0002",
        "INV-0003",
    ]
