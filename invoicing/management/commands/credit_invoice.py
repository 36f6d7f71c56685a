"""Credit lines of a posted invoice (invoicing/services/credits.py invoice_credit):

    manage.py credit_invoice INV-2026-000042 --line 41=20.00 --line 42=x2 --reason pricing
    manage.py credit_invoice 42 --line 41 --draft

`--line ID=AMOUNT` credits an amount, `--line ID=xQUANTITY` a quantity at the line's price,
`--line ID` all that is left of the line. The memo is posted and applied to the invoice unless
--draft or --no-apply."""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.money import money_display
from invoicing.management.commands._refs import date_option, document_pk, service_error
from invoicing.models import CreditReason, Invoice
from invoicing.services.credits import invoice_credit


def _line(text: str) -> dict:
    line_id, _, value = text.partition("=")
    if not line_id.isdigit():
        raise CommandError(f"--line {text!r}: start with the invoice line's id, e.g. 41=20.00.")
    if value.startswith("x"):
        return {"invoice_line": int(line_id), "quantity": value[1:]}
    return {"invoice_line": int(line_id), "amount": value or None}


class Command(BaseCommand):
    help = "Credit lines of a posted invoice (by number or id): a credit memo, applied to it."

    def add_arguments(self, parser):
        parser.add_argument("invoice", help="The invoice's number or id.")
        parser.add_argument(
            "--line",
            action="append",
            required=True,
            metavar="ID[=AMOUNT|=xQUANTITY]",
            help="An invoice line to credit (repeat for several).",
        )
        parser.add_argument(
            "--reason",
            default=CreditReason.BILLING_ERROR,
            help="Reason code: " + ", ".join(CreditReason.values) + ".",
        )
        parser.add_argument("--note", default="", help="Shown on the credit memo.")
        parser.add_argument("--date", help="The credit date, YYYY-MM-DD (default: today).")
        parser.add_argument("--draft", action="store_true", help="Save a draft; do not post.")
        parser.add_argument(
            "--no-apply", action="store_true", help="Post, but keep the credit to apply later."
        )

    def handle(self, *args, **opts):
        invoice_id = document_pk(Invoice, opts["invoice"], "invoice")
        date = date_option(opts["date"])
        try:
            result = invoice_credit(
                invoice_id=invoice_id,
                lines=[_line(text) for text in opts["line"]],
                reason_code=opts["reason"],
                note=opts["note"],
                credit_date=date,
                action="draft" if opts["draft"] else "posted",
                apply=not opts["no_apply"],
                created_by="manage.py",
            )
        except DomainError as exc:
            raise service_error(exc) from None
        memo = result.credit_memo
        currency = memo.currency
        self.stdout.write(
            f"{memo} ({memo.get_status_display().lower()}): "
            f"{money_display(memo.total, currency)} = {money_display(memo.total_charges, currency)}"
            f" + tax {money_display(memo.total_tax, currency)}"
        )
        if result.application is not None:
            invoice = Invoice.objects.get(pk=invoice_id)
            self.stdout.write(
                f"applied {money_display(result.application.amount, currency)} to {invoice}: "
                f"balance {money_display(invoice.balance, currency)}"
            )
