"""Email posted invoices: `manage.py send_invoice_emails --ids 4 5` (single sends, opt-outs
ignored) or `--unsent` / `--batch-run 7` (bulk sends: opt-outs honoured, already emailed
invoices skipped).

A progress bar on a terminal; the output is one summary line (`-v 2`: a line per email);
failures go to standard error."""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.management.progress import command_progress
from invoicing.models import Invoice, InvoiceStatus
from invoicing.services.email import invoice_email_send, invoices_email_send_bulk


class Command(BaseCommand):
    help = "Email posted invoices with their PDF (per the resolved template and settings)."

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--ids", type=int, nargs="+", help="Send these invoices (single).")
        scope.add_argument(
            "--unsent", action="store_true", help="Bulk: every posted invoice not yet emailed."
        )
        scope.add_argument("--batch-run", type=int, help="Bulk: the posted invoices of a run.")
        parser.add_argument("--to", help="With --ids: send to this address instead.")

    def handle(self, *args, **opts):
        if opts["to"] and not opts["ids"]:
            raise CommandError("--to only goes with --ids.")
        if opts["ids"]:
            self._single(opts["ids"], to=opts["to"], verbosity=opts["verbosity"])
            return
        posted = Invoice.objects.filter(status=InvoiceStatus.POSTED)
        if opts["batch_run"]:
            posted = posted.filter(batch_run_id=opts["batch_run"])
        else:
            posted = posted.exclude(email_status=Invoice.EmailStatus.SENT)
        ids = list(posted.order_by("id").values_list("pk", flat=True))
        with command_progress(
            self, "Emailing invoices", total=len(ids), verbosity=opts["verbosity"]
        ) as progress:
            counts = invoices_email_send_bulk(
                invoice_ids=ids, batch_run_id=opts["batch_run"], progress=progress.update
            )
        summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n)
        progress.summary(f"Bulk send: {summary or 'nothing to send'}.", ok=not counts["failed"])
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} email(s) failed; see Error logs (email).")

    def _single(self, ids: list[int], *, to: str | None, verbosity: int) -> None:
        sent = failed = 0
        with command_progress(
            self, "Emailing invoices", total=len(ids), verbosity=verbosity
        ) as progress:
            for pk in ids:
                try:
                    email = invoice_email_send(invoice_id=pk, to=to)
                except DomainError as exc:
                    failed += 1
                    progress.error(f"invoice {pk}: [{exc.code}] {exc.message}")
                else:
                    line = f"invoice {pk}: {email.status} to {email.to or '(no recipient)'}"
                    if email.error:
                        failed += 1
                        progress.error(f"{line}: {email.error}")
                    else:
                        sent += 1
                        progress.detail(line)
                progress.advance()
        progress.summary(f"{sent} email(s) sent, {failed} failed.", ok=not failed)
        if failed:
            raise CommandError(f"{failed} email(s) not sent; see the errors above.")
