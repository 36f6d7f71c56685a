"""The demo data loader: what the demo contains, with exact schedule values for its
amendment, cancellation, renewal and bundle, and idempotency."""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts.models import Account, BillingProfile, Contact, LegalEntity, SavedPaymentMethod
from billing.models import BillingSchedule, BillingScheduleGroup, Order, OrderItem, UsageSummary
from core.exceptions import ValidationError
from demo import data as demo_module
from demo.data import demo_load
from invoicing.models import SequencePolicy, TaxRate

pytestmark = pytest.mark.django_db

d = dt.date
TODAY = d(2026, 11, 24)

EXPECTED_COUNTS = {
    "legal_entities": 2,
    "payment_terms": 3,
    "units": 3,
    "products": 6,
    "tax_rates": 5,
    "sequence_policies": 4,
    "accounts": 20,
    "contacts": 27,
    "billing_profiles": 20,
    "payment_methods": 20,
    "orders": 23,
    "schedule_groups": 26,
    "schedules": 28,
    "usage_summaries": 4,
    "dunning_policies": 2,
}


def table_counts() -> dict[str, int]:
    return {
        "accounts": Account.objects.count(),
        "contacts": Contact.objects.count(),
        "profiles": BillingProfile.objects.count(),
        "methods": SavedPaymentMethod.objects.count(),
        "orders": Order.objects.count(),
        "items": OrderItem.objects.count(),
        "groups": BillingScheduleGroup.objects.count(),
        "schedules": BillingSchedule.objects.count(),
        "usage": UsageSummary.objects.count(),
        "tax_rates": TaxRate.objects.count(),
        "policies": SequencePolicy.objects.count(),
    }


def schedule_of(account: str, order: str, line: int = 1) -> BillingSchedule:
    return BillingSchedule.objects.get(
        order__account__external_id=account, order__description=order, order_item__line_number=line
    )


@pytest.fixture
def demo():
    return demo_load(today=TODAY)


def test_demo_creates_twenty_accounts_and_activated_orders(demo):
    assert demo == EXPECTED_COUNTS
    accounts = Account.objects.order_by("external_id")
    assert [a.external_id for a in accounts] == [f"DEMO-{n:03d}" for n in range(1, 21)]
    us, eu = LegalEntity.objects.get(is_default=True), LegalEntity.objects.get(is_default=False)
    assert eu.name == "Ledgerline Europe GmbH" and eu.address.city == "Berlin"
    assert sorted((a.currency, a.legal_entity_id) for a in accounts).count(("USD", us.pk)) == 15
    assert sorted((a.currency, a.legal_entity_id) for a in accounts).count(("EUR", eu.pk)) == 5
    assert accounts.filter(tax_exempt=True).count() == 2
    assert accounts.filter(bulk_email_opt_out=True).count() == 1
    for n, account in enumerate(accounts, start=1):
        profile = account.default_profile
        assert profile.bill_to.account_id == account.pk
        assert profile.payment_term is not None
        assert profile.saved_payment_method.processor_token == f"pm_demo_{n}"
        assert profile.billing_address.country == ("US" if n <= 15 else ("DE", "FR")[n > 18])
    assert Order.objects.count() == 23
    assert set(Order.objects.values_list("status", flat=True)) == {"activated"}
    assert BillingScheduleGroup.objects.count() == 26
    by_category = {
        c: BillingSchedule.objects.filter(category=c).count()
        for c in ("original", "amendment", "cancellation", "renewal")
    }
    assert by_category == {"original": 26, "amendment": 1, "cancellation": 0, "renewal": 1}
    assert set(BillingSchedule.objects.values_list("status", flat=True)) == {"ready_for_invoicing"}
    # Every account has something to bill.
    assert Account.objects.filter(orders__isnull=True).count() == 0


def test_running_it_again_creates_nothing(demo):
    before = table_counts()
    again = demo_load(today=TODAY)
    assert again == dict.fromkeys(EXPECTED_COUNTS, 0)
    assert table_counts() == before
    # A later day (the next `make run`) finds the demo by its keys, not by its dates.
    assert demo_load(today=TODAY + dt.timedelta(days=45)) == dict.fromkeys(EXPECTED_COUNTS, 0)
    assert table_counts() == before


