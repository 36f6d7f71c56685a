"""The billing admin's doors (billing/admin.py), through the admin's own views: orders are
written with their items by the order services (and numbered ORD-), activated orders and
schedules are read-only, usage is recorded through usage_summary_create, plain records
through core.crud."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.urls import reverse

from billing.models import Order, OrderItem, Product, UsageSummary
from billing.services.orders import order_activate, order_create
from tests import factories
from tests.support.invoicing import monthly

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _item(product, **fields) -> dict:
    return {
        "line_number": "1",
        "product": product.pk,
        "action": "add",
        "quantity": "10",
        "unit_price": "5.00",
        "pricing_term": "month",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "billing_frequency": "monthly",
        "billing_type": "advance",
        "period_boundary": "anniversary",
        **fields,
    }


def _order_form(account, items: list[dict], *, initial: int = 0, **fields) -> dict:
    data = {
        "account": account.pk,
        "currency": "USD",
        "invoice_group_type": "default",
        "tax_treatment": "standard",
        "description": "Seats",
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": str(initial),
        **fields,
    }
    for index, item in enumerate(items):
        data.update({f"items-{index}-{name}": value for name, value in item.items()})
    return data


def test_an_order_added_in_the_admin_goes_through_order_create(world, staff_client):
    response = staff_client.post(
        _url(Order, "add"),
        _order_form(
            world.account,
            [_item(world.seat), _item(world.support, line_number="2", quantity="1")],
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    order = Order.objects.get()
    assert (order.number, order.status, order.account_id, order.description) == (
        f"ORD-{order.pk:06d}",
        "draft",
        world.account.pk,
        "Seats",
    )
    assert list(
        order.items.order_by("line_number").values_list("line_number", "product", "quantity")
    ) == [(1, world.seat.pk, D("10")), (2, world.support.pk, D("1"))]


def test_a_refused_order_is_shown_on_the_form_and_nothing_is_written(world, staff_client):
    """An original item's quantity must be positive (a constraint order_create checks)."""
    response = staff_client.post(
        _url(Order, "add"), _order_form(world.account, [_item(world.seat, quantity="-1")])
    )

    assert response.status_code == 200
    assert not Order.objects.exists() and not OrderItem.objects.exists()


def test_a_draft_order_is_changed_through_order_update(world, staff_client):
    order = order_create(account=world.account, items=[monthly(world.seat, "10", "5.00")])
    item = order.items.get()
    url = _url(Order, "change", order.pk)

    response = staff_client.post(
        url,
        _order_form(
            world.account,
            [{**_item(world.seat, quantity="12"), "id": item.pk, "order": order.pk}],
            initial=1,
            description="Seats (12)",
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    order.refresh_from_db()
    assert (order.number, order.description) == (f"ORD-{order.pk:06d}", "Seats (12)")
    assert list(order.items.values_list("product", "quantity")) == [(world.seat.pk, D("12"))]


def test_a_draft_order_is_deleted_through_order_delete(world, staff_client):
    order = order_create(account=world.account, items=[monthly(world.seat, "10", "5.00")])

    response = staff_client.post(_url(Order, "delete", order.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Order.objects.exists() and not OrderItem.objects.exists()


def test_an_activated_order_is_read_only(world, staff_client):
    order = order_create(account=world.account, items=[monthly(world.seat, "10", "5.00")])
    order_activate(order_id=order.pk)
    before = Order.objects.values().get(pk=order.pk)

    page = staff_client.get(_url(Order, "change", order.pk)).content.decode()
    change = staff_client.post(_url(Order, "change", order.pk), _order_form(world.account, []))
    delete = staff_client.post(_url(Order, "delete", order.pk), {"post": "yes"})

    assert 'name="_save"' not in page and 'name="items-0-quantity"' not in page
    assert (change.status_code, delete.status_code) == (403, 403)
    assert Order.objects.values().get(pk=order.pk) == before


def test_activated_order_items_are_read_only(staff_client):
    order = factories.OrderFactory(status=Order.Status.ACTIVATED)
    factories.OrderItemFactory(order=order)
    draft = factories.OrderItemFactory().order

    activated_page = staff_client.get(_url(Order, "change", order.pk)).content.decode()
    draft_page = staff_client.get(_url(Order, "change", draft.pk)).content.decode()

    assert 'name="items-0-quantity"' not in activated_page
    assert 'name="items-0-quantity"' in draft_page


def test_activate_action_goes_through_order_activate(world, staff_client):
    order = order_create(account=world.account, items=[monthly(world.seat, "10", "5.00")])
    url = _url(Order, "changelist")

    staff_client.post(url, {"action": "activate_orders", "_selected_action": [order.pk]})
    again = staff_client.post(
        url, {"action": "activate_orders", "_selected_action": [order.pk]}, follow=True
    )

    order.refresh_from_db()
    assert order.status == "activated"
    assert order.schedules.count() == 1
    assert "only a draft order can be activated" in again.content.decode()


# --- usage and plain records ---------------------------------------------------------------


def test_usage_is_recorded_through_usage_summary_create(world, staff_client):
    order = order_create(
        account=world.account,
        items=[monthly(world.storage, "1", "0.10", billing_type="arrears")],
    )
    item = order.items.get()
    form = {
        "account": world.account.pk,
        "order_item": item.pk,
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "quantity": "1.23456",
        "status": UsageSummary.Status.READY,
    }

    refused = staff_client.post(_url(UsageSummary, "add"), {**form, "status": "invoiced"})
    added = staff_client.post(_url(UsageSummary, "add"), form)

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["status"] == [
        "Usage becomes invoiced when its invoice is posted; record it ready."
    ]
    assert added.status_code == 302
    summary = UsageSummary.objects.get()
    assert (summary.quantity, summary.status) == (D("1.235"), "ready_for_invoicing")
    assert staff_client.post(_url(UsageSummary, "change", summary.pk), form).status_code == 403


def test_a_product_is_a_plain_record(world, staff_client):
    response = staff_client.post(
        _url(Product, "add"),
        {
            "sku": "GPU",
            "name": "GPU hours",
            "charge_type": "usage",
            "unit": world.hours.pk,
            "taxable": "on",
            "supply_kind": "services",
            "tax_code": "",
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    product = Product.objects.get(sku="GPU")
    assert (product.name, product.charge_type, product.unit_id) == (
        "GPU hours",
        "usage",
        world.hours.pk,
    )
    refused = staff_client.post(_url(Product, "delete", world.seat.pk), {"post": "yes"})
    assert refused.status_code == 302  # deleted: nothing uses it yet
    assert not Product.objects.filter(pk=world.seat.pk).exists()
