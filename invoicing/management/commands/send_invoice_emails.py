"""Email posted invoices: `manage.py send_invoice_emails --ids 4 5` (single sends, opt-outs
ignored) or `--unsent` / `--batch-run 7` (bulk sends: opt-outs honoured, already emailed
invoices skipped)."""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
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
        if opts["ids"]:
            failed = 0
            for pk in opts["ids"]:
                try:
                    email = invoice_email_send(invoice_id=pk, to=opts["to"])
                except DomainError as exc:
                    failed += 1
                    self.stderr.write(f"invoice {pk}: [{exc.code}] {exc.message}")
                    continue
                line = f"invoice {pk}: {email.status} to {email.to or '(no recipient)'}"
                if email.error:
                    failed += 1
                    self.stderr.write(f"{line}: {email.error}")
                else:
                    self.stdout.write(line)
            if failed:
                raise CommandError(f"{failed} email(s) not sent; see the errors above.")
            return
        if opts["to"]:
            raise CommandError("--to only goes with --ids.")
        posted = Invoice.objects.filter(status=InvoiceStatus.POSTED)
        if opts["batch_run"]:
            posted = posted.filter(batch_run_id=opts["batch_run"])
        else:
            posted = posted.exclude(email_status=Invoice.EmailStatus.SENT)
        ids = list(posted.order_by("id").values_list("pk", flat=True))
        counts = invoices_email_send_bulk(invoice_ids=ids, batch_run_id=opts["batch_run"])
        summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n)
        self.stdout.write(self.style.SUCCESS(f"Bulk send: {summary or 'nothing to send'}."))
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} email(s) failed; see Error logs (email).")
