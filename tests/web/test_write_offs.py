"""Writing off an invoice's balance from its page and reversing it (issue 13, point 4): a
confirmation with the amount first (nothing changes before it), the note carried through;
the page then says it is written off and offers the reversal; payments are refused meanwhile.

Acme's January invoice INV-0001: 53.13 USD."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.urls import reverse

from invoicing.models import CreditMemo
from tests.support.confirm import confirmation_of
from tests.support.invoicing import generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date


def main(client, invoice) -> str:
    page = client.get(reverse("web:invoice_detail", args=[invoice.pk])).content.decode()
    return page.split('id="main"')[1].split("</main>")[0]


def test_write_off_and_reverse_from_the_invoice_page(ops, billed):
    invoice = generate(billed, d(2026, 1, 31))
    url = reverse("web:invoice_write_off", args=[invoice.pk])
    assert f'action="{url}"' in main(ops, invoice)

    before = snapshot()
    response = ops.post(url, {"note": "Customer closed"})
    figures = confirmation_of(response)
    page = response.content.decode()
    assert "<h1>Write off 53.13 USD of INV-0001?</h1>" in page
    assert "(reason: write-off; “Customer closed”)" in page
    assert snapshot() == before

    html = ops.post(url, {"note": "Customer closed", "confirm": figures}, follow=True)
    html = html.content.decode()
    memo = CreditMemo.objects.get()
    assert f"53.13 USD of INV-0001 written off ({memo})." in html
    assert (memo.source, memo.reason, memo.total) == (
        "write_off",
        "Customer closed",
        D("53.13"),
    )
    invoice.refresh_from_db()
    assert (invoice.balance, invoice.settlement_status) == (D("0.00"), "settled")
    page = main(ops, invoice)
    assert "<strong>Written off</strong> on " in page and "by olga: 53.13 USD" in page
    assert "Reverse write-off…" in page and "Record payment" not in page
    assert f'action="{url}"' not in page

    # A payment is refused while written off.
    before = snapshot()
    html = ops.post(
        reverse("web:invoice_payment", args=[invoice.pk]),
        {"amount": "1.00", "payment_date": "2026-02-10"},
    ).content.decode()
    assert "a written-off invoice takes no payment. Reverse the write-off first." in html
    assert snapshot() == before

    reverse_url = reverse("web:invoice_write_off_reverse", args=[invoice.pk])
    response = ops.post(reverse_url)
    assert "<h1>Reverse the write-off of INV-0001?</h1>" in response.content.decode()
    html = ops.post(reverse_url, {"confirm": confirmation_of(response)}, follow=True)
    assert "Write-off of INV-0001 reversed: 53.13 USD is open again." in html.content.decode()
    invoice.refresh_from_db()
    memo.refresh_from_db()
    assert (invoice.balance, memo.status) == (D("53.13"), "voided")
    assert "Written off" not in main(ops, invoice)


def test_nothing_to_write_off_is_said_on_the_confirmation(ops, billed):
    invoice = generate(billed, d(2026, 1, 31))
    ops.post(
        reverse("web:invoice_payment", args=[invoice.pk]),
        {"amount": "53.13", "payment_date": "2026-02-10"},
    )
    page = ops.post(reverse("web:invoice_write_off", args=[invoice.pk])).content.decode()
    assert "Invoice INV-0001 has no open balance to write off." in page
    assert 'name="confirm"' not in page


def test_read_only_users_cannot_write_off(ro, billed):
    invoice = generate(billed, d(2026, 1, 31))
    before = snapshot()
    assert ro.post(reverse("web:invoice_write_off", args=[invoice.pk])).status_code == 403
    assert ro.post(reverse("web:invoice_write_off_reverse", args=[invoice.pk])).status_code == 403
    assert snapshot() == before
