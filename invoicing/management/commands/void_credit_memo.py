"""Void posted credit memos none of whose credit is applied (by number or id): each becomes
voided and an offsetting debit memo, never billed, records it (credits.py credit_memo_void).

    manage.py void_credit_memo CM-000004
"""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from invoicing.management.commands._refs import document_pk
from invoicing.models import CreditMemo
from invoicing.services.credits import credit_memo_void


class Command(BaseCommand):
    help = "Void posted, unapplied credit memos (by number or id): an offsetting debit memo."

    def add_arguments(self, parser):
        parser.add_argument("credit_memos", nargs="+", help="Credit memo numbers or ids.")

    def handle(self, *args, **opts):
        failed = 0
        for ref in opts["credit_memos"]:
            pk = document_pk(CreditMemo, ref, "credit memo")
            try:
                result = credit_memo_void(credit_memo_id=pk, voided_by="manage.py")
            except DomainError as exc:
                failed += 1
                self.stderr.write(f"credit memo {ref}: [{exc.code}] {exc.message}")
                continue
            self.stdout.write(
                f"voided {result.credit_memo}; offsetting debit memo {result.debit_memo}"
            )
        if failed:
            raise CommandError(f"{failed} credit memo(s) not voided; see the errors above.")
