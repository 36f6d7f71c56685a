"""Writing off an invoice's open balance and reversing it (invoicing/services/writeoffs.py):
the memo, its application and the settled invoice; a written-off invoice refuses payments,
voids and ordinary unapplies; the reversal opens the balance again and voids the memo so its
credit goes nowhere else.

The lifecycle world's January invoice INV-0001: 75.77 USD."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.exceptions import ValidationError
from invoicing.exceptions import (
    CreditApplicationNotActive,
    CreditMemoNotPosted,
    InvoiceNotPosted,
    InvoiceNotWrittenOff,
    InvoiceWrittenOff,
    NothingToWriteOff,
)
from invoicing.models import CreditMemo, CreditMemoApplication, SequencePolicy
from invoicing.services.credits import credit_application_unapply, credit_memo_apply
from invoicing.services.payments import payment_record
from invoicing.services.void import invoice_void
from invoicing.services.writeoffs import invoice_write_off, invoice_write_off_reverse
from tests.support.invoicing import generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def january(lw):
    SequencePolicy.objects.create(
        name="Credit memos", target="credit_memo", pattern="CM-{SEQ}", min_width=4
    )
    return generate(lw, d(2026, 1, 15))


def test_write_off_the_rest_after_a_part_payment_then_payment_and_void_are_refused(january):
    payment_record(invoice_id=january.pk, amount="70.00", payment_date=d(2026, 2, 1))
    result = invoice_write_off(
        invoice_id=january.pk,
        note="Customer will not pay the last 5.77",
        write_off_date=d(2026, 3, 31),
        written_off_by="ines",
    )
    memo = result.credit_memo
    memo.refresh_from_db()
    assert result.amount == D("5.77")
    assert (memo.number, memo.status, memo.source, memo.reason) == (
        "CM-0001",
        "posted",
        "write_off",
        "Customer will not pay the last 5.77",
    )
    assert (memo.total_charges, memo.total_tax, memo.total, memo.balance, memo.memo_date) == (
        D("5.77"),
        D("0.00"),
        D("5.77"),
        D("0.00"),
        d(2026, 3, 31),
    )
    assert list(memo.lines.values_list("name", "amount", "tax_amount")) == [
        ("Write-off of the balance of invoice INV-0001", D("5.77"), D("0.00"))
    ]
    application = CreditMemoApplication.objects.get()
    assert (application.invoice_id, application.amount, application.applied_by) == (
        january.pk,
        D("5.77"),
        "ines",
    )
    january.refresh_from_db()
    assert (january.balance, january.settlement_status) == (D("0.00"), "settled")

    before = snapshot()
    with pytest.raises(InvoiceWrittenOff) as exc:
        payment_record(invoice_id=january.pk, amount="5.77", payment_date=d(2026, 4, 2))
    assert exc.value.message == (
        "Invoice INV-0001 was written off on 2026-03-31 (5.77 USD, CM-0001); a written-off "
        "invoice takes no payment. Reverse the write-off first."
    )
    with pytest.raises(InvoiceWrittenOff) as exc:
        invoice_void(invoice_id=january.pk, void_date=d(2026, 4, 2))
    assert "a written-off invoice cannot be voided" in exc.value.message
    with pytest.raises(CreditApplicationNotActive) as exc:
        credit_application_unapply(application_id=application.pk)
    assert "reverse the write-off instead" in exc.value.message
    with pytest.raises(InvoiceWrittenOff):
        invoice_write_off(invoice_id=january.pk, write_off_date=d(2026, 4, 2))
    assert snapshot() == before


def test_reverse_a_write_off_and_the_payment_goes_through(january):
    result = invoice_write_off(invoice_id=january.pk, write_off_date=d(2026, 3, 31))
    assert result.amount == D("75.77")
    reversed_ = invoice_write_off_reverse(invoice_id=january.pk, reversed_by="olga")
    memo = reversed_.credit_memo
    memo.refresh_from_db()
    assert (memo.status, memo.total, memo.balance) == ("voided", D("75.77"), D("0.00"))
    assert memo.reason.startswith("Write-off of the balance of invoice INV-0001 (reversed ")
    assert memo.reason.endswith(" by olga)")
    application = CreditMemoApplication.objects.get()
    assert (application.is_active, application.unapplied_by) == (False, "olga")
    january.refresh_from_db()
    assert (january.balance, january.settlement_status) == (D("75.77"), "not_settled")

    # The voided memo's credit goes nowhere else.
    before = snapshot()
    with pytest.raises(CreditMemoNotPosted) as exc:
        credit_memo_apply(credit_memo_id=memo.pk, applications=[{"invoice": january.pk}])
    assert exc.value.message == "Credit memo CM-0001 is voided; it has no credit to apply."
    with pytest.raises(InvoiceNotWrittenOff):
        invoice_write_off_reverse(invoice_id=january.pk)
    assert snapshot() == before

    payment_record(invoice_id=january.pk, amount="75.77", payment_date=d(2026, 4, 2))
    january.refresh_from_db()
    assert (january.balance, january.settlement_status) == (D("0.00"), "settled")
    # A second write-off after the reversal is a new memo.
    with pytest.raises(NothingToWriteOff):
        invoice_write_off(invoice_id=january.pk)
    assert CreditMemo.objects.count() == 1


def test_refusals_change_nothing(lw, january):
    draft = generate(lw, d(2026, 2, 15), action="draft")
    before = snapshot()
    with pytest.raises(InvoiceNotPosted):
        invoice_write_off(invoice_id=draft.pk)
    with pytest.raises(ValidationError) as exc:
        invoice_write_off(invoice_id=january.pk, write_off_date=d(2026, 1, 1))
    assert exc.value.details == {
        "write_off_date": [
            "Invoice INV-0001 is dated 2026-01-15; write it off on or after that date."
        ]
    }
    assert snapshot() == before
