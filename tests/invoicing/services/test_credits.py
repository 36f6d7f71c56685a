"""Applying posted credit memos to posted invoices and unapplying them (invoicing/services/
credits.py): exact balances and settlement statuses on both sides, who and when on every row,
every refusal changing nothing, and two concurrent applications of one memo on real
connections never applying more than it holds."""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.db import connection

from accounts.models import LegalEntity
from core.exceptions import ValidationError
from invoicing.exceptions import (
    CreditApplicationMismatch,
    CreditApplicationNotActive,
    CreditApplicationNotFound,
    CreditExceedsBalance,
    CreditMemoNotFound,
    CreditMemoNotPosted,
    InvoiceCredited,
    InvoiceNotPosted,
)
from invoicing.models import CreditMemo, CreditMemoApplication, Invoice
from invoicing.services.credits import credit_application_unapply, credit_memo_apply
from invoicing.services.drafts import invoice_draft_delete
from invoicing.services.payments import payment_record
from invoicing.services.void import invoice_void
from tests.conftest import make_account
from tests.support.invoicing import credit_memo, generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date
APPLY_DAY = d(2026, 3, 2)


def memo_of(account, amount: str, *, currency: str = "USD", post: bool = True) -> CreditMemo:
    return credit_memo(account, amount, on=d(2026, 3, 1), currency=currency, post=post)


def state(*documents) -> list[tuple]:
    """(balance, settlement status) of invoices; (balance,) of memos; read fresh."""
    out = []
    for doc in documents:
        doc.refresh_from_db()
        out.append(
            (doc.balance, doc.settlement_status) if isinstance(doc, Invoice) else (doc.balance,)
        )
    return out


@pytest.fixture
def two(lw):
    """January (75.77) and February (75.77) of the lifecycle world, posted, and a posted
    credit memo of 100.00 for the account."""
    lw.january = generate(lw, d(2026, 1, 15))
    lw.february = generate(lw, d(2026, 2, 15))
    assert (lw.january.total, lw.february.total) == (D("75.77"), D("75.77"))
    lw.memo = memo_of(lw.account, "100.00")
    assert (lw.memo.total, lw.memo.balance, lw.memo.number) == (D("100.00"), D("100.00"), None)
    return lw


def test_apply_part_of_a_memo_to_one_invoice(two):
    (row,) = credit_memo_apply(
        credit_memo_id=two.memo.pk,
        applications=[{"invoice": two.january.pk, "amount": "30.00"}],
        applied_date=APPLY_DAY,
        applied_by="olga",
    )
    assert state(two.january, two.memo) == [(D("45.77"), "partially_settled"), (D("70.00"),)]
    row = CreditMemoApplication.objects.get()
    assert (row.invoice_id, row.amount, row.applied_date, row.applied_by, row.is_active) == (
        two.january.pk,
        D("30.00"),
        APPLY_DAY,
        "olga",
        True,
    )


def test_apply_one_memo_over_two_invoices_taking_what_is_open(two):
    """No amount: each invoice takes the smaller of its balance and what the memo has left."""
    rows = credit_memo_apply(
        credit_memo_id=two.memo.pk,
        applications=[{"invoice": two.january.pk}, {"invoice": two.february.pk}],
        applied_date=APPLY_DAY,
    )
    assert [(r.invoice_id, r.amount) for r in rows] == [
        (two.january.pk, D("75.77")),
        (two.february.pk, D("24.23")),
    ]
    assert state(two.january, two.february, two.memo) == [
        (D("0.00"), "settled"),
        (D("51.54"), "partially_settled"),
        (D("0.00"),),
    ]


def test_a_payment_and_a_credit_settle_an_invoice_together(two):
    payment_record(invoice_id=two.january.pk, amount="50.00", payment_date=APPLY_DAY)
    credit_memo_apply(
        credit_memo_id=two.memo.pk,
        applications=[{"invoice": two.january.pk}],
        applied_date=APPLY_DAY,
    )
    assert state(two.january, two.memo) == [(D("0.00"), "settled"), (D("74.23"),)]


