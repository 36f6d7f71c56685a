"""Builders and readers of billed worlds for the invoicing tests (plain functions; the
fixtures that use them are in tests/invoicing/conftest.py).

Lifecycle world (`lw` fixture): a seller with numbering and Texas taxes, an account (bill-to
ap@example.com, Visa •••• 4242, billing address Austin TX) with an activated order:

- Seat: 10 × 5.00 a month → 50.00 a month; state tax 6.25 % = 3.125 → 3.13, city tax 2 % =
  1.00; 54.13 a month.
- Premium support: 1 × 19.99 a month; 6.25 % = 1.249375 → 1.25, 2 % = 0.3998 → 0.40;
  21.64 a month.

Monthly in advance, 2026-01-01 to 2026-12-31: a month bills 69.99 + 5.78 tax = 75.77.

Batch world (`billed` fixture): the world's seller numbers USD invoices INV-0001… and taxes
Texas at 6.25 %; `customers` adds accounts with a 10-seat order each.
"""

import datetime as dt
from decimal import Decimal as D

from django.db.models import Count

from accounts.models import Account, LegalEntity
from billing.models import BillingSchedule, Order
from billing.services.orders import order_activate, order_create
from invoicing.api.invoices import IngestInvoiceSerializer
from invoicing.models import (
    BillingPeriodItem,
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    Invoice,
    InvoiceLine,
    InvoiceLineTax,
    Payment,
    SequencePolicy,
)
from invoicing.services.credits import credit_memo_apply
from invoicing.services.generation import invoices_generate
from invoicing.services.ingestion import invoice_ingest
from invoicing.services.memos import credit_memo_create, credit_memo_post
from tests.conftest import make_account
from tests.support.tax_engines import UNREGISTERED

d = dt.date


# --------------------------------------------------------------------------------------------
# Orders


def monthly(product, quantity: str, price: str, **kw) -> dict:
    """An order item billed monthly in advance, anniversary periods, Jan 1 – Dec 31 2026."""
    item = {
        "product": product,
        "quantity": D(quantity),
        "unit_price": D(price),
        "pricing_term": "month",
        "start_date": d(2026, 1, 1),
        "end_date": d(2026, 12, 31),
        "billing_frequency": "monthly",
        "billing_type": "advance",
        "period_boundary": "anniversary",
    }
    item.update(kw)
    return item


def seats_item(world, **kw) -> dict:
    """10 seats at 5.00 a month (50.00 a month), billed monthly in advance, 2026."""
    item = {
        "product": world.seat,
        "quantity": D("10"),
        "unit_price": D("5.00"),
        "pricing_term": "month",
        "start_date": d(2026, 1, 1),
        "end_date": d(2026, 12, 31),
        "billing_frequency": "monthly",
    }
    item.update(kw)
    return item


def subscribe(world, account, items=None, **order_fields) -> Order:
    order = order_create(account=account, items=items or [seats_item(world)], **order_fields)
    return order_activate(order_id=order.pk)


def customers(world, n: int, *, prefix: str = "Customer", seller=None, **order_fields):
    """n new accounts, each with one activated seats order. Returns the accounts."""
    accounts = []
    for i in range(n):
        account = make_account(f"{prefix} {i:03d}", seller=seller or world.seller)
        subscribe(world, account, **order_fields)
        accounts.append(account)
    return accounts


def broken_customer(world, name="Broken Co"):
    """An account whose seller the tax service does not know (tax_engines.Unregistered-
    EntityTaxEngine), with one seats order: its grouping key fails when that engine is in use."""
    seller = LegalEntity.objects.create(name=f"{UNREGISTERED} {name} Seller")
    account = make_account(name, seller=seller)
    subscribe(world, account)
    return account


def schedules_of(accounts) -> list[BillingSchedule]:
    return list(BillingSchedule.objects.filter(account__in=accounts).order_by("id"))


# --------------------------------------------------------------------------------------------
# Generation and reads


def generate(world, target: dt.date, *, action: str = "posted") -> Invoice:
    """Generate for the world's account; exactly one invoice is expected."""
    result = invoices_generate(account_id=world.account.pk, target_date=target, action=action)
    assert result.errors == [] and result.posting_errors == [], result.errors
    (invoice,) = result.invoices
    return invoice


def schedule_state(schedule: BillingSchedule) -> tuple:
    schedule.refresh_from_db()
    return (
        schedule.status,
        schedule.next_charge_from_date,
        schedule.next_billing_date,
        schedule.billed_amount,
        schedule.pending_amount,
    )


def line_rows(invoice) -> list[tuple]:
    return list(
        InvoiceLine.objects.filter(invoice=invoice)
        .order_by("sort_order", "id")
        .values_list("name", "period_start", "period_end", "quantity", "amount", "tax_amount")
    )


