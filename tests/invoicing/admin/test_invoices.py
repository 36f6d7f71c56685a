"""The invoice admin's doors (invoicing/admin/invoices.py), through the admin's own views:
each page and action calls its service, posted documents are read-only, refusals change
nothing."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core import mail
from django.urls import reverse

from invoicing.models import (
    BillingPeriodItem,
    CreditMemo,
    Invoice,
    InvoiceAddress,
    InvoiceDocument,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
    Payment,
    TaxRate,
)
from tests import factories
from tests.support.invoicing import generate, schedule_state, snapshot

pytestmark = pytest.mark.django_db
d = dt.date
CHANGELIST = "admin:invoicing_invoice_changelist"
TOTALS = ("total_charges", "total_adjustments", "total_tax", "total", "balance")


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def action(client, name, ids, **extra):
    return client.post(
        reverse(CHANGELIST), {"action": name, "_selected_action": ids, **extra}, follow=True
    )


def totals(invoice) -> tuple:
    invoice.refresh_from_db()
    return tuple(getattr(invoice, name) for name in TOTALS)


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


@pytest.fixture
def texas_draft():
    """A draft billed to Austin, TX, where a 6.25 % state tax applies; nothing on it yet."""
    TaxRate.objects.create(name="TX state tax", rate=D("6.25"), country="US", region="TX")
    invoice = factories.InvoiceFactory()
    factories.InvoiceAddressFactory(invoice=invoice, city="Austin", region="TX")
    return invoice


def _adjustment(invoice, **overrides) -> dict:
    return {
        "invoice": invoice.pk,
        "name": "Setup fee",
        "description": "",
        "quantity": "2",
        "unit_price": "40.00",
        "taxable": "on",
        "tax_code": "",
        "taxes-TOTAL_FORMS": "0",
        "taxes-INITIAL_FORMS": "0",
        **overrides,
    }


# --- posted documents are read-only --------------------------------------------------------


@pytest.mark.parametrize("trait", ["posted", "voided"])
def test_posted_invoice_change_page_is_read_only(admin_client_logged, trait):
    invoice = factories.InvoiceFactory(**{trait: True}, description="as posted")
    line = factories.InvoiceLineFactory(invoice=invoice, name="Hosting")
    factories.InvoiceAddressFactory(invoice=invoice)

    response = admin_client_logged.get(_url(Invoice, "change", invoice.pk))

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="_save"' not in content
    assert 'name="_continue"' not in content
    assert 'name="description"' not in content
    assert 'name="lines-0-name"' not in content
    assert 'name="addresses-0-line1"' not in content
    assert "Hosting" in content
    assert response.context["has_delete_permission"] is False
    line.refresh_from_db()
    assert line.name == "Hosting"


@pytest.mark.parametrize("trait", ["posted", "voided"])
def test_posted_invoice_refuses_post_and_delete(admin_client_logged, trait):
    invoice = factories.InvoiceFactory(**{trait: True}, description="as posted")
    before = Invoice.objects.values().get(pk=invoice.pk)

    post = admin_client_logged.post(
        _url(Invoice, "change", invoice.pk),
        {"description": "edited", "invoice_date": "2026-02-01", "currency": "USD"},
    )
    delete = admin_client_logged.post(_url(Invoice, "delete", invoice.pk), {"post": "yes"})

    assert post.status_code == 403
    assert delete.status_code == 403
    assert Invoice.objects.values().get(pk=invoice.pk) == before


def test_posted_invoice_lines_and_addresses_are_read_only(admin_client_logged):
    invoice = factories.InvoiceFactory(posted=True)
    line = factories.InvoiceLineFactory(invoice=invoice, name="Hosting", type="adjustment")
    tax = factories.InvoiceLineTaxFactory(line=line)
    address = factories.InvoiceAddressFactory(invoice=invoice, city="Berlin")

    for obj in (line, tax, address):
        page = admin_client_logged.get(_url(type(obj), "change", obj.pk))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert admin_client_logged.post(_url(type(obj), "change", obj.pk), {}).status_code == 403
        delete = admin_client_logged.post(_url(type(obj), "delete", obj.pk), {"post": "yes"})
        assert delete.status_code == 403

    line.refresh_from_db()
    address.refresh_from_db()
    assert (line.name, address.city) == ("Hosting", "Berlin")
    assert InvoiceLineTax.objects.filter(pk=tax.pk).exists()


def test_a_line_cannot_be_added_to_a_posted_invoice(admin_client_logged):
    invoice = factories.InvoiceFactory(posted=True)

    response = admin_client_logged.post(
        _url(InvoiceLine, "add"),
        {
            "invoice": invoice.pk,
            "sort_order": 0,
            "type": "adjustment",
            "name": "Goodwill credit",
            "quantity": "1",
            "unit_price": "0",
            "amount": "-10.00",
            "taxable": "on",
            "taxes-TOTAL_FORMS": "0",
            "taxes-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "only a draft invoice can be changed" in errors["invoice"][0]
    assert not InvoiceLine.objects.filter(invoice=invoice).exists()


def test_an_address_cannot_be_added_to_a_posted_invoice(admin_client_logged):
    invoice = factories.InvoiceFactory(posted=True)

    response = admin_client_logged.post(
        _url(InvoiceAddress, "add"), {"invoice": invoice.pk, "kind": "shipping", "city": "Oslo"}
    )

    assert response.status_code == 200
    assert "invoice" in response.context["adminform"].form.errors
    assert not InvoiceAddress.objects.filter(invoice=invoice).exists()


# --- lines: invoice_adjustment_add / _update / _remove, invoice_line_relabel ----------------


def test_a_line_added_to_a_draft_is_an_adjustment_and_refreshes_tax_and_totals(
    admin_client_logged, texas_draft
):
    response = admin_client_logged.post(_url(InvoiceLine, "add"), _adjustment(texas_draft))

    assert response.status_code == 302
    line = InvoiceLine.objects.get(invoice=texas_draft)
    assert (line.type, line.name, line.quantity, line.unit_price, line.amount) == (
        "adjustment",
        "Setup fee",
        D("2"),
        D("40.00"),
        D("80.00"),
    )
    assert line.tax_amount == D("5.00")  # 6.25 % of 80.00
    assert list(line.taxes.values_list("name", "rate", "amount", "status")) == [
        ("TX state tax", D("6.2500"), D("5.00"), "estimated")
    ]
    assert totals(texas_draft) == (D("0"), D("80.00"), D("5.00"), D("85.00"), D("85.00"))


def test_a_credit_line_is_added_with_its_negative_tax(admin_client_logged, texas_draft):
    admin_client_logged.post(
        _url(InvoiceLine, "add"),
        _adjustment(texas_draft, name="Goodwill credit", quantity="1", unit_price="-16.00"),
    )

    line = InvoiceLine.objects.get(invoice=texas_draft)
    assert (line.amount, line.tax_amount) == (D("-16.00"), D("-1.00"))
    assert totals(texas_draft) == (D("0"), D("-16.00"), D("-1.00"), D("-17.00"), D("-17.00"))


def test_a_refused_line_is_shown_on_the_form_and_nothing_changes(admin_client_logged, texas_draft):
    before = snapshot()

    response = admin_client_logged.post(
        _url(InvoiceLine, "add"), _adjustment(texas_draft, quantity="0")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["quantity"] == ["The quantity must be a non-zero number."]
    assert snapshot() == before


def test_changing_an_adjustment_refreshes_tax_and_totals(admin_client_logged, texas_draft):
    admin_client_logged.post(_url(InvoiceLine, "add"), _adjustment(texas_draft))
    line = InvoiceLine.objects.get(invoice=texas_draft)
    url = _url(InvoiceLine, "change", line.pk)
    data = {
        **_change_form_data(admin_client_logged.get(url)),
        "unit_price": "20.00",
        "name": "Setup fee (half)",
    }
    data.pop("invoice", None)

    response = admin_client_logged.post(url, data)

    assert response.status_code == 302
    line.refresh_from_db()
    assert (line.name, line.amount, line.tax_amount) == ("Setup fee (half)", D("40.00"), D("2.50"))
    assert totals(texas_draft) == (D("0"), D("40.00"), D("2.50"), D("42.50"), D("42.50"))


def test_deleting_an_adjustment_refreshes_the_totals(admin_client_logged, texas_draft):
    admin_client_logged.post(_url(InvoiceLine, "add"), _adjustment(texas_draft))
    line = InvoiceLine.objects.get(invoice=texas_draft)

    response = admin_client_logged.post(_url(InvoiceLine, "delete", line.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not InvoiceLine.objects.filter(pk=line.pk).exists()
    assert totals(texas_draft) == (D("0"), D("0"), D("0"), D("0"), D("0"))


def test_a_generated_line_is_reworded_but_not_repriced_or_deleted(lw, admin_client_logged):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    line = draft.lines.get(product=lw.seat)
    before_totals = totals(draft)
    url = _url(InvoiceLine, "change", line.pk)
    page = admin_client_logged.get(url)
    assert 'name="unit_price"' not in page.content.decode()
    assert page.context["has_delete_permission"] is False

    data = {**_change_form_data(page), "name": "Seats (10 users)"}
    response = admin_client_logged.post(url, data)
    refused = admin_client_logged.post(_url(InvoiceLine, "delete", line.pk), {"post": "yes"})

    assert response.status_code == 302
    assert refused.status_code == 403
    line.refresh_from_db()
    assert (line.name, line.amount, line.tax_amount) == ("Seats (10 users)", D("50.00"), D("4.13"))
    assert (
        totals(draft)
        == before_totals
        == (
            D("69.99"),
            D("0"),
            D("5.78"),
            D("75.77"),
            D("75.77"),
        )
    )


@pytest.mark.django_db(transaction=True)
def test_the_admin_does_not_wrap_the_services_in_its_own_transaction(client, django_user_model):
    """invoice_adjustment_add runs a durable transaction: inside the admin's usual atomic
    block it would fail (outside a test transaction, as here)."""
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    TaxRate.objects.create(name="TX state tax", rate=D("6.25"), country="US", region="TX")
    invoice = factories.InvoiceFactory()
    factories.InvoiceAddressFactory(invoice=invoice, city="Austin", region="TX")

    response = client.post(_url(InvoiceLine, "add"), _adjustment(invoice))

    assert response.status_code == 302
    assert totals(invoice) == (D("0"), D("80.00"), D("5.00"), D("85.00"), D("85.00"))


# --- addresses: invoice_address_set / invoice_address_remove -----------------------------


def test_the_billing_address_of_a_draft_decides_its_tax(admin_client_logged):
    TaxRate.objects.create(name="TX state tax", rate=D("6.25"), country="US", region="TX")
    invoice = factories.InvoiceFactory()
    admin_client_logged.post(_url(InvoiceLine, "add"), _adjustment(invoice))
    assert totals(invoice) == (D("0"), D("80.00"), D("0"), D("80.00"), D("80.00"))

    added = admin_client_logged.post(
        _url(InvoiceAddress, "add"),
        {
            "invoice": invoice.pk,
            "kind": "billing",
            "city": "Austin",
            "region": "TX",
            "country": "us",
        },
    )
    assert added.status_code == 302
    address = InvoiceAddress.objects.get(invoice=invoice)
    assert (address.kind, address.city, address.region, address.country) == (
        "billing",
        "Austin",
        "TX",
        "US",
    )
    assert totals(invoice) == (D("0"), D("80.00"), D("5.00"), D("85.00"), D("85.00"))

    moved = admin_client_logged.post(
        _url(InvoiceAddress, "change", address.pk),
        {"city": "Portland", "region": "OR", "country": "US", "name": "", "line1": ""},
    )
    assert moved.status_code == 302
    assert totals(invoice) == (D("0"), D("80.00"), D("0"), D("80.00"), D("80.00"))

    admin_client_logged.post(
        _url(InvoiceAddress, "change", address.pk), {"region": "TX", "country": "US"}
    )
    removed = admin_client_logged.post(_url(InvoiceAddress, "delete", address.pk), {"post": "yes"})
    assert removed.status_code == 302
    assert not InvoiceAddress.objects.filter(invoice=invoice).exists()
    assert totals(invoice) == (D("0"), D("80.00"), D("0"), D("80.00"), D("80.00"))


# --- invoices: invoice_draft_create / invoice_update / invoice_draft_delete --------------


def test_draft_invoice_is_editable_but_computed_fields_are_not(admin_client_logged):
    invoice = factories.InvoiceFactory()
    factories.InvoiceLineFactory(invoice=invoice)

    response = admin_client_logged.get(_url(Invoice, "change", invoice.pk))

    content = response.content.decode()
    assert 'name="_save"' in content
    assert 'name="description"' in content
    assert 'name="lines-0-name"' in content
    for computed in ("total", "balance", "number", "status", "posted_date", "due_date"):
        assert f'name="{computed}"' not in content
    # Fixed when the draft was made.
    for fixed in ("account", "currency", "legal_entity", "payment_term"):
        assert f'name="{fixed}"' not in content
    assert 'name="lines-0-amount"' not in content
    assert response.context["has_delete_permission"] is True


def test_invoice_added_by_hand_is_an_empty_draft(admin_client_logged):
    account = factories.AccountFactory()
    net30 = factories.PaymentTermFactory(kind="net", days=30)

    response = admin_client_logged.post(
        _url(Invoice, "add"),
        {
            "account": account.pk,
            "currency": "USD",
            "invoice_date": "2026-01-01",
            "payment_term": net30.pk,
            "source": "generated",
            "tax_treatment": "standard",
            "lines-TOTAL_FORMS": "0",
            "lines-INITIAL_FORMS": "0",
            "addresses-TOTAL_FORMS": "1",
            "addresses-INITIAL_FORMS": "0",
            "addresses-0-kind": "billing",
            "addresses-0-city": "Austin",
            "addresses-0-region": "TX",
            "addresses-0-country": "US",
            "period_items-TOTAL_FORMS": "0",
            "period_items-INITIAL_FORMS": "0",
            "payments-TOTAL_FORMS": "0",
            "payments-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    invoice = Invoice.objects.get(account=account)
    assert (invoice.status, invoice.number, invoice.invoice_date, invoice.due_date) == (
        InvoiceStatus.DRAFT,
        None,
        d(2026, 1, 1),
        d(2026, 1, 31),
    )
    assert invoice.legal_entity_id == account.legal_entity_id
    assert list(invoice.addresses.values_list("kind", "city", "region")) == [
        ("billing", "Austin", "TX")
    ]
    assert totals(invoice) == (D("0"), D("0"), D("0"), D("0"), D("0"))


def test_admin_draft_edit_goes_through_the_service(lw, admin_client_logged):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    url = reverse("admin:invoicing_invoice_change", args=[draft.pk])
    data = _change_form_data(admin_client_logged.get(url))
    data.update({"invoice_date": "2026-01-25", "description": "Edited"})

    response = admin_client_logged.post(url, data)

    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.invoice_date, draft.due_date, draft.description) == (
        d(2026, 1, 25),
        d(2026, 2, 24),
        "Edited",
    )


def test_lines_are_reworded_on_the_invoice_page_through_the_service(lw, admin_client_logged):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    before_totals = totals(draft)
    url = reverse("admin:invoicing_invoice_change", args=[draft.pk])
    page = admin_client_logged.get(url)
    data = _change_form_data(page)
    names = {data[f"lines-{i}-name"]: i for i in range(2)}
    seat = names["Seat"]
    data.update({f"lines-{seat}-name": "Seats", f"lines-{seat}-description": "10 users"})

    response = admin_client_logged.post(url, data)

    assert response.status_code == 302
    line = draft.lines.get(product=lw.seat)
    assert (line.name, line.description, line.amount) == ("Seats", "10 users", D("50.00"))
    assert totals(draft) == before_totals


def test_a_refused_draft_edit_is_shown_on_the_form_and_changes_nothing(lw, admin_client_logged):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    stranger = factories.ContactFactory()
    url = reverse("admin:invoicing_invoice_change", args=[draft.pk])
    data = _change_form_data(admin_client_logged.get(url))
    data.update({"bill_to": stranger.pk, "description": "Edited"})
    before = snapshot()

    response = admin_client_logged.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["bill_to"] == [
        f"Contact {stranger.pk} is not a contact of account {lw.account.pk}; choose one of "
        "the account's contacts."
    ]
    assert snapshot() == before


def test_a_generated_draft_is_not_deleted_from_the_delete_page(admin_client_logged):
    """Its billed periods are released by the "Delete drafts" action, which says so."""
    invoice = factories.InvoiceFactory()
    factories.BillingPeriodItemFactory(invoice=invoice)

    response = admin_client_logged.post(_url(Invoice, "delete", invoice.pk), {"post": "yes"})

    assert response.status_code == 403
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_an_empty_draft_is_deleted_through_the_service(admin_client_logged):
    invoice = factories.InvoiceFactory()

    response = admin_client_logged.post(_url(Invoice, "delete", invoice.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Invoice.objects.filter(pk=invoice.pk).exists()


def test_invoice_changelist_has_no_bulk_delete(admin_client_logged):
    factories.InvoiceFactory(posted=True)

    response = admin_client_logged.get(_url(Invoice, "changelist"))

    assert response.status_code == 200
    assert "delete_selected" not in response.content.decode()


# --- actions: post, void, email, PDF, payment, delete drafts --------------------------------


def test_post_action_numbers_the_drafts(lw, admin_client_logged):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    posted = factories.InvoiceFactory(posted=True)

    done = action(admin_client_logged, "post_invoices", [draft.pk, posted.pk])

    assert "1 invoice(s) posted: INV-0001 1 not draft, skipped." in done.content.decode()
    draft.refresh_from_db()
    assert (draft.status, draft.number, draft.total) == ("posted", "INV-0001", D("75.77"))


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


def test_write_off_action_asks_then_writes_off_and_the_reverse_action_reopens(
    lw, admin_client_logged
):
    invoice = generate(lw, d(2026, 1, 15))
    before = snapshot()
    page = action(admin_client_logged, "write_off_invoices", [invoice.pk])
    assert "its open balance is written off" in page.content.decode()
    assert snapshot() == before

    done = action(
        admin_client_logged,
        "write_off_invoices",
        [invoice.pk],
        apply="1",
        confirm="on",
        note="Bankrupt",
    )
    memo = CreditMemo.objects.get()
    assert f"Written off: 75.77 USD of INV-0001 ({memo})." in done.content.decode()
    assert (memo.source, memo.reason) == ("write_off", "Bankrupt")
    invoice.refresh_from_db()
    assert (invoice.balance, invoice.settlement_status) == (D("0.00"), "settled")

    done = action(admin_client_logged, "reverse_write_offs", [invoice.pk])
    assert "Write-off reversed: INV-0001." in done.content.decode()
    invoice.refresh_from_db()
    memo.refresh_from_db()
    assert (invoice.balance, memo.status) == (D("75.77"), "voided")

    before = snapshot()
    again = action(admin_client_logged, "reverse_write_offs", [invoice.pk])
    assert "INV-0001: Invoice INV-0001 is not written off; nothing to reverse." in (
        again.content.decode()
    )
    assert snapshot() == before


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
