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
            "date_format": "YYYY",
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


ACCEPTED = "Accepted: YYYY, MM-YYYY, MM-DD-YYYY, YYYY-YY (fiscal year)."


@pytest.mark.parametrize("date_format", ["%Y", "%y", "yy", "INV", ""])
def test_a_sequence_policy_stamp_outside_the_reference_formats_is_refused(admin, date_format):
    response = admin.post(
        API + "sequence-policies/",
        {"name": "Bad", "pattern": "INV-{DATE}-{SEQ}", "date_format": date_format},
    )

    assert response.status_code == 400
    message = f'"{date_format}" is not a date stamp format. {ACCEPTED}'
    assert response.json() == {
        "code": "invalid",
        "message": f"date_format: {message}",
        "details": {"date_format": [message]},
    }
    assert not SequencePolicy.objects.exists()


def test_a_sequence_policy_update_to_a_strftime_stamp_is_refused(admin, world):
    policy = SequencePolicy.objects.create(name="US", pattern="INV-{DATE}-{SEQ}")

    response = admin.patch(
        f"{API}sequence-policies/{policy.pk}",
        {"date_format": "%Y-%m", "fiscal_year_start_month": 13},
    )

    assert response.status_code == 400
    assert response.json()["details"] == {
        "date_format": [f'"%Y-%m" is not a date stamp format. {ACCEPTED}'],
        "fiscal_year_start_month": ["Ensure this value is less than or equal to 12."],
    }
    policy.refresh_from_db()
    assert (policy.date_format, policy.fiscal_year_start_month) == ("YYYY", 1)


def test_a_sequence_policy_stamp_is_matched_regardless_of_case(admin):
    response = admin.post(
        API + "sequence-policies/",
        {"name": "EU", "pattern": "EU-{DATE}-{SEQ}", "date_format": "MM-dd-yyyy"},
    )

    assert response.status_code == 201, response.content
    assert response.json()["date_format"] == "MM-DD-YYYY"
    assert SequencePolicy.objects.get().date_format == "MM-DD-YYYY"


@pytest.mark.parametrize(
    ("policy", "number"),
    [
        ({"date_format": "YYYY"}, "INV-2026-000001"),
        ({"date_format": "MM-YYYY"}, "INV-02-2026-000001"),
        ({"date_format": "MM-DD-YYYY"}, "INV-02-15-2026-000001"),
        ({"date_format": "YYYY-YY", "fiscal_year_start_month": 4}, "INV-2025-26-000001"),
    ],
)
def test_an_outside_client_numbers_invoices_with_a_reference_stamp(
    admin, ops, world, policy, number
):
    """Only what ../shared/API.md names: a policy, an order, its activation, posted invoices."""
    response = admin.post(
        API + "sequence-policies/",
        {"name": "Invoices", "pattern": "INV-{DATE}-{SEQ}", "legal_entity": world.seller.pk}
        | policy,
    )
    assert response.status_code == 201, response.content
    assert response.json()["fiscal_year_start_month"] == policy.get("fiscal_year_start_month", 1)
    item = {
        "product": world.seat.pk,
        "quantity": "10",
        "unit_price": "5.00",
        "pricing_term": "month",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "billing_frequency": "monthly",
    }
    order = ops.post(API + "orders/", {"account": world.account.pk, "items": [item]})
    assert order.status_code == 201, order.content
    assert ops.post(f"{API}orders/{order.json()['id']}/activate").status_code == 200

    response = ops.post(
        API + "invoices/generate",
        {"order": order.json()["id"], "target_date": "2026-02-15", "action": "posted"},
    )

    assert response.status_code == 200, response.content
    (invoice,) = response.json()["invoices"]
    assert (invoice["invoice_date"], invoice["status"], invoice["number"]) == (
        "2026-02-15",
        "posted",
        number,
    )
