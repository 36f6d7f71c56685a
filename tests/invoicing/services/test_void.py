"""Voiding posted invoices: the credit memo, the released periods, the refusals."""

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.models import BillingSchedule, UsageSummary
from billing.services.orders import order_activate, order_create
from invoicing.exceptions import InvoiceCredited, InvoiceNotLatest, InvoiceNotPosted, InvoicePaid
from invoicing.models import (
    BillingPeriodItem,
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    SequencePolicy,
)
from invoicing.services.generation import invoices_generate
from invoicing.services.payments import payment_record
from invoicing.services.posting import invoice_post
from invoicing.services.void import invoice_void
from tests.support.invoicing import (
    credit_applied,
    generate,
    line_rows,
    monthly,
    schedule_state,
    snapshot,
    tax_rows,
)

pytestmark = pytest.mark.django_db
d = dt.date
VOID_DAY = d(2026, 2, 20)


def test_void_mirrors_every_line_and_tax_and_rebills_identically(lw):
    # Jan + Feb of both schedules: 2 × (50.00 + 19.99) = 139.98, tax 2 × 5.78 = 11.56.
    invoice = generate(lw, d(2026, 2, 15))
    assert (invoice.number, invoice.total_charges, invoice.total_tax, invoice.total) == (
        "INV-0001",
        D("139.98"),
        D("11.56"),
        D("151.54"),
    )
    billed_lines, billed_taxes = line_rows(invoice), tax_rows(invoice)
    seat_before = schedule_state(lw.seat_schedule)
    assert seat_before == (
        "ready_for_invoicing",
        d(2026, 3, 1),
        d(2026, 3, 1),
        D("100.00"),
        D("500.00"),
    )

    result = invoice_void(invoice_id=invoice.pk, void_date=VOID_DAY, voided_by="alice")

    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.balance, invoice.total) == (
        "voided",
        "INV-0001",
        D("0.00"),
        D("151.54"),
    )
    assert invoice.settlement_status == "settled"
    memo = result.credit_memo
    assert (memo.status, memo.invoice_id, memo.memo_date, memo.posted_date) == (
        "posted",
        invoice.pk,
        VOID_DAY,
        VOID_DAY,
    )
    assert (memo.total_charges, memo.total_tax, memo.total, memo.balance) == (
        D("139.98"),
        D("11.56"),
        D("151.54"),
        D("0.00"),
    )
    assert memo.number is None  # no credit memo policy: posted unnumbered
    assert list(
        CreditMemoLine.objects.filter(credit_memo=memo)
        .order_by("sort_order")
        .values_list("name", "period_start", "period_end", "quantity", "amount", "tax_amount")
    ) == [
        ("Seat", d(2026, 1, 1), d(2026, 1, 31), D("10"), D("50.00"), D("4.13")),
        ("Premium support", d(2026, 1, 1), d(2026, 1, 31), D("1"), D("19.99"), D("1.65")),
        ("Seat", d(2026, 2, 1), d(2026, 2, 28), D("10"), D("50.00"), D("4.13")),
        ("Premium support", d(2026, 2, 1), d(2026, 2, 28), D("1"), D("19.99"), D("1.65")),
    ]
    assert (
        list(
            CreditMemoLineTax.objects.filter(line__credit_memo=memo)
            .order_by("line__sort_order", "id")
            .values_list("line__name", "name", "rate", "amount")
        )
        == [
            ("Seat", "TX state tax", D("6.25"), D("3.13")),
            ("Seat", "Austin city tax", D("2.00"), D("1.00")),
            ("Premium support", "TX state tax", D("6.25"), D("1.25")),
            ("Premium support", "Austin city tax", D("2.00"), D("0.40")),
        ]
        * 2
    )
    # Every memo line points at the invoice line it mirrors.
    assert sorted(memo.lines.values_list("invoice_line_id", flat=True)) == sorted(
        invoice.lines.values_list("pk", flat=True)
    )
    (application,) = CreditMemoApplication.objects.all()
    assert (application.invoice_id, application.amount, application.applied_date) == (
        invoice.pk,
        D("151.54"),
        VOID_DAY,
    )
    # The invoice itself is unchanged: same lines, same taxes.
    assert (line_rows(invoice), tax_rows(invoice)) == (billed_lines, billed_taxes)

    # Periods released and schedules rolled back to before January.
    assert set(invoice.period_items.values_list("invoice_status", flat=True)) == {"voided"}
    assert schedule_state(lw.seat_schedule) == (
        "ready_for_invoicing",
        d(2026, 1, 1),
        d(2026, 1, 1),
        D("0.00"),
        D("600.00"),
    )
    assert schedule_state(lw.support_schedule) == (
        "ready_for_invoicing",
        d(2026, 1, 1),
        d(2026, 1, 1),
        D("0.00"),
        D("239.88"),
    )

    # The next generation bills the same periods again, with the same amounts and taxes.
    again = generate(lw, d(2026, 2, 15))
    assert again.number == "INV-0002"  # INV-0001 is never reused
    assert (line_rows(again), tax_rows(again)) == (billed_lines, billed_taxes)
    assert (again.total_charges, again.total_tax, again.total) == (
        D("139.98"),
        D("11.56"),
        D("151.54"),
    )
    assert schedule_state(lw.seat_schedule) == seat_before
    assert BillingPeriodItem.objects.filter(invoice_status="voided").count() == 4
    assert BillingPeriodItem.objects.filter(invoice_status="posted", invoice=again).count() == 4


