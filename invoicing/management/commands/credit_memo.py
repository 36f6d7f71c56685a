"""A standalone credit memo for an account (credits not tied to invoice lines):

    manage.py credit_memo DEMO-001 --line "Goodwill credit=25.00" --reason goodwill \
        --note "Outage on 3 March" [--draft]
    manage.py credit_memo --post CM-000004     # post a draft

Accounts by id or external id; the memo is posted (numbered) unless --draft. Apply it with
`apply_credit_memo`."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from accounts.models import Account
from core.exceptions import DomainError
from core.money import money_display
from invoicing.management.commands._refs import date_option, document_pk, service_error
from invoicing.models import CreditMemo, CreditReason
from invoicing.services.memos import credit_memo_create, credit_memo_post


class Command(BaseCommand):
    help = "Create (and post) a standalone credit memo for an account, or --post a draft."

    def add_arguments(self, parser):
        parser.add_argument("account", nargs="?", help="The account's id or external id.")
        parser.add_argument("--line", action="append", default=[], metavar="NAME=AMOUNT")
        parser.add_argument("--reason", default=CreditReason.OTHER, choices=CreditReason.values)
        parser.add_argument("--note", default="")
        parser.add_argument("--date", help="The credit date, YYYY-MM-DD (default: today).")
        parser.add_argument("--draft", action="store_true", help="Save a draft; do not post.")
        parser.add_argument("--post", metavar="MEMO", help="Post this draft memo instead.")

    def handle(self, *args, **opts):
        try:
            memo = self._act(opts)
        except DomainError as exc:
            raise service_error(exc) from None
        self.stdout.write(
            f"{memo} ({memo.get_status_display().lower()}): "
            f"{money_display(memo.total, memo.currency)}"
        )

    def _act(self, opts) -> CreditMemo:
        if opts["post"]:
            return credit_memo_post(
                credit_memo_id=document_pk(CreditMemo, opts["post"], "credit memo")
            )
        ref = opts["account"]
        if not ref or not opts["line"]:
            raise CommandError("Name the account and at least one --line NAME=AMOUNT.")
        match = Q(external_id=ref) | (Q(pk=int(ref)) if ref.isdigit() else Q(pk__in=[]))
        account_id = Account.objects.filter(match).values_list("pk", flat=True).first()
        if account_id is None:
            raise CommandError(f"No account with id or external id '{ref}'.")
        lines = []
        for text in opts["line"]:
            name, sep, amount = text.rpartition("=")
            if not sep or not name:
                raise CommandError(f"--line {text!r}: write NAME=AMOUNT, e.g. 'Goodwill=25.00'.")
            lines.append({"name": name, "unit_price": amount})
        return credit_memo_create(
            account_id=account_id,
            lines=lines,
            memo_date=date_option(opts["date"]),
            reason_code=opts["reason"],
            reason=opts["note"],
            post=not opts["draft"],
        )
