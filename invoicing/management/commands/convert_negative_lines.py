"""Convert posted invoices' negative charge lines into credit memos applied back to them
(credits.py invoice_negative_lines_convert):

    manage.py convert_negative_lines INV-2026-000042 [--date YYYY-MM-DD]
"""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.money import money_display
from invoicing.management.commands._refs import date_option, document_pk
from invoicing.models import Invoice
from invoicing.services.credits import invoice_negative_lines_convert


class Command(BaseCommand):
    help = "Convert posted invoices' negative lines into credit memos (by number or id)."

    def add_arguments(self, parser):
        parser.add_argument("invoices", nargs="+", help="Invoice numbers or ids.")
        parser.add_argument("--date", help="The effective date, YYYY-MM-DD (default: today).")

    def handle(self, *args, **opts):
        date = date_option(opts["date"])
        failed = 0
        for ref in opts["invoices"]:
            pk = document_pk(Invoice, ref, "invoice")
            try:
                result = invoice_negative_lines_convert(
                    invoice_id=pk, effective_date=date, converted_by="manage.py"
                )
            except DomainError as exc:
                failed += 1
                self.stderr.write(f"{ref}: [{exc.code}] {exc.message}")
                continue
            invoice = Invoice.objects.get(pk=pk)
            memo = result.credit_memo
            applied = result.application.amount if result.application else 0
            self.stdout.write(
                f"{invoice}: {memo} of {money_display(memo.total, memo.currency)}; "
                f"{money_display(applied, memo.currency)} applied back; total "
                f"{money_display(invoice.total, invoice.currency)}, balance "
                f"{money_display(invoice.balance, invoice.currency)}"
            )
        if failed:
            raise CommandError(f"{failed} invoice(s) not converted; see the errors above.")
