"""billing/api/orders.py: orders (CRUD while draft, activate), usage-summaries."""

from decimal import Decimal

import pytest

from billing.models import (
    BillingSchedule,
    BillingScheduleGroup,
    Order,
    OrderItem,
    UsageSummary,
)
from billing.services.orders import order_activate, order_create
from tests.factories import seats

pytestmark = pytest.mark.django_db
API = "/api/v1/"


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


# --- orders -----------------------------------------------------------------------------------


def test_order_create_read_update_delete_while_draft(ops, reader, world):
    body = {
        "account": world.account.pk,
        "matching_value": "batch-a",
        "items": [
            item_body(world.suite, unit_price="30.00", quantity="1"),
            item_body(world.support, unit_price="0", bundle_pricing="included", parent_item=0),
        ],
    }
    response = ops.post(API + "orders/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft" and data["number"].startswith("ORD-")
    assert [i["line_number"] for i in data["items"]] == [1, 2]
    assert [i["parent_item"] for i in data["items"]] == [None, 0]
    assert data["items"][0]["quantity"] == "1.000000"
    order = Order.objects.get(pk=data["id"])
    assert order.items.get(line_number=2).parent_item == order.items.get(line_number=1)

    assert reader.get(f"{API}orders/{order.pk}").json()["items"] == data["items"]
    listed = reader.get(API + "orders/", {"account": world.account.pk, "status": "draft"})
    assert [o["id"] for o in listed.json()["results"]] == [order.pk]

    response = ops.patch(
        f"{API}orders/{order.pk}",
        {"description": "Renewal 2026", "items": [item_body(world.seat, quantity="3")]},
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["description"] == "Renewal 2026"
    assert [(i["product"], i["quantity"]) for i in data["items"]] == [(world.seat.pk, "3.000000")]
    assert OrderItem.objects.filter(order=order).count() == 1

    assert ops.delete(f"{API}orders/{order.pk}").status_code == 204
    assert not Order.objects.exists() and not OrderItem.objects.exists()


def test_order_errors_name_the_item_and_field(ops, reader, world):
    response = ops.post(
        API + "orders/",
        {
            "account": world.account.pk,
            "items": [
                item_body(world.seat),
                item_body(world.seat, quantity="abc", billing_frequency="weekly"),
            ],
        },
    )
    assert response.status_code == 400
    assert set(response.json()["details"]) == {
        "items[1].quantity",
        "items[1].billing_frequency",
    }
    response = ops.post(
        API + "orders/",
        {"account": world.account.pk, "items": [item_body(world.seat, end_date="2025-01-01")]},
    )
    assert response.status_code == 400
    assert response.json()["details"] == {
        "items[0].end_date": [
            "The end date 2025-01-01 is before the start date 2026-01-01; leave it empty for an "
            "evergreen item."
        ]
    }
    assert not Order.objects.exists() and not OrderItem.objects.exists()
    assert ops.get(API + "orders/999999").status_code == 404
    assert ops.patch(API + "orders/999999", {"description": "x"}).status_code == 404
    assert reader.post(API + "orders/", {"account": world.account.pk}).status_code == 403


def test_activate_returns_the_schedule_groups_and_locks_the_order(ops, reader, world):
    order = order_create(account=world.account, items=[seats(world)])
    assert reader.post(f"{API}orders/{order.pk}/activate").status_code == 403
    response = ops.post(f"{API}orders/{order.pk}/activate")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "activated"
    group = BillingScheduleGroup.objects.get(order=order)
    schedule = BillingSchedule.objects.get(order=order)
    assert [g["id"] for g in data["billing_schedule_groups"]] == [group.pk]
    (brief,) = data["billing_schedule_groups"][0]["billing_schedules"]
    assert (brief["id"], brief["status"], brief["period_amount"]) == (
        schedule.pk,
        "ready_for_invoicing",
        "50.00",
    )
    assert brief["next_billing_date"] == "2026-01-01"

    again = ops.post(f"{API}orders/{order.pk}/activate")
    assert again.status_code == 409 and again.json()["code"] == "order_not_draft"
    response = ops.patch(f"{API}orders/{order.pk}", {"description": "late"})
    assert response.status_code == 409 and response.json()["code"] == "order_not_draft"
    assert ops.delete(f"{API}orders/{order.pk}").status_code == 409
    assert ops.post(f"{API}orders/999999/activate").status_code == 404
    assert Order.objects.get(pk=order.pk).description == ""


def test_activation_errors_name_every_item(ops, world):
    order = order_create(
        account=world.account,
        items=[seats(world, product=world.setup), seats(world, billing_frequency="one_time")],
    )
    response = ops.post(f"{API}orders/{order.pk}/activate")
    assert response.status_code == 400
    details = response.json()["details"]
    assert "items[0].billing_frequency" in details and "items[1].billing_frequency" in details
    assert not BillingSchedule.objects.exists()
    assert Order.objects.get(pk=order.pk).status == "draft"


# --- usage summaries --------------------------------------------------------------------------


@pytest.fixture
def usage_item(world):
    order = order_create(
        account=world.account,
        items=[
            seats(
                world,
                product=world.storage,
                quantity=Decimal("1"),
                unit_price=Decimal("0"),
                overage_unit_price="0.10",
                included_quantity="0",
            )
        ],
    )
    order_activate(order_id=order.pk)
    return order.items.get()


def test_usage_summary_create_and_list(ops, reader, world, usage_item):
    response = ops.post(
        API + "usage-summaries/",
        {
            "order_item": usage_item.pk,
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "quantity": "12.34567",
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["account"] == world.account.pk
    assert data["quantity"] == "12.346000"  # GB: 3 places, half up
    assert data["status"] == "ready_for_invoicing"
    assert data["schedule"] == BillingSchedule.objects.get(order_item=usage_item).pk
    listed = reader.get(API + "usage-summaries/", {"order_item": usage_item.pk}).json()
    assert listed["count"] == 1


def test_usage_summary_errors(ops, reader, world, usage_item):
    seat_order = order_create(account=world.account, items=[seats(world)])
    response = ops.post(
        API + "usage-summaries/",
        {
            "order_item": seat_order.items.get().pk,
            "period_start": "2026-02-01",
            "period_end": "2026-01-31",
            "quantity": "1",
        },
    )
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"order_item", "period_end"}
    body = {
        "order_item": usage_item.pk,
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "quantity": "1",
    }
    assert ops.post(API + "usage-summaries/", body).status_code == 201
    duplicate = ops.post(API + "usage-summaries/", body)
    assert duplicate.status_code == 400
    assert UsageSummary.objects.count() == 1
    assert ops.post(API + "usage-summaries/", {**body, "order_item": 999999}).status_code == 400
    assert reader.post(API + "usage-summaries/", body).status_code == 403
    assert ops.get(API + "usage-summaries/", {"status": "bogus"}).status_code == 400


def test_usage_whose_overage_would_overflow_a_period_is_refused(ops, usage_item):
    OrderItem.objects.filter(pk=usage_item.pk).update(overage_unit_price=Decimal("1000"))
    body = {
        "order_item": usage_item.pk,
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "quantity": "1000000000",  # × 1,000.00: 10^12, more than one period may bill
    }

    response = ops.post(API + "usage-summaries/", body)

    assert response.status_code == 400, response.content
    assert "would bill 1000000000000" in response.json()["details"]["quantity"][0]
    assert UsageSummary.objects.count() == 0
