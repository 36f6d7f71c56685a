"""Order activation: every shape of order, with exact dates and amounts computed by hand."""

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.exceptions import OrderNotDraft
from billing.models import BillingSchedule, BillingScheduleGroup, Order, OrderItem
from billing.services.orders import order_activate, order_create
from core.exceptions import ValidationError
from tests.conftest import seats

pytestmark = pytest.mark.django_db

d = dt.date


def activate(account, items, **fields) -> Order:
    order = order_create(account=account, items=items, **fields)
    return order_activate(order_id=order.pk)


def only_schedule(order) -> BillingSchedule:
    (schedule,) = BillingSchedule.objects.filter(order=order)
    return schedule


def test_monthly_advance_anniversary(world):
    order = activate(
        world.account, [seats(world, start_date=d(2026, 1, 15), end_date=d(2027, 1, 14))]
    )
    s = only_schedule(order)
    assert order.status == "activated" and order.activated_at is not None
    assert (s.category, s.status) == ("original", "ready_for_invoicing")
    assert (s.start_date, s.end_date) == (d(2026, 1, 15), d(2027, 1, 14))
    assert s.next_billing_date == d(2026, 1, 15)
    assert s.next_charge_from_date == d(2026, 1, 15)
    assert s.period_amount == D("50.00")
    assert s.total_amount == D("600.00")
    assert s.pending_amount == D("600.00")
    assert s.billed_amount == D("0")
    # Terms resolved through the account's default profile and the system defaults.
    assert s.payment_term == world.net30
    assert s.legal_entity == world.seller
    assert s.bill_to == world.account.default_profile.bill_to
    assert s.saved_payment_method.label == "Visa •••• 4242"
    assert s.currency == "USD"
    group = s.group
    assert group.source_item_id == s.order_item_id and group.product == world.seat
    assert (group.start_date, group.end_date) == (d(2026, 1, 15), d(2027, 1, 14))


def test_quarterly_arrears_aligned_to_calendar_with_stub(world):
    order = activate(
        world.account,
        [
            seats(
                world,
                product=world.support,
                quantity=D("1"),
                unit_price=D("300"),
                pricing_term="quarter",
                start_date=d(2026, 2, 10),
                end_date=d(2026, 12, 31),
                billing_frequency="quarterly",
                billing_type="arrears",
                period_boundary="align_to_calendar",
            )
        ],
    )
    s = only_schedule(order)
    # Stub Feb 10 – Mar 31 = 50 of Q1's 90 days: 300 × 50/90 = 166.67; then three full quarters.
    assert s.period_amount == D("300.00")
    assert s.total_amount == D("1066.67")
    assert s.next_billing_date == d(2026, 3, 31)  # arrears: the stub's last day
    assert s.next_charge_from_date == d(2026, 2, 10)


def test_yearly_price_billed_monthly(world):
    order = activate(
        world.account, [seats(world, quantity=D("2"), unit_price=D("1200"), pricing_term="year")]
    )
    s = only_schedule(order)
    assert s.period_amount == D("200.00")
    assert s.total_amount == D("2400.00")


def test_one_time_item(world):
    order = activate(
        world.account,
        [
            seats(
                world,
                product=world.setup,
                quantity=D("1"),
                unit_price=D("500"),
                pricing_term="one_time",
                billing_frequency="one_time",
                end_date=None,
                start_date=d(2026, 3, 5),
            )
        ],
    )
    s = only_schedule(order)
    assert (s.period_amount, s.total_amount, s.pending_amount) == (D("500"), D("500"), D("500"))
    assert s.next_billing_date == d(2026, 3, 5)


def test_evergreen_has_no_total(world):
    s = only_schedule(activate(world.account, [seats(world, end_date=None)]))
    assert s.total_amount is None and s.pending_amount is None
    assert s.period_amount == D("50.00")
    assert s.next_billing_date == d(2026, 1, 1)


def test_day_of_period_takes_bill_day_from_profile(world):
    profile = world.account.default_profile
    profile.bill_day_of_month = 15
    profile.save()
    s = only_schedule(
        activate(
            world.account,
            [
                seats(
                    world,
                    quantity=D("1"),
                    unit_price=D("31"),
                    end_date=d(2026, 6, 30),
                    period_boundary="day_of_period",
                )
            ],
        )
    )
    # Stub Jan 1–14 = 14/31 × 31 = 14.00; five full periods (Jan 15 – Jun 14) = 155.00;
    # Jun 15–30 = 16/30 × 31 = 16.53.
    assert s.bill_day_of_month == 15
    assert s.total_amount == D("185.53")
    assert s.next_billing_date == d(2026, 1, 1)


