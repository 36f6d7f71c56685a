"""invoices_generate_preview: what an on-demand generation would make now (the staff UI's
confirmation of "generate posted"), planned as invoices_generate plans it, writing nothing.

Figures (the lifecycle world `lw`): 10 seats at 5.00 and support at 19.99 a month, Texas
state tax 6.25 % and Austin city tax 2 %: a month bills 75.77 USD."""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts.models import BillingProfile
from billing.models import BillingSchedule
from invoicing.models import BillingPeriodItem, DebitMemo, Invoice
from invoicing.services.generation import invoices_generate
from invoicing.services.memos import debit_memo_create
from invoicing.services.preview import invoices_generate_preview

pytestmark = pytest.mark.django_db
d = dt.date


def schedule_dates(world) -> list:
    return list(
        BillingSchedule.objects.filter(account=world.account)
        .order_by("id")
        .values_list("next_billing_date", "status")
    )


def test_the_preview_is_what_generation_makes_and_writes_nothing(lw):
    before = schedule_dates(lw)
    preview = invoices_generate_preview(
        account_id=lw.account.pk, target_date=d(2026, 2, 15), invoice_date=d(2026, 2, 16)
    )
    assert preview.schedule_count == 2 and preview.suspended == []
    assert [
        (p.invoice.currency, p.invoice.total, p.invoice.invoice_date) for p in preview.invoices
    ] == [("USD", D("151.54"), d(2026, 2, 16))]
    # One line per schedule and period (January's and February's), as generation bills them.
    assert sorted(line.amount for line in preview.invoices[0].lines) == [
        D("19.99"),
        D("19.99"),
        D("50.00"),
        D("50.00"),
    ]
    assert not Invoice.objects.exists() and not BillingPeriodItem.objects.exists()
    assert schedule_dates(lw) == before

    result = invoices_generate(
        account_id=lw.account.pk,
        target_date=d(2026, 2, 15),
        invoice_date=d(2026, 2, 16),
        action="posted",
    )
    (invoice,) = result.invoices
    assert (invoice.status, invoice.total) == ("posted", D("151.54"))


def test_the_preview_carries_the_debit_memos_generation_would_bill(lw):
    memo = debit_memo_create(
        account_id=lw.account.pk,
        memo_date=d(2026, 1, 5),
        lines=[{"name": "Late fee", "unit_price": "25.00", "taxable": False}],
        post=True,
    )
    preview = invoices_generate_preview(order_id=lw.order.pk, target_date=d(2026, 1, 15))
    (planned,) = preview.invoices
    assert planned.invoice.total == D("100.77")  # 75.77 + the untaxed 25.00 fee
    assert [line.name for line in planned.lines][-1] == "Late fee"
    memo.refresh_from_db()
    assert (memo.status, memo.invoice_id) == (DebitMemo.Status.POSTED, None)  # still due

    (invoice,) = invoices_generate(order_id=lw.order.pk, target_date=d(2026, 1, 15)).invoices
    assert invoice.total == D("100.77")


def test_a_suspended_schedule_makes_an_empty_preview_naming_it(lw):
    BillingProfile.objects.filter(account=lw.account).update(suspension_date=d(2026, 1, 1))
    preview = invoices_generate_preview(account_id=lw.account.pk, target_date=d(2026, 1, 15))
    assert preview.invoices == []
    assert sorted(s.pk for s in preview.suspended) == sorted(
        [lw.seat_schedule.pk, lw.support_schedule.pk]
    )


def test_nothing_due_previews_nothing(lw):
    preview = invoices_generate_preview(account_id=lw.account.pk, target_date=d(2025, 12, 31))
    assert (preview.invoices, preview.schedule_count, preview.suspended) == ([], 0, [])
