"""Shared output of the batch-run commands."""

import time

from invoicing.models import InvoiceBatchRun
from invoicing.services.runs import batch_run_is_finished


def run_wait(run: InvoiceBatchRun, seconds: float) -> InvoiceBatchRun:
    """Poll the run until it has finished or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    run.refresh_from_db()
    while not batch_run_is_finished(run) and time.monotonic() < deadline:
        time.sleep(0.5)
        run.refresh_from_db()
    return run


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
