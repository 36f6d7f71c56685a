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


def test_product_crud_with_the_unit_by_id(admin, reader, world):
    response = admin.post(
        API + "products/",
        {
            "sku": "API",
            "name": "API calls",
            "charge_type": "usage",
            "unit": world.hours.pk,
            "tax_code": "S",
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["unit"], data["unit_code"], data["taxable"], data["charge_type"]) == (
        world.hours.pk,
        "HR",
        True,
        "usage",
    )
    assert Product.objects.get(pk=data["id"]).unit == world.hours
    assert reader.get(f"{API}products/{data['id']}").json()["unit"] == world.hours.pk
    listed = reader.get(API + "products/", {"charge_type": "usage"}).json()
    assert {p["sku"] for p in listed["results"]} == {"API", "STORAGE"}
    response = admin.put(
        f"{API}products/{data['id']}",
        {
            "sku": "API",
            "name": "API",
            "charge_type": "usage",
            "unit": world.each.pk,
            "taxable": False,
        },
    )
    assert response.status_code == 200, response.content
    assert (response.json()["unit"], response.json()["unit_code"]) == (world.each.pk, "EA")
    assert admin.delete(f"{API}products/{data['id']}").status_code == 204


def test_product_unit_by_code_as_unit_code(admin, world):
    response = admin.post(
        API + "products/", {"sku": "API", "name": "API", "charge_type": "usage", "unit_code": "HR"}
    )
    assert response.status_code == 201, response.content
    assert (response.json()["unit"], response.json()["unit_code"]) == (world.hours.pk, "HR")
    pk = response.json()["id"]
    response = admin.patch(f"{API}products/{pk}", {"unit_code": "EA"})
    assert response.status_code == 200 and response.json()["unit"] == world.each.pk
    # Both sent: they must agree.
    agree = admin.patch(f"{API}products/{pk}", {"unit": world.hours.pk, "unit_code": "HR"})
    assert agree.status_code == 200 and agree.json()["unit"] == world.hours.pk
    response = admin.patch(f"{API}products/{pk}", {"unit": world.each.pk, "unit_code": "HR"})
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["details"])) == ("invalid", ["unit_code"])
    assert Product.objects.get(pk=pk).unit == world.hours


def test_product_unit_refusals_name_the_field(admin, world):
    def refused(body):
        response = admin.post(
            API + "products/", {"sku": "NEW", "name": "New", "charge_type": "usage", **body}
        )
        assert response.status_code == 400, response.content
        assert set(response.json()) == {"code", "message", "details"}
        assert response.json()["code"] == "invalid"
        return response.json()["details"]

    assert list(refused({"unit": 999999})) == ["unit"]
    assert "999999" in refused({"unit": 999999})["unit"][0]
    assert list(refused({"unit": "HR"})) == ["unit"]  # a code is not an id
    assert list(refused({"unit_code": "NOPE"})) == ["unit_code"]
    assert list(refused({})) == ["unit"]
    assert not Product.objects.filter(sku="NEW").exists()


def test_product_errors(admin, reader, world):
    response = admin.post(
        API + "products/", {"sku": "SEAT", "name": "x", "charge_type": "rent", "unit": 999999}
    )
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"sku", "charge_type", "unit"}
    assert admin.get(API + "products/999999").status_code == 404
    assert reader.patch(f"{API}products/{world.seat.pk}", {"name": "x"}).status_code == 403
    assert Product.objects.get(pk=world.seat.pk).name == "Seat"
