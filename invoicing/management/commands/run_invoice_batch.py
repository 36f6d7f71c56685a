"""Start an invoice batch run: `manage.py run_invoice_batch --scheduler 3`, or ad hoc,
`manage.py run_invoice_batch --target-date 2026-03-31 --currency USD --post`. With a broker
the workers do the work (--wait polls until it is done); without one (eager Celery) the run
completes inside the command. See docs/batch-runs.md.

A progress bar on a terminal (the run's own percentage, after each task when Celery runs
eagerly, by polling with --wait); the output is one summary line, with the full run report
under `-v 2`. Celery's task log lines are not part of the output."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.management.progress import command_progress
from invoicing.management.commands._batch_report import (
    run_lines,
    run_progress_watch,
    run_summary,
    run_wait,
)
from invoicing.models import InvoiceBatchRun
from invoicing.services.runs import batch_run_start, batch_run_summarise
from invoicing.services.schedulers import scheduler_run_now


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'{value}' is not a date; use YYYY-MM-DD.")


class Command(BaseCommand):
    help = "Start an invoice batch run for a scheduler, or ad hoc with dates and filters."

    def add_arguments(self, parser):
        parser.add_argument("--scheduler", type=int, help="Run this scheduler now.")
        parser.add_argument("--target-date", type=_date, help="Ad hoc: bill through this date.")
        parser.add_argument("--invoice-date", type=_date, help="Ad hoc: default the target date.")
        parser.add_argument("--post", action="store_true", help="Ad hoc: post the invoices.")
        parser.add_argument("--currency", action="append", default=[], dest="currencies")
        parser.add_argument("--legal-entity", type=int)
        parser.add_argument("--account", action="append", type=int, default=[], dest="accounts")
        parser.add_argument("--matching-value", action="append", default=[], dest="matching_values")
        parser.add_argument(
            "--charge-type",
            action="append",
            default=[],
            dest="charge_types",
            choices=["one_time", "recurring", "usage"],
        )
        parser.add_argument("--period-count", type=int, help="At most this many periods (1–12).")
        parser.add_argument("--chunk-size", type=int, help="Schedules per chunk task.")
        parser.add_argument(
            "--wait", type=float, default=0, metavar="SECONDS", help="Poll until it finishes."
        )
        parser.add_argument(
            "--summarise",
            type=int,
            metavar="RUN",
            help="Only summarise this run again (when its last chunk's summary was lost).",
        )

    def handle(self, *args, **opts):
        if opts["scheduler"] and (opts["target_date"] or opts["invoice_date"]):
            raise CommandError("A scheduler's run takes its dates from the scheduler.")
        if not (opts["summarise"] or opts["scheduler"] or opts["target_date"]):
            raise CommandError("Give --scheduler, or --target-date for an ad hoc run.")
        with (
            command_progress(self, "Batch run (%)", verbosity=opts["verbosity"]) as progress,
            run_progress_watch(progress),
        ):
            try:
                run = self._start(opts)
            except DomainError as exc:
                raise CommandError(f"[{exc.code}] {exc.message}")
            if opts["wait"]:
                run = run_wait(run, opts["wait"], progress)
        for line in run_lines(run):
            progress.detail(line)
        progress.summary(
            run_summary(run), ok=run.status in (run.Status.STARTED, run.Status.COMPLETED)
        )

    def _start(self, opts) -> InvoiceBatchRun:
        if opts["summarise"]:
            return batch_run_summarise(run_id=opts["summarise"])
        if opts["scheduler"]:
            return scheduler_run_now(
                scheduler_id=opts["scheduler"],
                requested_by="manage.py",
                chunk_size=opts["chunk_size"],
            )
        filters = {
            k: opts[k]
            for k in ("currencies", "accounts", "matching_values", "charge_types")
            if opts[k]
        }
        if opts["legal_entity"]:
            filters["legal_entity"] = opts["legal_entity"]
        return batch_run_start(
            target_date=opts["target_date"],
            invoice_date=opts["invoice_date"],
            invoice_status="posted" if opts["post"] else "draft",
            filters=filters,
            billing_period_count=opts["period_count"],
            requested_by="manage.py",
            chunk_size=opts["chunk_size"],
        )
