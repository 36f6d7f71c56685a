"""The one seam between the services and Celery: services queue work by task *name*.

The tasks (invoicing/tasks.py) import the services they call, so a service that imported the
tasks would close an import circle. Services call the functions below instead; they look the
task up in the Celery app's registry by the names here, which are the names the tasks are
registered under (tests/invoicing/test_tasks.py checks that the two agree). The registry is
filled when Django starts: InvoicingConfig.ready() imports invoicing.tasks (and a worker
imports it through autodiscovery). Looking a task up, rather than `send_task` by name, keeps
eager Celery (tests, the embedded default without a broker) running the task in-process, and
an unknown name fails at once (`celery.exceptions.NotRegistered`) instead of queueing a
message no worker knows.

Call these after commit (`transaction.on_commit`): a task must find the rows its caller wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import current_app, group

# Task names. `SCHEDULER_FIRE` is also stored in django-celery-beat PeriodicTask rows: never
# rename a task.
SCHEDULER_FIRE = "invoicing.scheduler_fire"
BATCH_RUN_PLAN = "invoicing.batch_run_plan"
BATCH_RUN_CHUNK = "invoicing.batch_run_chunk"
BATCH_RUN_SUMMARISE = "invoicing.batch_run_summarise"
BATCH_RUN_DRAFT_TO_POSTED = "invoicing.batch_run_draft_to_posted"
BATCH_RUN_SEND_EMAIL = "invoicing.batch_run_send_email"
BATCH_RUN_RECOVER = "invoicing.batch_run_recover"
RENDER_INVOICE_PDF = "invoicing.render_invoice_pdf"
CONVERT_NEGATIVE_LINES = "invoicing.convert_negative_lines"
SUPERVISE_RUNS = "invoicing.supervise_runs"  # also in CELERY_BEAT_SCHEDULE

TASK_NAMES = (
    SCHEDULER_FIRE,
    BATCH_RUN_PLAN,
    BATCH_RUN_CHUNK,
    BATCH_RUN_SUMMARISE,
    BATCH_RUN_DRAFT_TO_POSTED,
    BATCH_RUN_SEND_EMAIL,
    BATCH_RUN_RECOVER,
    RENDER_INVOICE_PDF,
    CONVERT_NEGATIVE_LINES,
    SUPERVISE_RUNS,
)


def task_queue(name: str, *args: Any, **kwargs: Any) -> str:
    """Queue one call of the task `name` (eager Celery: run it now). Returns the task id."""
    return current_app.tasks[name].apply_async(args=args, kwargs=kwargs).id or ""


def task_group_queue(name: str, calls: Iterable[tuple[Any, ...]]) -> None:
    """Queue one call of the task `name` per argument tuple, as a Celery group."""
    task = current_app.tasks[name]
    group(task.si(*args) for args in calls).apply_async()
