"""The admin of accounts, billing and invoicing: every page renders, changelists make a fixed
number of queries, posted documents are read-only, processor tokens are masked."""

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account, SavedPaymentMethod
from billing.admin import BillingScheduleAdmin
from billing.models import BillingSchedule, Order
from invoicing.models import Invoice, InvoiceAddress, InvoiceLine, InvoiceStatus
from tests import factories

APPS = ("accounts", "billing", "invoicing")
MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label in APPS),
    key=lambda m: m._meta.label,
)
pytestmark = pytest.mark.django_db


def _factory(model):
    return getattr(factories, f"{model.__name__}Factory")


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def test_every_model_of_the_apps_is_registered():
    models = {m for label in APPS for m in apps.get_app_config(label).get_models()}
    assert models - set(admin.site._registry) == set()
    assert len(MODELS) == 36


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_renders(staff_client, model):
    _factory(model)()

    response = staff_client.get(_url(model, "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == model.objects.count()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
@pytest.mark.parametrize("term", ["abc", "1", "INV-000001"])
def test_changelist_search_accepts_any_term(staff_client, model, term):
    _factory(model)()

    response = staff_client.get(_url(model, "changelist"), {"q": term})

    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_queries_do_not_grow_with_rows(staff_client, model):
    factory = _factory(model)
    factory()
    staff_client.get(_url(model, "changelist"))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as one_row:
        staff_client.get(_url(model, "changelist"))
    factory.create_batch(3)

    with CaptureQueriesContext(connection) as four_rows:
        response = staff_client.get(_url(model, "changelist"))

    assert response.context["cl"].result_count == model.objects.count()
    assert len(four_rows) == len(one_row), [q["sql"] for q in four_rows.captured_queries]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_add_page_renders(staff_client, model):
    response = staff_client.get(_url(model, "add"))

    # Runs, their keys, rendered documents and email history are written only by services.
    service_only = {"InvoiceBatchRun", "InvoiceBatchRunKey", "InvoiceDocument", "InvoiceEmail"}
    assert response.status_code == (403 if model.__name__ in service_only else 200)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_change_page_renders(staff_client, model):
    obj = _factory(model)()

    response = staff_client.get(_url(model, "change", obj.pk))

    assert response.status_code == 200
    assert response.context["original"] == obj


# --- posted documents are read-only --------------------------------------------------------


@pytest.mark.parametrize("trait", ["posted", "voided"])
def test_posted_invoice_change_page_is_read_only(staff_client, trait):
    invoice = factories.InvoiceFactory(**{trait: True}, description="as posted")
    line = factories.InvoiceLineFactory(invoice=invoice, name="Hosting")
    factories.InvoiceAddressFactory(invoice=invoice)

    response = staff_client.get(_url(Invoice, "change", invoice.pk))

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
def test_posted_invoice_refuses_post_and_delete(staff_client, trait):
    invoice = factories.InvoiceFactory(**{trait: True}, description="as posted")
    before = Invoice.objects.values().get(pk=invoice.pk)

    post = staff_client.post(
        _url(Invoice, "change", invoice.pk),
        {"description": "edited", "invoice_date": "2026-02-01", "currency": "USD"},
    )
    delete = staff_client.post(_url(Invoice, "delete", invoice.pk), {"post": "yes"})

    assert post.status_code == 403
    assert delete.status_code == 403
    assert Invoice.objects.values().get(pk=invoice.pk) == before


def test_posted_invoice_lines_and_addresses_are_read_only(staff_client):
    invoice = factories.InvoiceFactory(posted=True)
    line = factories.InvoiceLineFactory(invoice=invoice, name="Hosting")
    tax = factories.InvoiceLineTaxFactory(line=line)
    address = factories.InvoiceAddressFactory(invoice=invoice, city="Berlin")

    for obj in (line, tax, address):
        page = staff_client.get(_url(type(obj), "change", obj.pk))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert staff_client.post(_url(type(obj), "change", obj.pk), {}).status_code == 403
        assert (
            staff_client.post(_url(type(obj), "delete", obj.pk), {"post": "yes"}).status_code == 403
        )

    line.refresh_from_db()
    address.refresh_from_db()
    assert (line.name, address.city) == ("Hosting", "Berlin")
    assert tax.__class__.objects.filter(pk=tax.pk).exists()


def test_a_line_cannot_be_added_to_a_posted_invoice(staff_client):
    invoice = factories.InvoiceFactory(posted=True)

    response = staff_client.post(
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


def test_an_address_cannot_be_added_to_a_posted_invoice(staff_client):
    invoice = factories.InvoiceFactory(posted=True)

    response = staff_client.post(
        _url(InvoiceAddress, "add"), {"invoice": invoice.pk, "kind": "shipping", "city": "Oslo"}
    )

    assert response.status_code == 200
    assert "invoice" in response.context["adminform"].form.errors
    assert not InvoiceAddress.objects.filter(invoice=invoice).exists()


def test_a_line_can_be_added_to_a_draft_invoice(staff_client):
    invoice = factories.InvoiceFactory()

    response = staff_client.post(
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

    assert response.status_code == 302
    line = InvoiceLine.objects.get(invoice=invoice)
    assert (line.name, line.amount, line.tax_amount) == ("Goodwill credit", Decimal("-10.00"), 0)


def test_draft_invoice_is_editable_but_computed_fields_are_not(staff_client):
    invoice = factories.InvoiceFactory()
    factories.InvoiceLineFactory(invoice=invoice)

    response = staff_client.get(_url(Invoice, "change", invoice.pk))

    content = response.content.decode()
    assert 'name="_save"' in content
    assert 'name="description"' in content
    assert 'name="lines-0-name"' in content
    for computed in ("total", "balance", "number", "status", "posted_date", "due_date"):
        assert f'name="{computed}"' not in content
    assert 'name="lines-0-amount"' not in content
    assert response.context["has_delete_permission"] is True


def test_a_generated_draft_is_not_deleted_from_the_admin(staff_client):
    """Deleting it would leave its period items live: the periods could never be billed."""
    invoice = factories.InvoiceFactory()
    factories.BillingPeriodItemFactory(invoice=invoice)

    response = staff_client.post(_url(Invoice, "delete", invoice.pk), {"post": "yes"})

    assert response.status_code == 403
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_an_empty_draft_can_be_deleted(staff_client):
    invoice = factories.InvoiceFactory()

    response = staff_client.post(_url(Invoice, "delete", invoice.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Invoice.objects.filter(pk=invoice.pk).exists()


def test_invoice_changelist_has_no_bulk_delete(staff_client):
    factories.InvoiceFactory(posted=True)

    response = staff_client.get(_url(Invoice, "changelist"))

    assert response.status_code == 200
    assert "delete_selected" not in response.content.decode()


def test_invoice_added_by_hand_is_a_draft(staff_client):
    account = factories.AccountFactory()

    response = staff_client.post(
        _url(Invoice, "add"),
        {
            "account": account.pk,
            "currency": "USD",
            "invoice_date": "2026-01-01",
            "source": "generated",
            "tax_treatment": "standard",
            "lines-TOTAL_FORMS": "0",
            "lines-INITIAL_FORMS": "0",
            "addresses-TOTAL_FORMS": "0",
            "addresses-INITIAL_FORMS": "0",
            "period_items-TOTAL_FORMS": "0",
            "period_items-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    invoice = Invoice.objects.get(account=account)
    assert (invoice.status, invoice.number) == (InvoiceStatus.DRAFT, None)


# --- schedules, orders, payment methods ----------------------------------------------------


def test_schedule_change_page_lists_its_billed_periods(staff_client):
    item = factories.BillingPeriodItemFactory(period_start=dt.date(2026, 3, 1))
    assert isinstance(admin.site._registry[BillingSchedule], BillingScheduleAdmin)

    response = staff_client.get(_url(BillingSchedule, "change", item.schedule_id))

    content = response.content.decode()
    assert "billed periods" in content.lower()
    assert "March 1, 2026" in content
    assert 'name="period_amount"' not in content
    assert 'name="billed_amount"' not in content
    assert 'name="next_billing_date"' not in content


def test_period_item_is_read_only(staff_client):
    item = factories.BillingPeriodItemFactory()

    response = staff_client.get(_url(item.__class__, "change", item.pk))

    assert 'name="_save"' not in response.content.decode()
    assert staff_client.post(_url(item.__class__, "change", item.pk), {}).status_code == 403


def test_activated_order_items_are_read_only(staff_client):
    order = factories.OrderFactory(status=Order.Status.ACTIVATED)
    factories.OrderItemFactory(order=order)
    draft = factories.OrderItemFactory().order

    activated_page = staff_client.get(_url(Order, "change", order.pk)).content.decode()
    draft_page = staff_client.get(_url(Order, "change", draft.pk)).content.decode()

    assert 'name="items-0-quantity"' not in activated_page
    assert 'name="items-0-quantity"' in draft_page


def test_processor_token_is_masked(staff_client):
    method = factories.SavedPaymentMethodFactory(processor_token="pm_1NxAbcDefGhiJkl")

    changelist = staff_client.get(_url(SavedPaymentMethod, "changelist")).content.decode()
    change = staff_client.get(_url(SavedPaymentMethod, "change", method.pk)).content.decode()
    account = staff_client.get(_url(Account, "change", method.account_id)).content.decode()

    for page in (changelist, change, account):
        assert "pm_1NxAbcDefGhiJkl" not in page
        assert "pm_••••iJkl" in page


def test_processor_token_is_entered_on_the_add_page(staff_client):
    account = factories.AccountFactory()

    response = staff_client.post(
        _url(SavedPaymentMethod, "add"),
        {
            "account": account.pk,
            "kind": "card",
            "processor_token": "pm_1NxAbc",
            "label": "Visa •••• 4242",
        },
    )

    assert response.status_code == 302
    assert account.payment_methods.get().processor_token == "pm_1NxAbc"


def test_card_number_is_refused_with_the_field_named(staff_client):
    account = factories.AccountFactory()

    response = staff_client.post(
        _url(SavedPaymentMethod, "add"),
        {
            "account": account.pk,
            "kind": "card",
            "processor_token": "4242 4242 4242 4242",
            "label": "Visa",
        },
    )

    assert response.status_code == 200
    assert "card number" in response.context["adminform"].form.errors["processor_token"][0]
    assert not account.payment_methods.exists()


def test_unknown_currency_is_a_form_error(staff_client):
    response = staff_client.post(
        _url(Account, "add"),
        {
            "name": "Bad currency",
            "currency": "XXQ",
            "timezone": "UTC",
            "contacts-TOTAL_FORMS": "0",
            "contacts-INITIAL_FORMS": "0",
            "billing_profiles-TOTAL_FORMS": "0",
            "billing_profiles-INITIAL_FORMS": "0",
            "payment_methods-TOTAL_FORMS": "0",
            "payment_methods-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "currency" in response.context["adminform"].form.errors
