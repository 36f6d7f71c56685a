"""billing/api/setup.py: units-of-measure, products."""

import pytest

from billing.models import (
    Product,
    UnitOfMeasure,
)

pytestmark = pytest.mark.django_db
API = "/api/v1/"


def test_unit_of_measure_crud(admin, reader, world):
    response = admin.post(
        API + "units-of-measure/", {"code": "KWH", "name": "Kilowatt hours", "scale": 3}
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert reader.get(API + "units-of-measure/", {"code": "KWH"}).json()["count"] == 1
    assert admin.patch(f"{API}units-of-measure/{pk}", {"rounding": "up"}).status_code == 200
    assert UnitOfMeasure.objects.get(pk=pk).rounding == "up"
    assert admin.delete(f"{API}units-of-measure/{pk}").status_code == 204


def test_unit_of_measure_errors(admin, reader, ops, world):
    response = admin.post(API + "units-of-measure/", {"code": "EA", "name": "", "scale": 9})
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"code", "name", "scale"}
    assert admin.get(API + "units-of-measure/999999").status_code == 404
    assert reader.post(API + "units-of-measure/", {"code": "Z", "name": "Z"}).status_code == 403
    assert ops.post(API + "units-of-measure/", {"code": "Z", "name": "Z"}).status_code == 403
    response = admin.delete(f"{API}units-of-measure/{world.each.pk}")
    assert response.status_code == 409 and response.json()["code"] == "in_use"


def test_product_crud_with_the_unit_by_code(admin, reader, world):
    response = admin.post(
        API + "products/",
        {"sku": "API", "name": "API calls", "charge_type": "usage", "unit": "HR", "tax_code": "S"},
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["unit"], data["taxable"], data["charge_type"]) == ("HR", True, "usage")
    listed = reader.get(API + "products/", {"charge_type": "usage"}).json()
    assert {p["sku"] for p in listed["results"]} == {"API", "STORAGE"}
    response = admin.put(
        f"{API}products/{data['id']}",
        {"sku": "API", "name": "API", "charge_type": "usage", "unit": "EA", "taxable": False},
    )
    assert response.status_code == 200 and response.json()["unit"] == "EA"
    assert admin.delete(f"{API}products/{data['id']}").status_code == 204


def test_product_errors(admin, reader, world):
    response = admin.post(
        API + "products/", {"sku": "SEAT", "name": "x", "charge_type": "rent", "unit": "NOPE"}
    )
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"sku", "charge_type", "unit"}
    assert admin.get(API + "products/999999").status_code == 404
    assert reader.patch(f"{API}products/{world.seat.pk}", {"name": "x"}).status_code == 403
    assert Product.objects.get(pk=world.seat.pk).name == "Seat"