def test_amendment_sits_in_the_original_group(demo):
    original = schedule_of("DEMO-008", "Platform seats")
    amendment = schedule_of("DEMO-008", "Seat increase (+5)")
    assert (original.period_amount, original.total_amount) == (D("800.00"), D("9600.00"))
    assert amendment.category == "amendment"
    assert amendment.group_id == original.group_id
    assert amendment.original_schedule_id == original.pk
    assert (amendment.start_date, amendment.end_date) == (d(2026, 11, 15), d(2027, 4, 30))
    assert amendment.quantity == D("5")
    assert amendment.period_amount == D("200.00")
    # Nov 15–30: 16/30 × 200 = 106.67; Dec–Apr: 5 × 200.
    assert amendment.total_amount == D("1106.67")
    assert amendment.next_billing_date == d(2026, 11, 15)
    assert amendment.matching_value == original.matching_value == "EAST"


def test_cancellation_stops_billing_and_reduces_the_total(demo):
    original = schedule_of("DEMO-010", "Robotics lab seats")
    cancel_order = Order.objects.get(description="Cancellation of lab seats")
    assert cancel_order.status == "activated"
    assert original.cancellation_date == d(2026, 11, 3)
    assert original.group.cancellation_date == d(2026, 11, 3)
    # Nothing was invoiced yet, so no credit: Aug–Oct 3 × 360 plus Nov 1–2 (2/30 × 360 = 24).
    assert not BillingSchedule.objects.filter(order=cancel_order).exists()
    assert not BillingSchedule.objects.filter(group=original.group, category="cancellation")
    assert original.period_amount == D("360.00")
    assert (original.total_amount, original.pending_amount) == (D("1104.00"), D("1104.00"))
    assert original.status == "ready_for_invoicing"
    assert original.next_billing_date == d(2026, 8, 1)


def test_renewal_continues_the_day_after_the_original_ends(demo):
    original = schedule_of("DEMO-011", "Dispatch seats, first year")
    renewal = schedule_of("DEMO-011", "Dispatch seats, renewal")
    assert (original.start_date, original.end_date) == (d(2025, 12, 1), d(2026, 11, 30))
    assert original.total_amount == D("6300.00")
    assert renewal.category == "renewal"
    assert renewal.group_id == original.group_id and renewal.original_schedule_id == original.pk
    assert renewal.start_date == original.end_date + dt.timedelta(days=1) == d(2026, 12, 1)
    assert renewal.end_date == d(2027, 11, 30)
    assert (renewal.period_amount, renewal.total_amount) == (D("570.00"), D("6840.00"))
    assert renewal.next_billing_date == d(2026, 12, 1)
    original.group.refresh_from_db()
    assert original.group.end_date == d(2027, 11, 30)


def test_bundle_children_point_at_the_bundle_group(demo):
    parent = schedule_of("DEMO-006", "Growth Suite bundle", 1)
    included = schedule_of("DEMO-006", "Growth Suite bundle", 2)
    extra = schedule_of("DEMO-006", "Growth Suite bundle", 3)
    assert parent.product.is_bundle and parent.group.bundle_group_id is None
    assert included.group.bundle_group_id == parent.group_id
    assert extra.group.bundle_group_id == parent.group_id
    assert included.parent_schedule_id == extra.parent_schedule_id == parent.pk
    assert (parent.period_amount, parent.total_amount) == (D("499.00"), D("5988.00"))
    assert (included.bundle_pricing, included.period_amount, included.total_amount) == (
        "included",
        D("0.00"),
        D("0.00"),
    )
    assert (extra.bundle_pricing, extra.period_amount, extra.total_amount) == (
        "not_included",
        D("150.00"),
        D("600.00"),
    )