def test_jpy_and_bhd_round_to_their_minor_units(world):
    from tests.conftest import make_account

    yen = make_account("Tokyo KK", seller=world.seller, currency="JPY")
    s = only_schedule(
        activate(
            yen,
            [
                seats(
                    world,
                    quantity=D("1"),
                    unit_price=D("1000"),
                    start_date=d(2026, 1, 10),
                    end_date=d(2026, 2, 28),
                    period_boundary="align_to_calendar",
                )
            ],
        )
    )
    # Jan 10–31 = 22/31 × 1000 = 709.677 → 710; Feb 1000.
    assert s.currency == "JPY"
    assert s.total_amount == D("1710")
    dinar = make_account("Manama WLL", seller=world.seller, currency="BHD")
    s = only_schedule(
        activate(
            dinar,
            [
                seats(
                    world,
                    quantity=D("1"),
                    unit_price=D("10"),
                    start_date=d(2026, 1, 10),
                    end_date=d(2026, 2, 28),
                    period_boundary="align_to_calendar",
                )
            ],
        )
    )
    # 22/31 × 10 = 7.0967… → 7.097; Feb 10.000.
    assert s.total_amount == D("17.097")


def test_usage_item(world):
    s = only_schedule(
        activate(
            world.account,
            [
                seats(
                    world,
                    product=world.storage,
                    quantity=D("1"),
                    unit_price=D("0"),
                    included_quantity=D("1000"),
                    overage_unit_price=D("0.05"),
                    end_date=None,
                    billing_type="arrears",
                )
            ],
        )
    )
    assert s.charge_type == "usage"
    assert s.unit_price == D("0.05")
    assert s.included_quantity == D("1000")
    assert s.unit.code == "GB"
    assert s.total_amount is None and s.period_amount == D("0")


def test_mid_period_quantity_amendment(world):
    original = only_schedule(activate(world.account, [seats(world)]))
    assert original.total_amount == D("600.00")
    amendment_order = activate(
        world.account,
        [
            seats(
                world,
                action="change_quantity",
                amends_item=original.order_item,
                quantity=D("5"),
                effective_date=d(2026, 3, 16),
                start_date=d(2026, 3, 16),
            )
        ],
    )
    amendment = only_schedule(amendment_order)
    assert amendment.category == "amendment"
    assert amendment.group_id == original.group_id
    assert amendment.original_schedule_id == original.pk
    assert (amendment.start_date, amendment.end_date) == (d(2026, 3, 16), d(2026, 12, 31))
    assert amendment.quantity == D("5")
    # First period Mar 16–31 prorated over the original's March: 16/31 × 25.00 = 12.90.
    assert amendment.period_amount == D("25.00")
    assert amendment.total_amount == D("237.90")
    assert amendment.next_billing_date == d(2026, 3, 16)
    assert amendment.next_charge_from_date == d(2026, 3, 16)
    assert BillingScheduleGroup.objects.count() == 1


def test_decrease_gives_negative_amendment(world):
    original = only_schedule(activate(world.account, [seats(world)]))
    decrease = only_schedule(
        activate(
            world.account,
            [
                seats(
                    world,
                    action="change_quantity",
                    amends_item=original.order_item,
                    quantity=D("-3"),
                    effective_date=d(2026, 7, 1),
                    start_date=d(2026, 7, 1),
                )
            ],
        )
    )
    assert decrease.quantity == D("-3")
    assert decrease.period_amount == D("-15.00")
    assert decrease.total_amount == D("-90.00")


def _pretend_billed_through(schedule, next_charge_from, billed):
    schedule.next_charge_from_date = next_charge_from
    schedule.next_billing_date = next_charge_from
    schedule.billed_amount = billed
    schedule.pending_amount = schedule.total_amount - billed
    schedule.save()


