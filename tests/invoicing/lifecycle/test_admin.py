"""Admin doors: void with a confirmation page, email, PDF, payment, draft edit and delete,
memo posting. Each calls the same service as the API."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core import mail
from django.urls import reverse

from invoicing.models import (
    BillingPeriodItem,
    CreditMemo,
    CreditMemoLine,
    DebitMemo,
    Invoice,
    InvoiceDocument,
    Payment,
)
from invoicing.services.memos import debit_memo_create

from .conftest import generate, schedule_state, snapshot

pytestmark = pytest.mark.django_db
d = dt.date
CHANGELIST = "admin:invoicing_invoice_changelist"


def action(client, name, ids, **extra):
    return client.post(
        reverse(CHANGELIST), {"action": name, "_selected_action": ids, **extra}, follow=True
    )


def test_void_action_asks_for_confirmation_then_voids(lw, admin_client_logged):
    invoice = generate(lw, d(2026, 1, 15))
    before = snapshot()

    page = action(admin_client_logged, "void_invoices", [invoice.pk])
    text = page.content.decode()
    assert page.status_code == 200
    assert "Voiding is final" in text and "credit memo" in text and "roll back" in text
    assert "INV-0001" in text
    assert snapshot() == before

    unconfirmed = action(admin_client_logged, "void_invoices", [invoice.pk], apply="1")
    assert "This field is required" in unconfirmed.content.decode()
    assert snapshot() == before

    done = action(
        admin_client_logged,
        "void_invoices",
        [invoice.pk],
        apply="1",
        confirm="on",
        reason="Duplicate",
    )
    assert "1 invoice(s) voided: INV-0001" in done.content.decode()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.balance) == ("voided", D("0.00"))
    assert CreditMemo.objects.get().reason == "Duplicate"


def test_void_action_reports_a_refusal(lw, admin_client_logged):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    before = snapshot()
    page = action(
        admin_client_logged, "void_invoices", [draft.pk], apply="1", confirm="on", reason=""
    )
    assert "Only a posted invoice can be voided" in page.content.decode()
    assert snapshot() == before


def test_email_pdf_and_payment_actions(lw, admin_client_logged):
    invoice = generate(lw, d(2026, 1, 15))

    sent = action(admin_client_logged, "send_invoice_emails", [invoice.pk])
    assert "Invoice emails: 1 sent." in sent.content.decode()
    assert len(mail.outbox) == 1

    action(admin_client_logged, "regenerate_pdfs", [invoice.pk])
    action(admin_client_logged, "regenerate_pdfs", [invoice.pk])
    # Version 1 was stored to attach it to the email; each regeneration adds one.
    versions = InvoiceDocument.objects.order_by("version").values_list("version", flat=True)
    assert list(versions) == [1, 2, 3]

    form = action(admin_client_logged, "record_payment", [invoice.pk])
    assert "open balance 75.77 USD" in form.content.decode()
    assert Payment.objects.count() == 0
    paid = action(
        admin_client_logged,
        "record_payment",
        [invoice.pk],
        apply="1",
        amount="75.77",
        payment_date="2026-01-20",
        reference="wire 42",
    )
    assert "balance 0.00 USD (settled)" in paid.content.decode()
    assert Payment.objects.get().reference == "wire 42"


def _change_form_data(response) -> dict:
    """The change form's current values, inline management forms included."""
    data = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            value = ""
        if hasattr(value, "pk"):
            value = value.pk
        data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
        for sub in formset.forms:
            for name in sub.fields:
                value = sub.initial.get(name, "")
                data[f"{sub.prefix}-{name}"] = getattr(value, "pk", value) or ""
            data[f"{sub.prefix}-id"] = sub.instance.pk
            data[f"{sub.prefix}-{formset.fk.name}"] = formset.instance.pk
    return data


def test_admin_draft_edit_goes_through_the_service(
    lw, admin_client_logged, django_capture_on_commit_callbacks
):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    url = reverse("admin:invoicing_invoice_change", args=[draft.pk])
    data = _change_form_data(admin_client_logged.get(url))
    data.update({"invoice_date": "2026-01-25", "description": "Edited"})

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_logged.post(url, data)

    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.invoice_date, draft.due_date, draft.description) == (
        d(2026, 1, 25),
        d(2026, 2, 24),
        "Edited",
    )


def test_delete_drafts_action_releases_the_periods(lw, admin_client_logged):
    seat_before = schedule_state(lw.seat_schedule)
    draft = generate(lw, d(2026, 1, 15), action="draft")
    before = snapshot()

    page = action(admin_client_logged, "delete_drafts", [draft.pk])
    assert "billing periods it billed are released" in page.content.decode()
    assert snapshot() == before

    done = action(admin_client_logged, "delete_drafts", [draft.pk], apply="1", confirm="on")
    assert "1 draft(s) deleted" in done.content.decode()
    assert not Invoice.objects.exists() and not BillingPeriodItem.objects.exists()
    assert schedule_state(lw.seat_schedule) == seat_before

    posted_later = generate(lw, d(2026, 1, 15))
    refused = action(
        admin_client_logged, "delete_drafts", [posted_later.pk], apply="1", confirm="on"
    )
    assert "a posted invoice cannot be deleted" in refused.content.decode()
    assert Invoice.objects.filter(pk=posted_later.pk).exists()


def test_memo_post_actions(lw, admin_client_logged):
    credit = CreditMemo.objects.create(account=lw.account, currency="USD", memo_date=d(2026, 1, 5))
    CreditMemoLine.objects.create(credit_memo=credit, name="Goodwill", amount=D("12.00"))
    admin_client_logged.post(
        reverse("admin:invoicing_creditmemo_changelist"),
        {"action": "post_credit_memos", "_selected_action": [credit.pk]},
    )
    credit.refresh_from_db()
    assert (credit.status, credit.total, credit.balance) == ("posted", D("12.00"), D("12.00"))

    debit = debit_memo_create(
        account_id=lw.account.pk, lines=[{"name": "Late fee", "unit_price": "9.00"}]
    )
    url = reverse("admin:invoicing_debitmemo_changelist")
    admin_client_logged.post(url, {"action": "post_debit_memos", "_selected_action": [debit.pk]})
    debit.refresh_from_db()
    assert debit.status == "posted"
    done = admin_client_logged.post(
        url, {"action": "invoice_debit_memos", "_selected_action": [debit.pk]}, follow=True
    )
    debit.refresh_from_db()
    assert debit.status == "invoiced"
    assert f"draft invoice #{debit.invoice_id}" in done.content.decode()
    assert DebitMemo.objects.get().invoice.total == D("9.74")  # 9.00 + 0.56 + 0.18
