"""Recover an interrupted or failed batch run, `manage.py recover_invoice_batch 12`, or the
latest invoices of billing schedules, `manage.py recover_invoice_batch --schedules 40 41`.
See docs/batch-runs.md."""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.management.progress import celery_quiet
from invoicing.management.commands._batch_report import run_lines, run_wait
from invoicing.services.recovery import batch_run_recover, billing_schedules_recover


class Command(BaseCommand):
    help = (
        "Recover a batch run (bill what is still billable, cancel invoices stuck in "
        "draft_in_progress, reset schedules left processing or error), or the latest "
        "invoices of billing schedules (--schedules)."
    )

    def add_arguments(self, parser):
        parser.add_argument("run", nargs="?", type=int, help="The batch run to recover.")
        parser.add_argument("--schedules", nargs="+", type=int, default=[], metavar="ID")
        parser.add_argument(
            "--wait", type=float, default=0, metavar="SECONDS", help="Poll until it finishes."
        )

    def handle(self, *args, **opts):
        if bool(opts["run"]) == bool(opts["schedules"]):
            raise CommandError("Give a batch run id, or --schedules ID [ID …].")
        try:
            with celery_quiet():  # the recovery task runs here when Celery is eager
                if opts["schedules"]:
                    results = billing_schedules_recover(schedule_ids=opts["schedules"])
                else:
                    sub = batch_run_recover(run_id=opts["run"], requested_by="manage.py")
        except DomainError as exc:
            raise CommandError(f"[{exc.code}] {exc.message}")
        if opts["schedules"]:
            for result in results:
                schedules = ", ".join(
                    f"{s['id']} {s['status']}" for s in result["billing_schedules"]
                )
                invoice = (
                    f"invoice {result['invoice']} {result['invoice_status']}"
                    if result["invoice"]
                    else "no invoice"
                )
                self.stdout.write(f"{invoice}; schedules: {schedules or 'none'}")
                for error in result["errors"]:
                    self.stdout.write(f"  [{error['code']}] {error['message']}")
            return
        if opts["wait"]:
            sub = run_wait(sub, opts["wait"])
        self.stdout.write("\n".join(run_lines(sub)))
        sub.refresh_from_db()
        self.stdout.write("\n".join(run_lines(sub.parent_run)))
