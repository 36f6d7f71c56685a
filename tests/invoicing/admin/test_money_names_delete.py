"""The invoicing admin as people read it (core/admin_money.py, the models' names): amounts at
their currency's precision with the currency, rows named by what they are, and no Delete on
posted documents (drafts are deleted through their services)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    DebitMemo,
    DebitMemoLine,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceDocument,
    InvoiceEmail,
    Payment,
)
from tests import factories

pytestmark = pytest.mark.django_db
d = dt.date


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _text(response) -> str:
    return response.content.decode()


@pytest.fixture
def posted():
    """A posted USD invoice of 5,232.00 (+ 327.00 tax) with a line of 10 × 523.20 and its
    tax row, a payment of 1,000.00, and a billed period."""
    invoice = factories.InvoiceFactory(
        posted=True,
        number="INV-000777",
        total_charges=D("5232.00"),
        total_tax=D("327.00"),
        total=D("5559.00"),
        balance=D("4559.00"),
    )
    line = factories.InvoiceLineFactory(
        invoice=invoice,
        sort_order=3,
        name="Analytics seats",
        quantity=D("10"),
        unit_price=D("523.2"),
        amount=D("5232.00"),
        tax_amount=D("327.00"),
    )
    factories.InvoiceLineTaxFactory(line=line, name="TX state tax", rate=D("6.25"))
    Payment.objects.create(
        invoice=invoice,
        account=invoice.account,
        amount=D("1000.00"),
        currency="USD",
        payment_date=d(2026, 1, 20),
        reference="WIRE-1",
    )
    schedule = factories.BillingScheduleFactory(period_amount=D("5232.00"), currency="USD")
    factories.BillingPeriodItemFactory(
        schedule=schedule, invoice=invoice, invoice_line=line, invoice_status="posted"
    )
    return invoice


# --- money ------------------------------------------------------------------------------------


def test_the_invoice_list_shows_amounts_with_their_currency(admin_client_logged, posted):
    jpy = factories.InvoiceFactory(
        account__currency="JPY", currency="JPY", total=D("120000"), balance=D("120000")
    )
    text = _text(admin_client_logged.get(_url(Invoice, "changelist")))
    assert '<td class="field-total_shown">5,559.00 USD</td>' in text
    assert '<td class="field-balance_shown">4,559.00 USD</td>' in text
    assert '<td class="field-total_shown">120,000 JPY</td>' in text
    assert "5559.0000" not in text and "120000.0000" not in text
    assert jpy.pk


def test_a_posted_invoice_page_shows_money_lines_and_payments_for_people(
    admin_client_logged, posted
):
    text = _text(admin_client_logged.get(_url(Invoice, "change", posted.pk)))
    # Read-only totals (a posted invoice is view-only).
    assert '<div class="readonly">5,232.00 USD</div>' in text
    assert '<div class="readonly">5,559.00 USD</div>' in text
    # The line, its tax, the billed period and the payment, each named for people.
    assert "Line 3: Analytics seats (10 × 523.20)" in text
    assert "TX state tax 6.25 %: 327.00 USD" in text
    assert "<p>523.20 USD</p>" in text and "<p>10</p>" in text
    assert f"{posted.period_items.get().schedule} 2026-01-01–2026-01-31: 5,232.00 USD" in text
    assert "Payment of 1,000.00 USD on INV-000777 (2026-01-20)" in text
    assert " object (" not in text
    assert "5232.0000" not in text and "10.000000" not in text and "523.200000" not in text


def test_a_draft_keeps_its_inputs_and_shows_computed_money(admin_client_logged):
    draft = factories.InvoiceFactory(total=D("80.5"), balance=D("80.5"))
    factories.InvoiceLineFactory(invoice=draft, sort_order=1, name="Setup", unit_price=D("80.5"))
    response = admin_client_logged.get(_url(Invoice, "change", draft.pk))
    form = response.context["adminform"].form
    assert "invoice_date" in form.fields and "description" in form.fields  # still inputs
    assert "total" not in form.fields and "total_shown" not in form.fields
    text = _text(response)
    assert '<div class="readonly">80.50 USD</div>' in text
    assert "Line 1: Setup (1 × 80.50)" in text


def test_memo_and_schedule_lists_show_money(admin_client_logged, posted):
    memo = CreditMemo.objects.create(
        account=posted.account,
        currency="EUR",
        memo_date=d(2026, 2, 1),
        total=D("1234.5"),
        balance=D("1234.5"),
    )
    CreditMemoLine.objects.create(
        credit_memo=memo, sort_order=1, name="Goodwill", unit_price=D("1234.5"), amount=D("1234.5")
    )
    text = _text(admin_client_logged.get(_url(CreditMemo, "changelist")))
    assert '<td class="field-total_shown">1,234.50 EUR</td>' in text
    text = _text(admin_client_logged.get(_url(CreditMemoLine, "changelist")))
    assert "Line 1: Goodwill (1 × 1,234.50)" in text
    text = _text(admin_client_logged.get(reverse("admin:billing_billingschedule_changelist")))
    assert '<td class="field-period_amount_shown">5,232.00 USD</td>' in text


# --- names ------------------------------------------------------------------------------------


def test_every_row_is_named_by_what_it_is(posted):
    line = posted.lines.get()
    tax = line.taxes.get()
    assert str(line) == "Line 3: Analytics seats (10 × 523.20)"
    assert str(tax) == "TX state tax 6.25 %: 327.00 USD"
    tax.rate = D("0")
    assert str(tax) == "TX state tax: 327.00 USD"  # a flat tax has no rate to show
    assert str(posted.payments.get()) == "Payment of 1,000.00 USD on INV-000777 (2026-01-20)"

    memo = CreditMemo.objects.create(
        account=posted.account,
        currency="USD",
        number="CM-000001",
        status="posted",
        memo_date=d(2026, 2, 1),
        total=D("30"),
        balance=D("0"),
    )
    memo_line = CreditMemoLine.objects.create(
        credit_memo=memo, sort_order=1, name="Refund", quantity=D("2"), unit_price=D("15"),
        amount=D("30"),
    )  # fmt: skip
    memo_tax = CreditMemoLineTax.objects.create(
        line=memo_line, name="VAT", rate=D("19"), amount=D("5.7")
    )
    application = CreditMemoApplication.objects.create(
        credit_memo=memo, invoice=posted, amount=D("30"), applied_date=d(2026, 2, 2)
    )
    debit = DebitMemo.objects.create(
        account=posted.account,
        currency="JPY",
        memo_date=d(2026, 2, 1),
        next_billing_date=d(2026, 2, 28),
        total=D("1500"),
    )
    debit_line = DebitMemoLine.objects.create(
        debit_memo=debit, sort_order=2, name="Late fee", quantity=D("1.5"), unit_price=D("1000"),
        amount=D("1500"),
    )  # fmt: skip
    run = InvoiceBatchRun.objects.create()
    key = InvoiceBatchRunKey.objects.create(run=run, chunk=4, key="acct:12|USD|entity:1")
    document = InvoiceDocument.objects.create(invoice=posted, version=2, status="ready")
    email = InvoiceEmail.objects.create(invoice=posted, to="ap@acme.example", status="sent")

    assert str(memo_line) == "Line 1: Refund (2 × 15.00)"
    assert str(memo_tax) == "VAT 19 %: 5.70 USD"
    assert str(application) == "30.00 USD of CM-000001 applied to INV-000777 on 2026-02-02"
    assert str(debit_line) == "Line 2: Late fee (1.5 × 1,000)"
    assert str(key) == f"Run {run.pk}, chunk 4: acct:12|USD|entity:1 (pending)"
    assert str(document) == "INV-000777 PDF v2 (ready)"
    assert str(email) == "Email of INV-000777 to ap@acme.example (sent)"


# --- no Delete on posted documents ------------------------------------------------------------


@pytest.mark.parametrize("model", [Invoice, CreditMemo, DebitMemo])
def test_posted_documents_offer_no_delete(admin_client_logged, posted, model):
    if model is Invoice:
        document = posted
    elif model is CreditMemo:
        document = CreditMemo.objects.create(
            account=posted.account, currency="USD", number="CM-9", status="posted",
            memo_date=d(2026, 2, 1), total=D("5"), balance=D("5"),
        )  # fmt: skip
    else:
        document = DebitMemo.objects.create(
            account=posted.account, currency="USD", status="posted", memo_date=d(2026, 2, 1),
            next_billing_date=d(2026, 2, 28), total=D("5"),
        )  # fmt: skip
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = admin_client_logged.get(_url(model, "changelist")).wsgi_request.user

    assert model_admin.has_delete_permission(request, document) is False
    assert "delete_selected" not in model_admin.get_actions(request)
    page = _text(admin_client_logged.get(_url(model, "change", document.pk)))
    assert 'class="deletelink"' not in page
    assert admin_client_logged.get(_url(model, "delete", document.pk)).status_code == 403
    assert (
        admin_client_logged.post(_url(model, "delete", document.pk), {"post": "yes"}).status_code
        == 403
    )
    assert model.objects.filter(pk=document.pk).exists()


def test_a_draft_is_deleted_through_its_service(admin_client_logged, monkeypatch):
    draft = factories.InvoiceFactory()
    calls = []
    monkeypatch.setattr(
        "invoicing.admin.invoices.invoice_draft_delete",
        lambda *, invoice_id: (
            calls.append(invoice_id) or Invoice.objects.filter(pk=invoice_id).delete()
        ),
    )
    page = _text(admin_client_logged.get(_url(Invoice, "change", draft.pk)))
    assert 'class="deletelink"' in page
    response = admin_client_logged.post(_url(Invoice, "delete", draft.pk), {"post": "yes"})
    assert response.status_code == 302
    assert calls == [draft.pk] and not Invoice.objects.filter(pk=draft.pk).exists()