def test_cancellation_credits_periods_billed_past_the_date(world):
    original = only_schedule(activate(world.account, [seats(world)]))
    _pretend_billed_through(original, d(2026, 5, 1), D("200.00"))  # Jan–Apr billed
    cancel_order = activate(
        world.account,
        [
            seats(
                world,
                action="cancel",
                amends_item=original.order_item,
                quantity=D("-10"),
                effective_date=d(2026, 3, 16),
                start_date=d(2026, 3, 16),
            )
        ],
    )
    original.refresh_from_db()
    # Jan + Feb + Mar 1–15 (15/31 × 50 = 24.19) remain billable in total.
    assert original.cancellation_date == d(2026, 3, 16)
    assert original.total_amount == D("124.19")
    assert original.pending_amount == D("0")
    assert original.status == "completely_billed"
    assert original.next_billing_date is None
    credit = only_schedule(cancel_order)
    assert credit.category == "cancellation"
    assert credit.original_schedule_id == original.pk
    assert credit.group_id == original.group_id
    assert credit.quantity == D("-10")
    assert (credit.start_date, credit.end_date) == (d(2026, 3, 16), d(2026, 4, 30))
    # Mar 16–31: 16/31 × -50 = -25.81; April -50.00.
    assert credit.total_amount == D("-75.81")
    assert credit.next_billing_date == d(2026, 3, 16)
    assert D("200.00") + credit.total_amount == original.total_amount
    assert original.group.cancellation_date == d(2026, 3, 16)


def test_cancellation_before_anything_billed_past_it_stops_billing(world):
    original = only_schedule(activate(world.account, [seats(world)]))
    _pretend_billed_through(original, d(2026, 3, 1), D("100.00"))
    cancel_order = activate(
        world.account,
        [
            seats(
                world,
                action="cancel",
                amends_item=original.order_item,
                quantity=D("-10"),
                effective_date=d(2026, 3, 16),
                start_date=d(2026, 3, 16),
            )
        ],
    )
    assert not BillingSchedule.objects.filter(order=cancel_order).exists()
    original.refresh_from_db()
    assert original.status == "ready_for_invoicing"
    assert original.total_amount == D("124.19")
    assert original.pending_amount == D("24.19")


def test_cancel_with_amendment_in_force_credits_each_schedule(world):
    original = only_schedule(activate(world.account, [seats(world)]))
    amendment = only_schedule(
        activate(
            world.account,
            [
                seats(
                    world,
                    action="change_quantity",
                    amends_item=original.order_item,
                    quantity=D("5"),
                    effective_date=d(2026, 2, 1),
                    start_date=d(2026, 2, 1),
                )
            ],
        )
    )
    with pytest.raises(ValidationError) as exc:
        activate(
            world.account,
            [
                seats(
                    world,
                    action="cancel",
                    amends_item=original.order_item,
                    quantity=D("-10"),
                    effective_date=d(2026, 6, 1),
                    start_date=d(2026, 6, 1),
                )
            ],
        )
    assert exc.value.details == {
        "items[0].quantity": [
            "A cancel item carries minus the remaining quantity: -15 on 2026-06-01."
        ]
    }
    _pretend_billed_through(original, d(2026, 7, 1), D("300.00"))
    _pretend_billed_through(amendment, d(2026, 7, 1), D("125.00"))
    cancel_order = activate(
        world.account,
        [
            seats(
                world,
                action="cancel",
                amends_item=original.order_item,
                quantity=D("-15"),
                effective_date=d(2026, 6, 1),
                start_date=d(2026, 6, 1),
            )
        ],
    )
    credits = list(BillingSchedule.objects.filter(order=cancel_order).order_by("id"))
    assert [(c.original_schedule_id, c.quantity, c.total_amount) for c in credits] == [
        (original.pk, D("-10"), D("-50.00")),
        (original.pk, D("-5"), D("-25.00")),  # cancellations point at the group's original
    ]


def test_renewal_continues_after_end_date(world):
    original = only_schedule(activate(world.account, [seats(world)]))
    renewal = only_schedule(
        activate(
            world.account,
            [
                seats(
                    world,
                    action="renew",
                    amends_item=original.order_item,
                    unit_price=D("6.00"),
                    effective_date=d(2027, 1, 1),
                    start_date=d(2027, 1, 1),
                    end_date=d(2027, 12, 31),
                )
            ],
        )
    )
    assert renewal.category == "renewal"
    assert renewal.group_id == original.group_id
    assert renewal.original_schedule_id == original.pk
    assert (renewal.period_amount, renewal.total_amount) == (D("60.00"), D("720.00"))
    assert renewal.next_billing_date == d(2027, 1, 1)
    original.group.refresh_from_db()
    assert original.group.end_date == d(2027, 12, 31)


