"""Celery tasks of invoicing: thin wrappers that take ids and call one service.

One policy for every task (`POLICY`):

- idempotent: a redelivered or duplicated message finds its work claimed or done and does
  nothing (batch-run keys are claimed with SKIP LOCKED; a PDF is rendered only when the
  invoice has no current document);
- acknowledged late: a worker that dies mid-task leaves the message for another worker;
- retried only on transient database errors (`OperationalError`, `InterfaceError`), with
  exponential back-off; a domain failure is recorded by the service (ErrorLog, the run's
  status) and not retried;
- soft and hard time limits per task.

Services never import this module: they queue tasks by name through invoicing/dispatch.py,
whose names these are (never rename one: beat's PeriodicTask rows store
`invoicing.scheduler_fire`).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from invoicing.exceptions import (
    DocumentRenderFailed,
    InvoiceNotFound,
    InvoiceNotPosted,
    NoNegativeLines,
)
from invoicing.services import recovery, runs, schedulers
from invoicing.services.credits import invoice_negative_lines_convert
from invoicing.services.documents import invoice_document_render

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError)
POLICY = {
    "acks_late": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


# --------------------------------------------------------------------------------------------
# Schedulers and batch runs


@shared_task(name="invoicing.scheduler_fire", soft_time_limit=60, time_limit=90, **POLICY)
def scheduler_fire_task(scheduler_id: int) -> int | None:
    """Celery beat's entry point for an active scheduler (its PeriodicTask)."""
    run = schedulers.scheduler_fire(scheduler_id=scheduler_id)
    return run.pk if run else None


@shared_task(name="invoicing.batch_run_plan", soft_time_limit=1500, time_limit=1800, **POLICY)
def batch_run_plan_task(run_id: int, chunk_size: int | None = None) -> int:
    return runs.batch_run_plan(run_id=run_id, chunk_size=chunk_size).matching_schedules


# A chunk of 1,000 schedules commits in seconds (docs/performance.md); ten minutes is a
# chunk gone wrong. Its lease (invoicing/services/runs.py) is what brings a lost chunk
# back, within a minute, not these limits.
@shared_task(
    bind=True, name="invoicing.batch_run_chunk", soft_time_limit=600, time_limit=660, **POLICY
)
def batch_run_chunk_task(self, run_id: int, chunk: int) -> int:
    """The claim's owner is this message's task id: the same message redelivered after its
    worker died takes its keys back at once."""
    return runs.batch_run_chunk_process(
        run_id=run_id, chunk=chunk, owner=runs.lease_owner(self.request.id)
    )


@shared_task(name="invoicing.batch_run_summarise", soft_time_limit=300, time_limit=360, **POLICY)
def batch_run_summarise_task(run_id: int) -> str:
    return runs.batch_run_summarise(run_id=run_id).status


# A sub-run claims itself with a lease whose owner is this message's task id, as a chunk
# does: the same message redelivered takes it back at once; another copy does nothing while
# the lease is live; once it expires (its worker died) the supervisor queues it again.
@shared_task(
    bind=True,
    name="invoicing.batch_run_draft_to_posted",
    soft_time_limit=3000,
    time_limit=3600,
    **POLICY,
)
def batch_run_draft_to_posted_task(self, sub_run_id: int) -> str:
    return runs.batch_run_draft_to_posted_execute(
        sub_run_id=sub_run_id, owner=runs.lease_owner(self.request.id)
    ).status


@shared_task(
    bind=True,
    name="invoicing.batch_run_send_email",
    soft_time_limit=3000,
    time_limit=3600,
    **POLICY,
)
def batch_run_send_email_task(self, sub_run_id: int) -> str:
    return runs.batch_run_send_email_execute(
        sub_run_id=sub_run_id, owner=runs.lease_owner(self.request.id)
    ).status


@shared_task(
    bind=True, name="invoicing.batch_run_recover", soft_time_limit=1500, time_limit=1800, **POLICY
)
def batch_run_recover_task(self, sub_run_id: int) -> str:
    return recovery.batch_run_recover_execute(
        sub_run_id=sub_run_id, owner=runs.lease_owner(self.request.id)
    ).status


@shared_task(name="invoicing.supervise_runs", soft_time_limit=60, time_limit=90, **POLICY)
def supervise_runs_task() -> dict[str, int]:
    """Beat's watch over started runs (CELERY_BEAT_SCHEDULE, every 30 s): chunks and sub-runs
    whose lease expired queued again, runs whose work is done closed."""
    return runs.batch_runs_supervise()


# --------------------------------------------------------------------------------------------
# Documents


@shared_task(name="invoicing.convert_negative_lines", soft_time_limit=540, time_limit=600, **POLICY)
def convert_negative_lines_task(invoice_id: int) -> int | None:
    """Convert a just-posted invoice's negative lines into a credit memo (LEDGERLINE
    ["CONVERT_NEGATIVE_LINES"]); returns the memo id, None when nothing was left to convert."""
    try:
        return invoice_negative_lines_convert(
            invoice_id=invoice_id, converted_by="automatic conversion"
        ).credit_memo.pk
    except (InvoiceNotFound, NoNegativeLines, InvoiceNotPosted) as exc:
        logger.info("Invoice %s: no negative lines converted (%s)", invoice_id, exc)
    return None


@shared_task(name="invoicing.render_invoice_pdf", soft_time_limit=540, time_limit=600, **POLICY)
def render_invoice_pdf_task(invoice_id: int, regenerate: bool = False) -> int | None:
    """Render (or re-render) one invoice's PDF; returns the document id (None: the invoice
    is gone, or rendering failed and was logged)."""
    try:
        return invoice_document_render(invoice_id=invoice_id, regenerate=regenerate).pk
    except InvoiceNotFound:
        logger.info("Invoice %s is gone; no PDF rendered", invoice_id)
    except DocumentRenderFailed as exc:
        logger.warning("%s", exc.message)
    return None
