"""Credit memos (posting, numbering, applying) and debit memos (create, post, invoice), and a
posted debit memo merged into the next generated invoice of its account, currency and legal
entity once the target date reaches its next billing date."""

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.services.orders import order_activate, order_create
from core.exceptions import ValidationError
from invoicing.exceptions import (
    CreditMemoNotDraft,
    DebitMemoNotDraft,
    DebitMemoNotPosted,
)
from invoicing.models import CreditMemo, CreditMemoLine, DebitMemo, Invoice, SequencePolicy
from invoicing.services.drafts import invoice_draft_delete
from invoicing.services.generation import invoices_generate
from invoicing.services.memos import (
    credit_memo_post,
    debit_memo_create,
    debit_memo_invoice,
    debit_memo_post,
)
from invoicing.services.void import invoice_void
from tests.factories import LegalEntityFactory
from tests.support.invoicing import generate, line_rows, monthly, tax_rows

pytestmark = pytest.mark.django_db
d = dt.date


def draft_credit(world, *amounts: str) -> CreditMemo:
    memo = CreditMemo.objects.create(
        account=world.account, currency="USD", memo_date=d(2026, 1, 20), reason="Goodwill"
    )
    for n, amount in enumerate(amounts):
        CreditMemoLine.objects.create(credit_memo=memo, name=f"Credit {n}", amount=D(amount))
    return memo


def test_credit_memo_post_numbers_it(lw):
    SequencePolicy.objects.create(
        name="Credit memos", target="credit_memo", pattern="CM-{SEQ}", min_width=3
    )
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
    invoice_draft_delete(invoice_id=invoice.pk)
    memo.refresh_from_db()
    assert (memo.status, memo.invoice_id) == ("posted", None)
    assert memo.lines.get().invoice_line_id is None
    posted = debit_memo_invoice(debit_memo_id=memo.pk, invoice_date=d(2026, 1, 12), post=True)
    assert (posted.status, posted.number, posted.total) == ("posted", "INV-0001", D("43.30"))
    assert Invoice.objects.count() == 1


# --------------------------------------------------------------------------------------------
# Debit memos merged into the next generated invoice

FEBRUARY_WITH_FEE = [
    ("Seat", d(2026, 2, 1), d(2026, 2, 28), D("10"), D("50.00"), D("4.13")),
    ("Premium support", d(2026, 2, 1), d(2026, 2, 28), D("1"), D("19.99"), D("1.65")),
    # 25.00: 6.25 % = 1.5625 → 1.56, 2 % = 0.50.
    ("Late fee", None, None, D("1"), D("25.00"), D("2.06")),
]


def late_fee(world, **kw) -> DebitMemo:
    values = {
        "account_id": world.account.pk,
        "memo_date": d(2026, 1, 20),
        "next_billing_date": d(2026, 2, 1),
        "reason": "Late payment of INV-0001",
        "lines": [{"name": "Late fee", "unit_price": "25.00"}],
        "post": True,
    }
    values.update(kw)
    return debit_memo_create(**values)


def test_debit_memo_merged_into_the_next_invoice(lw):
    memo = late_fee(lw)
    draft_memo = late_fee(lw, post=False)
    euro_memo = late_fee(lw, currency="EUR")
    other_seller = late_fee(lw, legal_entity_id=LegalEntityFactory().pk)

    january = generate(lw, d(2026, 1, 15))  # before the memo's next billing date
    assert [r[0] for r in line_rows(january)] == ["Seat", "Premium support"]
    memo.refresh_from_db()
    assert memo.status == "posted"

    february = generate(lw, d(2026, 2, 15))

    assert line_rows(february) == FEBRUARY_WITH_FEE
    fee_line = february.lines.get(name="Late fee")
    assert (fee_line.type, fee_line.billing_schedule_id, fee_line.description) == (
        "charge",
        None,
        f"Debit memo #{memo.pk}: Late payment of INV-0001",
    )
    assert (february.total_charges, february.total_tax, february.total) == (
        D("94.99"),
        D("7.84"),
        D("102.83"),
    )
    assert tax_rows(february)[-2:] == [
        ("Late fee", "TX state tax", D("6.25"), D("1.56")),
        ("Late fee", "Austin city tax", D("2.00"), D("0.50")),
    ]
    memo.refresh_from_db()
    assert (memo.status, memo.invoice_id) == ("invoiced", february.pk)
    assert memo.lines.get().invoice_line_id == fee_line.pk
    # Not due, not posted, or another currency or seller: left alone.
    for other in (draft_memo, euro_memo, other_seller):
        other.refresh_from_db()
        assert (other.status, other.invoice_id) == (
            "draft" if other == draft_memo else "posted",
            None,
        )

    # A second run bills nothing twice.
    again = invoices_generate(account_id=lw.account.pk, target_date=d(2026, 2, 15))
    assert again.invoice_ids == []


def test_void_makes_the_memo_due_again_and_it_is_merged_identically(lw):
    memo = late_fee(lw, next_billing_date=d(2026, 1, 1))
    invoice = generate(lw, d(2026, 1, 15))
    billed = line_rows(invoice)
    assert billed[-1] == ("Late fee", None, None, D("1"), D("25.00"), D("2.06"))
    credit = invoice_void(invoice_id=invoice.pk, void_date=d(2026, 1, 20)).credit_memo
    assert credit.total == invoice.total == D("102.83")
    memo.refresh_from_db()
    assert (memo.status, memo.invoice_id, memo.lines.get().invoice_line_id) == (
        "posted",
        None,
        None,
    )

    again = generate(lw, d(2026, 1, 15))
    assert line_rows(again) == billed
    memo.refresh_from_db()
    assert (memo.status, memo.invoice_id) == ("invoiced", again.pk)


def test_deleting_the_draft_releases_the_memo(lw):
    memo = late_fee(lw, next_billing_date=d(2026, 1, 1))
    draft = generate(lw, d(2026, 1, 15), action="draft")
    invoice_draft_delete(invoice_id=draft.pk)
    memo.refresh_from_db()
    assert (memo.status, memo.invoice_id) == ("posted", None)


def test_a_memo_goes_to_exactly_one_invoice_of_its_account(lw):
    order = order_create(
        account=lw.account,
        items=[monthly(lw.seat, "1", "7.00")],
        invoice_group_type="per_schedule",
    )
    order_activate(order_id=order.pk)
    memo = late_fee(lw, next_billing_date=d(2026, 1, 1))

    result = invoices_generate(account_id=lw.account.pk, target_date=d(2026, 1, 15))

    assert len(result.invoice_ids) == 2
    holders = [i for i in result.invoices if i.lines.filter(name="Late fee").exists()]
    assert len(holders) == 1
    memo.refresh_from_db()
    assert memo.invoice_id == holders[0].pk
    assert Invoice.objects.filter(lines__name="Late fee").count() == 1
