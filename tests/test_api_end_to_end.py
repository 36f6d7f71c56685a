"""The whole flow through the API only: set up a seller, terms, numbering, tax, a unit, a
product and an account; sell an order; activate it; generate posted invoices; generate again
(nothing left to bill); void; generate again (the voided periods are billed anew)."""

import pytest

pytestmark = pytest.mark.django_db
API = "/api/v1/"


def created(client, path: str, body: dict) -> dict:
    response = client.post(API + path, body)
    assert response.status_code == 201, (path, response.content)
    return response.json()


def test_from_setup_to_void_and_rebill(admin, ops):
    # Setup (billing admin).
    seller = created(
        admin,
        "legal-entities/",
        {
            "name": "Ledgerline Inc.",
            "is_default": True,
            "address": {
                "line1": "1 Market St",
                "city": "San Francisco",
                "region": "CA",
                "country": "US",
            },
        },
    )
    net30 = created(
        admin, "payment-terms/", {"name": "Net 30", "kind": "net", "days": 30, "is_default": True}
    )
    created(
        admin,
        "sequence-policies/",
        {"name": "Invoices", "pattern": "INV-{SEQ}", "min_width": 4, "legal_entity": seller["id"]},
    )
    created(
        admin,
        "sequence-policies/",
        {"name": "Credit memos", "target": "credit_memo", "pattern": "CM-{SEQ}", "min_width": 4},
    )
    created(
        admin,
        "tax-rates/",
        {"name": "TX sales tax", "rate": "6.25", "country": "US", "region": "TX"},
    )
    unit = created(admin, "units-of-measure/", {"code": "SEAT", "name": "Seat", "scale": 0})
    product = created(
        admin,
        "products/",
        {"sku": "PRO", "name": "Pro plan", "charge_type": "recurring", "unit": unit["id"]},
    )

    # The customer and the order (billing operations).
    account = created(
        ops,
        "accounts/",
        {
            "name": "Acme Corp",
            "currency": "USD",
            "legal_entity": seller["id"],
            "payment_term": net30["id"],
            "billing_address": {
                "line1": "5 Main St",
                "city": "Austin",
                "region": "TX",
                "country": "US",
            },
        },
    )
    contact = created(
        ops, "contacts/", {"account": account["id"], "name": "AP", "email": "ap@acme.example"}
    )
    order = created(
        ops,
        "orders/",
        {
            "account": account["id"],
            "bill_to": contact["id"],
            "items": [
                {
                    "product": product["id"],
                    "quantity": "10",
                    "unit_price": "5.00",
                    "pricing_term": "month",
                    "start_date": "2026-01-01",
                    "end_date": "2026-12-31",
                    "billing_frequency": "monthly",
                }
            ],
        },
    )
    response = ops.post(f"{API}orders/{order['id']}/activate")
    assert response.status_code == 200, response.content
    groups = response.json()["billing_schedule_groups"]
    (schedule,) = groups[0]["billing_schedules"]

    # Generate posted: January and February on one invoice.
    generate = {"order": order["id"], "target_date": "2026-02-15", "action": "posted"}
    response = ops.post(API + "invoices/generate", generate)
    assert response.status_code == 200, response.content
    (invoice,) = response.json()["invoices"]
    assert (invoice["number"], invoice["status"], invoice["bill_to"]) == (
        "INV-0001",
        "posted",
        contact["id"],
    )
    assert (invoice["total_charges"], invoice["total_tax"], invoice["total"]) == (
        "100.00",
        "6.26",
        "106.26",
    )
    assert invoice["due_date"] == "2026-03-17"  # Net 30 from the invoice date
    assert [(line["period_start"], line["amount"]) for line in invoice["lines"]] == [
        ("2026-01-01", "50.00"),
        ("2026-02-01", "50.00"),
    ]

    # Again: everything through the target date is billed already.
    response = ops.post(API + "invoices/generate", generate)
    assert response.status_code == 200
    assert response.json()["invoices"] == [] and response.json()["errors"] == []

    schedules = ops.get(API + "billing-schedules/", {"order": order["id"]}).json()["results"]
    assert schedules[0]["id"] == schedule["id"]
    assert (schedules[0]["billed_amount"], schedules[0]["next_billing_date"]) == (
        "100.00",
        "2026-03-01",
    )

    # Void: a credit memo for the whole invoice; the periods are released.
    response = ops.post(f"{API}invoices/{invoice['id']}/void")
    assert response.status_code == 200, response.content
    voided = response.json()
    assert voided["invoice"]["status"] == "voided"
    assert voided["invoice"]["balance"] == "0.00"
    assert voided["credit_memo"]["total"] == "106.26" == invoice["total"]
    assert voided["credit_memo"]["number"] == "CM-0001"

    # Generate again: January and February are billed on a new invoice.
    response = ops.post(API + "invoices/generate", generate)
    assert response.status_code == 200, response.content
    (rebilled,) = response.json()["invoices"]
    assert (rebilled["number"], rebilled["total"]) == ("INV-0002", "106.26")

    listed = ops.get(API + "invoices/", {"account": account["id"], "ordering": "number"}).json()
    assert [(i["number"], i["status"]) for i in listed["results"]] == [
        ("INV-0001", "voided"),
        ("INV-0002", "posted"),
    ]
