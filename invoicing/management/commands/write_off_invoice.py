"""Write off the open balance of posted invoices, or reverse their write-offs:

    manage.py write_off_invoice INV-2026-000042 --note "Customer closed"
    manage.py write_off_invoice INV-2026-000042 --reverse

Invoices by number or id (invoicing/services/writeoffs.py)."""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.money import money_display
from invoicing.management.commands._refs import date_option, document_pk
from invoicing.models import Invoice
from invoicing.services.writeoffs import invoice_write_off, invoice_write_off_reverse


class Command(BaseCommand):
    help = "Write off the open balance of posted invoices (by number or id), or --reverse it."

    def add_arguments(self, parser):
        parser.add_argument("invoices", nargs="+", help="Invoice numbers or ids.")
        parser.add_argument("--note", default="", help="Shown on the write-off credit memo.")
        parser.add_argument("--date", help="The write-off date, YYYY-MM-DD (default: today).")
        parser.add_argument("--reverse", action="store_true", help="Reverse the write-offs.")

    def handle(self, *args, **opts):
        date = date_option(opts["date"])
        ids = []
        for ref in opts["invoices"]:
            ids.append(document_pk(Invoice, ref, "invoice"))
        failed = 0
        for pk in ids:
            try:
                if opts["reverse"]:
                    result = invoice_write_off_reverse(invoice_id=pk, reversed_by="manage.py")
                    done = "reversed the write-off of"
                else:
                    result = invoice_write_off(
                        invoice_id=pk,
                        note=opts["note"],
                        write_off_date=date,
                        written_off_by="manage.py",
                    )
                    done = "wrote off"
            except DomainError as exc:
                failed += 1
                self.stderr.write(f"invoice {pk}: [{exc.code}] {exc.message}")
                continue
            self.stdout.write(
                f"{done} {money_display(result.amount, result.invoice.currency)} of "
                f"{result.invoice} ({result.credit_memo})"
            )
        if failed:
            raise CommandError(f"{failed} invoice(s) not done; see the errors above.")
