"""invoicing/api/setup.py: tax-rates, sequence-policies."""

import pytest

from invoicing.models import SequencePolicy, TaxRate

pytestmark = pytest.mark.django_db
API = "/api/v1/"


def test_tax_rate_crud(admin, reader, world):
    response = admin.post(
        API + "tax-rates/",
        {
            "legal_entity": world.seller.pk,
            "country": "US",
            "region": "CA",
            "tax_code": "",
            "name": "CA sales tax",
            "rate": "7.25",
            "kind": "percentage",
            "priority": 1,
        },
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert response.json()["rate"] == "7.2500"
    assert reader.get(API + "tax-rates/", {"region": "CA"}).json()["count"] == 1
    assert admin.patch(f"{API}tax-rates/{pk}", {"is_active": False}).status_code == 200
    assert TaxRate.objects.get(pk=pk).is_active is False
    assert admin.delete(f"{API}tax-rates/{pk}").status_code == 204


def test_tax_rate_errors(admin, ops, reader, world):
    response = admin.post(API + "tax-rates/", {"name": "", "rate": "-1", "kind": "vat"})
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"name", "rate", "kind"}
    assert response.json()["details"]["rate"] == [
        "Ensure this value is greater than or equal to 0."
    ]
    assert admin.get(API + "tax-rates/999999").status_code == 404
    body = {"name": "T", "rate": "1"}
    assert ops.post(API + "tax-rates/", body).status_code == 403
    assert reader.post(API + "tax-rates/", body).status_code == 403
    assert not TaxRate.objects.exists()


# --- sequence policies ------------------------------------------------------------------------


def test_sequence_policy_crud(admin, reader, world):
    response = admin.post(
        API + "sequence-policies/",
        {
            "name": "EU",
            "pattern": "EU-{DATE}-{SEQ}",
            "date_format": "%Y",
            "min_width": 5,
            "legal_entity": world.seller.pk,
            "currency": "EUR",
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["next_value"], data["target"], data["start"]) == (None, "invoice", 1)
    pk = data["id"]
    assert reader.get(API + "sequence-policies/", {"currency": "EUR"}).json()["count"] == 1
    response = admin.patch(f"{API}sequence-policies/{pk}", {"next_value": 99, "increment": 2})
    assert response.status_code == 200
    policy = SequencePolicy.objects.get(pk=pk)
    assert (policy.next_value, policy.increment) == (None, 2)  # next_value is read-only
    assert admin.delete(f"{API}sequence-policies/{pk}").status_code == 204


def test_sequence_policy_errors(admin, ops, world):
    response = admin.post(
        API + "sequence-policies/", {"name": "Bad", "pattern": "INV-", "increment": 0}
    )
    assert response.status_code == 400
    assert response.json()["details"] == {
        "pattern": ["The pattern needs {SEQ}, where the number goes (e.g. INV-{DATE}-{SEQ})."],
        "increment": ["Ensure this value is greater than or equal to 1."],
    }
    assert admin.get(API + "sequence-policies/999999").status_code == 404
    assert ops.post(API + "sequence-policies/", {"name": "X"}).status_code == 403
    assert not SequencePolicy.objects.exists()