def test_bundle_children_link_to_the_bundle_group(world):
    order = activate(
        world.account,
        [
            seats(world, product=world.suite, quantity=D("1"), unit_price=D("100")),
            seats(world, parent_item=0, bundle_pricing="included", unit_price=D("0")),
            seats(
                world,
                product=world.support,
                parent_item=0,
                bundle_pricing="not_included",
                quantity=D("1"),
                unit_price=D("60"),
                pricing_term="quarter",
                billing_frequency="quarterly",
            ),
        ],
    )
    parent, included, extra = BillingSchedule.objects.filter(order=order).order_by("id")
    assert parent.group.bundle_group_id is None
    assert included.group.bundle_group_id == parent.group_id
    assert extra.group.bundle_group_id == parent.group_id
    assert included.parent_schedule_id == parent.pk and extra.parent_schedule_id == parent.pk
    assert (included.bundle_pricing, included.period_amount, included.total_amount) == (
        "included",
        D("0.00"),
        D("0.00"),
    )
    assert (extra.bundle_pricing, extra.period_amount, extra.total_amount) == (
        "not_included",
        D("60.00"),
        D("240.00"),
    )
    assert parent.total_amount == D("1200.00")


def _nothing_created(order):
    order.refresh_from_db()
    assert order.status == "draft"
    assert BillingScheduleGroup.objects.count() == 0
    assert BillingSchedule.objects.count() == 0


def test_invalid_order_names_every_item_and_field_and_creates_nothing(world):
    order = order_create(
        account=world.account,
        items=[
            seats(world, period_boundary="day_of_period"),
            seats(world, product=world.suite, quantity=D("1")),
            seats(world, parent_item=1, bundle_pricing="included", unit_price=D("3")),
            seats(world, product=world.setup),
            seats(world, product=world.storage, overage_unit_price=None),
        ],
    )
    with pytest.raises(ValidationError) as exc:
        order_activate(order_id=order.pk)
    assert set(exc.value.details) == {
        "items[0].bill_day_of_month",
        "items[2].unit_price",
        "items[3].billing_frequency",
        "items[4].overage_unit_price",
    }
    assert "day_of_period needs a bill day" in exc.value.details["items[0].bill_day_of_month"][0]
    assert exc.value.message.startswith("The order cannot be activated: items[0].bill_day_of_month")
    _nothing_created(order)


def test_amending_an_unactivated_item_is_refused(world):
    draft = order_create(account=world.account, items=[seats(world)])
    amendment = order_create(
        account=world.account,
        items=[
            seats(
                world,
                action="change_quantity",
                amends_item=draft.items.get(),
                quantity=D("2"),
                effective_date=d(2026, 2, 1),
            )
        ],
    )
    with pytest.raises(ValidationError) as exc:
        order_activate(order_id=amendment.pk)
    assert list(exc.value.details) == ["items[0].amends_item"]
    _nothing_created(amendment)


def test_decrease_below_zero_and_out_of_term_refused(world):
    original = only_schedule(activate(world.account, [seats(world)]))
    before = BillingSchedule.objects.count()
    order = order_create(
        account=world.account,
        items=[
            seats(
                world,
                action="change_quantity",
                amends_item=original.order_item,
                quantity=D("-11"),
                effective_date=d(2026, 5, 1),
            ),
            seats(
                world,
                action="change_quantity",
                amends_item=original.order_item,
                quantity=D("1"),
                effective_date=d(2027, 5, 1),
            ),
        ],
    )
    with pytest.raises(ValidationError) as exc:
        order_activate(order_id=order.pk)
    assert exc.value.details["items[0].quantity"] == [
        "The change leaves a negative quantity (10 in force on 2026-05-01); the largest "
        "decrease is -10."
    ]
    assert "within the item's term" in exc.value.details["items[1].effective_date"][0]
    assert BillingSchedule.objects.count() == before
    order.refresh_from_db()
    assert order.status == "draft"


def test_activating_twice_is_refused(world):
    order = activate(world.account, [seats(world)])
    with pytest.raises(OrderNotDraft):
        order_activate(order_id=order.pk)
    assert BillingSchedule.objects.count() == 1


def test_order_create_reports_item_field_paths(world):
    with pytest.raises(ValidationError) as exc:
        order_create(
            account=world.account, items=[seats(world), seats(world, billing_frequency="weekly")]
        )
    assert list(exc.value.details) == ["items[1].billing_frequency"]
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0


def test_item_ending_before_it_starts_names_the_field(world):
    with pytest.raises(ValidationError) as exc:
        order_create(
            account=world.account,
            items=[seats(world, start_date=d(2026, 3, 1), end_date=d(2026, 2, 1))],
        )
    assert exc.value.details == {
        "items[0].end_date": [
            "The end date 2026-02-01 is before the start date 2026-03-01; leave it empty for "
            "an evergreen item."
        ]
    }
    assert Order.objects.count() == 0
