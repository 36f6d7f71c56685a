"""An account's statement on the terminal, or as CSV or PDF:

    manage.py account_statement ACME-1 --from 2026-03-01 --to 2026-03-31
    manage.py account_statement 7 --currency EUR --csv statement.csv --pdf statement.pdf

The account by id, external id or exact name. Per currency: the opening balance (the day
before --from), every invoice, credit memo and payment dated in the range with the running
balance, and the closing balance (invoicing/receivables.py). --from defaults to the first day
of --to's month, --to to today."""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import ValidationError
from core.money import currency_exponent, number_display
from invoicing.management.commands._receivables_output import (
    account_of,
    csv_write,
    date_option,
    text_table,
)
from invoicing.pdf.statement import render_statement_pdf
from invoicing.receivables import STATEMENT_COLUMNS, account_statement, statement_table


class Command(BaseCommand):
    help = (
        "Print an account's statement for a date range (opening balance, every document and "
        "payment, closing balance, per currency); --csv FILE and --pdf FILE write it."
    )

    def add_arguments(self, parser):
        parser.add_argument("account", help="The account's id, external id or exact name.")
        parser.add_argument(
            "--from",
            dest="date_from",
            help="First day, YYYY-MM-DD (default: the 1st of --to's month).",
        )
        parser.add_argument("--to", dest="date_to", help="Last day, YYYY-MM-DD (default: today).")
        parser.add_argument("--currency", default="", help="Only this currency (e.g. USD).")
        parser.add_argument("--csv", metavar="FILE", help="Write the statement to FILE as CSV.")
        parser.add_argument("--pdf", metavar="FILE", help="Write the statement PDF to FILE.")

    def handle(self, *args, **opts):
        account = account_of(opts["account"])
        try:
            statement = account_statement(
                account=account,
                date_from=date_option(opts["date_from"], "--from"),
                date_to=date_option(opts["date_to"], "--to"),
                currency=opts["currency"].strip(),
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"--{path}: {' '.join(m)}" for path, m in exc.details.items())
            )
        period = f"{statement.date_from.isoformat()} to {statement.date_to.isoformat()}"
        wrote = False
        if opts["csv"]:
            rows = statement_table(statement)
            path = csv_write(opts["csv"], STATEMENT_COLUMNS, rows)
            self.stdout.write(f"Wrote the statement ({period}) to {path} ({len(rows)} rows).")
            wrote = True
        if opts["pdf"]:
            try:
                with open(opts["pdf"], "wb") as out:
                    out.write(render_statement_pdf(statement))
            except OSError as exc:
                raise CommandError(f"Cannot write {opts['pdf']}: {exc.strerror or exc}.")
            self.stdout.write(f"Wrote the statement PDF ({period}) to {opts['pdf']}.")
            wrote = True
        if wrote:
            return

        ref = f"account {account.pk}" + (f", {account.external_id}" if account.external_id else "")
        self.stdout.write(f"Statement of {account.name} ({ref}), {period}")
        header = ["Date", "Type", "Document", "Description", "Debit", "Credit", "Balance"]
        for section in statement.sections:
            cur = section.currency
            places = currency_exponent(cur)

            def amount(value, places=places) -> str:
                return number_display(value, places) if value else ""

            rows = [
                [
                    statement.date_from.isoformat(),
                    "Opening balance",
                    "",
                    "",
                    "",
                    "",
                    number_display(section.opening_balance, places),
                ]
            ]
            for e in section.entries:
                rows.append(
                    [
                        e.date.isoformat(),
                        e.type_label,
                        e.document,
                        e.description,
                        amount(e.debit),
                        amount(e.credit),
                        number_display(e.balance, places),
                    ]
                )
            rows.append(
                [
                    statement.date_to.isoformat(),
                    "Closing balance",
                    "",
                    "",
                    number_display(section.debits, places),
                    number_display(section.credits, places),
                    number_display(section.closing_balance, places),
                ]
            )
            self.stdout.write("")
            self.stdout.write(f"{cur}")
            for line in text_table(header, rows, right=(4, 5, 6)):
                self.stdout.write(line)
