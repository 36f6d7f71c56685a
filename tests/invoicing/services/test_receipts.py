"""Money received from an account (invoicing/services/payments.py): one payment allocated over
several invoices, an overpayment kept as unallocated credit then allocated or refunded,
refunds never above what is unallocated (also with two concurrent refunds on real
connections), reversal of a payment recorded in error; every refusal changes nothing.

The lifecycle world's invoices INV-0001 (January), INV-0002 (February), INV-0003 (March):
75.77 USD each."""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.db import connection
from freezegun import freeze_time

from core.exceptions import ValidationError
from invoicing.exceptions import (
    InvoiceNotPosted,
    InvoiceWrittenOff,
    PaymentExceedsBalance,
    PaymentNotFound,
    PaymentReversed,
)
from invoicing.models import Invoice, Payment, Receipt, Refund
from invoicing.services.payments import (
    payment_allocate,
    payment_receive,
    payment_refund,
    payment_reverse,
    payment_unallocate,
)
from invoicing.services.writeoffs import invoice_write_off
from tests.conftest import make_account
from tests.support.invoicing import generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date
DAY = d(2026, 4, 2)


@pytest.fixture
def three(lw):
    lw.invoices = [generate(lw, d(2026, m, 15)) for m in (1, 2, 3)]
    assert [i.total for i in lw.invoices] == [D("75.77")] * 3
    return lw


def balances(*invoices) -> list[tuple]:
    return [
        (i.balance, i.settlement_status)
        for i in Invoice.objects.filter(pk__in=[i.pk for i in invoices]).order_by("id")
    ]


def test_one_payment_over_three_invoices(three):
    jan, feb, mar = three.invoices
    receipt = payment_receive(
        account_id=three.account.pk,
        amount="200.00",
        payment_date=DAY,
        method="bank_transfer",
        reference="SEPA 0042",
        allocations=[
            {"invoice": jan.pk},
            {"invoice": feb.pk, "amount": "75.77"},
            {"invoice": mar.pk},
        ],
        recorded_by="olga",
    )
    receipt.refresh_from_db()
    assert (receipt.amount, receipt.unallocated, receipt.refunded, receipt.method) == (
        D("200.00"),
        D("0.00"),
        D("0.00"),
        "bank_transfer",
    )
    assert list(
        receipt.allocations.order_by("id").values_list("invoice_id", "amount", "payment_date")
    ) == [(jan.pk, D("75.77"), DAY), (feb.pk, D("75.77"), DAY), (mar.pk, D("48.46"), DAY)]
    assert balances(jan, feb, mar) == [
        (D("0.00"), "settled"),
        (D("0.00"), "settled"),
        (D("27.31"), "partially_settled"),
    ]


def test_an_overpayment_stays_as_credit_then_is_allocated_and_refunded(three):
    jan, feb, _ = three.invoices
    receipt = payment_receive(
        account_id=three.account.pk,
        amount="180.00",
        payment_date=DAY,
        method="bank_transfer",
        allocations=[{"invoice": jan.pk}],
    )
    receipt.refresh_from_db()
    assert receipt.unallocated == D("104.23")

    payment_allocate(receipt_id=receipt.pk, allocations=[{"invoice": feb.pk, "amount": "50.00"}])
    refund = payment_refund(
        receipt_id=receipt.pk, amount="54.23", refund_date=DAY, reason="Surplus", refunded_by="ines"
    )
    receipt.refresh_from_db()
    assert (receipt.unallocated, receipt.refunded) == (D("0.00"), D("54.23"))
    assert (refund.amount, refund.refund_date, refund.reason, refund.refunded_by) == (
        D("54.23"),
        DAY,
        "Surplus",
        "ines",
    )
    assert balances(jan, feb) == [(D("0.00"), "settled"), (D("25.77"), "partially_settled")]

    before = snapshot()
    with pytest.raises(PaymentExceedsBalance) as exc:
        payment_refund(receipt_id=receipt.pk, amount="0.01", refund_date=DAY)
    assert exc.value.message == (
        f"Payment #{receipt.pk} of 180.00 USD (2026-04-02) has 0.00 USD unallocated; a refund "
        "of 0.01 USD is more. A refund never exceeds what was paid and is not allocated to an "
        "invoice."
    )
    assert snapshot() == before and Refund.objects.count() == 1


