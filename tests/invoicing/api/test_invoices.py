"""invoicing/api/invoices.py: invoices (list, retrieve, PATCH and DELETE while draft),
send-email, pdf, and amounts as decimal strings in the currency's minor unit. Generate,
preview and post through the API are in tests/invoicing/test_doors.py and
tests/test_api_end_to_end.py; ingest in test_invoices_ingest.py."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core import mail
from django.urls import reverse

from billing.models import BillingSchedule
from invoicing.models import BillingPeriodItem, Invoice
from invoicing.services.hosted_links import hosted_document_resolve
from tests.factories import InvoiceBatchRunFactory, InvoiceFactory
from tests.support.invoicing import generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date
API = "/api/v1/"


# --- the list -----------------------------------------------------------------------------------


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


def test_amount_strings_follow_the_currency(reader, world):
    InvoiceFactory(account=world.account, currency="JPY", total=D("1235"), balance=D("1235"))
    (row,) = reader.get(API + "invoices/", {"currency": "JPY"}).json()["results"]
    assert (row["total"], row["balance"]) == ("1235", "1235")


# --- one invoice --------------------------------------------------------------------------------


def test_send_email(lw, api):
    invoice = generate(lw, d(2026, 1, 15))
    response = api.post(reverse("invoice-send-email", args=[invoice.pk]), {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "sent"
    assert mail.outbox[0].to == ["ap@example.com"]

    override = api.post(
        reverse("invoice-send-email", args=[invoice.pk]), {"to": "cfo@x.example"}, format="json"
    )
    assert override.json()["status"] == "sent" and mail.outbox[1].to == ["cfo@x.example"]

    bad = api.post(reverse("invoice-send-email", args=[invoice.pk]), {"to": "nope"}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")
    assert api.post(reverse("invoice-send-email", args=[999999])).status_code == 404
    assert len(mail.outbox) == 2


def test_pdf(lw, api):
    invoice = generate(lw, d(2026, 1, 15))
    response = api.get(reverse("invoice-pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="INV-0001.pdf"'
    assert response.content.startswith(b"%PDF")
    assert invoice.documents.count() == 1  # stored once, then served
    api.get(reverse("invoice-pdf", args=[invoice.pk]))
    assert invoice.documents.count() == 1

    draft = generate(lw, d(2026, 2, 15), action="draft")
    preview = api.get(reverse("invoice-pdf", args=[draft.pk]))
    assert preview.status_code == 200 and preview.content.startswith(b"%PDF")
    assert draft.documents.count() == 0  # drafts are rendered, not stored
    assert api.get(reverse("invoice-pdf", args=[999999])).status_code == 404


def test_hosted_url_on_posted_invoices_only(lw, api):
    posted = generate(lw, d(2026, 1, 15))
    draft = generate(lw, d(2026, 2, 15), action="draft")

    url = api.get(reverse("invoice-edit", args=[posted.pk])).json()["hosted_url"]
    assert url.startswith("http://127.0.0.1:8000/d/") and url.endswith("/")
    assert hosted_document_resolve(url.removeprefix("http://127.0.0.1:8000/d/")[:-1]) == posted
    assert api.get(reverse("invoice-edit", args=[draft.pk])).json()["hosted_url"] is None
    listed = {i["id"]: i["hosted_url"] for i in api.get(API + "invoices/").json()["results"]}
    assert listed[draft.pk] is None and listed[posted.pk].startswith("http://127.0.0.1:8000/d/")


def test_patch_and_delete_while_draft(lw, api):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    url = reverse("invoice-edit", args=[draft.pk])

    assert api.get(url).json()["total"] == "75.77"
    patched = api.patch(
        url, {"invoice_date": "2026-01-20", "description": "January"}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["due_date"], patched.json()["description"]) == ("2026-02-19", "January")

    added = api.post(
        reverse("invoice-adjustments", args=[draft.pk]),
        {"name": "Goodwill credit", "unit_price": "-10.00"},
        format="json",
    )
    assert added.status_code == 201, added.content
    # -10.00: tax -0.625 → -0.63 and -0.20; 75.77 - 10.83 = 64.94.
    assert (added.json()["total_adjustments"], added.json()["total"]) == ("-10.00", "64.94")
    line_id = added.json()["lines"][-1]["id"]
    edited = api.patch(
        reverse("invoice-adjustment-detail", args=[draft.pk, line_id]),
        {"unit_price": "-20.00"},
        format="json",
    )
    assert edited.json()["total"] == "54.12"  # 75.77 - 20.00 - 1.25 - 0.40
    removed = api.delete(reverse("invoice-adjustment-detail", args=[draft.pk, line_id]))
    assert removed.json()["total"] == "75.77"

    bad = api.patch(url, {}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")
    assert api.patch(reverse("invoice-edit", args=[999999]), {"description": "x"}).status_code == (
        404
    )

    deleted = api.delete(url)
    assert deleted.status_code == 204
    assert not Invoice.objects.exists() and not BillingPeriodItem.objects.exists()
    assert api.get(url).status_code == 404


def test_posted_invoice_edit_and_delete_are_refused(lw, api):
    posted = generate(lw, d(2026, 1, 15))
    url = reverse("invoice-edit", args=[posted.pk])
    before = snapshot()
    patched = api.patch(url, {"description": "x"}, format="json")
    assert (patched.status_code, patched.json()["code"]) == (409, "invoice_immutable")
    deleted = api.delete(url)
    assert (deleted.status_code, deleted.json()["code"]) == (409, "invoice_immutable")
    assert snapshot() == before


# --- generate and preview: unknown references are refused ------------------------------------


def test_generate_refuses_unknown_references_and_writes_nothing(ops, api_world):
    (schedule,) = BillingSchedule.objects.filter(order=api_world.order)
    next_number = api_world.policy.next_value
    cases = [
        ({"account": 999999}, "account", "Account 999999 does not exist."),
        ({"order": 999999}, "order", "Order 999999 does not exist."),
        (
            {"billing_schedule_ids": [schedule.pk, 999998, 999999]},
            "billing_schedule_ids",
            "Billing schedules 999998, 999999 do not exist.",
        ),
        (
            {"order": api_world.order.pk, "account": 999999},
            "account",
            "Account 999999 does not exist.",
        ),
    ]
    for body, field, message in cases:
        response = ops.post(
            reverse("invoice-generate"),
            {**body, "target_date": "2026-01-31", "action": "posted"},
            format="json",
        )
        assert response.status_code == 404, response.content
        assert response.json() == {
            "code": "not_found",
            "message": message,
            "details": {field: [message]},
        }
    assert (Invoice.objects.count(), BillingPeriodItem.objects.count()) == (0, 0)
    schedule.refresh_from_db()
    assert schedule.next_billing_date == d(2026, 1, 1)
    api_world.policy.refresh_from_db()
    assert api_world.policy.next_value == next_number


def test_preview_refuses_unknown_references(ops, api_world):
    for body, field, message in [
        ({"order": 999999}, "order", "Order 999999 does not exist."),
        ({"account": 999999}, "account", "Account 999999 does not exist."),
    ]:
        response = ops.post(reverse("invoice-preview"), body, format="json")
        assert response.status_code == 404, response.content
        assert response.json() == {
            "code": "not_found",
            "message": message,
            "details": {field: [message]},
        }
