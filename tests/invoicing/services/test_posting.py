"""Posting (DESIGN.md §3 step 7): actual tax, the number from the single matching sequence
policy, posted date and status, period items; refusals leave the draft untouched."""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts.models import LegalEntity
from billing.models import BillingSchedule, Order
from billing.services.orders import order_activate, order_create
from invoicing.exceptions import AmbiguousSequencePolicy, InvoiceNotDraft, NoSequencePolicy
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceLineTax,
    SequencePolicy,
    TaxRate,
)
from invoicing.services.generation import invoices_generate
from invoicing.services.posting import invoice_post, invoices_post
from tests.conftest import make_account

pytestmark = pytest.mark.django_db

d = dt.date
ZERO = D("0")


def activate(account, items, **fields) -> Order:
    order = order_create(account=account, items=items, **fields)
    return order_activate(order_id=order.pk)


def seats(world, **kw) -> dict:
    """10 seats at 5.00 a month, billed monthly in advance, Jan 1 – Dec 31 2026."""
    item = {
        "product": world.seat,
        "quantity": D("10"),
        "unit_price": D("5.00"),
        "pricing_term": "month",
        "start_date": d(2026, 1, 1),
        "end_date": d(2026, 12, 31),
        "billing_frequency": "monthly",
        "billing_type": "advance",
        "period_boundary": "anniversary",
    }
    item.update(kw)
    return item


def policy(world, **fields) -> SequencePolicy:
    fields.setdefault("name", "US invoices")
    fields.setdefault("legal_entity", world.seller)
    fields.setdefault("currency", "USD")
    return SequencePolicy.objects.create(
        pattern="INV-{DATE}-{SEQ}", date_format="YYYY", min_width=6, **fields
    )


@pytest.fixture
def sales_tax(world) -> TaxRate:
    """8.25 % in Texas for any seller: 50.00 → 4.125 → 4.13."""
    return TaxRate.objects.create(country="US", region="TX", name="Sales tax", rate=D("8.25"))


JANUARY = d(2026, 1, 1)


def draft(world, account=None, target=JANUARY) -> Invoice:
    account = account or world.account
    result = invoices_generate(account_id=account.pk, target_date=target)
    assert result.errors == []
    (invoice,) = result.invoices
    assert invoice.status == "draft"
    return invoice


def tax_rows(invoice) -> list[tuple]:
    return list(
        InvoiceLineTax.objects.filter(line__invoice=invoice)
        .order_by("id")
        .values_list("id", "name", "amount", "status")
    )


def snapshot(invoice) -> dict:
    row = Invoice.objects.filter(pk=invoice.pk).values().get()
    row["taxes"] = tax_rows(invoice)
    row["items"] = list(
        BillingPeriodItem.objects.filter(invoice=invoice).values_list("id", "invoice_status")
    )
    return row


# --------------------------------------------------------------------------------------------
# invoice_post


def test_posting_a_draft_numbers_it_and_posts_tax_and_period_items(world, sales_tax):
    us = policy(world)
    activate(world.account, [seats(world)])
    invoice = draft(world)
    assert [r[1:] for r in tax_rows(invoice)] == [("Sales tax", D("4.13"), "estimated")]

    posted = invoice_post(invoice_id=invoice.pk, posted_by="alice", posted_date=d(2026, 1, 2))

    # "INV-{DATE}-{SEQ}": the invoice date's year, the value padded to 6.
    assert posted.number == "INV-2026-000001"
    assert (posted.status, posted.posted_date, posted.posted_by) == (
        "posted",
        d(2026, 1, 2),
        "alice",
    )
    assert posted.posted_at is not None
    # 50.00 + 4.13 = 54.13, computed again as actual tax.
    assert (posted.total_charges, posted.total_tax, posted.total, posted.balance) == (
        D("50.00"),
        D("4.13"),
        D("54.13"),
        D("54.13"),
    )
    assert [r[1:] for r in tax_rows(posted)] == [("Sales tax", D("4.13"), "posted")]
    assert list(BillingPeriodItem.objects.values_list("invoice_id", "invoice_status")) == [
        (invoice.pk, "posted")
    ]
    us.refresh_from_db()
    assert us.next_value == 2

    # The next draft takes the next number; the posted date defaults to today.
    february = draft(world, target=d(2026, 2, 1))
    assert invoice_post(invoice_id=february.pk).number == "INV-2026-000002"
    february.refresh_from_db()
    assert february.posted_date is not None


