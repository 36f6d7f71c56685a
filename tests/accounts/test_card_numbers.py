"""No card number is stored in an account's texts (core/cards.py, called from the models'
clean(), so every door refuses it): the saved-payment-method check catches every separator,
and an account's name and tax id, a contact's phone, an address line and a billing profile's
name refuse a card number too. Each refusal names the field and writes nothing. Also: a
country and a currency must be real ISO codes."""

import pytest
from django.urls import reverse

from accounts.models import Account, Address, BillingProfile, Contact, SavedPaymentMethod
from accounts.services import (
    account_create,
    billing_profile_create,
    contact_create,
    saved_payment_method_create,
)
from core.exceptions import ValidationError

pytestmark = pytest.mark.django_db
API = "/api/v1/"

SEPARATED = [
    "4111_1111_1111_1111",
    "4111,1111,1111,1111",
    "4111:1111:1111:1111",
    "4111x1111y1111z1111",
    "Visa 4111.1111.1111.1111",
]


def counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count() for m in (Account, Address, BillingProfile, Contact, SavedPaymentMethod)
    )


@pytest.mark.parametrize("pan", SEPARATED)
def test_the_saved_payment_method_check_catches_every_separator(ops, world, pan):
    before = counts()
    for field in ("processor_token", "label"):
        body = {"account": world.account.pk, "processor_token": "pm_1NxAbcd", "label": "Visa"}
        body[field] = pan
        response = ops.post(API + "saved-payment-methods/", body, format="json")
        assert response.status_code == 400, (field, response.content)
        assert list(response.json()["details"]) == [field]
        assert "never keeps card numbers" in response.json()["details"][field][0]
    assert counts() == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("accounts/", {"name": "4111 1111 1111 1111", "currency": "USD"}, "name"),
        ("accounts/", {"name": "Acme", "tax_id": "4111111111111111"}, "tax_id"),
        (
            "accounts/",
            {"name": "Acme", "billing_address": {"line1": "5555-5555-5555-4444", "country": "US"}},
            "billing_address.line1",
        ),
        ("contacts/", {"name": "Jo", "email": "j@a.example", "phone": "4111111111111111"}, "phone"),
        ("contacts/", {"name": "378282246310005", "email": "jo@acme.example"}, "name"),
    ],
)
def test_an_account_text_refuses_a_plain_card_number(ops, world, path, body, field):
    if path == "contacts/":
        body = {**body, "account": world.account.pk}
    before = counts()
    response = ops.post(API + path, body, format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["code"] == "invalid"
    assert data["details"] == {
        field: [
            "This looks like a payment card number. Ledgerline never stores card numbers: "
            "remove it (keep at most the last four digits, e.g. 'Visa •••• 4242')."
        ]
    }
    assert counts() == before


def test_updates_refuse_a_card_number_too(ops, world):
    response = ops.patch(
        f"{API}accounts/{world.account.pk}", {"name": "4111 1111 1111 1111"}, format="json"
    )
    assert response.status_code == 400
    world.account.refresh_from_db()
    assert world.account.name == "Acme Corp"


def test_the_services_refuse_card_numbers_whatever_the_door(world):
    before = counts()
    calls = [
        lambda: account_create(name="Acme 4111-1111-1111-1111", currency="USD"),
        lambda: contact_create(
            account=world.account, name="Jo", email="j@x.example", phone="4111 1111 1111 1111"
        ),  # fmt: skip
        lambda: billing_profile_create(account=world.account, name="4111111111111111"),
        lambda: saved_payment_method_create(
            account=world.account, processor_token="4111:1111:1111:1111", label="Visa"
        ),
    ]
    for call in calls:
        with pytest.raises(ValidationError):
            call()
    assert counts() == before


def test_the_admin_refuses_a_card_number_in_a_saved_payment_method(admin_client, world):
    before = counts()
    response = admin_client.post(
        reverse("admin:accounts_savedpaymentmethod_add"),
        {
            "account": world.account.pk,
            "kind": "card",
            "processor_token": "4111_1111_1111_1111",
            "label": "Visa",
        },
    )
    assert response.status_code == 200  # the form again, with its error
    assert "never keeps card numbers" in response.content.decode()
    assert counts() == before


def test_ordinary_texts_pass(ops, world):
    response = ops.post(
        API + "contacts/",
        {
            "account": world.account.pk,
            "name": "Jo Bloggs",
            "email": "jo@acme.example",
            "phone": "+49 1512 3456789",
        },
        format="json",
    )
    assert response.status_code == 201, response.content


# --- ISO codes -----------------------------------------------------------------------------------


def test_a_country_must_be_an_iso_3166_code(ops, world):
    before = counts()
    response = ops.post(
        API + "accounts/",
        {"name": "Nowhere Ltd", "billing_address": {"city": "X", "country": "ZZ"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["details"] == {
        "billing_address.country": ["Use the two-letter ISO 3166 code, e.g. US or DE."]
    }
    assert counts() == before
    response = ops.post(
        API + "accounts/",
        {"name": "Pristina Ltd", "billing_address": {"city": "Pristina", "country": "XK"}},
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("code", ["XXX", "XTS", "XAU"])
def test_a_currency_must_be_money(ops, world, code):
    before = counts()
    response = ops.post(API + "accounts/", {"name": "Test Ltd", "currency": code}, format="json")
    assert response.status_code == 400
    (message,) = response.json()["details"]["currency"]
    assert message.startswith(f"'{code}' is an ISO 4217 code for no currency one invoices in")
    assert counts() == before
