"""Form errors at their fields (issue 12, point 16; the scheduler form's are in
test_schedulers.py): bad list filters show an error and list nothing rather than being ignored;
amount inputs carry the browser's minimum where zero is invalid."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse

from invoicing.models import Payment
from tests.support.invoicing import generate
from tests.support.pages import field_error

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.mark.parametrize(
    ("query", "field", "label"),
    [
        ({"date_from": "2026-99-99"}, "date_from", "Invoice date from"),
        ({"date_to": "yesterday"}, "date_to", "Invoice date to"),
        ({"run": "0"}, "run", "Batch run"),
    ],
)
def test_bad_invoice_list_filters_list_nothing_and_say_why(ops, billed, query, field, label):
    generate(billed, d(2026, 1, 31))
    assert re.findall(
        r'<tr data-invoice="(\d+)">', ops.get(reverse("web:invoice_list")).content.decode()
    )
    page = ops.get(reverse("web:invoice_list"), query).content.decode()
    assert not re.findall(r'<tr data-invoice="(\d+)">', page)
    box = page.split('class="msg msg-error filter-errors"')[1].split("</div>")[0]
    assert "Nothing is listed: these filters cannot be applied." in box
    assert f'<a href="#id_{field}">{label}</a>: ' in box
    assert f'<span class="error" id="id_{field}_error">' in page


def test_bad_schedule_list_filter_lists_nothing(ops, billed):
    url = reverse("web:schedule_list")
    assert str(billed.schedule) in ops.get(url).content.decode()
    page = ops.get(url, {"next_from": "2026-13-01"}).content.decode()
    assert "Nothing is listed: these filters cannot be applied." in page
    assert (
        '<a href="#id_next_from">Next billing from</a>: “2026-13-01” is not a date: use '
        "YYYY-MM-DD, e.g. 2026-03-31." in page
    )
    assert str(billed.schedule) not in page.split("</form>", 1)[1]


def test_payment_amount_refuses_zero_in_the_browser_and_on_the_server(ops, billed):
    invoice = generate(billed, d(2026, 1, 31))
    url = reverse("web:invoice_payment", args=[invoice.pk])
    form = ops.get(url).content.decode()
    amount = re.search(r'<input type="number" name="amount"[^>]*>', form).group(0)
    assert 'min="0.01"' in amount and 'step="0.01"' in amount and 'max="53.13"' in amount

    page = ops.post(url, {"amount": "0", "payment_date": "2026-02-10"}).content.decode()
    assert field_error(page, "amount") == "A payment is more than zero: at least 0.01 USD."
    assert not Payment.objects.exists()
    invoice.refresh_from_db()
    assert invoice.balance == D("53.13")