def test_void_numbers_the_credit_memo_when_a_policy_matches(lw):
    SequencePolicy.objects.create(
        name="US credit memos",
        target="credit_memo",
        pattern="CM-{DATE}-{SEQ}",
        date_format="YYYY",
        min_width=5,
        legal_entity=lw.seller,
    )
    first = generate(lw, d(2026, 1, 15))
    second = generate(lw, d(2026, 2, 15))
    # Newest first.
    assert invoice_void(invoice_id=second.pk, void_date=VOID_DAY).credit_memo.number == (
        "CM-2026-00001"
    )
    assert invoice_void(invoice_id=first.pk, void_date=VOID_DAY).credit_memo.number == (
        "CM-2026-00002"
    )
    assert SequencePolicy.objects.get(target="invoice").next_value == 3  # untouched by memos


def test_void_of_a_completely_billed_one_time_schedule_makes_it_billable_again(lw):
    order = order_create(
        account=lw.account,
        items=[
            {
                "product": lw.setup,
                "quantity": D("1"),
                "unit_price": D("500.00"),
                "pricing_term": "one_time",
                "billing_frequency": "one_time",
                "start_date": d(2026, 1, 5),
            }
        ],
        invoice_group_type="per_schedule",
    )
    order_activate(order_id=order.pk)
    setup = BillingSchedule.objects.get(order=order)
    result = invoices_generate(order_id=order.pk, target_date=d(2026, 1, 31), action="posted")
    (invoice,) = result.invoices
    assert schedule_state(setup) == ("completely_billed", d(2026, 1, 6), None, D("500.00"), D("0"))

    invoice_void(invoice_id=invoice.pk, void_date=VOID_DAY)

    assert schedule_state(setup) == (
        "ready_for_invoicing",
        d(2026, 1, 5),
        d(2026, 1, 5),
        D("0.00"),
        D("500.00"),
    )


def test_void_returns_usage_to_ready_and_the_next_run_bills_it_again(lw):
    order = order_create(
        account=lw.account,
        items=[
            monthly(
                lw.storage,
                "1",
                "0",
                included_quantity=D("1000"),
                overage_unit_price=D("0.05"),
                end_date=None,
                billing_type="arrears",
            )
        ],
    )
    order_activate(order_id=order.pk)
    usage_schedule = BillingSchedule.objects.get(order=order)
    january = UsageSummary.objects.create(
        account=lw.account,
        order_item=usage_schedule.order_item,
        schedule=usage_schedule,
        period_start=d(2026, 1, 1),
        period_end=d(2026, 1, 31),
        quantity=D("1234.5678"),
    )
    result = invoices_generate(
        billing_schedule_ids=[usage_schedule.pk], target_date=d(2026, 1, 31), action="posted"
    )
    (invoice,) = result.invoices
    # GB scale 3: 1234.568 consumed, 234.568 over 1000 × 0.05 = 11.7284 → 11.73; tax 6.25 %
    # 0.733125 → 0.73, 2 % 0.2346 → 0.23.
    assert (invoice.total_charges, invoice.total_tax, invoice.total) == (
        D("11.73"),
        D("0.96"),
        D("12.69"),
    )
    january.refresh_from_db()
    assert january.status == "invoiced"
    usage_before = schedule_state(usage_schedule)

    memo = invoice_void(invoice_id=invoice.pk, void_date=VOID_DAY).credit_memo

    january.refresh_from_db()
    assert january.status == "ready_for_invoicing"
    assert (memo.total, list(memo.lines.values_list("amount", "tax_amount"))) == (
        D("12.69"),
        [(D("11.73"), D("0.96"))],
    )
    assert schedule_state(usage_schedule)[1] == d(2026, 1, 1)  # next charge-from rolled back

    rebilled = invoices_generate(
        billing_schedule_ids=[usage_schedule.pk], target_date=d(2026, 1, 31), action="posted"
    )
    (again,) = rebilled.invoices
    assert line_rows(again) == line_rows(invoice)
    assert again.total == D("12.69")
    january.refresh_from_db()
    assert january.status == "invoiced"
    assert schedule_state(usage_schedule) == usage_before