def tax_rows(invoice) -> list[tuple]:
    return list(
        InvoiceLineTax.objects.filter(line__invoice=invoice)
        .order_by("line__sort_order", "id")
        .values_list("line__name", "name", "rate", "amount")
    )


def snapshot() -> dict:
    """Everything a refused lifecycle operation must leave as it was."""
    return {
        "invoices": sorted(
            Invoice.objects.values_list(
                "pk",
                "status",
                "number",
                "total",
                "balance",
                "settlement_status",
                "invoice_date",
                "due_date",
                "description",
                "total_adjustments",
                "total_tax",
            )
        ),
        "lines": sorted(InvoiceLine.objects.values_list("pk", "amount", "tax_amount")),
        "taxes": InvoiceLineTax.objects.count(),
        "items": sorted(
            BillingPeriodItem.objects.values_list("pk", "invoice_id", "invoice_status")
        ),
        "schedules": sorted(
            BillingSchedule.objects.values_list(
                "pk",
                "status",
                "next_charge_from_date",
                "next_billing_date",
                "billed_amount",
                "pending_amount",
            )
        ),
        "credit_memos": sorted(CreditMemo.objects.values_list("pk", "status", "balance")),
        "credit_lines": CreditMemoLine.objects.count(),
        "credit_taxes": CreditMemoLineTax.objects.count(),
        "applications": sorted(
            CreditMemoApplication.objects.values_list("pk", "amount", "unapplied_at")
        ),
        "payments": Payment.objects.count(),
        "policies": sorted(SequencePolicy.objects.values_list("pk", "next_value")),
    }


def invoice_line_periods(invoice) -> list[tuple]:
    """(period start, period end, amount, tax) of each line, in order."""
    return list(
        invoice.lines.order_by("sort_order").values_list(
            "period_start", "period_end", "amount", "tax_amount"
        )
    )


def billed_counts() -> dict:
    """{(schedule, period start): live period items}: every value must be 1."""
    rows = (
        BillingPeriodItem.objects.filter(invoice_status__in=["draft", "posted"])
        .values("schedule_id", "period_start")
        .annotate(n=Count("id"))
    )
    return {(r["schedule_id"], r["period_start"]): r["n"] for r in rows}


def credit_memo(
    account,
    amount: str,
    *,
    on: dt.date,
    currency: str = "USD",
    reason: str = "Goodwill",
    post: bool = True,
) -> CreditMemo:
    """A credit memo of one line of `amount` for `account`, dated `on`; posted on `on` unless
    `post` is False."""
    memo = credit_memo_create(
        account_id=account.pk,
        currency=currency,
        memo_date=on,
        reason=reason,
        lines=[{"name": f"{reason} credit", "unit_price": amount}],
    )
    return credit_memo_post(credit_memo_id=memo.pk, posted_date=on) if post else memo


def credit_applied(invoice: Invoice, amount: str, on: dt.date, reason: str = "Goodwill"):
    """A posted credit memo of `amount` for the invoice's account, applied to the invoice on
    `on`, through the services."""
    memo = credit_memo(invoice.account, amount, on=on, currency=invoice.currency, reason=reason)
    credit_memo_apply(
        credit_memo_id=memo.pk,
        applications=[{"invoice": invoice.pk, "amount": amount}],
        applied_date=on,
    )
    invoice.refresh_from_db()
    memo.refresh_from_db()
    return memo


# --- imported invoices with a negative line (negative line conversion) ---

CREDIT = {
    "name": "Seats cancelled from Oct 16",
    "quantity": "-2",
    "unit_price": "50.00",
    "amount": "-100.00",
    "taxes": [{"name": "TX sales tax", "code": "TX", "rate": "6.25", "amount": "-6.25"}],
}
CONSULTING = {
    "name": "Consulting, October",
    "quantity": "10",
    "unit_price": "150.00",
    "amount": "1500.00",
    "taxes": [{"name": "TX sales tax", "code": "TX", "rate": "6.25", "amount": "93.75"}],
}


def ingested(world, lines, number="LEGACY-0042") -> Invoice:
    """A posted invoice imported for the world's account (external id ERP-4711)."""
    Account.objects.filter(pk=world.account.pk).update(external_id="ERP-4711")
    body = IngestInvoiceSerializer(
        data={
            "account_external_id": "ERP-4711",
            "status": "posted",
            "invoice_date": "2026-11-01",
            "posted_date": "2026-11-02",
            "due_date": "2026-12-01",
            "number": number,
            "lines": lines,
        }
    )
    body.is_valid(raise_exception=True)
    return invoice_ingest(data=body.validated_data).invoice