def test_unapply_gives_the_amount_back_to_both_sides_and_keeps_the_row(two):
    (row,) = credit_memo_apply(
        credit_memo_id=two.memo.pk,
        applications=[{"invoice": two.january.pk, "amount": "75.77"}],
        applied_date=APPLY_DAY,
        applied_by="olga",
    )
    assert state(two.january, two.memo) == [(D("0.00"), "settled"), (D("24.23"),)]

    credit_application_unapply(application_id=row.pk, unapplied_by="ines")

    assert state(two.january, two.memo) == [(D("75.77"), "not_settled"), (D("100.00"),)]
    row.refresh_from_db()
    assert (row.amount, row.applied_by, row.unapplied_by, row.is_active) == (
        D("75.77"),
        "olga",
        "ines",
        False,
    )
    assert CreditMemoApplication.objects.active().count() == 0

    before = snapshot()
    with pytest.raises(CreditApplicationNotActive) as exc:
        credit_application_unapply(application_id=row.pk)
    assert "was already unapplied on " in exc.value.message and "by ines." in exc.value.message
    assert snapshot() == before
    with pytest.raises(CreditApplicationNotFound):
        credit_application_unapply(application_id=row.pk + 1000)


def test_a_credited_invoice_voids_once_its_credit_is_unapplied(two):
    generate(two, d(2026, 3, 15))  # March, so February is not the newest; void February after
    march = Invoice.objects.get(invoice_date=d(2026, 3, 15))
    (row,) = credit_memo_apply(
        credit_memo_id=two.memo.pk,
        applications=[{"invoice": march.pk, "amount": "10.00"}],
        applied_date=d(2026, 3, 15),
    )
    before = snapshot()
    with pytest.raises(InvoiceCredited) as exc:
        invoice_void(invoice_id=march.pk, void_date=d(2026, 3, 20))
    assert "or unapply those credits first" in exc.value.message
    assert snapshot() == before

    credit_application_unapply(application_id=row.pk)
    invoice_void(invoice_id=march.pk, void_date=d(2026, 3, 20))
    assert state(march, two.memo) == [(D("0.00"), "settled"), (D("100.00"),)]
    march.refresh_from_db()
    assert march.status == "voided"

    # The void's own application (its mirror memo on March) is never unapplied.
    mirror = CreditMemoApplication.objects.active().get(invoice=march)
    before = snapshot()
    with pytest.raises(CreditApplicationNotActive) as exc:
        credit_application_unapply(application_id=mirror.pk)
    assert "a void cannot be undone" in exc.value.message
    assert snapshot() == before


# --- refusals: a clear error, nothing changed --------------------------------------------------


def refused(exc_type, memo_id, applications, **kwargs):
    before = snapshot()
    rows = CreditMemoApplication.objects.count()
    with pytest.raises(exc_type) as exc:
        credit_memo_apply(
            credit_memo_id=memo_id,
            applications=applications,
            applied_date=kwargs.pop("applied_date", APPLY_DAY),
            **kwargs,
        )
    assert snapshot() == before
    assert CreditMemoApplication.objects.count() == rows
    return exc.value


def test_more_than_the_invoice_has_open_is_refused(two):
    error = refused(
        CreditExceedsBalance, two.memo.pk, [{"invoice": two.january.pk, "amount": "75.78"}]
    )
    assert error.message == (
        "75.78 USD is more than the 75.77 USD open on invoice INV-0001. "
        "Apply at most the open balance."
    )


def test_more_than_the_memo_has_left_is_refused_whole(two):
    """The first application fits; the second would exceed the memo: neither is made."""
    error = refused(
        CreditExceedsBalance,
        two.memo.pk,
        [
            {"invoice": two.january.pk, "amount": "75.77"},
            {"invoice": two.february.pk, "amount": "24.24"},
        ],
    )
    assert error.message == (
        f"Credit memo #{two.memo.pk} has 24.23 USD left to apply after the invoices before this "
        "one; 24.24 USD cannot be applied to invoice INV-0002."
    )


def test_a_draft_memo_is_not_applied(two):
    draft = memo_of(two.account, "10.00", post=False)
    error = refused(CreditMemoNotPosted, draft.pk, [{"invoice": two.january.pk}])
    assert error.message == f"Credit memo #{draft.pk} is a draft; post it before applying it."


def test_draft_and_voided_invoices_take_no_credit(two):
    draft = generate(two, d(2026, 3, 15), action="draft")
    error = refused(InvoiceNotPosted, two.memo.pk, [{"invoice": draft.pk}])
    assert error.message == (
        f"Only a posted invoice takes credits; draft invoice #{draft.pk} is not posted yet; "
        "post it first."
    )
    invoice_draft_delete(invoice_id=draft.pk)
    invoice_void(invoice_id=two.february.pk, void_date=d(2026, 3, 2))
    error = refused(InvoiceNotPosted, two.memo.pk, [{"invoice": two.february.pk}])
    assert error.message == "Only a posted invoice takes credits; invoice INV-0002 is voided."


