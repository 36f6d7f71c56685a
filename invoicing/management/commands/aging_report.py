"""The AR aging report on the terminal, or as CSV:

    manage.py aging_report                       # as of today, every currency
    manage.py aging_report --as-of 2026-04-30 --currency USD
    manage.py aging_report --csv aging.csv       # the API's and the staff UI's CSV

Per account and currency, what is open by days past due (current, 1-30, 31-60, 61-90, 90+;
credit not yet applied and payments not yet allocated are negative amounts in current), then
each currency's total (invoicing/receivables.py)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import LegalEntity
from core.exceptions import ValidationError
from core.money import currency_exponent, number_display
from invoicing.management.commands._receivables_output import csv_write, date_option, text_table
from invoicing.receivables import (
    AGING_BUCKETS,
    AGING_COLUMNS,
    aging_report,
    aging_table,
    receivables_today,
)


class Command(BaseCommand):
    help = (
        "Print the AR aging report (current, 1-30, 31-60, 61-90, 90+ days past due) per "
        "account and currency, with totals; --csv FILE writes it as CSV."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="The date, YYYY-MM-DD (default: today).")
        parser.add_argument("--currency", default="", help="Only this currency (e.g. USD).")
        parser.add_argument(
            "--legal-entity", type=int, metavar="ID", help="Only this seller's documents."
        )
        parser.add_argument("--csv", metavar="FILE", help="Write the report to FILE as CSV.")

    def handle(self, *args, **opts):
        as_of = date_option(opts["as_of"], "--as-of") or receivables_today()
        entity = opts["legal_entity"]
        if entity is not None and not LegalEntity.objects.filter(pk=entity).exists():
            raise CommandError(f"--legal-entity: legal entity {entity} does not exist.")
        try:
            report = aging_report(
                as_of=as_of, currency=opts["currency"].strip(), legal_entity_id=entity
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"--{path}: {' '.join(m)}" for path, m in exc.details.items())
            )
        if opts["csv"]:
            rows = aging_table(report)
            path = csv_write(opts["csv"], AGING_COLUMNS, rows)
            self.stdout.write(f"Wrote the aging as of {as_of} to {path} ({len(rows)} rows).")
            return
        self.stdout.write(
            f"Aging as of {as_of.isoformat()}, by days past due "
            "(unapplied credit and unallocated payments are negative in current)"
        )
        if not report.totals:
            self.stdout.write("Nothing receivable.")
            return
        header = ["Account", "Currency", "Current", *AGING_BUCKETS[1:], "Total"]
        lines = []
        for row in (*report.rows, *report.totals):
            places = currency_exponent(row.currency)
            name = row.account_name if row.account_id is not None else "Total"
            lines.append(
                [
                    name,
                    row.currency,
                    *(number_display(a, places) for a in row.amounts),
                    number_display(row.total, places),
                ]
            )
        right = range(2, len(header))
        for line in text_table(header, lines, right=right):
            self.stdout.write(line)
