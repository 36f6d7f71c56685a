"""accounts/api/setup.py: legal-entities, payment-terms."""

import pytest

from accounts.models import (
    Address,
    LegalEntity,
    PaymentTerm,
)

pytestmark = pytest.mark.django_db
API = "/api/v1/"


# --- legal entities ---------------------------------------------------------------------------


def test_legal_entity_crud(admin, reader):
    body = {
        "name": "Ledgerline GmbH",
        "tax_id": "DE123456789",
        "address": {"line1": "Unter den Linden 1", "city": "Berlin", "country": "de"},
    }
    response = admin.post(API + "legal-entities/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["address"] == {
        "line1": "Unter den Linden 1",
        "line2": "",
        "city": "Berlin",
        "region": "",
        "postal_code": "",
        "country": "DE",
    }
    pk = data["id"]
    assert reader.get(f"{API}legal-entities/{pk}").json()["name"] == "Ledgerline GmbH"
    listed = reader.get(API + "legal-entities/", {"name": "Ledgerline GmbH"}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == pk

    response = admin.patch(
        f"{API}legal-entities/{pk}", {"address": {"city": "Hamburg"}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["address"]["city"] == "Hamburg"
    assert response.json()["address"]["line1"] == "Unter den Linden 1"
    assert Address.objects.count() == 1

    assert admin.delete(f"{API}legal-entities/{pk}").status_code == 204
    assert not LegalEntity.objects.filter(pk=pk).exists()


def test_legal_entity_validation_and_404(admin):
    response = admin.post(
        API + "legal-entities/", {"name": "", "address": {"country": "Germany"}}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["details"]) == {"name", "address.country"}
    response = admin.post(API + "legal-entities/", {"name": "X", "address": {"country": "D1"}})
    assert response.status_code == 400
    assert response.json()["details"] == {
        "address.country": ["Use the two-letter ISO 3166 code, e.g. US or DE."]
    }
    assert LegalEntity.objects.count() == 0 and Address.objects.count() == 0
    response = admin.get(API + "legal-entities/999999")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "details": {}}
    assert admin.patch(API + "legal-entities/999999", {"name": "Y"}).status_code == 404
    assert admin.delete(API + "legal-entities/999999").status_code == 404


def test_legal_entity_in_use_is_not_deleted(admin, world):
    response = admin.delete(f"{API}legal-entities/{world.seller.pk}")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "in_use"
    assert "accounts" in body["details"]["used_by"]
    assert LegalEntity.objects.filter(pk=world.seller.pk).exists()


def test_a_new_default_legal_entity_replaces_the_old(admin, world):
    response = admin.post(API + "legal-entities/", {"name": "New", "is_default": True})
    assert response.status_code == 201
    assert list(LegalEntity.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "New"
    ]


def test_read_only_cannot_write_legal_entities(reader, world):
    assert reader.post(API + "legal-entities/", {"name": "N"}).status_code == 403
    assert reader.patch(f"{API}legal-entities/{world.seller.pk}", {"name": "N"}).status_code == 403
    assert reader.delete(f"{API}legal-entities/{world.seller.pk}").status_code == 403
    assert LegalEntity.objects.count() == 1


# --- payment terms ----------------------------------------------------------------------------


def test_payment_term_crud_and_default_switch(admin, reader, world):
    response = admin.post(
        API + "payment-terms/",
        {"name": "EOM 15", "kind": "end_of_month", "days": 15, "is_default": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert list(PaymentTerm.objects.filter(is_default=True).values_list("pk", flat=True)) == [pk]
    assert reader.get(API + "payment-terms/", {"kind": "net"}).json()["count"] == 1
    response = admin.put(
        f"{API}payment-terms/{pk}",
        {"name": "EOM 20", "kind": "end_of_month", "days": 20, "is_default": True},
        format="json",
    )
    assert response.status_code == 200 and response.json()["days"] == 20
    assert admin.delete(f"{API}payment-terms/{pk}").status_code == 204


def test_payment_term_validation_and_404(admin, reader, world):
    response = admin.post(API + "payment-terms/", {"name": "Net 30", "kind": "weekly", "days": -1})
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"name", "kind", "days"}
    assert admin.get(API + "payment-terms/424242").status_code == 404
    assert reader.post(API + "payment-terms/", {"name": "N"}).status_code == 403