def test_posting_a_posted_invoice_is_refused_and_changes_nothing(world, sales_tax):
    us = policy(world)
    activate(world.account, [seats(world)])
    invoice = invoice_post(invoice_id=draft(world).pk, posted_date=d(2026, 1, 2))
    before = snapshot(invoice)

    with pytest.raises(InvoiceNotDraft) as exc:
        invoice_post(invoice_id=invoice.pk, posted_date=d(2026, 1, 3))

    assert exc.value.code == "invoice_not_draft"
    assert str(invoice) in exc.value.message and "only a draft" in exc.value.message
    assert snapshot(invoice) == before
    us.refresh_from_db()
    assert us.next_value == 2
    assert not ErrorLog.objects.exists()


def test_no_matching_policy_leaves_the_draft_with_estimated_tax(world, sales_tax):
    policy(world, name="EUR only", currency="EUR")
    activate(world.account, [seats(world)])
    invoice = draft(world)
    before = snapshot(invoice)

    with pytest.raises(NoSequencePolicy) as exc:
        invoice_post(invoice_id=invoice.pk, posted_date=d(2026, 1, 2))

    assert exc.value.code == "no_sequence_policy"
    assert "Ledgerline Demo Inc." in exc.value.message and "USD" in exc.value.message
    after = snapshot(invoice)
    assert after == before
    assert (after["status"], after["number"]) == ("draft", None)
    assert [r[2:] for r in after["taxes"]] == [(D("4.13"), "estimated")]
    log = ErrorLog.objects.get()
    assert (log.category, log.code, log.primary, log.message, log.is_resolved) == (
        "posting",
        "no_sequence_policy",
        invoice,
        exc.value.message,
        False,
    )

    # Once a policy matches, the same draft posts and its error is resolved.
    policy(world)
    assert invoice_post(invoice_id=invoice.pk).number == "INV-2026-000001"
    log.refresh_from_db()
    assert log.is_resolved is True


def test_two_matching_policies_are_ambiguous(world, sales_tax):
    policy(world, name="US invoices")
    policy(world, name="Catch-all", legal_entity=None, currency="")
    activate(world.account, [seats(world)])
    invoice = draft(world)
    before = snapshot(invoice)

    with pytest.raises(AmbiguousSequencePolicy) as exc:
        invoice_post(invoice_id=invoice.pk, posted_date=d(2026, 1, 2))

    assert exc.value.code == "ambiguous_sequence_policy"
    assert "'Catch-all', 'US invoices'" in exc.value.message
    assert snapshot(invoice) == before
    assert ErrorLog.objects.get().code == "ambiguous_sequence_policy"
    assert set(SequencePolicy.objects.values_list("next_value", flat=True)) == {None}


def test_invoices_post_skips_non_drafts_and_numbers_in_id_order(world):
    policy(world)
    other = make_account("Beta LLC", seller=world.seller)
    activate(world.account, [seats(world)])
    activate(other, [seats(world)])
    first = draft(world)
    second = draft(world, account=other)
    invoice_post(invoice_id=first.pk, posted_date=d(2026, 1, 2))
    third = draft(world, target=d(2026, 2, 1))

    posted, failures = invoices_post(
        invoice_ids=[third.pk, first.pk, second.pk], posted_date=d(2026, 2, 2)
    )

    assert (posted, failures) == ([second.pk, third.pk], [])
    assert [Invoice.objects.get(pk=i.pk).number for i in (first, second, third)] == [
        "INV-2026-000001",
        "INV-2026-000002",
        "INV-2026-000003",
    ]


# --------------------------------------------------------------------------------------------
# Generation with posted output


