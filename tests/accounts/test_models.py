"""Model rules of accounts: no card data, due dates, and the constraints the database keeps."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Address, PaymentTerm, SavedPaymentMethod
from tests.factories import (
    AccountFactory,
    BillingProfileFactory,
    ContactFactory,
    LegalEntityFactory,
    PaymentTermFactory,
    SavedPaymentMethodFactory,
)

pytestmark = pytest.mark.django_db


def violates(constraint: str):
    return pytest.raises(IntegrityError, match=f'"{constraint}"')


# --- saved payment methods hold no card data -------------------------------------------------

CARD_NUMBERS = [
    "4242 4242 4242 4242",
    "4111-1111-1111-1111",
    "pm_4242424242424242",
    "5555555555554444",
    "3782 822463 10005",  # American Express, 15 digits
    "4242.4242.4242.4242",
    "4242/4242/4242/4242",
    "4242  4242 4242 4242",
]


def _method(**fields) -> SavedPaymentMethod:
    values = {"processor_token": "pm_1NxAbc", "label": "Visa •••• 4242", **fields}
    return SavedPaymentMethod(account=AccountFactory(), **values)


@pytest.mark.parametrize("field", ["processor_token", "label"])
@pytest.mark.parametrize("value", CARD_NUMBERS)
def test_card_number_is_refused(field, value):
    method = _method(**{field: value})

    with pytest.raises(ValidationError) as exc:
        method.full_clean()

    assert list(exc.value.message_dict) == [field]
    assert "looks like a card number" in exc.value.message_dict[field][0]


@pytest.mark.parametrize(
    "label", ["CVV 123", "Visa •••• 4242 cvc: 999", "security code 1234", "CVC123"]
)
def test_security_code_in_label_is_refused(label):
    with pytest.raises(ValidationError) as exc:
        _method(label=label).full_clean()

    assert list(exc.value.message_dict) == ["label"]
    assert "security code (CVV)" in exc.value.message_dict["label"][0]


@pytest.mark.parametrize("token", ["123", "1234"])
def test_three_or_four_digit_token_is_refused(token):
    with pytest.raises(ValidationError) as exc:
        _method(processor_token=token).full_clean()

    assert list(exc.value.message_dict) == ["processor_token"]
    assert "CVV" in exc.value.message_dict["processor_token"][0]


@pytest.mark.parametrize(
    ("token", "label"),
    [
        ("pm_1NxAbc", "Visa •••• 4242"),
        ("cus_Q1w2E3/src_R4t5Y6", "Visa •••• 4242 (12/28)"),
        # Digit runs that fail the Luhn check are not card numbers (order refs, IBAN parts).
        ("pm_1234567890123456", "Mastercard •••• 4444"),
        ("pm_4242424242424241", "Bank account •••• 6789"),
    ],
)
def test_token_and_masked_label_are_accepted(token, label):
    _method(processor_token=token, label=label).full_clean()


# --- payment terms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "days", "invoice_date", "due"),
    [
        (PaymentTerm.Kind.NET, 30, dt.date(2026, 1, 15), dt.date(2026, 2, 14)),
        (PaymentTerm.Kind.NET, 0, dt.date(2026, 1, 15), dt.date(2026, 1, 15)),
        (PaymentTerm.Kind.END_OF_MONTH, 15, dt.date(2026, 2, 10), dt.date(2026, 3, 15)),
        (PaymentTerm.Kind.END_OF_MONTH, 0, dt.date(2028, 2, 3), dt.date(2028, 2, 29)),
        (PaymentTerm.Kind.END_OF_MONTH, 0, dt.date(2026, 2, 3), dt.date(2026, 2, 28)),
        (PaymentTerm.Kind.END_OF_MONTH, 15, dt.date(2026, 12, 5), dt.date(2027, 1, 15)),
    ],
)
def test_payment_term_due_date(kind, days, invoice_date, due):
    assert PaymentTerm(kind=kind, days=days).due_date(invoice_date) == due


def test_payment_term_days_are_capped_at_ten_years():
    with violates("payment_term_days_range"), transaction.atomic():
        PaymentTermFactory(days=3651)


# --- one default per scope -----------------------------------------------------------------


def test_one_default_billing_profile_per_account():
    account = AccountFactory(with_profile=True)

    with violates("one_default_billing_profile"), transaction.atomic():
        BillingProfileFactory(account=account, is_default=True)

    BillingProfileFactory(account=account, is_default=False)
    BillingProfileFactory(is_default=True)  # another account's default
    assert account.billing_profiles.filter(is_default=True).count() == 1


def test_one_default_payment_method_per_account():
    account = AccountFactory()
    SavedPaymentMethodFactory(account=account, is_default=True)

    with violates("one_default_payment_method"), transaction.atomic():
        SavedPaymentMethodFactory(account=account, is_default=True)

    SavedPaymentMethodFactory(account=account, is_default=False)
    SavedPaymentMethodFactory(is_default=True)  # another account's default
    assert account.payment_methods.filter(is_default=True).count() == 1


def test_one_default_payment_term():
    PaymentTermFactory(is_default=True)

    with violates("one_default_payment_term"), transaction.atomic():
        PaymentTermFactory(is_default=True)

    assert PaymentTerm.objects.filter(is_default=True).count() == 1


def test_one_default_legal_entity():
    LegalEntityFactory(is_default=True)

    with violates("one_default_legal_entity"), transaction.atomic():
        LegalEntityFactory(is_default=True)


# --- billing profiles ----------------------------------------------------------------------


@pytest.mark.parametrize("resumption", [dt.date(2026, 2, 28), dt.date(2026, 3, 1)])
def test_profile_resumption_must_follow_suspension(resumption):
    with violates("profile_resumption_after_suspension"), transaction.atomic():
        BillingProfileFactory(suspension_date=dt.date(2026, 3, 1), resumption_date=resumption)


def test_profile_bill_day_is_a_day_of_the_month():
    with violates("profile_bill_day_range"), transaction.atomic():
        BillingProfileFactory(bill_day_of_month=32)


def test_profile_suspension_window():
    profile = BillingProfileFactory.build(
        suspension_date=dt.date(2026, 3, 1), resumption_date=dt.date(2026, 4, 1)
    )

    assert not profile.is_suspended_on(dt.date(2026, 2, 28))
    assert profile.is_suspended_on(dt.date(2026, 3, 1))
    assert profile.is_suspended_on(dt.date(2026, 3, 31))
    assert not profile.is_suspended_on(dt.date(2026, 4, 1))


def test_profile_contact_and_payment_method_belong_to_its_account():
    profile = BillingProfileFactory(
        bill_to=ContactFactory(), saved_payment_method=SavedPaymentMethodFactory()
    )

    with pytest.raises(ValidationError) as exc:
        profile.full_clean()

    assert set(exc.value.message_dict) == {"bill_to", "saved_payment_method"}


def test_default_profile_of_an_account():
    account = AccountFactory(with_profile=True)
    BillingProfileFactory(account=account)

    assert account.default_profile.name == "Default"
    assert account.default_profile.is_default


# --- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["us", "USA", "U1", "D"])
def test_address_country_must_be_an_iso_code(country):
    with pytest.raises(ValidationError) as exc:
        Address(line1="1 Market Street", country=country).full_clean()

    assert list(exc.value.message_dict) == ["country"]


@pytest.mark.parametrize("country", ["US", "DE", ""])
def test_address_country_accepted(country):
    Address(line1="1 Market Street", country=country).full_clean()