def test_cadences_usage_and_grouping(demo):
    quarterly = schedule_of("DEMO-002", "Premium support, quarterly in arrears")
    assert (quarterly.billing_type, quarterly.period_boundary) == ("arrears", "align_to_calendar")
    assert quarterly.next_billing_date == d(2026, 9, 30)  # the Jul 20 – Sep 30 stub's last day
    annual = schedule_of("DEMO-003", "Platform licence, annual in advance")
    assert (annual.billing_frequency, annual.period_amount) == ("annual", D("18000.00"))
    day_of_period = schedule_of("DEMO-004", "Seats billed on the 15th")
    assert (day_of_period.bill_day_of_month, day_of_period.next_billing_date) == (15, d(2026, 8, 3))
    setup = schedule_of("DEMO-001", "Platform seats and onboarding", 2)
    assert (setup.charge_type, setup.total_amount) == ("one_time", D("1500.00"))
    hours = schedule_of("DEMO-020", "Conseil et support", 1)
    assert (hours.quantity, hours.unit.code, hours.total_amount) == (
        D("24.75"),
        "HR",
        D("3960.00"),
    )
    assert hours.currency == "EUR" and hours.legal_entity.name == "Ledgerline Europe GmbH"

    usage = schedule_of("DEMO-005", "Cloud storage (usage)")
    assert (usage.charge_type, usage.unit.code) == ("usage", "GB")
    assert (usage.included_quantity, usage.unit_price) == (D("100"), D("0.25"))
    summaries = list(UsageSummary.objects.filter(schedule=usage).order_by("period_start"))
    assert [(s.period_start, s.period_end, s.quantity, s.status) for s in summaries] == [
        (d(2026, 7, 1), d(2026, 7, 31), D("84.250"), "ready_for_invoicing"),
        (d(2026, 8, 1), d(2026, 8, 31), D("132.775"), "ready_for_invoicing"),
        (d(2026, 9, 1), d(2026, 9, 30), D("187.500"), "ready_for_invoicing"),
        (d(2026, 10, 1), d(2026, 10, 31), D("241.125"), "ready_for_invoicing"),
    ]

    custom = schedule_of("DEMO-012", "Plant floor seats (PO-4471)")
    assert (custom.invoice_group_type, custom.custom_group_key) == ("custom", "PO-4471")
    own = schedule_of("DEMO-013", "Premium support (own invoice)")
    assert own.invoice_group_type == "per_schedule"
    batches = BillingSchedule.objects.exclude(matching_value="").values_list(
        "matching_value", flat=True
    )
    assert set(batches) == {"EAST", "WEST"}


def test_reference_data(demo):
    us = LegalEntity.objects.get(name="Ledgerline Inc.")
    assert SequencePolicy.objects.get(name="US invoices").pattern == "INV-{DATE}-{SEQ}"
    assert SequencePolicy.objects.get(name="US invoices").legal_entity == us
    assert SequencePolicy.objects.get(name="US credit memos").target == "credit_memo"
    assert SequencePolicy.objects.get(name="EU invoices").pattern == "EU-{SEQ}"
    surcharge = TaxRate.objects.get(name="City surcharge")
    assert (surcharge.kind, surcharge.rate, surcharge.region, surcharge.priority) == (
        "compound",
        D("1.0000"),
        "CA",
        2,
    )
    assert TaxRate.objects.get(name="USt.").rate == D("19.0000")


def test_a_refused_demo_order_is_named_and_leaves_no_draft(monkeypatch):
    real = demo_module.demo_orders

    def with_a_bad_order(today):
        orders = real(today)
        bad = demo_module.DemoOrder(
            "DEMO-004",
            "Broken seats",
            [demo_module._item("SEAT", quantity="1", price="5.00", start=today, term="one_time")],
        )
        return [*orders[:3], bad, *orders[3:]]

    monkeypatch.setattr(demo_module, "demo_orders", with_a_bad_order)
    with pytest.raises(ValidationError) as exc:
        demo_load(today=TODAY)
    assert exc.value.message.startswith("Demo order 'Broken seats' of DEMO-004 was refused: ")
    assert list(exc.value.details) == ["items[0].pricing_term"]
    assert not Order.objects.filter(description="Broken seats").exists()
    assert Order.objects.filter(status="activated").count() == 3
    # Fixed, the next run carries on where the failed one stopped.
    monkeypatch.setattr(demo_module, "demo_orders", real)
    counts = demo_load(today=TODAY)
    assert (counts["accounts"], counts["orders"]) == (0, 20)
    assert Order.objects.count() == 23
