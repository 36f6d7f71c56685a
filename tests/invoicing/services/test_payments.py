"""Payments: balance and settlement status follow; overpayments and drafts refused."""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts.models import SavedPaymentMethod
from core.exceptions import ValidationError
from invoicing.exceptions import InvoiceNotPosted, PaymentExceedsBalance
from invoicing.models import Payment
from invoicing.services.payments import payment_record
from tests.conftest import make_account
from tests.support.invoicing import generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date


def state(invoice) -> tuple:
    invoice.refresh_from_db()
    return invoice.balance, invoice.settlement_status


def test_partial_then_full_payment(lw):
    invoice = generate(lw, d(2026, 1, 15))
    assert state(invoice) == (D("75.77"), "not_settled")
    card = SavedPaymentMethod.objects.get(account=lw.account)

    first = payment_record(
        invoice_id=invoice.pk,
        amount="25.77",
        payment_date=d(2026, 1, 20),
        saved_payment_method_id=card.pk,
        reference="ch_1",
        recorded_by="alice",
    )
    assert (first.amount, first.currency, first.account_id, first.saved_payment_method_id) == (
        D("25.77"),
        "USD",
        lw.account.pk,
        card.pk,
    )
    assert state(invoice) == (D("50.00"), "partially_settled")

    payment_record(invoice_id=invoice.pk, amount=D("50.00"), payment_date=d(2026, 2, 1))
    assert state(invoice) == (D("0.00"), "settled")
    assert Payment.objects.filter(invoice=invoice).count() == 2


def test_overpayment_is_refused_and_changes_nothing(lw):
    invoice = generate(lw, d(2026, 1, 15))
    payment_record(invoice_id=invoice.pk, amount="70.00", payment_date=d(2026, 1, 20))
    before = snapshot()
    with pytest.raises(PaymentExceedsBalance) as exc:
        payment_record(invoice_id=invoice.pk, amount="5.78", payment_date=d(2026, 1, 21))
    assert exc.value.code == "payment_exceeds_balance"
    assert "5.78 USD is more than the 5.77 USD open" in exc.value.message
    assert snapshot() == before


def test_only_posted_invoices_take_payments(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    before = snapshot()
    with pytest.raises(InvoiceNotPosted):
        payment_record(invoice_id=draft.pk, amount="1.00", payment_date=d(2026, 1, 20))
    assert snapshot() == before


@pytest.mark.parametrize(
    ("amount", "field"),
    [("0", "amount"), ("-3", "amount"), ("1.005", "amount"), ("abc", "amount")],
)
def test_bad_amounts_are_refused(lw, amount, field):
    invoice = generate(lw, d(2026, 1, 15))
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        payment_record(invoice_id=invoice.pk, amount=amount, payment_date=d(2026, 1, 20))
    assert field in exc.value.details
    assert snapshot() == before


def test_a_payment_method_of_another_account_is_refused(lw):
    other = make_account("Other Co", seller=lw.seller)
    invoice = generate(lw, d(2026, 1, 15))
    with pytest.raises(ValidationError) as exc:
        payment_record(
            invoice_id=invoice.pk,
            amount="1.00",
            payment_date=d(2026, 1, 20),
            saved_payment_method_id=SavedPaymentMethod.objects.get(account=other).pk,
        )
    assert "saved_payment_method" in exc.value.details
    assert Payment.objects.count() == 0
