"""Negative invoice lines converted to a credit memo (issue 13, point 5; credits.py
invoice_negative_lines_convert): the memo mirrors the lines with their tax made positive, the
invoice's totals leave them out and the memo is applied back up to the open balance; an
invoice that nets negative ends at zero with the rest as account credit; every refusal changes
nothing; the API and the command reach the same service.

The imported invoice LEGACY-0042: Consulting 1,500.00 (tax 93.75) and a seat cancellation
credit of -100.00 (tax -6.25): total 1,487.50."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from invoicing.exceptions import NoNegativeLines
from invoicing.models import CreditMemo
from invoicing.services.credits import invoice_negative_lines_convert
from tests.support.invoicing import CONSULTING, CREDIT, snapshot
from tests.support.invoicing import ingested as imported

pytestmark = pytest.mark.django_db
d = dt.date


def test_the_negative_line_becomes_a_credit_memo_applied_back(world):
    invoice = imported(world, [CONSULTING, CREDIT])
    assert (invoice.total, invoice.balance) == (D("1487.50"), D("1487.50"))
    credit_line = invoice.lines.get(amount=D("-100.00"))

    result = invoice_negative_lines_convert(
        invoice_id=invoice.pk, effective_date=d(2026, 11, 5), converted_by="olga"
    )
    memo = result.credit_memo
    memo.refresh_from_db()
    assert (memo.status, memo.source, memo.reason_code, memo.invoice_id) == (
        "posted",
        "negative_lines",
        "cancellation",
        invoice.pk,
    )
    assert (memo.total_charges, memo.total_tax, memo.total, memo.balance) == (
        D("100.00"),
        D("6.25"),
        D("106.25"),
        D("0.00"),
    )
    (line,) = memo.lines.all()
    assert (line.invoice_line_id, line.quantity, line.unit_price, line.amount, line.tax_amount) == (
        credit_line.pk,
        D("2"),
        D("50.00"),
        D("100.00"),
        D("6.25"),
    )
    assert list(line.taxes.values_list("name", "amount")) == [("TX sales tax", D("6.25"))]
    invoice.refresh_from_db()
    # The invoice leaves the line out (1,593.75) and the memo pays 106.25 of it back.
    assert (invoice.total_charges, invoice.total_tax, invoice.total, invoice.balance) == (
        D("1500.00"),
        D("93.75"),
        D("1593.75"),
        D("1487.50"),
    )
    assert result.application.amount == D("106.25")
    assert result.application.applied_by == "olga"

    before = snapshot()
    with pytest.raises(NoNegativeLines):
        invoice_negative_lines_convert(invoice_id=invoice.pk, effective_date=d(2026, 11, 5))
    assert snapshot() == before


def test_an_invoice_that_nets_negative_ends_at_zero_with_the_credit_left(world):
    invoice = imported(world, [CREDIT])
    assert invoice.total == D("-106.25")
    memo = invoice_negative_lines_convert(
        invoice_id=invoice.pk, effective_date=d(2026, 11, 5)
    ).credit_memo
    invoice.refresh_from_db()
    memo.refresh_from_db()
    assert (invoice.total, invoice.balance, invoice.settlement_status) == (
        D("0.00"),
        D("0.00"),
        "not_settled",
    )
    assert (memo.total, memo.balance) == (D("106.25"), D("106.25"))  # the account's credit


def test_refusals_name_the_line_and_change_nothing(world, ops):
    invoice = imported(world, [CONSULTING, CREDIT])
    consulting = invoice.lines.get(amount=D("1500.00"))
    before = snapshot()
    response = ops.post(
        reverse("invoice-convert-negative-lines", args=[invoice.pk]),
        {"invoice_lines": [consulting.pk], "effective_date": "2026-11-05"},
    )
    assert response.status_code == 400
    assert response.json()["details"] == {
        "invoice_lines[0]": [
            f"Line {consulting.pk} is not a negative charge line of invoice LEGACY-0042 still "
            "to convert."
        ]
    }
    response = ops.post(
        reverse("invoice-convert-negative-lines", args=[invoice.pk]),
        {"effective_date": "2026-10-01"},
    )
    assert response.status_code == 400 and list(response.json()["details"]) == ["effective_date"]
    assert snapshot() == before

    done = ops.post(
        reverse("invoice-convert-negative-lines", args=[invoice.pk]),
        {"effective_date": "2026-11-05", "description": "October cancellation"},
    )
    assert done.status_code == 200, done.content
    assert (done.json()["credit_memo"]["total"], done.json()["credit_memo"]["note"]) == (
        "106.25",
        "October cancellation",
    )
    assert done.json()["invoice"]["total"] == "1593.75"


def test_the_command_converts(world):
    imported(world, [CONSULTING, CREDIT])
    out = StringIO()
    call_command("convert_negative_lines", "LEGACY-0042", "--date", "2026-11-05", stdout=out)
    memo = CreditMemo.objects.get()
    assert out.getvalue() == (
        f"LEGACY-0042: {memo} of 106.25 USD; 106.25 USD applied back; total 1,593.75 USD, "
        "balance 1,487.50 USD\n"
    )


def test_converted_automatically_on_posting_when_the_setting_is_on(
    world, settings, django_capture_on_commit_callbacks
):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "CONVERT_NEGATIVE_LINES": True}
    with django_capture_on_commit_callbacks(execute=True):
        invoice = imported(world, [CONSULTING, CREDIT])
    memo = CreditMemo.objects.get()
    invoice.refresh_from_db()
    assert (memo.source, memo.total, memo.balance) == ("negative_lines", D("106.25"), D("0.00"))
    assert (invoice.total, invoice.balance) == (D("1593.75"), D("1487.50"))

    settings.LEDGERLINE = {**settings.LEDGERLINE, "CONVERT_NEGATIVE_LINES": False}
    with django_capture_on_commit_callbacks(execute=True):
        imported(world, [CONSULTING, CREDIT], number="LEGACY-0043")
    assert CreditMemo.objects.count() == 1


def test_the_admin_action_converts(world, admin_client_logged):
    invoice = imported(world, [CONSULTING, CREDIT])
    page = admin_client_logged.post(
        reverse("admin:invoicing_invoice_changelist"),
        {"action": "convert_negative_lines", "_selected_action": [invoice.pk]},
        follow=True,
    ).content.decode()
    memo = CreditMemo.objects.get()
    assert f"Converted: LEGACY-0042 → {memo} (106.25 USD)." in page
