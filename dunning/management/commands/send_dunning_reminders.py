"""Send the dunning reminders due: `manage.py send_dunning_reminders [--date YYYY-MM-DD]
[--dry-run]` (default: today). Each reminder goes at most once per invoice and step, however
often this runs (the daily beat task runs the same service).

A progress bar on a terminal; the output is one summary line (`-v 2`, or `--dry-run`: a line
per reminder); failures go to standard error and make the exit status 1."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.exceptions import DomainError
from core.management.progress import command_progress
from dunning.models import DunningReminder
from dunning.services.reminders import dunning_run


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date {value!r} is not a date: use YYYY-MM-DD, e.g. 2026-02-07.")


class Command(BaseCommand):
    help = "Send the dunning reminders due on a date (default today) through the email outbox."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="The run date, YYYY-MM-DD (default: today).")
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be sent; send nothing."
        )

    def handle(self, *args, **opts):
        on = _date(opts["date"]) if opts["date"] else timezone.localdate()
        verbosity = opts["verbosity"]
        with command_progress(self, "Sending reminders", verbosity=verbosity) as progress:
            try:
                result = dunning_run(
                    on=on,
                    dry_run=opts["dry_run"],
                    requested_by="manage.py",
                    progress=progress.update,
                )
            except DomainError as exc:
                raise CommandError(exc.message)
            for reminder in result.reminders:
                line = f"{reminder.invoice.number}: {reminder.step_label}: {reminder.status}" + (
                    f" to {reminder.email.to}" if reminder.email else ""
                )
                if reminder.status == DunningReminder.Status.FAILED:
                    progress.error(f"{line}: {reminder.error}")
                else:
                    progress.detail(line)
        for item in result.due if result.dry_run else []:
            to = item.recipient or "(no recipient)"
            outcome = "skipped (opted out of bulk email)" if item.opted_out else f"to {to}"
            self.stdout.write(f"{item.invoice.number}: {item.step} ({item.step_date}), {outcome}")
        failed = 0 if result.dry_run else result.counts["failed"]
        progress.summary(result.summary, ok=not failed)
        if failed:
            raise CommandError(f"{failed} reminder(s) failed; see Error logs (email).")