# --- refusals: each with its own code, nothing changed ------------------------------------


def test_void_refuses_a_draft(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    before = snapshot()
    with pytest.raises(InvoiceNotPosted) as exc:
        invoice_void(invoice_id=draft.pk, void_date=VOID_DAY)
    assert exc.value.code == "invoice_not_posted"
    assert "Only a posted invoice can be voided" in exc.value.message
    assert snapshot() == before
    assert CreditMemo.objects.count() == 0


@pytest.mark.parametrize("amount", ["10.00", "75.77"], ids=["partly-paid", "paid"])
def test_void_refuses_a_paid_or_partly_paid_invoice(lw, amount):
    invoice = generate(lw, d(2026, 1, 15))
    assert invoice.total == D("75.77")
    payment_record(invoice_id=invoice.pk, amount=amount, payment_date=d(2026, 1, 20))
    before = snapshot()
    with pytest.raises(InvoicePaid) as exc:
        invoice_void(invoice_id=invoice.pk, void_date=VOID_DAY)
    assert exc.value.code == "invoice_paid"
    assert f"payments settled {D(amount):,} USD" in exc.value.message
    assert snapshot() == before


def test_void_refuses_a_partly_credited_invoice(lw):
    invoice = generate(lw, d(2026, 1, 15))
    credit_applied(invoice, "5.00", d(2026, 1, 20))
    assert (invoice.balance, invoice.settlement_status) == (D("70.77"), "partially_settled")
    before = snapshot()
    with pytest.raises(InvoiceCredited) as exc:
        invoice_void(invoice_id=invoice.pk, void_date=VOID_DAY)
    assert exc.value.code == "invoice_credited"
    assert snapshot() == before


def test_void_refuses_all_but_the_newest_invoice_of_a_schedule(lw):
    january = generate(lw, d(2026, 1, 15))
    february = generate(lw, d(2026, 2, 15))
    before = snapshot()
    with pytest.raises(InvoiceNotLatest) as exc:
        invoice_void(invoice_id=january.pk, void_date=VOID_DAY)
    assert exc.value.code == "invoice_not_latest"
    assert "INV-0002" in exc.value.message
    assert exc.value.details["newer_invoices"] == [february.pk]
    assert snapshot() == before

    # Newest first works: February, then January.
    invoice_void(invoice_id=february.pk, void_date=VOID_DAY)
    invoice_void(invoice_id=january.pk, void_date=VOID_DAY)
    assert schedule_state(lw.seat_schedule)[1:4] == (d(2026, 1, 1), d(2026, 1, 1), D("0.00"))


def test_void_refuses_when_a_later_draft_bills_the_same_schedule(lw):
    january = generate(lw, d(2026, 1, 15))
    generate(lw, d(2026, 2, 15), action="draft")
    before = snapshot()
    with pytest.raises(InvoiceNotLatest):
        invoice_void(invoice_id=january.pk, void_date=VOID_DAY)
    assert snapshot() == before


def test_a_voided_invoice_cannot_be_voided_again(lw):
    invoice = generate(lw, d(2026, 1, 15))
    invoice_void(invoice_id=invoice.pk, void_date=VOID_DAY)
    before = snapshot()
    with pytest.raises(InvoiceNotPosted, match="is voided"):
        invoice_void(invoice_id=invoice.pk, void_date=VOID_DAY)
    assert snapshot() == before


def test_numbers_stay_gapless_after_a_void(lw):
    invoice = generate(lw, d(2026, 1, 15))
    invoice_void(invoice_id=invoice.pk, void_date=VOID_DAY)
    draft = generate(lw, d(2026, 1, 15), action="draft")
    assert invoice_post(invoice_id=draft.pk).number == "INV-0002"
