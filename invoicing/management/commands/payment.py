"""Payments received, from a terminal (invoicing/services/payments.py):

    manage.py payment receive DEMO-001 500.00 --method bank_transfer --reference "SEPA 42" \\
        --allocate INV-2026-000001 --allocate INV-2026-000002:100.00
    manage.py payment allocate 12 INV-2026-000003
    manage.py payment refund 12 24.23 --reason "Surplus"
    manage.py payment reverse 12 --reason "Wrong account"

Accounts by id or external id; invoices by number or id; `--allocate INVOICE` without an
amount takes what is open (up to what is left of the payment)."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from accounts.models import Account
from core.exceptions import DomainError
from core.money import money_display
from invoicing.management.commands._refs import date_option, document_pk, service_error
from invoicing.models import Invoice, PaymentMethod, Receipt
from invoicing.services.payments import (
    payment_allocate,
    payment_receive,
    payment_refund,
    payment_reverse,
    payment_unallocate,
)


def _allocations(refs: list[str]) -> list[dict]:
    out = []
    for ref in refs:
        number, _, amount = ref.partition(":")
        out.append({"invoice": document_pk(Invoice, number, "invoice"), "amount": amount or None})
    return out


class Command(BaseCommand):
    help = "Receive, allocate, refund or reverse a payment (see the module docstring)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        receive = sub.add_parser("receive", help="Record money received from an account.")
        receive.add_argument("account", help="The account's id or external id.")
        receive.add_argument("amount")
        receive.add_argument("--date", help="Date received, YYYY-MM-DD (default: today).")
        receive.add_argument("--method", default="other", choices=PaymentMethod.values)
        receive.add_argument("--reference", default="")
        receive.add_argument("--allocate", action="append", default=[], metavar="INVOICE[:AMOUNT]")
        allocate = sub.add_parser("allocate", help="Allocate what is left of a payment.")
        allocate.add_argument("payment", type=int)
        allocate.add_argument("invoices", nargs="+", metavar="INVOICE[:AMOUNT]")
        unallocate = sub.add_parser("unallocate", help="Take back an allocation to an invoice.")
        unallocate.add_argument("payment", type=int)
        unallocate.add_argument("invoice", metavar="INVOICE")
        refund = sub.add_parser("refund", help="Refund part of a payment's unallocated money.")
        refund.add_argument("payment", type=int)
        refund.add_argument("amount")
        refund.add_argument("--date", help="Refund date, YYYY-MM-DD (default: today).")
        refund.add_argument("--reason", default="")
        reverse = sub.add_parser("reverse", help="Reverse a payment recorded in error.")
        reverse.add_argument("payment", type=int)
        reverse.add_argument("--reason", default="")

    def handle(self, *args, **opts):
        try:
            receipt = self._act(opts)
        except DomainError as exc:
            raise service_error(exc) from None
        receipt = Receipt.objects.get(pk=receipt.pk)
        for allocation in receipt.allocations.active().select_related("invoice").order_by("id"):
            self.stdout.write(
                f"  allocated {money_display(allocation.amount, receipt.currency)} to "
                f"{allocation.invoice}"
            )
        self.stdout.write(
            f"{receipt} ({receipt.get_status_display().lower()}): unallocated "
            f"{money_display(receipt.unallocated, receipt.currency)}, refunded "
            f"{money_display(receipt.refunded, receipt.currency)}"
        )

    def _act(self, opts) -> Receipt:
        action = opts["action"]
        if action == "receive":
            ref = opts["account"]
            match = Q(external_id=ref) | (Q(pk=int(ref)) if ref.isdigit() else Q(pk__in=[]))
            account_id = Account.objects.filter(match).values_list("pk", flat=True).first()
            if account_id is None:
                raise CommandError(f"No account with id or external id '{ref}'.")
            return payment_receive(
                account_id=account_id,
                amount=opts["amount"],
                payment_date=date_option(opts["date"]),
                method=opts["method"],
                reference=opts["reference"],
                allocations=_allocations(opts["allocate"]),
                recorded_by="manage.py",
            )
        if action == "allocate":
            payment_allocate(
                receipt_id=opts["payment"],
                allocations=_allocations(opts["invoices"]),
                allocated_by="manage.py",
            )
            return Receipt(pk=opts["payment"])
        if action == "unallocate":
            return payment_unallocate(
                receipt_id=opts["payment"],
                invoice_id=document_pk(Invoice, opts["invoice"], "invoice"),
                unallocated_by="manage.py",
            )
        if action == "refund":
            refund = payment_refund(
                receipt_id=opts["payment"],
                amount=opts["amount"],
                refund_date=date_option(opts["date"]),
                reason=opts["reason"],
                refunded_by="manage.py",
            )
            return refund.receipt
        return payment_reverse(
            receipt_id=opts["payment"], reason=opts["reason"], reversed_by="manage.py"
        )
