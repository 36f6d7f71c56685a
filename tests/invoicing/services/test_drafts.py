"""Editing and deleting drafts: totals and estimated tax follow; posted invoices refuse."""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts.models import Contact, PaymentTerm
from core.exceptions import ValidationError
from invoicing.exceptions import (
    InvoiceImmutable,
    InvoiceNotDraft,
    InvoiceNotLatest,
    LineNotAdjustment,
)
from invoicing.models import BillingPeriodItem, Invoice, InvoiceLine, InvoiceLineTax, TaxRate
from invoicing.services.drafts import (
    invoice_adjustment_add,
    invoice_adjustment_remove,
    invoice_adjustment_update,
    invoice_draft_delete,
    invoice_update,
)
from invoicing.services.posting import invoice_post
from tests.conftest import make_account
from tests.support.invoicing import generate, line_rows, schedule_state, snapshot, tax_rows

pytestmark = pytest.mark.django_db
d = dt.date


def totals(invoice) -> tuple:
    invoice.refresh_from_db()
    return (
        invoice.total_charges,
        invoice.total_adjustments,
        invoice.total_tax,
        invoice.total,
        invoice.balance,
    )


def tax_statuses(invoice) -> set[str]:
    return set(
        InvoiceLineTax.objects.filter(line__invoice=invoice).values_list("status", flat=True)
    )


