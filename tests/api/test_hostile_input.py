"""Hostile values at the main write doors of the API: every money, quantity, date and text field
of accounts, contacts, orders (create and activate), usage, payments (received, and of one
invoice) and the preview takes 30-digit decimals, NaN and infinities, 9999-12-31 and
0001-01-01, impossible dates, 100 KB strings and NUL bytes, and answers a clear 400 in the one
error shape naming the field, writing nothing (every table's row count is the same after).

RTL text, emoji and SQL-looking strings are valid text: they are stored as given and read back
unchanged, and nothing else is written (the tables they name are still there)."""

import datetime as dt

import pytest
from django.apps import apps

from invoicing.models import Invoice
from invoicing.services.generation import invoices_generate

pytestmark = pytest.mark.django_db
API = "/api/v1/"

THIRTY_DIGITS = "123456789012345678901234567890"
MONEY = [
    THIRTY_DIGITS,
    "0." + THIRTY_DIGITS,
    "-" + THIRTY_DIGITS,
    "NaN",
    "Infinity",
    "-Infinity",
    "1e309",
    "1E+30",
    "",
    "twelve",
]
DATES = ["9999-12-31", "0001-01-01", "2026-02-30", "NaN", "26-01-2026", ""]
LONG_TEXT = "x" * 100_000
BAD_TEXT = [LONG_TEXT, "nul\x00byte"]
VALID_ODD_TEXT = [
    "\u202eevil\u202c مرحبا بالعالم",  # an RTL override and Arabic
    "שלום 💸🧾 Ünïcødé",  # Hebrew, emoji
    "Robert'); DROP TABLE accounts_account; --",
    "' OR '1'='1",
]


def row_counts() -> dict[str, int]:
    labels = ("accounts", "billing", "invoicing", "core")
    return {
        model._meta.label: model._default_manager.count()
        for label in labels
        for model in apps.get_app_config(label).get_models()
    }


@pytest.fixture
def posted(api_world):
    """The API world with a posted January invoice (10 seats at 5.00 a month, 6.25 % tax)."""
    result = invoices_generate(
        account_id=api_world.account.pk, target_date=dt.date(2026, 1, 31), action="posted"
    )
    api_world.invoice = Invoice.objects.get(pk=result.invoice_ids[0])
    return api_world


def doors(w) -> list[tuple[str, dict, dict[str, list[str]]]]:
    """(path, a valid body, {field: hostile values}) of each door."""
    item = {
        "product": w.seat.pk,
        "quantity": "10",
        "unit_price": "5.00",
        "pricing_term": "month",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "billing_frequency": "monthly",
    }
    return [
        (
            "accounts/",
            {"name": "Hostile Ltd", "currency": "USD"},
            {
                "name": BAD_TEXT,
                "tax_id": BAD_TEXT,
                "currency": ["XXX", "ZZZ", "€€€", LONG_TEXT],
                "email": ["not-an-email", LONG_TEXT],
            },
        ),
        (
            "contacts/",
            {"account": w.account.pk, "name": "Jo", "email": "jo@acme.example"},
            {"name": BAD_TEXT, "phone": BAD_TEXT},
        ),
        (
            "orders/",
            {"account": w.account.pk, "items": [item]},
            {
                "items[0].quantity": MONEY,
                "items[0].unit_price": MONEY,
                "items[0].start_date": DATES,
                "items[0].end_date": ["9999-12-31", "2026-02-30", "NaN"],
                "description": BAD_TEXT,
                "purchase_order": BAD_TEXT,
            },
        ),
        (
            "payments/",
            {"account": w.account.pk, "amount": "10.00", "date": "2026-02-01"},
            {"amount": [*MONEY, "0", "-5.00", "0.001"], "date": DATES, "reference": BAD_TEXT},
        ),
        (
            f"invoices/{w.invoice.pk}/payments",
            {"amount": "10.00", "date": "2026-02-01"},
            {"amount": [*MONEY, "0", "-5.00"], "date": DATES, "reference": BAD_TEXT},
        ),
        (
            "invoices/preview",
            {"account": w.account.pk},
            {"preview_date": DATES, "periods": ["NaN", "0", "25", THIRTY_DIGITS]},
        ),
    ]


def with_value(body: dict, path: str, value) -> dict:
    body = (
        {**body, "items": [dict(i) for i in body.get("items", [])]}
        if "items" in body
        else dict(body)
    )
    if path.startswith("items[0]."):
        body["items"][0][path.removeprefix("items[0].")] = value
    else:
        body[path] = value
    return body


def test_hostile_values_are_a_clear_400_and_write_nothing(admin, posted):
    before = row_counts()
    wrong = []
    tried = 0
    for path, valid, fields in doors(posted):
        for field, values in fields.items():
            for value in values:
                tried += 1
                response = admin.post(API + path, with_value(valid, field, value), format="json")
                body = response.json()
                if (
                    response.status_code != 400
                    or body.get("code") != "invalid"
                    or not body.get("message")
                    or not any(key.startswith(field.split("[")[0]) for key in body["details"])
                ):
                    wrong.append(
                        (path, field, repr(value)[:40], response.status_code, str(body)[:200])
                    )
    assert wrong == []
    assert row_counts() == before
    assert tried >= 90


def test_hostile_values_reaching_activation_are_a_400_and_write_nothing(admin, posted):
    """A draft's values are checked again when it is activated (a far date, an amount the
    columns cannot hold)."""
    item = {
        "product": posted.seat.pk,
        "quantity": "9999999999999",
        "unit_price": "9999999999999.999999",
        "pricing_term": "month",
        "start_date": "2026-01-01",
        "billing_frequency": "monthly",
    }
    response = admin.post(API + "orders/", {"account": posted.account.pk, "items": [item]})
    assert response.status_code == 201, response.content
    order_id = response.json()["id"]
    before = row_counts()
    response = admin.post(f"{API}orders/{order_id}/activate")
    assert response.status_code == 400
    assert list(response.json()["details"]) == ["items[0].quantity"]
    assert row_counts() == before


@pytest.mark.parametrize("text", VALID_ODD_TEXT)
def test_rtl_emoji_and_sql_looking_text_is_stored_as_given(admin, posted, text):
    before = row_counts()
    response = admin.post(
        API + "accounts/",
        {"name": text, "tax_id": text[:50], "currency": "USD"},
        format="json",
    )
    assert response.status_code == 201, response.content
    account = response.json()
    assert account["name"] == text
    assert admin.get(f"{API}accounts/{account['id']}").json()["name"] == text
    after = row_counts()
    assert after.pop("accounts.Account") == before.pop("accounts.Account") + 1
    assert after.pop("accounts.BillingProfile") == before.pop("accounts.BillingProfile") + 1
    assert after == before
    response = admin.post(
        f"{API}invoices/{posted.invoice.pk}/payments",
        {"amount": "1.00", "date": "2026-02-01", "reference": text[:100]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert posted.invoice.payments.get().receipt.reference == text[:100]
