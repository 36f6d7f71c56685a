"""The e-invoicing data of the billing records at every door: UN/ECE unit codes, goods or
services on products, the customer's purchase order reference on orders (the API, the admin,
the order services); bad input refused with the field named, writing nothing."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from billing.models import Order, Product, UnitOfMeasure
from billing.services.orders import order_create
from core.exceptions import ValidationError
from tests.factories import seats

pytestmark = pytest.mark.django_db
API = "/api/v1/"
UNECE_MESSAGE = "Use a UN/ECE Recommendation 20 code, e.g. C62 (one), HUR (hour), MON (month)."


def test_a_unit_of_measure_carries_its_unece_code(admin, reader):
    response = admin.post(
        API + "units-of-measure/",
        {"code": "MO", "name": "Months", "scale": 0, "unece_code": "MON"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["unece_code"] == "MON"
    pk = response.json()["id"]
    assert UnitOfMeasure.objects.get(pk=pk).unece_code == "MON"
    assert reader.get(API + "units-of-measure/", {"unece_code": "MON"}).json()["count"] == 1

    # Left out, it is C62 ("one"), the unit of a count.
    response = admin.post(API + "units-of-measure/", {"code": "SEAT", "name": "Seats"})
    assert response.status_code == 201 and response.json()["unece_code"] == "C62"

    response = admin.patch(f"{API}units-of-measure/{pk}", {"unece_code": "mon"})
    assert response.status_code == 400
    assert response.json()["details"] == {"unece_code": [UNECE_MESSAGE]}
    assert UnitOfMeasure.objects.get(pk=pk).unece_code == "MON"


def test_a_bad_unece_code_creates_no_unit(admin):
    body = {"code": "HR", "name": "Hours", "unece_code": "h"}
    response = admin.post(API + "units-of-measure/", body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": f"unece_code: {UNECE_MESSAGE}",
        "details": {"unece_code": [UNECE_MESSAGE]},
    }
    assert not UnitOfMeasure.objects.exists()


def test_a_product_is_goods_or_services(admin, reader, world):
    response = admin.post(
        API + "products/",
        {"sku": "ROUTER", "name": "Edge router", "charge_type": "one_time", "unit": world.each.pk,
         "supply_kind": "goods"},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["supply_kind"] == "goods"
    assert reader.get(f"{API}products/{world.seat.pk}").json()["supply_kind"] == "services"
    listed = reader.get(API + "products/", {"supply_kind": "goods"}).json()
    assert [p["sku"] for p in listed["results"]] == ["ROUTER"]

    response = admin.patch(f"{API}products/{world.seat.pk}", {"supply_kind": "hardware"})
    assert response.status_code == 400
    assert list(response.json()["details"]) == ["supply_kind"]
    assert Product.objects.get(pk=world.seat.pk).supply_kind == "services"


def test_an_order_carries_the_customers_purchase_order(ops, reader, world):
    body = {
        "account": world.account.pk,
        "purchase_order": "PO-4471",
        "items": [
            {
                "product": world.seat.pk,
                "quantity": "10",
                "unit_price": "5.00",
                "pricing_term": "month",
                "start_date": "2026-01-01",
                "end_date": "2026-12-31",
                "billing_frequency": "monthly",
            }
        ],
    }

    response = ops.post(API + "orders/", body)

    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert response.json()["purchase_order"] == "PO-4471"
    assert Order.objects.get(pk=pk).purchase_order == "PO-4471"
    listed = reader.get(API + "orders/", {"purchase_order": "PO-4471"}).json()
    assert [o["id"] for o in listed["results"]] == [pk]

    response = ops.patch(f"{API}orders/{pk}", {"purchase_order": "PO-4471-B"})
    assert response.status_code == 200, response.content
    assert Order.objects.get(pk=pk).purchase_order == "PO-4471-B"

    response = ops.patch(f"{API}orders/{pk}", {"purchase_order": "P" * 101})
    assert response.status_code == 400
    assert list(response.json()["details"]) == ["purchase_order"]
    assert Order.objects.get(pk=pk).purchase_order == "PO-4471-B"


def test_order_create_takes_the_purchase_order_and_checks_its_length(world):
    order = order_create(account=world.account, items=[seats(world)], purchase_order="4500012345")
    assert Order.objects.get(pk=order.pk).purchase_order == "4500012345"

    with pytest.raises(ValidationError) as exc:
        order_create(account=world.account, items=[seats(world)], purchase_order="P" * 101)

    assert list(exc.value.details) == ["purchase_order"]
    assert Order.objects.count() == 1


# --- the admin ----------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def test_an_order_added_in_the_admin_keeps_its_purchase_order(world, staff_client):
    item = {
        "line_number": "1",
        "product": world.seat.pk,
        "action": "add",
        "quantity": "10",
        "unit_price": "5.00",
        "pricing_term": "month",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "billing_frequency": "monthly",
        "billing_type": "advance",
        "period_boundary": "anniversary",
    }
    form = {
        "account": world.account.pk,
        "currency": "USD",
        "invoice_group_type": "default",
        "tax_treatment": "standard",
        "purchase_order": "PO-2026-17",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        **{f"items-0-{name}": value for name, value in item.items()},
    }

    response = staff_client.post(reverse("admin:billing_order_add"), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    order = Order.objects.get()
    assert (order.purchase_order, order.items.get().quantity) == ("PO-2026-17", D("10"))


def test_the_admin_lists_unit_codes_and_supply_kinds(world, staff_client):
    units = staff_client.get(reverse("admin:billing_unitofmeasure_changelist")).content.decode()
    assert "UN/ECE code" in units and "C62" in units
    Product.objects.filter(pk=world.seat.pk).update(supply_kind="goods")

    products = staff_client.get(
        reverse("admin:billing_product_changelist"), {"supply_kind__exact": "goods"}
    )

    assert list(products.context["cl"].result_list) == [Product.objects.get(pk=world.seat.pk)]
    assert "Supply kind" in products.content.decode()

    refused = staff_client.post(
        reverse("admin:billing_unitofmeasure_change", args=[world.hours.pk]),
        {"code": "HR", "name": "Hours", "scale": "2", "rounding": "half_up", "unece_code": "hr"},
    )
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {"unece_code": [UNECE_MESSAGE]}
    world.hours.refresh_from_db()
    assert world.hours.unece_code == "C62"
