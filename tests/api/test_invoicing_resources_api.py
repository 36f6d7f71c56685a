"""invoices (list), billing-schedules, tax-rates, sequence-policies, error-logs."""

from decimal import Decimal as D

import pytest

from billing.models import BillingSchedule
from invoicing.models import ErrorLog, Invoice, SequencePolicy, TaxRate
from invoicing.services.errors import error_log_record
from invoicing.services.generation import invoices_generate
from tests.factories import InvoiceBatchRunFactory, InvoiceFactory

pytestmark = pytest.mark.django_db
API = "/api/v1/"


@pytest.fixture
def invoiced(billed):
    """Jan and Feb posted (INV-0001, INV-0002), March a draft."""
    import datetime as dt

    for month, action in ((1, "posted"), (2, "posted"), (3, "draft")):
        invoices_generate(
            account_id=billed.account.pk,
            target_date=dt.date(2026, month, 1),
            action=action,
        )
    billed.invoices = list(Invoice.objects.order_by("id"))
    return billed


# --- invoices ---------------------------------------------------------------------------------


def test_invoice_list_filters_and_ordering(reader, invoiced):
    jan, feb, mar = invoiced.invoices
    data = reader.get(API + "invoices/").json()
    assert data["count"] == 3 and data["next"] is None
    assert [i["id"] for i in data["results"]] == [mar.pk, feb.pk, jan.pk]
    first = data["results"][-1]
    assert (first["number"], first["total"], first["status"]) == ("INV-0001", "53.13", "posted")
    assert first["lines"][0]["taxes"][0]["amount"] == "3.13"

    def ids(**params):
        return [i["id"] for i in reader.get(API + "invoices/", params).json()["results"]]

    assert ids(status="draft") == [mar.pk]
    assert ids(number="INV-0002") == [feb.pk]
    assert ids(account=invoiced.account.pk, ordering="invoice_date") == [jan.pk, feb.pk, mar.pk]
    assert ids(invoice_date_after="2026-02-01", invoice_date_before="2026-02-28") == [feb.pk]
    assert ids(invoice_date_after="2026-02-01", ordering="number") == [feb.pk, mar.pk]
    assert ids(ordering="-total")[0] in (jan.pk, feb.pk, mar.pk)
    run = InvoiceBatchRunFactory()
    Invoice.objects.filter(pk=jan.pk).update(batch_run=run)
    assert ids(batch_run=run.pk) == [jan.pk]
    response = reader.get(API + "invoices/", {"account": 999999})
    assert response.status_code == 400 and list(response.json()["details"]) == ["account"]


def test_invoice_list_bad_filters_and_pagination(reader, invoiced):
    response = reader.get(API + "invoices/", {"invoice_date_after": "soon"})
    assert response.status_code == 400
    assert list(response.json()["details"]) == ["invoice_date"]
    response = reader.get(API + "invoices/", {"status": "lost"})
    assert response.status_code == 400 and list(response.json()["details"]) == ["status"]
    page = reader.get(API + "invoices/", {"page": 9})
    assert page.status_code == 404 and page.json()["code"] == "not_found"
    assert reader.post(API + "invoices/", {}).status_code == 403


def test_invoice_retrieve_and_404(reader, invoiced):
    jan = invoiced.invoices[0]
    assert reader.get(f"{API}invoices/{jan.pk}").json()["number"] == "INV-0001"
    assert reader.get(f"{API}invoices/999999").status_code == 404


# --- billing schedules ------------------------------------------------------------------------


def test_billing_schedules_with_their_period_items(reader, invoiced):
    schedule = BillingSchedule.objects.get()
    data = reader.get(API + "billing-schedules/", {"account": invoiced.account.pk}).json()
    assert data["count"] == 1
    (row,) = data["results"]
    assert (row["id"], row["status"], row["currency"]) == (
        schedule.pk,
        "ready_for_invoicing",
        "USD",
    )
    assert (row["period_amount"], row["total_amount"], row["billed_amount"]) == (
        "50.00",
        "600.00",
        "150.00",
    )
    assert row["pending_amount"] == "450.00"
    assert row["next_billing_date"] == "2026-04-01"
    items = row["period_items"]
    assert [(i["period_start"], i["amount"], i["invoice_status"]) for i in items] == [
        ("2026-01-01", "50.00", "posted"),
        ("2026-02-01", "50.00", "posted"),
        ("2026-03-01", "50.00", "draft"),
    ]
    assert items[0]["invoice"] == invoiced.invoices[0].pk
    assert reader.get(f"{API}billing-schedules/{schedule.pk}").json()["id"] == schedule.pk


def test_billing_schedule_filters_404_and_no_writes(reader, admin, invoiced):
    def count(**params):
        return reader.get(API + "billing-schedules/", params).json()["count"]

    assert count(order=invoiced.order.pk) == 1
    assert count(status="completely_billed") == 0
    assert count(status="ready_for_invoicing") == 1
    assert reader.get(API + "billing-schedules/", {"order": "x"}).status_code == 400
    assert reader.get(API + "billing-schedules/999999").status_code == 404
    schedule = BillingSchedule.objects.get()
    assert admin.patch(f"{API}billing-schedules/{schedule.pk}", {}).status_code == 405
    assert reader.patch(f"{API}billing-schedules/{schedule.pk}", {}).status_code == 403


# --- tax rates --------------------------------------------------------------------------------


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


# --- error logs -------------------------------------------------------------------------------


def test_error_logs_list_and_filters(reader, world):
    run = InvoiceBatchRunFactory()
    invoice = InvoiceFactory(account=world.account)
    other = InvoiceFactory(account=world.account)
    error_log_record(
        category="posting",
        code="no_sequence_policy",
        message="No policy.",
        primary=invoice,
        batch_run=run,
    )
    error_log_record(category="tax", code="tax_engine_error", message="Down.", primary=other)
    data = reader.get(API + "error-logs/").json()
    assert data["count"] == 2

    def codes(**params):
        response = reader.get(API + "error-logs/", params)
        assert response.status_code == 200, response.content
        return [e["code"] for e in response.json()["results"]]

    assert codes(batch_run=run.pk) == ["no_sequence_policy"]
    assert codes(category="tax") == ["tax_engine_error"]
    assert codes(primary=f"invoice:{invoice.pk}") == ["no_sequence_policy"]
    assert codes(primary=f"invoicing.invoice:{other.pk}") == ["tax_engine_error"]
    assert codes(primary="invoice:x") == []
    row = reader.get(API + "error-logs/", {"category": "posting"}).json()["results"][0]
    assert row["primary"] == {"type": "invoicing.invoice", "id": invoice.pk}
    assert row["related"] is None and row["batch_run"] == run.pk
    assert reader.get(API + "error-logs/", {"category": "bogus"}).status_code == 400
    assert reader.post(API + "error-logs/", {}).status_code == 403
    assert ErrorLog.objects.count() == 2


def test_amount_strings_follow_the_currency(reader, world):
    InvoiceFactory(account=world.account, currency="JPY", total=D("1235"), balance=D("1235"))
    (row,) = reader.get(API + "invoices/", {"currency": "JPY"}).json()["results"]
    assert (row["total"], row["balance"]) == ("1235", "1235")