def test_generation_posts_per_legal_entity_and_keeps_unnumbered_drafts(world, sales_tax):
    policy(world)
    europe = LegalEntity.objects.create(name="Ledgerline Europe BV")  # no policy
    european = make_account("Euro Customer", seller=europe)
    us_schedule = BillingSchedule.objects.get(order=activate(world.account, [seats(world)]))
    eu_schedule = BillingSchedule.objects.get(order=activate(european, [seats(world)]))

    result = invoices_generate(
        billing_schedule_ids=[us_schedule.pk, eu_schedule.pk],
        target_date=d(2026, 1, 1),
        action="posted",
        requested_by="batch",
    )

    assert result.errors == []
    us_invoice, eu_invoice = result.invoices
    assert (us_invoice.status, us_invoice.number, us_invoice.posted_by) == (
        "posted",
        "INV-2026-000001",
        "batch",
    )
    assert [r[2:] for r in tax_rows(us_invoice)] == [(D("4.13"), "posted")]
    assert BillingPeriodItem.objects.get(invoice=us_invoice).invoice_status == "posted"
    # The European invoice stays a draft with estimated tax and is reported.
    assert (eu_invoice.status, eu_invoice.number, eu_invoice.posted_date) == ("draft", None, None)
    assert (eu_invoice.total, eu_invoice.total_tax) == (D("54.13"), D("4.13"))
    assert [r[2:] for r in tax_rows(eu_invoice)] == [(D("4.13"), "estimated")]
    assert BillingPeriodItem.objects.get(invoice=eu_invoice).invoice_status == "draft"
    assert [(e["invoice_id"], e["code"]) for e in result.posting_errors] == [
        (eu_invoice.pk, "no_sequence_policy")
    ]
    assert "Ledgerline Europe BV" in result.posting_errors[0]["message"]
    log = ErrorLog.objects.get()
    assert (log.category, log.code, log.primary) == ("posting", "no_sequence_policy", eu_invoice)
    # Both schedules billed January all the same.
    assert set(BillingSchedule.objects.values_list("next_charge_from_date", flat=True)) == {
        d(2026, 2, 1)
    }


def test_numbers_are_consecutive_across_generations(world):
    policy(world)
    beta = make_account("Beta LLC", seller=world.seller)
    activate(world.account, [seats(world)])
    activate(beta, [seats(world)])

    numbers = []
    for target in (d(2026, 1, 1), d(2026, 2, 1), d(2026, 3, 1)):
        for account in (world.account, beta):
            result = invoices_generate(account_id=account.pk, target_date=target, action="posted")
            assert result.posting_errors == []
            numbers += [i.number for i in result.invoices]
    # One generation of both accounts at once, then a draft posted by hand.
    both = invoices_generate(
        billing_schedule_ids=list(BillingSchedule.objects.values_list("id", flat=True)),
        target_date=d(2026, 4, 1),
        action="posted",
    )
    numbers += [i.number for i in both.invoices]
    numbers.append(invoice_post(invoice_id=draft(world, target=d(2026, 5, 1)).pk).number)

    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 10)]
    assert SequencePolicy.objects.get().next_value == 10


def test_bulk_posting_keeps_the_unnumbered_drafts_tax_estimated(world, sales_tax):
    policy(world)
    europe = LegalEntity.objects.create(name="Ledgerline Europe BV")  # no policy
    european = make_account("Euro Customer", seller=europe)
    activate(world.account, [seats(world)])
    activate(european, [seats(world)])
    us_draft = draft(world)
    eu_draft = draft(world, account=european)

    posted, failures = invoices_post(
        invoice_ids=[us_draft.pk, eu_draft.pk], posted_date=d(2026, 1, 2)
    )

    assert posted == [us_draft.pk]
    assert [(f.invoice_id, f.code) for f in failures] == [(eu_draft.pk, "no_sequence_policy")]
    assert [r[2:] for r in tax_rows(us_draft)] == [(D("4.13"), "posted")]
    eu_draft.refresh_from_db()
    assert (eu_draft.status, eu_draft.number, eu_draft.total) == ("draft", None, D("54.13"))
    assert [r[2:] for r in tax_rows(eu_draft)] == [(D("4.13"), "estimated")]
    assert ErrorLog.objects.get().primary == eu_draft
