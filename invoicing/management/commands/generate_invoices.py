"""Generate invoices on demand.

`manage.py generate_invoices --account 12 --target-date 2026-11-30 [--post]`

A progress bar on a terminal; the output is one summary line (invoices, schedules, totals
per currency, errors, the request id), with one line per invoice under `-v 2`. Errors go to
standard error and make the exit status non-zero.
"""

import datetime as dt
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.management.progress import command_progress
from core.money import ZERO, money_display
from invoicing.models import Invoice
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
        action = "posted" if opts["post"] else "draft"
        with command_progress(
            self, "Generating invoices (schedules)", verbosity=opts["verbosity"]
        ) as progress:
            try:
                result = invoices_generate(
                    account_id=opts["account"],
                    order_id=opts["order"],
                    billing_schedule_ids=opts["schedules"],
                    all_schedules=opts["all"],
                    target_date=target,
                    invoice_date=invoice_date,
                    action=action,
                    correlation_id=opts["correlation_id"],
                    requested_by="manage.py",
                    progress=progress.update,
                )
            except DomainError as exc:
                raise CommandError(exc.message)
            invoices = list(result.invoices.select_related("account"))
            for invoice in invoices:
                label = invoice.number or f"draft #{invoice.pk}"
                progress.detail(
                    f"{label:<24} {invoice.account.name:<32} "
                    f"{money_display(invoice.total, invoice.currency):>18}"
                )
            for error in result.errors:
                progress.error(f"schedule {error.schedule_id}: [{error.code}] {error.message}")
            for error in result.posting_errors:
                progress.error(f"invoice {error['invoice_id']} left draft: {error['message']}")
        failed = bool(result.errors or result.posting_errors)
        progress.summary(
            f"{len(invoices)} {_kind(invoices, action)} invoice(s) from "
            f"{len(result.schedule_ids)} schedule(s){_totals(invoices)}; "
            f"{len(result.errors)} schedule error(s); request {result.request_id}",
            ok=not failed,
        )
        if failed:
            raise CommandError("Some schedules or invoices failed; see the errors above.")


def _kind(invoices: list[Invoice], action: str) -> str:
    """'posted' or 'draft', or 'posted and draft' when some were left draft."""
    statuses = {invoice.status for invoice in invoices} or {action}
    return " and ".join(sorted(statuses, reverse=True))


def _totals(invoices: list[Invoice]) -> str:
    """': 1,234.50 EUR, 6,000.00 USD', the invoices' totals per currency."""
    sums: dict[str, Decimal] = {}
    for invoice in invoices:
        sums[invoice.currency] = sums.get(invoice.currency, ZERO) + invoice.total
    return (": " + ", ".join(money_display(sums[c], c) for c in sorted(sums))) if sums else ""
