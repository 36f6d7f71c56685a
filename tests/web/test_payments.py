"""Payments received from the staff UI (issue 13, points 3 and 8): record a bank transfer on
an account that pays one invoice and overpays, see the surplus kept as credit, allocate part of
it to another invoice, refund the rest after a confirmation, reverse a payment recorded in
error after a confirmation; refusals at their fields; read-only users change nothing.

Acme's January and February invoices INV-0001 and INV-0002: 53.13 USD each."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse
from freezegun import freeze_time

from invoicing.models import Invoice, Receipt, Refund
from tests.support.confirm import confirmation_of
from tests.support.invoicing import generate, snapshot
from tests.support.pages import field_error

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
d = dt.date


@pytest.fixture
def frozen():
    with freeze_time("2026-03-05 12:00:00"):
        yield


@pytest.fixture
def two(billed):
    billed.january = generate(billed, d(2026, 1, 31))
    billed.february = generate(billed, d(2026, 2, 28))
    return billed


def test_overpay_allocate_and_refund_the_surplus(ops, two):
    url = reverse("web:receipt_new", args=[two.account.pk])
    account_page = ops.get(reverse("web:account_detail", args=[two.account.pk])).content.decode()
    assert f'href="{url}"' in account_page
    form = ops.get(url).content.decode()
    assert re.findall(r'<tr data-invoice="(\d+)">', form) == [
        str(two.january.pk),
        str(two.february.pk),
    ]
    html = ops.post(
        url,
        {
            "amount": "100.00",
            "payment_date": "2026-03-02",
            "method": "bank_transfer",
            "reference": "SEPA 42",
            f"alloc_{two.january.pk}": "53.13",
            f"alloc_{two.february.pk}": "",
        },
        follow=True,
    ).content.decode()
    receipt = Receipt.objects.get()
    assert f"{receipt} recorded; 46.87 USD is kept as unallocated credit." in html
    assert "<dd data-unallocated>46.87 USD</dd>" in html
    two.january.refresh_from_db()
    assert (two.january.balance, two.january.settlement_status) == (D("0.00"), "settled")

    ops.post(
        reverse("web:receipt_allocate", args=[receipt.pk]),
        {"allocate-invoice": str(two.february.pk), "allocate-amount": "40.00"},
    )
    receipt.refresh_from_db()
    assert receipt.unallocated == D("6.87")

    refund_url = reverse("web:receipt_refund", args=[receipt.pk])
    data = {"refund-amount": "6.87", "refund-refund_date": "2026-03-05", "refund-reason": "Surplus"}
    before = snapshot()
    response = ops.post(refund_url, data)
    page = response.content.decode()
    assert f"<h1>Refund 6.87 USD of {receipt}?</h1>" in page
    assert snapshot() == before and not Refund.objects.exists()
    html = ops.post(refund_url, {**data, "confirm": confirmation_of(response)}, follow=True)
    assert "Refund of 6.87 USD recorded." in html.content.decode()
    receipt.refresh_from_db()
    assert (receipt.unallocated, receipt.refunded) == (D("0.00"), D("6.87"))
    assert Invoice.objects.get(pk=two.february.pk).balance == D("13.13")


def test_reverse_a_payment_recorded_in_error(ops, two):
    ops.post(
        reverse("web:receipt_new", args=[two.account.pk]),
        {
            "amount": "20.00",
            "payment_date": "2026-03-02",
            "method": "cheque",
            f"alloc_{two.january.pk}": "20.00",
        },
    )
    receipt = Receipt.objects.get()
    url = reverse("web:receipt_reverse", args=[receipt.pk])
    response = ops.post(url, {"reason": "Wrong account"})
    assert "20.00 USD allocated to INV-0001 is taken back" in response.content.decode()
    html = ops.post(
        url, {"reason": "Wrong account", "confirm": confirmation_of(response)}, follow=True
    ).content.decode()
    assert f"{receipt} reversed; its allocations are open again." in html
    receipt.refresh_from_db()
    assert (receipt.status, receipt.reversal_reason) == ("reversed", "Wrong account")
    assert Invoice.objects.get(pk=two.january.pk).balance == D("53.13")


def test_refusals_at_their_fields(ops, two):
    url = reverse("web:receipt_new", args=[two.account.pk])
    before = snapshot()
    page = ops.post(
        url,
        {
            "amount": "10.00",
            "payment_date": "2026-03-02",
            "method": "cash",
            f"alloc_{two.january.pk}": "20.00",
        },
    ).content.decode()
    assert field_error(page, f"alloc_{two.january.pk}") == (
        "The allocations come to 20.00 USD, more than the payment&#x27;s 10.00 USD."
    )
    page = ops.post(
        url, {"amount": "10.00", "payment_date": "2026-03-06", "method": "cash"}
    ).content.decode()
    assert field_error(page, "payment_date") == (
        "2026-03-06 is in the future; record money once it is received."
    )
    assert snapshot() == before and not Receipt.objects.exists()


def test_read_only_users_change_nothing(ro, ops, two):
    ops.post(
        reverse("web:receipt_new", args=[two.account.pk]),
        {"amount": "100.00", "payment_date": "2026-03-02", "method": "cash"},
    )
    receipt = Receipt.objects.get()
    page = ro.get(reverse("web:receipt_detail", args=[receipt.pk])).content.decode()
    assert "Refund…" not in page and "Reverse payment…" not in page
    before = snapshot()
    for name in ("receipt_allocate", "receipt_refund", "receipt_reverse"):
        assert ro.post(reverse(f"web:{name}", args=[receipt.pk])).status_code == 403
    assert ro.get(reverse("web:receipt_new", args=[two.account.pk])).status_code == 403
    assert snapshot() == before


def test_take_back_an_allocation_then_refund_it(ops, two):
    ops.post(
        reverse("web:receipt_new", args=[two.account.pk]),
        {
            "amount": "53.13",
            "payment_date": "2026-03-02",
            "method": "cash",
            f"alloc_{two.january.pk}": "53.13",
        },
    )
    receipt = Receipt.objects.get()
    url = reverse("web:receipt_unallocate", args=[receipt.pk, two.january.pk])
    assert (
        f'action="{url}"'
        in ops.get(reverse("web:receipt_detail", args=[receipt.pk])).content.decode()
    )
    html = ops.post(url, follow=True).content.decode()
    assert "Allocation taken back: 53.13 USD of the payment is unallocated now." in html
    assert "(taken back)" in html
    assert Invoice.objects.get(pk=two.january.pk).balance == D("53.13")
