"""Generate invoices on demand.

`manage.py generate_invoices --account 12 --target-date 2026-11-30 [--post]`
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.money import money_display
from invoicing.services.generation import invoices_generate


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'{value}' is not a date; use YYYY-MM-DD.")


class Command(BaseCommand):
    help = "Generate invoices for an account, an order, or every eligible schedule."

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--account", type=int, help="Account id.")
        scope.add_argument("--order", type=int, help="Order id.")
        scope.add_argument("--schedules", type=int, nargs="+", help="Billing schedule ids.")
        scope.add_argument("--all", action="store_true", help="Every eligible schedule.")
        parser.add_argument("--target-date", required=True, help="Bill periods due on or before.")
        parser.add_argument("--invoice-date", help="Default: the target date.")
        parser.add_argument("--post", action="store_true", help="Post the invoices (numbers).")
        parser.add_argument("--correlation-id", default="")

    def handle(self, *args, **opts):
        target = _date(opts["target_date"])
        invoice_date = _date(opts["invoice_date"]) if opts["invoice_date"] else None
        try:
            result = invoices_generate(
                account_id=opts["account"],
                order_id=opts["order"],
                billing_schedule_ids=opts["schedules"],
                all_schedules=opts["all"],
                target_date=target,
                invoice_date=invoice_date,
                action="posted" if opts["post"] else "draft",
                correlation_id=opts["correlation_id"],
                requested_by="manage.py",
            )
        except DomainError as exc:
            raise CommandError(exc.message)
        for invoice in result.invoices.select_related("account"):
            label = invoice.number or f"draft #{invoice.pk}"
            self.stdout.write(
                f"{label:<24} {invoice.account.name:<32} "
                f"{money_display(invoice.total, invoice.currency):>18}"
            )
        for error in result.errors:
            self.stderr.write(f"schedule {error.schedule_id}: [{error.code}] {error.message}")
        for error in result.posting_errors:
            self.stderr.write(f"invoice {error['invoice_id']} left draft: {error['message']}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(result.invoice_ids)} invoice(s) from {len(result.schedule_ids)} "
                f"schedule(s); {len(result.errors)} schedule error(s); request {result.request_id}"
            )
        )
        if result.errors or result.posting_errors:
            raise CommandError("Some schedules or invoices failed; see the errors above.")
