"""The accounts admin's doors (accounts/admin.py), through the admin's own views: accounts,
contacts, billing profiles, legal entities, payment terms and saved payment methods go
through accounts/services.py; processor tokens are masked."""

import pytest
from django.urls import reverse

from accounts.models import (
    Account,
    Address,
    BillingProfile,
    Contact,
    LegalEntity,
    PaymentTerm,
    SavedPaymentMethod,
)
from tests import factories

pytestmark = pytest.mark.django_db

NO_INLINES = {
    "contacts-TOTAL_FORMS": "0",
    "contacts-INITIAL_FORMS": "0",
    "billing_profiles-TOTAL_FORMS": "0",
    "billing_profiles-INITIAL_FORMS": "0",
    "payment_methods-TOTAL_FORMS": "0",
    "payment_methods-INITIAL_FORMS": "0",
}


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _account_form(**fields) -> dict:
    return {"name": "Globex", "currency": "EUR", "timezone": "Europe/Berlin", **fields}


def test_an_account_added_in_the_admin_goes_through_account_create(staff_client):
    response = staff_client.post(
        _url(Account, "add"),
        {
            **_account_form(),
            **NO_INLINES,
            "contacts-TOTAL_FORMS": "1",
            "contacts-0-name": "Globex AP",
            "contacts-0-email": "ap@globex.example",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    account = Account.objects.get(name="Globex")
    assert (account.currency, account.timezone) == ("EUR", "Europe/Berlin")
    # account_create made its default billing profile.
    assert list(account.billing_profiles.values_list("name", "is_default")) == [("Default", True)]
    assert list(account.contacts.values_list("name", "email")) == [
        ("Globex AP", "ap@globex.example")
    ]


def test_the_add_page_has_no_billing_profile_inline(staff_client):
    page = staff_client.get(_url(Account, "add")).content.decode()

    assert 'name="contacts-TOTAL_FORMS"' in page
    assert 'name="billing_profiles-TOTAL_FORMS"' not in page


def test_an_account_is_changed_through_account_update(staff_client):
    account = factories.AccountFactory(with_profile=True, name="Initech")
    profile = account.billing_profiles.get()
    net15 = factories.PaymentTermFactory(name="Net 15", days=15)

    response = staff_client.post(
        _url(Account, "change", account.pk),
        {
            **_account_form(name="Initech GmbH", currency=account.currency, timezone="UTC"),
            **NO_INLINES,
            "billing_profiles-TOTAL_FORMS": "1",
            "billing_profiles-INITIAL_FORMS": "1",
            "billing_profiles-0-id": profile.pk,
            "billing_profiles-0-account": account.pk,
            "billing_profiles-0-name": "Default",
            "billing_profiles-0-is_default": "on",
            "billing_profiles-0-payment_term": net15.pk,
            "billing_profiles-0-bill_day_of_month": "15",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    account.refresh_from_db()
    profile.refresh_from_db()
    assert (account.name, account.timezone) == ("Initech GmbH", "UTC")
    assert (profile.payment_term_id, profile.bill_day_of_month) == (net15.pk, 15)


def test_a_billed_account_is_not_deleted(staff_client):
    invoice = factories.InvoiceFactory()

    response = staff_client.post(_url(Account, "delete", invoice.account_id), {"post": "yes"})

    assert response.status_code == 200  # the page names what still uses it
    assert "Cannot delete account" in response.content.decode()
    assert Account.objects.filter(pk=invoice.account_id).exists()


def test_an_unbilled_account_is_deleted_through_account_delete(staff_client):
    account = factories.AccountFactory(with_profile=True)

    response = staff_client.post(_url(Account, "delete", account.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Account.objects.filter(pk=account.pk).exists()
    assert not BillingProfile.objects.filter(account_id=account.pk).exists()


def test_unknown_currency_is_a_form_error(staff_client):
    response = staff_client.post(
        _url(Account, "add"), {**_account_form(currency="XXQ", name="Bad currency"), **NO_INLINES}
    )

    assert response.status_code == 200
    assert "currency" in response.context["adminform"].form.errors
    assert not Account.objects.filter(name="Bad currency").exists()


# --- contacts, billing profiles --------------------------------------------------------------


def test_a_contact_cannot_move_to_another_account(staff_client):
    contact = factories.ContactFactory(name="Jane")
    other = factories.AccountFactory()

    response = staff_client.post(
        _url(Contact, "change", contact.pk),
        {"account": other.pk, "name": "Jane", "email": "jane@example.com", "phone": ""},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["account"] == [
        "A record cannot move to another account; create a new one there."
    ]
    contact.refresh_from_db()
    assert contact.account_id != other.pk


def test_a_new_default_billing_profile_unmarks_the_previous_one(staff_client):
    account = factories.AccountFactory(with_profile=True)
    first = account.billing_profiles.get()

    response = staff_client.post(
        _url(BillingProfile, "add"),
        {"account": account.pk, "name": "EU entity", "is_default": "on"},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(account.billing_profiles.order_by("id").values_list("name", "is_default")) == [
        (first.name, False),
        ("EU entity", True),
    ]


def test_a_new_default_legal_entity_and_payment_term_unmark_the_previous_ones(staff_client):
    seller = factories.LegalEntityFactory(is_default=True)
    address = factories.AddressFactory()
    net30 = factories.PaymentTermFactory(is_default=True)

    entity = staff_client.post(
        _url(LegalEntity, "add"),
        {"name": "Ledgerline GmbH", "address": address.pk, "is_default": "on", "is_active": "on"},
    )
    term = staff_client.post(
        _url(PaymentTerm, "add"),
        {"name": "Net 45", "kind": "net", "days": "45", "is_default": "on"},
    )

    assert (entity.status_code, term.status_code) == (302, 302)
    assert LegalEntity.objects.get(is_default=True).name == "Ledgerline GmbH"
    assert LegalEntity.objects.get(is_default=True).address_id == address.pk
    assert PaymentTerm.objects.get(is_default=True).name == "Net 45"
    seller.refresh_from_db()
    net30.refresh_from_db()
    assert (seller.is_default, net30.is_default) == (False, False)


# --- saved payment methods -----------------------------------------------------------------


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


# --- plain records (core.crud) -------------------------------------------------------------


def test_an_address_is_a_plain_record(staff_client):
    form = {"line1": "5 Main St", "city": "Austin", "region": "TX", "postal_code": "73301"}

    refused = staff_client.post(_url(Address, "add"), {**form, "country": "us"})
    added = staff_client.post(_url(Address, "add"), {**form, "country": "US"})

    assert refused.status_code == 200
    assert "two-letter ISO 3166 code" in refused.context["adminform"].form.errors["country"][0]
    assert added.status_code == 302
    address = Address.objects.get()
    assert (address.line1, address.city, address.country) == ("5 Main St", "Austin", "US")
    changed = staff_client.post(
        _url(Address, "change", address.pk), {**form, "city": "Round Rock", "country": "US"}
    )
    assert changed.status_code == 302
    address.refresh_from_db()
    assert address.city == "Round Rock"
    assert staff_client.post(_url(Address, "delete", address.pk), {"post": "yes"}).status_code == (
        302
    )
    assert not Address.objects.exists()