def test_adjustment_lines_recompute_totals_and_estimated_tax(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    assert totals(draft) == (D("69.99"), D("0"), D("5.78"), D("75.77"), D("75.77"))

    # A goodwill credit of 2 × -12.50 = -25.00: state tax -1.5625 → -1.56, city -0.50.
    line = invoice_adjustment_add(
        invoice_id=draft.pk, name="Goodwill credit", quantity="2", unit_price="-12.50"
    )
    assert (line.type, line.amount, line.tax_amount, line.sort_order) == (
        "adjustment",
        D("-25.00"),
        D("-2.06"),
        3,
    )
    assert totals(draft) == (D("69.99"), D("-25.00"), D("3.72"), D("48.71"), D("48.71"))
    assert set(
        InvoiceLineTax.objects.filter(line__invoice=draft).values_list("status", flat=True)
    ) == {"estimated"}

    # An untaxed extra charge of 30.00.
    fee = invoice_adjustment_add(
        invoice_id=draft.pk, name="Onboarding call", unit_price="30.00", taxable=False
    )
    assert (fee.amount, fee.tax_amount) == (D("30.00"), D("0.00"))
    assert totals(draft) == (D("69.99"), D("5.00"), D("3.72"), D("78.71"), D("78.71"))

    # Edit: the credit becomes 1 × -12.50: tax -0.78125 → -0.78 and -0.25.
    invoice_adjustment_update(invoice_id=draft.pk, line_id=line.pk, quantity="1")
    line.refresh_from_db()
    assert (line.amount, line.tax_amount) == (D("-12.50"), D("-1.03"))
    assert totals(draft) == (D("69.99"), D("17.50"), D("4.75"), D("92.24"), D("92.24"))

    invoice_adjustment_remove(invoice_id=draft.pk, line_id=fee.pk)
    assert totals(draft) == (D("69.99"), D("-12.50"), D("4.75"), D("62.24"), D("62.24"))

    # Posting turns the estimate into actual tax on every line, adjustments included.
    posted = invoice_post(invoice_id=draft.pk)
    assert (posted.total, posted.total_tax) == (D("62.24"), D("4.75"))
    assert set(
        InvoiceLineTax.objects.filter(line__invoice=draft).values_list("status", flat=True)
    ) == {"posted"}


def test_schedule_lines_cannot_be_edited_and_bad_adjustments_are_refused(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    seat_line = draft.lines.get(name="Seat")
    before = snapshot()
    with pytest.raises(LineNotAdjustment) as exc:
        invoice_adjustment_update(invoice_id=draft.pk, line_id=seat_line.pk, unit_price="1")
    assert exc.value.code == "line_not_adjustment"
    with pytest.raises(LineNotAdjustment):
        invoice_adjustment_remove(invoice_id=draft.pk, line_id=seat_line.pk)
    with pytest.raises(ValidationError) as bad:
        invoice_adjustment_add(invoice_id=draft.pk, name="", unit_price="abc")
    assert set(bad.value.details) == {"name", "unit_price"}
    with pytest.raises(ValidationError, match="non-zero"):
        invoice_adjustment_add(invoice_id=draft.pk, name="x", quantity="0", unit_price="1")
    assert snapshot() == before


def test_header_changes_recompute_due_date_and_tax(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    assert (draft.invoice_date, draft.due_date) == (d(2026, 1, 15), d(2026, 2, 14))  # net 30
    other = Contact.objects.create(account=lw.account, name="CFO", email="cfo@example.com")
    # The city tax is withdrawn; the new invoice date makes the draft re-estimate its tax.
    TaxRate.objects.filter(name="Austin city tax").update(is_active=False)

    updated = invoice_update(
        invoice_id=draft.pk,
        invoice_date=d(2026, 1, 20),
        description="January services",
        bill_to_id=other.pk,
    )

    assert (updated.invoice_date, updated.due_date, updated.description, updated.bill_to_id) == (
        d(2026, 1, 20),
        d(2026, 2, 19),
        "January services",
        other.pk,
    )
    # Tax re-estimated with the city tax gone: 3.13 + 1.25.
    assert totals(updated) == (D("69.99"), D("0"), D("4.38"), D("74.37"), D("74.37"))

    updated = invoice_update(invoice_id=draft.pk, due_date=d(2026, 3, 31))
    assert updated.due_date == d(2026, 3, 31)


def test_header_validation(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    stranger = Contact.objects.create(
        account=make_account("Other Co", seller=lw.seller),
        name="Someone",
        email="x@example.com",
    )
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        invoice_update(invoice_id=draft.pk, bill_to_id=stranger.pk)
    assert "bill_to" in exc.value.details
    with pytest.raises(ValidationError) as exc:
        invoice_update(invoice_id=draft.pk, due_date=d(2026, 1, 1))
    assert "due_date" in exc.value.details
    assert snapshot() == before


def test_posted_invoices_are_immutable(lw):
    posted = generate(lw, d(2026, 1, 15))
    line = posted.lines.first()
    before = snapshot()
    attempts = [
        lambda: invoice_update(invoice_id=posted.pk, description="changed"),
        lambda: invoice_adjustment_add(invoice_id=posted.pk, name="Fee", unit_price="10"),
        lambda: invoice_adjustment_update(invoice_id=posted.pk, line_id=line.pk, name="x"),
        lambda: invoice_adjustment_remove(invoice_id=posted.pk, line_id=line.pk),
        lambda: invoice_draft_delete(invoice_id=posted.pk),
    ]
    for attempt in attempts:
        with pytest.raises(InvoiceImmutable) as exc:
            attempt()
        assert exc.value.code == "invoice_immutable"
        assert "a posted invoice cannot be" in exc.value.message
        assert "credit memo" in exc.value.message
    assert snapshot() == before


def test_other_non_draft_statuses_are_refused_with_invoice_not_draft(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    Invoice.objects.filter(pk=draft.pk).update(status="canceled")
    with pytest.raises(InvoiceNotDraft):
        invoice_update(invoice_id=draft.pk, description="x")


def test_deleting_a_draft_releases_its_periods_and_the_next_run_bills_them(lw):
    seat_before = schedule_state(lw.seat_schedule)
    support_before = schedule_state(lw.support_schedule)
    draft = generate(lw, d(2026, 2, 15), action="draft")
    billed_lines = line_rows(draft)
    billed_taxes = tax_rows(draft)
    invoice_adjustment_add(invoice_id=draft.pk, name="Credit", unit_price="-5.00")
    assert BillingPeriodItem.objects.count() == 4

    invoice_draft_delete(invoice_id=draft.pk)

    assert not Invoice.objects.exists()
    assert not InvoiceLine.objects.exists()
    assert not BillingPeriodItem.objects.exists()
    assert schedule_state(lw.seat_schedule) == seat_before
    assert schedule_state(lw.support_schedule) == support_before

    again = generate(lw, d(2026, 2, 15), action="draft")
    assert (line_rows(again), tax_rows(again)) == (billed_lines, billed_taxes)
    assert BillingPeriodItem.objects.filter(invoice=again).count() == 4


def test_deleting_an_older_draft_is_refused_while_a_newer_bills_the_schedule(lw):
    january = generate(lw, d(2026, 1, 15), action="draft")
    generate(lw, d(2026, 2, 15), action="draft")
    before = snapshot()
    with pytest.raises(InvoiceNotLatest):
        invoice_draft_delete(invoice_id=january.pk)
    assert snapshot() == before


def test_a_draft_without_periods_is_deleted(lw):
    draft = Invoice.objects.create(
        account=lw.account, currency="USD", invoice_date=d(2026, 1, 1), status="draft"
    )
    invoice_adjustment_add(invoice_id=draft.pk, name="Manual", unit_price="10")
    invoice_draft_delete(invoice_id=draft.pk)
    assert not Invoice.objects.exists()


def test_due_date_follows_an_end_of_month_term(lw):
    eom = PaymentTerm.objects.create(name="EOM+10", kind="end_of_month", days=10)
    draft = generate(lw, d(2026, 1, 15), action="draft")
    Invoice.objects.filter(pk=draft.pk).update(payment_term=eom)
    updated = invoice_update(invoice_id=draft.pk, invoice_date=d(2026, 2, 3))
    assert updated.due_date == d(2026, 3, 10)
