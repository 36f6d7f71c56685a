"""Void posted invoices: `manage.py void_invoice INV-2026-000042` (numbers or ids), newest
first. Each void issues a credit memo and releases the billed periods (DESIGN.md §3)."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from core.exceptions import DomainError
from core.money import money_display
from invoicing.models import Invoice
from invoicing.services.void import invoice_void


class Command(BaseCommand):
    help = "Void posted invoices (by number or id): credit memo, periods billable again."

    def add_arguments(self, parser):
        parser.add_argument("invoices", nargs="+", help="Invoice numbers or ids.")
        parser.add_argument("--reason", default="", help="Shown on the credit memo.")

    def handle(self, *args, **opts):
        ids = []
        for ref in opts["invoices"]:
            match = Q(number=ref) | (Q(pk=int(ref)) if ref.isdigit() else Q(pk__in=[]))
            pk = Invoice.objects.filter(match).values_list("pk", flat=True).first()
            if pk is None:
                raise CommandError(f"No invoice with number or id '{ref}'.")
            ids.append(pk)
        failed = 0
        for pk in sorted(set(ids), reverse=True):  # newest first
            try:
                result = invoice_void(invoice_id=pk, voided_by="manage.py", reason=opts["reason"])
            except DomainError as exc:
                failed += 1
                self.stderr.write(f"invoice {pk}: [{exc.code}] {exc.message}")
                continue
            memo = result.credit_memo
            self.stdout.write(
                f"voided {result.invoice}: credit memo {memo.number or f'#{memo.pk}'} for "
                f"{money_display(memo.total, memo.currency)}"
            )
        if failed:
            raise CommandError(f"{failed} invoice(s) not voided; see the errors above.")
