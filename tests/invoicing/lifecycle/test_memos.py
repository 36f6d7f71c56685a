"""Credit memos (posting, numbering, applying) and debit memos (create, post, invoice)."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.exceptions import ValidationError
from invoicing.exceptions import (
    CreditExceedsBalance,
    CreditMemoNotDraft,
    DebitMemoNotDraft,
    DebitMemoNotPosted,
)
from invoicing.models import CreditMemo, CreditMemoLine, DebitMemo, Invoice, SequencePolicy
from invoicing.services.memos import (
    credit_memo_apply,
    credit_memo_post,
    debit_memo_create,
    debit_memo_invoice,
    debit_memo_post,
)
from invoicing.services.void import invoice_void

from .conftest import generate, line_rows, snapshot, tax_rows

pytestmark = pytest.mark.django_db
d = dt.date


def draft_credit(world, *amounts: str) -> CreditMemo:
    memo = CreditMemo.objects.create(
        account=world.account, currency="USD", memo_date=d(2026, 1, 20), reason="Goodwill"
    )
    for n, amount in enumerate(amounts):
        CreditMemoLine.objects.create(credit_memo=memo, name=f"Credit {n}", amount=D(amount))
    return memo


def test_credit_memo_post_numbers_and_apply_settles(lw):
    SequencePolicy.objects.create(
        name="Credit memos", target="credit_memo", pattern="CM-{SEQ}", min_width=3
    )
    invoice = generate(lw, d(2026, 1, 15))
    memo = draft_credit(lw, "50.00", "25.77")

    posted = credit_memo_post(credit_memo_id=memo.pk, posted_date=d(2026, 1, 21))
    assert (posted.number, posted.status, posted.total, posted.balance) == (
        "CM-001",
        "posted",
        D("75.77"),
        D("75.77"),
    )
    with pytest.raises(CreditMemoNotDraft):
        credit_memo_post(credit_memo_id=memo.pk)

    credit_memo_apply(credit_memo_id=memo.pk, invoice_id=invoice.pk, amount="30.00")
    invoice.refresh_from_db()
    memo.refresh_from_db()
    assert (invoice.balance, invoice.settlement_status, memo.balance) == (
        D("45.77"),
        "partially_settled",
        D("45.77"),
    )
    before = snapshot()
    with pytest.raises(CreditExceedsBalance):
        credit_memo_apply(credit_memo_id=memo.pk, invoice_id=invoice.pk, amount="45.78")
    assert snapshot() == before
    credit_memo_apply(credit_memo_id=memo.pk, invoice_id=invoice.pk, amount="45.77")
    invoice.refresh_from_db()
    assert (invoice.balance, invoice.settlement_status) == (D("0.00"), "settled")


def test_a_void_credit_memo_is_left_unnumbered_without_a_policy(lw):
    invoice = generate(lw, d(2026, 1, 15))
    memo = invoice_void(invoice_id=invoice.pk, void_date=d(2026, 1, 20)).credit_memo
    assert (memo.number, memo.status, str(memo)) == (None, "posted", f"Credit memo #{memo.pk}")


def test_debit_memo_create_and_post(lw):
    memo = debit_memo_create(
        account_id=lw.account.pk,
        memo_date=d(2026, 1, 10),
        next_billing_date=d(2026, 2, 1),
        reason="Late payment",
        lines=[
            {"name": "Late fee", "unit_price": "25.00"},
            {"product_id": lw.setup.pk, "quantity": "3", "unit_price": "33.333", "taxable": False},
        ],
    )
    # 3 × 33.333 = 99.999 → 100.00.
    assert (memo.status, memo.currency, memo.legal_entity_id, memo.total) == (
        "draft",
        "USD",
        lw.seller.pk,
        D("125.00"),
    )
    assert list(memo.lines.values_list("name", "amount", "taxable")) == [
        ("Late fee", D("25.00"), True),
        ("Setup", D("100.00"), False),
    ]
    assert debit_memo_post(debit_memo_id=memo.pk).status == "posted"
    with pytest.raises(DebitMemoNotDraft):
        debit_memo_post(debit_memo_id=memo.pk)


def test_debit_memo_validation(lw):
    with pytest.raises(ValidationError) as exc:
        debit_memo_create(account_id=lw.account.pk, lines=[])
    assert "lines" in exc.value.details
    with pytest.raises(ValidationError) as exc:
        debit_memo_create(
            account_id=lw.account.pk,
            lines=[{"name": "", "unit_price": "1"}, {"name": "x", "unit_price": "-1"}],
        )
    assert set(exc.value.details) == {"lines[0].name", "lines[1].unit_price"}
    assert DebitMemo.objects.count() == 0


def test_debit_memo_invoiced_as_a_draft_of_its_own(lw):
    memo = debit_memo_create(
        account_id=lw.account.pk,
        memo_date=d(2026, 1, 10),
        reason="Late payment",
        lines=[{"name": "Late fee", "unit_price": "40.00"}],
    )
    with pytest.raises(DebitMemoNotPosted):
        debit_memo_invoice(debit_memo_id=memo.pk)
    debit_memo_post(debit_memo_id=memo.pk)

    invoice = debit_memo_invoice(debit_memo_id=memo.pk, invoice_date=d(2026, 1, 12))

    # 40.00, tax 6.25 % = 2.50 and 2 % = 0.80 (the Austin billing address of the profile).
    assert (invoice.status, invoice.source, invoice.bill_to.email) == (
        "draft",
        "debit_memo",
        "ap@example.com",
    )
    assert (invoice.invoice_date, invoice.due_date) == (d(2026, 1, 12), d(2026, 2, 11))
    assert line_rows(invoice) == [("Late fee", None, None, D("1"), D("40.00"), D("3.30"))]
    assert tax_rows(invoice) == [
        ("Late fee", "TX state tax", D("6.25"), D("2.50")),
        ("Late fee", "Austin city tax", D("2.00"), D("0.80")),
    ]
    assert invoice.total == D("43.30")
    memo.refresh_from_db()
    assert (memo.status, memo.invoice_id) == ("invoiced", invoice.pk)
    assert memo.lines.get().invoice_line_id == invoice.lines.get().pk
    with pytest.raises(DebitMemoNotPosted):
        debit_memo_invoice(debit_memo_id=memo.pk)

    # Deleting the draft makes the memo due again.
    from invoicing.services.drafts import invoice_draft_delete

    invoice_draft_delete(invoice_id=invoice.pk)
    memo.refresh_from_db()
    assert (memo.status, memo.invoice_id) == ("posted", None)
    assert memo.lines.get().invoice_line_id is None
    posted = debit_memo_invoice(debit_memo_id=memo.pk, invoice_date=d(2026, 1, 12), post=True)
    assert (posted.status, posted.number, posted.total) == ("posted", "INV-0001", D("43.30"))
    assert Invoice.objects.count() == 1