def test_reverse_a_payment_recorded_in_error(three):
    jan, feb, _ = three.invoices
    receipt = payment_receive(
        account_id=three.account.pk,
        amount="100.00",
        payment_date=DAY,
        allocations=[{"invoice": jan.pk}, {"invoice": feb.pk}],
    )
    assert balances(jan, feb) == [(D("0.00"), "settled"), (D("51.54"), "partially_settled")]
    payment_reverse(receipt_id=receipt.pk, reason="Wrong account", reversed_by="olga")
    receipt.refresh_from_db()
    assert (receipt.status, receipt.unallocated, receipt.reversal_reason) == (
        "reversed",
        D("0.00"),
        "Wrong account",
    )
    assert balances(jan, feb) == [(D("75.77"), "not_settled"), (D("75.77"), "not_settled")]
    assert Payment.objects.active().count() == 0 and Payment.objects.count() == 2

    before = snapshot()
    with pytest.raises(PaymentReversed):
        payment_refund(receipt_id=receipt.pk, amount="1.00", refund_date=DAY)
    with pytest.raises(PaymentReversed):
        payment_allocate(receipt_id=receipt.pk, allocations=[{"invoice": jan.pk}])
    assert snapshot() == before


def test_refusals_change_nothing(lw, three):
    jan, feb, mar = three.invoices
    invoice_write_off(invoice_id=mar.pk, write_off_date=DAY)
    draft = generate(lw, d(2026, 4, 15), action="draft")
    other = make_account("Globex Ltd", seller=lw.seller)
    before = snapshot()
    receipts = Receipt.objects.count()

    def refused(exc_type, **kwargs):
        with pytest.raises(exc_type) as exc:
            payment_receive(
                **{"account_id": lw.account.pk, "amount": "10.00", "payment_date": DAY, **kwargs}
            )
        assert snapshot() == before and Receipt.objects.count() == receipts
        return exc.value

    error = refused(InvoiceWrittenOff, allocations=[{"invoice": mar.pk}])
    assert "a written-off invoice takes no payment" in error.message
    refused(InvoiceNotPosted, allocations=[{"invoice": draft.pk}])
    error = refused(ValidationError, allocations=[{"invoice": jan.pk, "amount": "20.00"}])
    assert error.details == {
        "allocations[0].amount": [
            "The allocations come to 20.00 USD, more than the payment's 10.00 USD."
        ]
    }
    error = refused(ValidationError, account_id=other.pk, allocations=[{"invoice": jan.pk}])
    assert error.details == {
        "allocations[0].invoice": [f"Invoice {jan.pk} is not an invoice of account {other.pk}."]
    }
    error = refused(ValidationError, amount="0")
    assert error.details == {"amount": ["A payment must be more than zero."]}
    error = refused(ValidationError, method="bitcoin")
    assert list(error.details) == ["method"]
    with freeze_time("2026-04-02"):
        error = refused(ValidationError, payment_date=d(2026, 4, 3))
    assert error.details == {
        "date": ["2026-04-03 is in the future; record money once it is received."]
    }
    error = refused(ValidationError, allocations=[{"invoice": jan.pk}, {"invoice": jan.pk}])
    assert error.details == {
        "allocations[1].invoice": [f"Invoice {jan.pk} is named twice; name it once."]
    }


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refunds_never_exceed_the_unallocated_part(lw):
    receipt = payment_receive(account_id=lw.account.pk, amount="150.00", payment_date=DAY)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            barrier.wait()
            payment_refund(receipt_id=receipt.pk, amount="100.00", refund_date=DAY)
            outcomes.append("refunded")
        except PaymentExceedsBalance:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refunded", "refused"]
    receipt.refresh_from_db()
    assert (receipt.unallocated, receipt.refunded) == (D("50.00"), D("100.00"))
    assert list(Refund.objects.values_list("amount", flat=True)) == [D("100.00")]


def test_unallocate_then_refund_what_was_allocated(three):
    jan, feb, _ = three.invoices
    receipt = payment_receive(
        account_id=three.account.pk,
        amount="100.00",
        payment_date=DAY,
        allocations=[{"invoice": jan.pk}, {"invoice": feb.pk}],
    )
    payment_unallocate(receipt_id=receipt.pk, invoice_id=feb.pk, unallocated_by="olga")
    receipt.refresh_from_db()
    assert receipt.unallocated == D("24.23")
    assert balances(jan, feb) == [(D("0.00"), "settled"), (D("75.77"), "not_settled")]
    assert Payment.objects.get(invoice=feb).reversed_by == "olga"
    payment_refund(receipt_id=receipt.pk, amount="24.23", refund_date=DAY)
    receipt.refresh_from_db()
    assert (receipt.unallocated, receipt.refunded) == (D("0.00"), D("24.23"))
    before = snapshot()
    with pytest.raises(PaymentNotFound):
        payment_unallocate(receipt_id=receipt.pk, invoice_id=feb.pk)
    assert snapshot() == before
