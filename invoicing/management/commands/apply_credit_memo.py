"""Apply a posted credit memo to posted invoices of its account, or unapply an application:

    manage.py apply_credit_memo CM-000001 INV-2026-000042:40.00 INV-2026-000043
    manage.py apply_credit_memo --unapply 17

Memos and invoices by number or id; an invoice without `:amount` takes as much as the memo
has left and the invoice has open. One transaction: every application is made, or none
(invoicing/services/credits.py)."""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.money import money_display
from invoicing.management.commands._refs import date_option, document_pk, service_error
from invoicing.models import CreditMemo, Invoice
from invoicing.services.credits import credit_application_unapply, credit_memo_apply


class Command(BaseCommand):
    help = (
        "Apply a posted credit memo to posted invoices (INVOICE or INVOICE:AMOUNT, by number "
        "or id), or --unapply an application by id."
    )

    def add_arguments(self, parser):
        parser.add_argument("credit_memo", nargs="?", help="The credit memo's number or id.")
        parser.add_argument(
            "invoices",
            nargs="*",
            help="Invoices by number or id, each optionally with :AMOUNT (e.g. INV-7:40.00); "
            "without an amount, as much as both allow.",
        )
        parser.add_argument("--date", help="The date applied, YYYY-MM-DD (default: today).")
        parser.add_argument(
            "--unapply", type=int, metavar="APPLICATION", help="Unapply this application id."
        )

    def handle(self, *args, **opts):
        try:
            if opts["unapply"] is not None:
                if opts["credit_memo"] or opts["invoices"]:
                    raise CommandError("--unapply takes an application id and nothing else.")
                row = credit_application_unapply(
                    application_id=opts["unapply"], unapplied_by="manage.py"
                )
                self.stdout.write(f"unapplied {row}")
                return
            if not opts["credit_memo"] or not opts["invoices"]:
                raise CommandError("Name a credit memo and at least one invoice.")
            memo_id = document_pk(CreditMemo, opts["credit_memo"], "credit memo")
            applications = []
            for ref in opts["invoices"]:
                number, _, amount = ref.partition(":")
                applications.append(
                    {"invoice": document_pk(Invoice, number, "invoice"), "amount": amount or None}
                )
            date = date_option(opts["date"])
            rows = credit_memo_apply(
                credit_memo_id=memo_id,
                applications=applications,
                applied_date=date,
                applied_by="manage.py",
            )
        except DomainError as exc:
            raise service_error(exc) from None
        memo = rows[0].credit_memo
        memo.refresh_from_db()
        for row in rows:
            self.stdout.write(
                f"applied {money_display(row.amount, memo.currency)} of {memo} to {row.invoice} "
                f"(application {row.pk})"
            )
        self.stdout.write(f"{memo}: {money_display(memo.balance, memo.currency)} left")
