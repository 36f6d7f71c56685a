"""invoicing/api/memos_payments.py: an invoice's void (answered with its credit memo) and
payments, credit-memos and debit-memos: success, validation error, 404, refusals."""

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import SavedPaymentMethod
from invoicing.models import CreditMemo, DebitMemo
from tests.factories import make_account
from tests.support.invoicing import generate, snapshot

pytestmark = pytest.mark.django_db
d = dt.date


def test_void_answers_invoice_and_credit_memo(lw, api):
    invoice = generate(lw, d(2026, 1, 15))

    response = api.post(
        reverse("invoice-void", args=[invoice.pk]), {"reason": "Wrong seats"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"invoice", "credit_memo"}
    assert (body["invoice"]["status"], body["invoice"]["number"]) == ("voided", "INV-0001")
    assert (body["invoice"]["total"], body["invoice"]["balance"]) == ("75.77", "0.00")
    memo = body["credit_memo"]
    assert (memo["total"], memo["balance"], memo["note"], memo["invoice"]) == (
        "75.77",
        "0.00",
        "Wrong seats",
        invoice.pk,
    )
    assert [(x["name"], x["amount"], x["tax_amount"]) for x in memo["lines"]] == [
        ("Seat", "50.00", "4.13"),
        ("Premium support", "19.99", "1.65"),
    ]
    assert [(t["name"], t["amount"]) for t in memo["lines"][0]["taxes"]] == [
        ("TX state tax", "3.13"),
        ("Austin city tax", "1.00"),
    ]
    (application,) = memo["applications"]
    assert {k: v for k, v in application.items() if k not in ("id", "applied_at")} == {
        "invoice": invoice.pk,
        "invoice_line": None,
        "amount": "75.77",
        "applied_date": memo["memo_date"],
        "applied_by": "ops",
        "unapplied_at": None,
        "unapplied_by": "",
    }

    again = api.post(reverse("invoice-void", args=[invoice.pk]))
    assert again.status_code == 409
    assert again.json()["code"] == "invoice_not_posted"


def test_void_refusals_and_404(lw, api):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    before = snapshot()
    refused = api.post(reverse("invoice-void", args=[draft.pk]))
    assert refused.status_code == 409
    assert refused.json()["code"] == "invoice_not_posted"
    assert refused.json()["details"] == {"invoice": draft.pk, "status": "draft"}
    bad = api.post(reverse("invoice-void", args=[draft.pk]), {"void_date": "x"}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")
    assert "void_date" in bad.json()["details"]
    missing = api.post(reverse("invoice-void", args=[999999]))
    assert missing.status_code == 404
    assert snapshot() == before
    assert APIClient().post(reverse("invoice-void", args=[draft.pk])).status_code in (401, 403)


def test_payments(lw, api):
    invoice = generate(lw, d(2026, 1, 15))
    card = SavedPaymentMethod.objects.get(account=lw.account)
    url = reverse("invoice-payments", args=[invoice.pk])

    response = api.post(
        url,
        {"amount": "25.77", "date": "2026-01-20", "saved_payment_method": card.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert (response.json()["balance"], response.json()["settlement_status"]) == (
        "50.00",
        "partially_settled",
    )

    over = api.post(url, {"amount": "50.01", "date": "2026-01-21"}, format="json")
    assert (over.status_code, over.json()["code"]) == (409, "payment_exceeds_balance")
    missing_date = api.post(url, {"amount": "5.00"}, format="json")
    assert (missing_date.status_code, missing_date.json()["code"]) == (400, "invalid")
    assert "date" in missing_date.json()["details"]
    assert api.post(reverse("invoice-payments", args=[999999]), {}).status_code == 404

    full = api.post(url, {"amount": "50.00", "date": "2026-01-22"}, format="json")
    assert (full.json()["balance"], full.json()["settlement_status"]) == ("0.00", "settled")


def test_credit_memos_list_and_retrieve(lw, api):
    invoice = generate(lw, d(2026, 1, 15))
    api.post(reverse("invoice-void", args=[invoice.pk]))
    listing = api.get(reverse("credit-memo-list"), {"account": lw.account.pk})
    assert listing.status_code == 200
    body = listing.json()
    assert body["count"] == 1 and body["results"][0]["total"] == "75.77"
    memo_id = body["results"][0]["id"]
    other = make_account("Other Co", seller=lw.seller)
    assert api.get(reverse("credit-memo-list"), {"account": other.pk}).json()["count"] == 0
    unknown = api.get(reverse("credit-memo-list"), {"account": 999999})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid")
    detail = api.get(reverse("credit-memo-detail", args=[memo_id]))
    assert detail.json()["invoice"] == invoice.pk
    assert api.get(reverse("credit-memo-detail", args=[999999])).status_code == 404


def test_debit_memos_create_list_post_invoice(lw, api):
    url = reverse("debit-memo-list")
    created = api.post(
        url,
        {
            "account": lw.account.pk,
            "reason": "Late payment",
            "next_billing_date": "2026-02-01",
            "lines": [
                {"name": "Late fee", "unit_price": "25.00"},
                {"name": "Courier", "quantity": "2", "unit_price": "7.50", "taxable": False},
            ],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    memo = created.json()
    assert (memo["status"], memo["total"], memo["currency"]) == ("draft", "40.00", "USD")
    assert [(x["name"], x["amount"], x["taxable"]) for x in memo["lines"]] == [
        ("Late fee", "25.00", True),
        ("Courier", "15.00", False),
    ]

    listing = api.get(url, {"status": "draft"})
    assert listing.json()["count"] == 1
    assert api.get(reverse("debit-memo-detail", args=[memo["id"]])).json()["total"] == "40.00"
    assert api.get(reverse("debit-memo-detail", args=[999999])).status_code == 404

    posted = api.post(reverse("debit-memo-post", args=[memo["id"]]))
    assert posted.json()["status"] == "posted"
    again = api.post(reverse("debit-memo-post", args=[memo["id"]]))
    assert (again.status_code, again.json()["code"]) == (409, "debit_memo_not_draft")

    invoiced = api.post(
        reverse("debit-memo-invoice", args=[memo["id"]]),
        {"invoice_date": "2026-02-01"},
        format="json",
    )
    assert invoiced.status_code == 201, invoiced.content
    # 25.00 taxed (1.5625 → 1.56, 0.50), 15.00 untaxed.
    assert (invoiced.json()["source"], invoiced.json()["total"]) == ("debit_memo", "42.06")
    assert DebitMemo.objects.get().status == "invoiced"


def test_debit_memo_validation_errors(lw, api):
    url = reverse("debit-memo-list")
    empty = api.post(url, {"account": lw.account.pk, "lines": []}, format="json")
    assert (empty.status_code, empty.json()["code"]) == (400, "invalid")
    assert empty.json()["details"] == {"lines.non_field_errors": ["This list may not be empty."]}
    negative = api.post(
        url,
        {"account": lw.account.pk, "lines": [{"name": "x", "unit_price": "-1"}]},
        format="json",
    )
    assert negative.status_code == 400
    assert "lines[0].unit_price" in negative.json()["details"]
    unknown = api.post(
        url, {"account": 999999, "lines": [{"name": "x", "unit_price": "1"}]}, format="json"
    )
    assert (unknown.status_code, list(unknown.json()["details"])) == (400, ["account"])
    assert DebitMemo.objects.count() == 0 and CreditMemo.objects.count() == 0


def test_a_retried_void_with_the_same_idempotency_key_voids_once(lw, api):
    invoice = generate(lw, d(2026, 1, 15))
    url = reverse("invoice-void", args=[invoice.pk])
    first = api.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="void-7")
    second = api.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="void-7")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert CreditMemo.objects.count() == 1
