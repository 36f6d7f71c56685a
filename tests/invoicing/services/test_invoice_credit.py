"""Crediting lines of a posted invoice (invoicing/services/credits.py invoice_credit): whole or
part, by amount or quantity, tax copied from the invoice line in proportion, never more than
is left on a line after earlier credits (draft credits included), posted and applied or left
as a draft; every refusal names its line and changes nothing.

The lifecycle world's January invoice INV-0001: Seat 10 × 5.00 = 50.00 (TX state tax 3.13,
Austin city tax 1.00) and Premium support 19.99 (1.25 and 0.40): 75.77."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.exceptions import ValidationError
from invoicing.exceptions import InvoiceCredited, InvoiceNotPosted
from invoicing.models import CreditMemo, CreditMemoApplication, InvoiceLine
from invoicing.services.credits import invoice_credit
from invoicing.services.void import invoice_void
from tests.support.invoicing import generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date
DAY = d(2026, 2, 10)


@pytest.fixture
def january(lw):
    invoice = generate(lw, d(2026, 1, 15))
    invoice.seat = invoice.lines.get(name="Seat")
    invoice.support = invoice.lines.get(name="Premium support")
    assert (invoice.total, invoice.seat.amount, invoice.seat.tax_amount) == (
        D("75.77"),
        D("50.00"),
        D("4.13"),
    )
    return invoice


def memo_rows(memo: CreditMemo) -> list[tuple]:
    return [
        (
            line.invoice_line.name,
            line.quantity,
            line.amount,
            line.tax_amount,
            [(t.name, t.rate, t.amount) for t in line.taxes.order_by("id")],
        )
        for line in memo.lines.order_by("sort_order").select_related("invoice_line")
    ]


def test_part_of_a_line_by_amount_is_posted_and_applied(january):
    credit = invoice_credit(
        invoice_id=january.pk,
        lines=[{"invoice_line": january.seat.pk, "amount": "20.00"}],
        reason_code="billing_error",
        note="Seat price was 3.00 for two seats",
        credit_date=DAY,
        created_by="olga",
    )
    memo = credit.credit_memo
    memo.refresh_from_db()
    assert memo_rows(memo) == [
        (
            "Seat",
            D("1"),
            D("20.00"),
            D("1.65"),
            [("TX state tax", D("6.2500"), D("1.25")), ("Austin city tax", D("2.0000"), D("0.40"))],
        )
    ]
    assert (memo.status, memo.reason_code, memo.reason, memo.invoice_id) == (
        "posted",
        "billing_error",
        "Seat price was 3.00 for two seats",
        january.pk,
    )
    assert (memo.total_charges, memo.total_tax, memo.total, memo.balance) == (
        D("20.00"),
        D("1.65"),
        D("21.65"),
        D("0.00"),
    )
    application = credit.application
    assert (application.amount, application.applied_date, application.applied_by) == (
        D("21.65"),
        DAY,
        "olga",
    )
    january.refresh_from_db()
    assert (january.balance, january.settlement_status) == (D("54.12"), "partially_settled")


def test_by_quantity_and_then_all_that_is_left_closes_the_line_exactly(january):
    first = invoice_credit(
        invoice_id=january.pk,
        lines=[{"invoice_line": january.seat.pk, "quantity": "3"}],
        credit_date=DAY,
    ).credit_memo
    assert memo_rows(first) == [
        (
            "Seat",
            D("3"),
            D("15.00"),
            D("1.24"),
            [("TX state tax", D("6.2500"), D("0.94")), ("Austin city tax", D("2.0000"), D("0.30"))],
        )
    ]
    rest = invoice_credit(
        invoice_id=january.pk,
        lines=[{"invoice_line": january.seat.pk}, {"invoice_line": january.support.pk}],
        credit_date=DAY,
    ).credit_memo
    assert memo_rows(rest) == [
        (
            "Seat",
            D("1"),
            D("35.00"),
            D("2.89"),
            [("TX state tax", D("6.2500"), D("2.19")), ("Austin city tax", D("2.0000"), D("0.70"))],
        ),
        (
            "Premium support",
            D("1"),
            D("19.99"),
            D("1.65"),
            [("TX state tax", D("6.2500"), D("1.25")), ("Austin city tax", D("2.0000"), D("0.40"))],
        ),
    ]
    # Both credits together are exactly the invoice: no cent more or less of tax.
    january.refresh_from_db()
    assert (january.balance, january.settlement_status) == (D("0.00"), "settled")
    assert first.total + rest.total == D("75.77")

    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        invoice_credit(invoice_id=january.pk, lines=[{"invoice_line": january.seat.pk}])
    assert exc.value.details == {
        "lines[0].invoice_line": ["Line 'Seat' is credited in full already."]
    }
    assert snapshot() == before


def test_more_than_is_left_on_a_line_is_refused_and_drafts_count(january):
    draft = invoice_credit(
        invoice_id=january.pk,
        lines=[{"invoice_line": january.seat.pk, "amount": "20.00"}],
        credit_date=DAY,
        action="draft",
    ).credit_memo
    draft.refresh_from_db()
    assert (draft.status, draft.total, draft.balance, draft.number) == (
        "draft",
        D("21.65"),
        D("0.00"),
        None,
    )
    assert not CreditMemoApplication.objects.exists()
    january.refresh_from_db()
    assert january.balance == D("75.77")

    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        invoice_credit(
            invoice_id=january.pk,
            lines=[
                {"invoice_line": january.support.pk, "amount": "5.00"},
                {"invoice_line": january.seat.pk, "amount": "30.01"},
            ],
        )
    assert exc.value.details == {
        "lines[1].amount": [
            "Line 'Seat' has 30.00 USD left to credit of 50.00 USD (20.00 USD credited before); "
            "30.01 USD is more."
        ]
    }
    assert snapshot() == before


def test_posted_without_applying_keeps_the_credit_to_apply_later(january):
    memo = invoice_credit(
        invoice_id=january.pk,
        lines=[{"invoice_line": january.support.pk}],
        credit_date=DAY,
        apply=False,
    ).credit_memo
    memo.refresh_from_db()
    assert (memo.status, memo.total, memo.balance) == ("posted", D("21.64"), D("21.64"))
    january.refresh_from_db()
    assert january.balance == D("75.77")


def test_refusals_name_the_line_and_change_nothing(lw, january):
    other = generate(lw, d(2026, 2, 15))
    adjustment = InvoiceLine.objects.create(
        invoice=other, name="Discount", amount=D("-5.00"), type="adjustment"
    )
    before = snapshot()

    def refused(exc_type, **kwargs):
        with pytest.raises(exc_type) as exc:
            invoice_credit(**{"invoice_id": january.pk, "credit_date": DAY, **kwargs})
        assert snapshot() == before
        return exc.value

    other_line = other.lines.get(name="Seat")
    error = refused(
        ValidationError,
        lines=[
            {"invoice_line": other_line.pk},
            {"invoice_line": january.seat.pk, "amount": "1", "quantity": "1"},
            {"invoice_line": january.support.pk, "quantity": "2"},
            {"invoice_line": "x"},
        ],
    )
    assert error.details == {
        "lines[1]": ["Give an amount or a quantity to credit, not both."],
        "lines[3].invoice_line": ["Give the invoice line's id (an integer)."],
    }
    error = refused(
        ValidationError,
        lines=[
            {"invoice_line": other_line.pk},
            {"invoice_line": january.support.pk, "quantity": "2"},
        ],
    )
    assert error.details == {
        "lines[0].invoice_line": [f"Line {other_line.pk} is not a line of invoice INV-0001."],
        "lines[1].quantity": ["Line 'Premium support' bills 1; credit at most that."],
    }
    error = refused(
        ValidationError,
        invoice_id=other.pk,
        lines=[{"invoice_line": adjustment.pk}],
        credit_date=d(2026, 2, 20),
    )
    assert error.details == {
        "lines[0].invoice_line": [
            "Line 'Discount' is -5.00 USD: only a charge (a positive amount) can be credited."
        ]
    }
    error = refused(
        ValidationError, lines=[{"invoice_line": january.seat.pk}], reason_code="pricing"
    )
    assert list(error.details) == ["reason"]
    error = refused(ValidationError, lines=[])
    assert list(error.details) == ["lines"]
    error = refused(
        ValidationError, lines=[{"invoice_line": january.seat.pk}], credit_date=d(2026, 1, 1)
    )
    assert error.details == {
        "credit_date": ["Invoice INV-0001 is dated 2026-01-15; date it on or after that."]
    }

    draft = generate(lw, d(2026, 3, 15), action="draft")
    before = snapshot()
    error = refused(
        InvoiceNotPosted,
        invoice_id=draft.pk,
        lines=[{"invoice_line": draft.lines.first().pk}],
        credit_date=d(2026, 3, 20),
    )
    assert error.message == (
        f"Only a posted invoice takes credits; draft invoice #{draft.pk} is not posted yet; "
        "post it first."
    )


def test_a_credited_invoice_cannot_be_voided(january):
    invoice_credit(
        invoice_id=january.pk,
        lines=[{"invoice_line": january.support.pk, "amount": "5.00"}],
        credit_date=DAY,
    )
    before = snapshot()
    with pytest.raises(InvoiceCredited):
        invoice_void(invoice_id=january.pk, void_date=DAY)
    assert snapshot() == before