def test_another_account_s_invoice_is_refused(two):
    other = make_account("Globex Ltd", seller=two.seller)
    other_memo = memo_of(other, "10.00")
    error = refused(CreditApplicationMismatch, other_memo.pk, [{"invoice": two.january.pk}])
    assert error.message == (
        f"Invoice INV-0001 is account Acme Corp's; credit memo #{other_memo.pk} credits account "
        "Globex Ltd. A credit memo applies only to its own account's invoices."
    )


def test_another_currency_or_legal_entity_is_refused(two):
    eur = memo_of(two.account, "10.00", currency="EUR")
    error = refused(CreditApplicationMismatch, eur.pk, [{"invoice": two.january.pk}])
    assert error.message == (
        f"Invoice INV-0001 is in USD; credit memo #{eur.pk} is in EUR. A credit applies only "
        "to invoices in its own currency."
    )
    other_seller = LegalEntity.objects.create(name="Ledgerline GmbH")
    CreditMemo.objects.filter(pk=two.memo.pk).update(legal_entity=other_seller)
    error = refused(CreditApplicationMismatch, two.memo.pk, [{"invoice": two.january.pk}])
    assert "another legal entity" in error.message


def test_bad_input_is_named_by_its_path(two):
    error = refused(
        ValidationError,
        two.memo.pk,
        [{"invoice": two.january.pk, "amount": "0"}],
    )
    assert error.details == {"applications[0].amount": ["An application must be more than zero."]}
    error = refused(
        ValidationError,
        two.memo.pk,
        [{"invoice": two.january.pk, "amount": "1.001"}],
    )
    assert error.details == {
        "applications[0].amount": ["1.001 has more decimal places than USD has."]
    }
    error = refused(
        ValidationError,
        two.memo.pk,
        [{"invoice": two.january.pk}, {"invoice": two.january.pk}, {"invoice": "x"}],
    )
    assert error.details == {
        "applications[1].invoice": [f"Invoice {two.january.pk} is named twice; name it once."],
        "applications[2].invoice": ["Give the invoice's id (an integer)."],
    }
    error = refused(ValidationError, two.memo.pk, [])
    assert error.details == {"applications": ["Name at least one invoice to apply the credit to."]}
    error = refused(ValidationError, two.memo.pk, [{"invoice": 999999}])
    assert error.details == {"applications[0].invoice": ["Invoice 999999 does not exist."]}
    error = refused(
        ValidationError, two.memo.pk, [{"invoice": two.january.pk}], applied_date=d(2026, 2, 1)
    )
    assert error.details == {
        "applied_date": [
            f"Credit memo #{two.memo.pk} is dated 2026-03-01; apply it on or after that date."
        ]
    }
    refused(CreditMemoNotFound, 999999, [{"invoice": two.january.pk}])


def test_nothing_left_is_refused_when_no_amount_is_given(two):
    credit_memo_apply(
        credit_memo_id=two.memo.pk,
        applications=[{"invoice": two.january.pk}],
        applied_date=APPLY_DAY,
    )
    error = refused(CreditExceedsBalance, two.memo.pk, [{"invoice": two.january.pk}])
    assert error.message == "Nothing to apply to invoice INV-0001: it has no open balance."


# --- concurrency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_applications_never_exceed_the_memo(lw):
    """Two connections apply 60.00 each of one 100.00 memo to two invoices at the same moment:
    one is applied, the other refused; the memo never goes below zero."""
    january = generate(lw, d(2026, 1, 15))
    february = generate(lw, d(2026, 2, 15))
    memo = memo_of(lw.account, "100.00")
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def worker(invoice_id: int) -> None:
        try:
            barrier.wait()
            credit_memo_apply(
                credit_memo_id=memo.pk,
                applications=[{"invoice": invoice_id, "amount": "60.00"}],
                applied_date=APPLY_DAY,
            )
            outcomes[invoice_id] = "applied"
        except CreditExceedsBalance:
            outcomes[invoice_id] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in (january.pk, february.pk)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes.values()) == ["applied", "refused"]
    memo.refresh_from_db()
    assert memo.balance == D("40.00")
    (applied,) = [pk for pk, outcome in outcomes.items() if outcome == "applied"]
    assert list(CreditMemoApplication.objects.values_list("invoice_id", "amount")) == [
        (applied, D("60.00"))
    ]
    balances = dict(Invoice.objects.values_list("pk", "balance"))
    assert sorted(balances.values()) == [D("15.77"), D("75.77")]
    assert balances[applied] == D("15.77")
