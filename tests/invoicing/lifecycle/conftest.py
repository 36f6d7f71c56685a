"""A billed world for the lifecycle tests: a seller with numbering and Texas taxes, an account
(bill-to ap@example.com, Visa •••• 4242, billing address Austin TX) with an activated order:

- Seat: 10 × 5.00 a month → 50.00 a month; state tax 6.25 % = 3.125 → 3.13, city tax 2 % =
  1.00; 54.13 a month.
- Premium support: 1 × 19.99 a month; 6.25 % = 1.249375 → 1.25, 2 % = 0.3998 → 0.40;
  21.64 a month.

Monthly in advance, 2026-01-01 to 2026-12-31: a month bills 69.99 + 5.78 tax = 75.77.
"""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from billing.models import BillingSchedule
from billing.services.orders import order_activate, order_create
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
    TaxRate,
)
from invoicing.services.generation import invoices_generate

d = dt.date


def monthly(product, quantity: str, price: str, **kw) -> dict:
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


@pytest.fixture
def lw(world):
    """The lifecycle world (see the module docstring)."""
    world.policy = SequencePolicy.objects.create(name="US", pattern="INV-{SEQ}", min_width=4)
    TaxRate.objects.create(name="TX state tax", rate=D("6.25"), country="US", region="TX")
    TaxRate.objects.create(
        name="Austin city tax", rate=D("2.00"), country="US", region="TX", priority=2
    )
    order = order_create(
        account=world.account,
        items=[monthly(world.seat, "10", "5.00"), monthly(world.support, "1", "19.99")],
    )
    world.order = order_activate(order_id=order.pk)
    world.seat_schedule = BillingSchedule.objects.get(order=order, product=world.seat)
    world.support_schedule = BillingSchedule.objects.get(order=order, product=world.support)
    return world


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
        "applications": CreditMemoApplication.objects.count(),
        "payments": Payment.objects.count(),
        "policies": sorted(SequencePolicy.objects.values_list("pk", "next_value")),
    }


@pytest.fixture
def api(db):
    user = User.objects.create_user("ops", password="x", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def admin_client_logged(client, db):
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client
