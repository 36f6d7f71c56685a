"""Celery tasks of invoice batch runs: thin wrappers that take ids and call one service.

Every task is idempotent (a redelivered or duplicated message finds its work claimed or done
and does nothing), acknowledges late (a worker that dies mid-task leaves the message for
another worker), retries only transient database errors, and has time limits.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from invoicing.services import batch

TRANSIENT = (OperationalError, InterfaceError)
RETRY = {
    "acks_late": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(name="invoicing.scheduler_fire", soft_time_limit=60, time_limit=90, **RETRY)
def scheduler_fire_task(scheduler_id: int) -> int | None:
    """Celery beat's entry point for an active scheduler (its PeriodicTask)."""
    run = batch.scheduler_fire(scheduler_id=scheduler_id)
    return run.pk if run else None


@shared_task(name="invoicing.batch_run_plan", soft_time_limit=1500, time_limit=1800, **RETRY)
def batch_run_plan_task(run_id: int, chunk_size: int | None = None) -> int:
    return batch.batch_run_plan(run_id=run_id, chunk_size=chunk_size).matching_schedules


@shared_task(name="invoicing.batch_run_chunk", soft_time_limit=1500, time_limit=1800, **RETRY)
def batch_run_chunk_task(run_id: int, chunk: int) -> int:
    return batch.batch_run_chunk_process(run_id=run_id, chunk=chunk)


@shared_task(name="invoicing.batch_run_summarise", soft_time_limit=300, time_limit=360, **RETRY)
def batch_run_summarise_task(run_id: int) -> str:
    return batch.batch_run_summarise(run_id=run_id).status


@shared_task(
    name="invoicing.batch_run_draft_to_posted", soft_time_limit=3000, time_limit=3600, **RETRY
)
def batch_run_draft_to_posted_task(sub_run_id: int) -> str:
    return batch.batch_run_draft_to_posted_execute(sub_run_id=sub_run_id).status


@shared_task(name="invoicing.batch_run_send_email", soft_time_limit=3000, time_limit=3600, **RETRY)
def batch_run_send_email_task(sub_run_id: int) -> str:
    return batch.batch_run_send_email_execute(sub_run_id=sub_run_id).status


@shared_task(name="invoicing.batch_run_recover", soft_time_limit=1500, time_limit=1800, **RETRY)
def batch_run_recover_task(sub_run_id: int) -> str:
    return batch.batch_run_recover_execute(sub_run_id=sub_run_id).status
