"""Shared output of the batch-run commands: the run's progress on the command's bar, waiting
for a run, and the run's report."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from celery.signals import task_postrun, task_prerun

from core.management.progress import CommandProgress
from core.money import money_display
from invoicing.dispatch import (
    BATCH_RUN_CHUNK,
    BATCH_RUN_DRAFT_TO_POSTED,
    BATCH_RUN_PLAN,
    BATCH_RUN_RECOVER,
    BATCH_RUN_SEND_EMAIL,
    BATCH_RUN_SUMMARISE,
)
from invoicing.models import InvoiceBatchRun
from invoicing.services.runs import batch_run_is_finished

RUN_TASKS = {
    BATCH_RUN_PLAN,
    BATCH_RUN_CHUNK,
    BATCH_RUN_SUMMARISE,
    BATCH_RUN_DRAFT_TO_POSTED,
    BATCH_RUN_SEND_EMAIL,
    BATCH_RUN_RECOVER,
}


def run_progress_show(progress: CommandProgress, run: InvoiceBatchRun) -> None:
    progress.update(max(run.progress, progress.done), 100)


@contextmanager
def run_progress_watch(progress: CommandProgress) -> Iterator[None]:
    """Without a broker (eager Celery) a run's tasks execute inside the command, nested in one
    another: before and after each one, the bar takes the progress the run has recorded
    (percent; it only moves forward)."""

    def on_task(sender=None, task=None, args=(), kwargs=None, **extra) -> None:
        if task is None or task.name not in RUN_TASKS:
            return
        kwargs = kwargs or {}
        run_id = args[0] if args else kwargs.get("run_id", kwargs.get("sub_run_id"))
        percent = InvoiceBatchRun.objects.filter(pk=run_id).values_list("progress", flat=True)
        if percent and percent[0] > progress.done:
            progress.update(percent[0], 100)

    task_prerun.connect(on_task, weak=False)
    task_postrun.connect(on_task, weak=False)
    try:
        yield
    finally:
        task_prerun.disconnect(on_task)
        task_postrun.disconnect(on_task)


def run_wait(
    run: InvoiceBatchRun, seconds: float, progress: CommandProgress | None = None
) -> InvoiceBatchRun:
    """Poll the run until it has finished or `seconds` have passed (the bar follows it)."""
    deadline = time.monotonic() + seconds
    run.refresh_from_db()
    while not batch_run_is_finished(run) and time.monotonic() < deadline:
        if progress is not None:
            run_progress_show(progress, run)
        time.sleep(0.5)
        run.refresh_from_db()
    if progress is not None:
        run_progress_show(progress, run)
    return run


def run_summary(run: InvoiceBatchRun) -> str:
    """The run in one line: what it did, its amounts, whether it is still running."""
    run.refresh_from_db()
    head = f"{run} {run.get_status_display().lower()}"
    if run.kind == InvoiceBatchRun.Kind.GENERATION:
        text = (
            f"{head}: {run.matching_schedules} schedule(s) matching, "
            f"{run.schedules_processed} processed, {run.schedules_failed} failed; "
            f"{run.invoices_generated} invoice(s) generated ({run.draft_invoices} draft, "
            f"{run.posted_invoices} posted), {run.invoices_failed} failed"
        )
        amounts = [
            money_display(Decimal(row[kind]), row["currency"]) + f" {kind}"
            for row in run.amounts
            for kind in ("draft", "posted")
            if Decimal(row[kind])
        ]
        if amounts:
            text += f"; {', '.join(amounts)}"
    elif run.kind == InvoiceBatchRun.Kind.DRAFT_TO_POSTED:
        text = (
            f"{head}: {run.summary.get('invoices_selected', 0)} invoice(s) selected, "
            f"{run.posted_invoices} posted, {run.invoices_failed} failed"
        )
    else:
        text = f"{head}: " + (
            ", ".join(f"{key} {value}" for key, value in run.summary.items()) or "nothing to do"
        )
    if not batch_run_is_finished(run):
        text += f"; {run.progress} %, still running on the workers (--wait SECONDS follows it)"
    return text + "."


def run_lines(run: InvoiceBatchRun) -> list[str]:
    run.refresh_from_db()
    lines = [
        f"{run} — {run.get_status_display().lower()}, stage {run.stage}, {run.progress} %"
        + (f", parent run {run.parent_run_id}" if run.parent_run_id else "")
    ]
    if run.kind == InvoiceBatchRun.Kind.GENERATION:
        lines += [
            f"  target date {run.target_date}, invoice date {run.invoice_date}, "
            f"{run.invoice_status} invoices, filters {run.filters or 'none'}",
            f"  schedules: {run.matching_schedules} matching, {run.schedules_processed} "
            f"processed, {run.schedules_failed} failed",
            f"  invoices: {run.invoices_generated} generated, {run.invoices_failed} failed, "
            f"{run.draft_invoices} draft, {run.posted_invoices} posted",
        ]
    elif run.kind == InvoiceBatchRun.Kind.DRAFT_TO_POSTED:
        lines.append(
            f"  invoices: {run.summary.get('invoices_selected', 0)} selected, "
            f"{run.posted_invoices} posted, {run.invoices_failed} failed"
        )
    else:
        lines.append(f"  {run.summary}")
    for row in run.amounts:
        lines.append(f"  {row['currency']}: draft {row['draft']}, posted {row['posted']}")
    if not batch_run_is_finished(run):
        lines.append("  (still running on the workers: watch it in the admin or the API)")
    return lines
