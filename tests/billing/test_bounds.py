"""Input that would reach the period engine or the amount columns unchecked is refused with a
field-level 400, never a 500: item dates outside the billing calendar (a start of 9999-12-01
made the engine step into year 10000), a quantity × price that overflows the money column on
activation, a term whose total would not fit, a line unit price that would not fit, and a card
number in an order's texts. Nothing is written."""

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.models import BillingSchedule, BillingScheduleGroup, Order, OrderItem
from billing.periods import (
    FIRST_BILLING_DATE,
    LAST_BILLING_DATE,
    billing_date_problem,
    iter_periods,
)
from billing.pricing import PERIOD_AMOUNT_LIMIT, amounts_problem
from billing.services.order_drafts import order_update
from billing.services.orders import order_activate, order_create
from core.exceptions import ValidationError
from tests.factories import seats

pytestmark = pytest.mark.django_db
API = "/api/v1/"
d = dt.date


def item_body(product, **kw) -> dict:
    body = {
        "product": product.pk,
        "quantity": "10",
        "unit_price": "5.00",
        "pricing_term": "month",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "billing_frequency": "monthly",
    }
    body.update(kw)
    return body


def written() -> tuple[int, int, int, int]:
    return (
        Order.objects.count(),
        OrderItem.objects.count(),
        BillingScheduleGroup.objects.count(),
        BillingSchedule.objects.count(),
    )


# --- dates ---------------------------------------------------------------------------------------


def test_the_billing_calendar():
    assert billing_date_problem(None) is None
    assert billing_date_problem(FIRST_BILLING_DATE) is None
    assert billing_date_problem(LAST_BILLING_DATE) is None
    assert billing_date_problem(d(9999, 12, 1)) == (
        "9999-12-01 is outside the dates Ledgerline bills within (2000-01-01 to 2199-12-31); "
        "check the year."
    )
    assert billing_date_problem(d(1999, 12, 31)) is not None
    # At the last billing date the engine still looks a year ahead without leaving the calendar
    # of datetime.date.
    periods = iter_periods(
        start=LAST_BILLING_DATE,
        end=None,
        frequency="annual",
        boundary="anniversary",
        billing_type="advance",
    )
    ends = [next(periods).end for _ in range(3)]
    assert ends == [d(2200, 12, 30), d(2201, 12, 30), d(2202, 12, 30)]


@pytest.mark.parametrize(
    ("field", "value"),
    [("start_date", "9999-12-01"), ("end_date", "9999-12-31"), ("start_date", "0001-01-01")],
)
def test_an_order_with_a_date_outside_the_calendar_is_refused_at_creation(ops, world, field, value):
    before = written()
    body = {"account": world.account.pk, "items": [item_body(world.seat, **{field: value})]}
    if field == "start_date":
        body["items"][0]["end_date"] = None
    response = ops.post(API + "orders/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["details"] == {
        f"items[0].{field}": [
            f"{value} is outside the dates Ledgerline bills within (2000-01-01 to 2199-12-31); "
            "check the year."
        ]
    }
    assert written() == before


def test_a_draft_with_a_far_date_is_refused_at_activation_with_a_400(ops, world):
    order = order_create(account=world.account, items=[seats(world)])
    # A draft written before the check (or around the service) still cannot reach the engine.
    OrderItem.objects.filter(order=order).update(start_date=d(9999, 12, 1), end_date=None)
    before = written()
    response = ops.post(f"{API}orders/{order.pk}/activate")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["details"]) == ["items[0].start_date"]
    assert written() == before
    assert Order.objects.get(pk=order.pk).status == "draft"


# --- amounts -------------------------------------------------------------------------------------


def test_quantity_times_price_overflowing_the_money_column_is_a_400_on_activation(ops, world):
    body = {
        "account": world.account.pk,
        "items": [item_body(world.seat, quantity="9999999999999", unit_price="9999999999999")],
    }
    response = ops.post(API + "orders/", body, format="json")
    assert response.status_code == 201, response.content
    order_id = response.json()["id"]
    before = written()
    response = ops.post(f"{API}orders/{order_id}/activate")
    assert response.status_code == 400, response.content
    assert response.json()["details"] == {
        "items[0].quantity": [
            "9999999999999 × 9999999999999 comes to "
            "99,999,999,999,980,000,000,000,001.00 USD a billing period; one period of an "
            "item must stay below 1,000,000,000,000.00 USD. Lower the quantity or the unit "
            "price, or split the item."
        ]
    }
    assert written() == before
    assert Order.objects.get(pk=order_id).status == "draft"


def test_a_term_total_that_would_not_fit_is_refused(world):
    order = order_create(
        account=world.account,
        items=[
            seats(
                world,
                quantity=D("1"),
                unit_price=D("900000000000"),  # 0.9 trillion a month: one period fits
                end_date=d(2199, 12, 31),
            )
        ],
    )
    with pytest.raises(ValidationError) as refused:
        order_activate(order_id=order.pk)
    assert list(refused.value.details) == ["items[0].end_date"]
    assert "shorten the term or lower the price" in refused.value.details["items[0].end_date"][0]
    assert not BillingSchedule.objects.exists()


def test_a_line_unit_price_that_would_not_fit_is_refused(world):
    order = order_create(
        account=world.account,
        items=[
            seats(
                world,
                quantity=D("0.000001"),
                unit_price=D("9000000000000"),  # a month; billed annually: 108 trillion a unit
                billing_frequency="annual",
                end_date=None,
            )
        ],
    )
    with pytest.raises(ValidationError) as refused:
        order_activate(order_id=order.pk)
    assert list(refused.value.details) == ["items[0].unit_price"]
    assert not BillingSchedule.objects.exists()


def test_large_but_real_amounts_pass(world):
    order = order_create(
        account=world.account,
        items=[seats(world, quantity=D("1000000"), unit_price=D("99999.99"))],
    )
    order_activate(order_id=order.pk)
    schedule = BillingSchedule.objects.get(order=order)
    assert schedule.period_amount == D("99999990000.00")
    assert schedule.total_amount == D("1199999880000.00")


def test_amounts_problem_limits():
    common = {
        "pricing_term": "month",
        "frequency": "monthly",
        "currency": "USD",
        "start": d(2026, 1, 1),
        "end": None,
    }
    just_below = PERIOD_AMOUNT_LIMIT - D("0.01")
    assert amounts_problem(quantity=D("1"), unit_price=just_below, **common) is None
    field, _message = amounts_problem(quantity=D("1"), unit_price=PERIOD_AMOUNT_LIMIT, **common)
    assert field == "quantity"


# --- texts ---------------------------------------------------------------------------------------


def test_an_order_text_refuses_a_card_number(ops, world):
    before = written()
    body = {
        "account": world.account.pk,
        "purchase_order": "4111 1111 1111 1111",
        "items": [item_body(world.seat)],
    }
    response = ops.post(API + "orders/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["details"]) == ["purchase_order"]
    assert written() == before


def test_a_draft_edit_is_held_to_the_same_bounds_as_creation(world):
    order = order_create(account=world.account, items=[seats(world)])

    with pytest.raises(ValidationError) as far:
        order_update(
            order_id=order.pk, items=[seats(world, start_date=d(9999, 12, 1), end_date=None)]
        )
    with pytest.raises(ValidationError) as card:
        order_update(order_id=order.pk, description="Card 4111-1111-1111-1111")

    assert list(far.value.details) == ["items[0].start_date"]
    assert list(card.value.details) == ["description"]
    order.refresh_from_db()
    assert order.description == ""
    assert list(order.items.values_list("start_date", flat=True)) == [d(2026, 1, 1)]
