"""Crediting lines of a posted invoice from its page (issue 13, points 1 and 8): amounts or
quantities per line, reasons from the fixed list; posting asks first with the memo's amounts
and changes nothing until confirmed; a draft is saved at once; refusals land on the line's
field; read-only users change nothing.

Acme's January invoice INV-0001: Seat, 10 × 5.00 = 50.00, TX sales tax 3.13: 53.13."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse

from invoicing.models import CreditMemo, CreditMemoApplication
from tests.support.confirm import confirmation_of
from tests.support.invoicing import generate, snapshot
from tests.support.pages import field_error

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def posted(billed):
    invoice = generate(billed, d(2026, 1, 31))
    invoice.seat = invoice.lines.get()
    return invoice


def form_data(invoice, **fields):
    return {
        f"amount_{invoice.seat.pk}": "",
        f"quantity_{invoice.seat.pk}": "",
        "reason_code": "service_issue",
        "note": "Outage on 12 January",
        "credit_date": "2026-02-10",
        "action": "apply",
        **fields,
    }


def test_credit_part_of_a_line_after_its_confirmation(ops, posted):
    url = reverse("web:invoice_credit_lines", args=[posted.pk])
    detail = ops.get(reverse("web:invoice_detail", args=[posted.pk])).content.decode()
    assert f'href="{url}"' in detail
    page = ops.get(url).content.decode()
    row = re.search(rf'<tr data-line="{posted.seat.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "50.00 USD" in row and '<td class="num" data-left>50.00 USD</td>' in row
    options = re.findall(r'<option value="(\w+)"', page)
    assert options[:5] == ["billing_error", "service_issue", "goodwill", "cancellation", "other"]

    data = form_data(posted, **{f"amount_{posted.seat.pk}": "20.00"})
    before = snapshot()
    response = ops.post(url, data)
    figures = confirmation_of(response)
    page = response.content.decode()
    assert "<h1>Post a credit memo of 21.25 USD on INV-0001?</h1>" in page
    assert "Seat: 20.00 USD, tax 1.25 USD." in page
    assert "21.25 USD of it is applied to INV-0001, whose balance becomes 31.88 USD." in page
    assert snapshot() == before  # nothing before the confirmation

    html = ops.post(url, {**data, "confirm": figures}, follow=True).content.decode()
    memo = CreditMemo.objects.get()
    assert f"{memo} of 21.25 USD posted and applied to this invoice." in html
    assert (memo.status, memo.reason_code, memo.reason, memo.total, memo.balance) == (
        "posted",
        "service_issue",
        "Outage on 12 January",
        D("21.25"),
        D("0.00"),
    )
    posted.refresh_from_db()
    assert (posted.balance, posted.settlement_status) == (D("31.88"), "partially_settled")
    assert CreditMemoApplication.objects.get().applied_by == "olga"

    # What is left is shown, and the next credit is held to it.
    page = ops.get(url).content.decode()
    row = re.search(rf'<tr data-line="{posted.seat.pk}">(.*?)</tr>', page, re.S).group(1)
    assert '<td class="num" data-left>30.00 USD</td>' in row and "20.00 USD" in row
    before = snapshot()
    page = ops.post(
        url, form_data(posted, **{f"amount_{posted.seat.pk}": "30.01"})
    ).content.decode()
    assert field_error(page, f"amount_{posted.seat.pk}") == (
        "Line &#x27;Seat&#x27; has 30.00 USD left to credit of 50.00 USD (20.00 USD credited "
        "before); 30.01 USD is more."
    )
    assert snapshot() == before


def test_a_draft_is_saved_at_once_by_quantity(ops, posted):
    url = reverse("web:invoice_credit_lines", args=[posted.pk])
    html = ops.post(
        url,
        form_data(posted, **{f"quantity_{posted.seat.pk}": "2", "action": "draft"}),
        follow=True,
    ).content.decode()
    memo = CreditMemo.objects.get()
    assert f"{memo} of 10.63 USD saved as a draft." in html
    assert (memo.status, memo.total, memo.balance) == ("draft", D("10.63"), D("0.00"))
    assert list(memo.lines.values_list("quantity", "amount", "tax_amount")) == [
        (D("2"), D("10.00"), D("0.63"))
    ]
    posted.refresh_from_db()
    assert posted.balance == D("53.13")


def test_bad_input_shows_at_its_field_and_changes_nothing(ops, posted):
    url = reverse("web:invoice_credit_lines", args=[posted.pk])
    before = snapshot()
    page = ops.post(url, form_data(posted)).content.decode()
    assert "Give an amount or a quantity for at least one line." in page
    page = ops.post(
        url,
        form_data(
            posted, **{f"amount_{posted.seat.pk}": "1.00", f"quantity_{posted.seat.pk}": "1"}
        ),
    ).content.decode()
    assert field_error(page, f"quantity_{posted.seat.pk}") == (
        "Give an amount or a quantity, not both."
    )
    page = ops.post(
        url, form_data(posted, **{f"amount_{posted.seat.pk}": "0", "reason_code": "pricing"})
    ).content.decode()
    assert field_error(page, f"amount_{posted.seat.pk}") == (
        "A credit is more than zero: at least 0.01 USD."
    )
    assert "Select a valid choice. pricing is not one of the available choices." in page
    assert snapshot() == before


def test_read_only_users_cannot_credit(ro, posted):
    url = reverse("web:invoice_credit_lines", args=[posted.pk])
    assert ro.get(url).status_code == 403
    before = snapshot()
    response = ro.post(url, form_data(posted, **{f"amount_{posted.seat.pk}": "5.00"}))
    assert response.status_code == 403
    assert snapshot() == before
