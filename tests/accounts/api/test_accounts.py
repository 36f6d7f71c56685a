"""accounts/api/accounts.py: accounts, contacts, saved-payment-methods."""

import pytest

from accounts.models import (
    Account,
    BillingProfile,
    Contact,
    SavedPaymentMethod,
)

pytestmark = pytest.mark.django_db
API = "/api/v1/"


# --- accounts ---------------------------------------------------------------------------------


def test_account_with_its_default_billing_profile(admin, reader, world):
    body = {
        "name": "Globex",
        "external_id": "ERP-1",
        "currency": "eur",
        "legal_entity": world.seller.pk,
        "email": "ap@globex.example",
        "billing_address": {"line1": "1 Rue", "city": "Paris", "country": "FR"},
        "bill_day_of_month": 15,
        "payment_term": world.net30.pk,
    }
    response = admin.post(API + "accounts/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["currency"] == "EUR"
    assert data["billing_address"]["city"] == "Paris"
    assert (data["bill_day_of_month"], data["payment_term"]) == (15, world.net30.pk)
    account = Account.objects.get(pk=data["id"])
    profile = BillingProfile.objects.get(account=account)
    assert profile.is_default and profile.bill_day_of_month == 15
    assert profile.payment_term == world.net30 and profile.billing_address.city == "Paris"

    response = admin.patch(
        f"{API}accounts/{account.pk}",
        {"bill_day_of_month": None, "billing_address": {"city": "Lyon"}, "tax_exempt": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["bill_day_of_month"] is None and data["billing_address"]["city"] == "Lyon"
    assert data["tax_exempt"] is True
    assert BillingProfile.objects.filter(account=account).count() == 1

    listed = reader.get(API + "accounts/", {"external_id": "ERP-1"}).json()
    assert [a["id"] for a in listed["results"]] == [account.pk]
    assert reader.get(f"{API}accounts/{account.pk}").json()["name"] == "Globex"


def test_account_validation_404_and_in_use(admin, world):
    response = admin.post(
        API + "accounts/",
        {"name": "X", "currency": "XXX1", "bill_day_of_month": 32, "timezone": "Mars/Base"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"currency", "bill_day_of_month", "timezone"}
    response = admin.post(API + "accounts/", {"name": "X", "currency": "ABC"})
    assert response.json()["details"] == {
        "currency": ["'ABC' is not an ISO 4217 currency code; use e.g. USD, EUR, JPY."]
    }
    Account.objects.filter(pk=world.account.pk).update(external_id="TAKEN")
    response = admin.post(API + "accounts/", {"name": "Y", "external_id": "TAKEN"})
    assert response.status_code == 400 and "external_id" in response.json()["details"]
    assert Account.objects.count() == 1
    assert admin.get(API + "accounts/999999").status_code == 404
    # An account without invoices or orders can go; the world's account has an order later.
    assert admin.delete(f"{API}accounts/{world.account.pk}").status_code == 204


# --- contacts ---------------------------------------------------------------------------------


def test_contact_crud(ops, reader, world):
    response = ops.post(
        API + "contacts/",
        {"account": world.account.pk, "name": "Jane", "email": "jane@acme.example"},
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    listed = reader.get(API + "contacts/", {"account": world.account.pk}).json()
    assert listed["count"] == 2
    assert ops.patch(f"{API}contacts/{pk}", {"email": "j@acme.example"}).status_code == 200
    assert Contact.objects.get(pk=pk).email == "j@acme.example"
    assert ops.delete(f"{API}contacts/{pk}").status_code == 204


def test_contact_validation_404_and_no_move(ops, reader, world):
    response = ops.post(API + "contacts/", {"account": 999999, "name": "", "email": "nope"})
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"account", "name", "email"}
    contact = world.account.contacts.get()
    other = Account.objects.create(name="Other")
    response = ops.patch(f"{API}contacts/{contact.pk}", {"account": other.pk})
    assert response.status_code == 400
    assert response.json()["details"] == {
        "account": ["A record cannot move to another account; create a new one there."]
    }
    assert ops.get(API + "contacts/999999").status_code == 404
    assert reader.post(API + "contacts/", {"account": world.account.pk}).status_code == 403


# --- saved payment methods --------------------------------------------------------------------


def test_saved_payment_method_token_is_write_only(ops, world):
    response = ops.post(
        API + "saved-payment-methods/",
        {
            "account": world.account.pk,
            "kind": "card",
            "processor_token": "pm_1NxAbcdEfgh9876",
            "label": "Mastercard •••• 9876",
            "is_default": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["processor_token"] == "pm_••••9876"
    assert "pm_1NxAbcdEfgh9876" not in response.content.decode()
    method = SavedPaymentMethod.objects.get(pk=data["id"])
    assert method.processor_token == "pm_1NxAbcdEfgh9876"
    # The new default replaced the account's earlier default.
    assert list(
        SavedPaymentMethod.objects.filter(account=world.account, is_default=True).values_list(
            "pk", flat=True
        )
    ) == [method.pk]
    listed = ops.get(API + "saved-payment-methods/", {"account": world.account.pk}).json()
    assert {m["processor_token"] for m in listed["results"]} == {"pm_••••9876", "pm_••••"}
    assert ops.get(f"{API}saved-payment-methods/{method.pk}").json()["label"].endswith("9876")


def test_saved_payment_method_refuses_card_numbers(ops, reader, world):
    response = ops.post(
        API + "saved-payment-methods/",
        {
            "account": world.account.pk,
            "processor_token": "4242 4242 4242 4242",
            "label": "Visa",
        },
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["details"]) == ["processor_token"]
    assert SavedPaymentMethod.objects.count() == 1
    assert ops.get(API + "saved-payment-methods/999999").status_code == 404
    method = SavedPaymentMethod.objects.get()
    assert reader.delete(f"{API}saved-payment-methods/{method.pk}").status_code == 403
