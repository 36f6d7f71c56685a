"""The e-invoicing data of sellers and accounts: VAT ids checked per country and stored
compact (core/vat.py), IBAN and BIC (core/einvoice_codes.py, schwifty), electronic
addresses checked against their scheme, and every door (the services, the API, the admin)
refusing bad input with the field named and how to fix it, writing nothing."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse

from accounts.models import Account, Address, BillingProfile, LegalEntity
from accounts.services import account_create, account_update, legal_entity_create
from core.einvoice_codes import bic_normalize, endpoint_check, endpoint_problem, iban_normalize
from core.exceptions import ValidationError
from core.vat import vat_id_normalize, vat_id_valid
from tests import factories

API = "/api/v1/"


def problem(call) -> dict[str, list[str]]:
    """The {field: messages} of the Django ValidationError `call` raises."""
    with pytest.raises(DjangoValidationError) as exc:
        call()
    return exc.value.message_dict


# --- VAT ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "DE136695976",
        "FR40303265045",
        "ATU13585627",
        "NL004495445B01",
        "IT00743110157",
        "BE0403019261",
        "EL094259216",
    ],
)
def test_valid_eu_vat_ids_are_kept(value):
    assert vat_id_normalize(value) == value
    assert vat_id_valid(value) is True


@pytest.mark.parametrize(
    ("value", "country"),
    [
        ("DE136695977", "DE"),  # check digit
        ("FR40303265046", "FR"),  # the key does not match the SIREN
        ("ATU13585626", "AT"),
        ("NL004495446B01", "NL"),
        ("DE1366959", "DE"),  # too short
        ("EL094259217", "EL"),
    ],
)
def test_invalid_eu_vat_ids_are_refused_naming_the_field_and_the_country(value, country):
    errors = problem(lambda: vat_id_normalize(value, field="vat_id"))

    assert list(errors) == ["vat_id"]
    (message,) = errors["vat_id"]
    assert message.startswith(f"“{value}” is not a valid {country} VAT id (")
    assert message.endswith("Check the digits.")


@pytest.mark.parametrize(
    ("value", "country", "stored"),
    [
        ("de 136 695 976", "", "DE136695976"),
        ("  fr40 303 265 045 ", "", "FR40303265045"),
        ("FR-40.303.265.045", "", "FR40303265045"),
        ("136695976", "DE", "DE136695976"),  # no prefix: the country's
        ("094259216", "GR", "EL094259216"),  # Greece's VAT ids carry EL
        ("el094259216", "", "EL094259216"),
    ],
)
def test_vat_ids_are_stored_compact_upper_case_with_their_prefix(value, country, stored):
    assert vat_id_normalize(value, country=country) == stored


def test_a_vat_id_without_prefix_or_country_says_how_to_write_it():
    assert problem(lambda: vat_id_normalize("136695976", field="vat_id")) == {
        "vat_id": ["“136695976” has no country prefix: write it as e.g. DE123456789."]
    }


def test_vat_ids_outside_the_eu_are_checked_where_known_and_never_count_as_eu():
    assert vat_id_normalize("CHE-116.281.710 MWST") == "CHE116281710MWST"
    assert vat_id_valid("CHE116281710MWST") is False  # valid, but not an EU VAT id
    assert vat_id_normalize("US841234567") == "US841234567"  # no check known: kept
    assert vat_id_valid("US841234567") is False
    assert list(problem(lambda: vat_id_normalize("NO974760674MVA", field="vat_id"))) == ["vat_id"]
    assert vat_id_valid("") is False


# --- IBAN, BIC, electronic addresses -----------------------------------------------------------


def test_iban_and_bic_are_checked_and_stored_compact():
    assert iban_normalize("DE89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    assert bic_normalize("cobadeffxxx") == "COBADEFFXXX"
    assert iban_normalize("") == bic_normalize("") == ""
    iban = problem(lambda: iban_normalize("DE89370400440532013001"))
    assert list(iban) == ["iban"]
    assert iban["iban"][0].startswith("“DE89370400440532013001” is not a valid IBAN (")
    bic = problem(lambda: bic_normalize("COBADEF"))
    assert list(bic) == ["bic"] and bic["bic"][0].startswith("“COBADEF” is not a valid BIC (")


@pytest.mark.parametrize(
    ("scheme", "endpoint_id"),
    [
        ("0088", "4001234567891"),  # GLN, GS1 check digit 1
        ("0204", "04011000-1234512345-06"),  # Leitweg-ID, mod 97-10 check digits 06
        ("0204", "991-33333TEST-33"),
        ("9930", "DE136695976"),  # a German VAT id
        ("9957", "FR40303265045"),
        ("0002", "303265045"),  # SIREN (Luhn)
        ("0208", "0403019261"),  # Belgian enterprise number
        ("EM", "einvoice@customer.example"),
        ("0060", "123456789"),  # DUNS: no check beyond presence
    ],
)
def test_electronic_addresses_that_pass_their_scheme_check(scheme, endpoint_id):
    assert endpoint_problem(endpoint_id, scheme) == ""
    endpoint_check(endpoint_id, scheme)  # raises nothing


@pytest.mark.parametrize(
    ("scheme", "endpoint_id", "field", "start"),
    [
        ("0088", "4001234567892", "endpoint_id", "“4001234567892” is not a valid GS1 GLN ("),
        ("0204", "04011000-1234512345-07", "endpoint_id", "“04011000-1234512345-07” is not a "
         "valid DE Leitweg-ID (its check digits do not match)."),
        ("0204", "04011000", "endpoint_id", "“04011000” is not a valid DE Leitweg-ID (not of "
         "the form 04011000-12345-06)."),
        ("9930", "FR40303265045", "endpoint_id", "A 9930 address is a DE VAT id starting with DE."),
        ("9930", "DE136695977", "endpoint_id", "“DE136695977” is not a valid DE VAT id ("),
        ("EM", "not-an-email", "endpoint_id", "“not-an-email” is not a valid email address ("),
        ("", "DE136695976", "endpoint_scheme", "Choose the scheme of the electronic address."),
        ("XX", "DE136695976", "endpoint_scheme", "XX is not an electronic address scheme"),
    ],
)  # fmt: skip
def test_electronic_addresses_that_fail_their_scheme_check_name_the_field(
    scheme, endpoint_id, field, start
):
    errors = problem(lambda: endpoint_check(endpoint_id, scheme))

    assert list(errors) == [field]
    assert errors[field][0].startswith(start), errors


def test_a_scheme_without_an_address_asks_for_the_address():
    errors = problem(lambda: endpoint_check("", "9930"))

    assert list(errors.values()) == [["Give the electronic address, or clear its scheme."]]


# --- the services (every door's checks) ------------------------------------------------------


@pytest.mark.django_db
def test_account_create_stores_the_vat_id_compact():
    account = account_create(
        name="Lumière Studio SARL",
        currency="EUR",
        vat_id="fr 40 303 265 045",
        endpoint_scheme="0002",
        endpoint_id="303265045",
        buyer_reference="LUM-ACHATS",
        einvoice_format="facturx",
        einvoice_attach=True,
    )

    account.refresh_from_db()
    assert (account.vat_id, account.endpoint_scheme, account.endpoint_id) == (
        "FR40303265045",
        "0002",
        "303265045",
    )
    assert (account.einvoice_format, account.einvoice_attach) == ("facturx", True)


@pytest.mark.django_db
def test_account_create_refuses_bad_einvoicing_data_and_writes_nothing():
    with pytest.raises(ValidationError) as exc:
        account_create(
            name="Bad",
            currency="EUR",
            vat_id="FR40303265046",
            endpoint_scheme="0088",
            endpoint_id="4001234567892",
            einvoice_attach=True,
            billing_address={"line1": "1 rue", "city": "Paris", "country": "FR"},
        )

    assert set(exc.value.details) == {"vat_id", "endpoint_id", "einvoice_attach"}
    assert exc.value.details["einvoice_attach"] == [
        "Choose the e-invoice format first: there is nothing to attach without one."
    ]
    assert not Account.objects.exists()
    assert not BillingProfile.objects.exists() and not Address.objects.exists()


@pytest.mark.django_db
def test_account_update_refuses_a_bad_vat_id_and_keeps_the_old_one():
    account = factories.AccountFactory(vat_id="FR40303265045")

    with pytest.raises(ValidationError) as exc:
        account_update(account=account, vat_id="DE136695977")

    assert list(exc.value.details) == ["vat_id"]
    account.refresh_from_db()
    assert account.vat_id == "FR40303265045"


@pytest.mark.django_db
def test_a_legal_entity_vat_id_without_prefix_takes_its_address_country():
    entity = legal_entity_create(
        name="Ledgerline Europe GmbH",
        address={"line1": "Friedrichstraße 68", "city": "Berlin", "country": "DE"},
        vat_id="136 695 976",
        endpoint_scheme="9930",
        endpoint_id="DE136695976",
        payment_means="58",
        iban="de89 3704 0044 0532 0130 00",
        bic="cobadeffxxx",
    )

    entity.refresh_from_db()
    assert (entity.vat_id, entity.iban, entity.bic) == (
        "DE136695976",
        "DE89370400440532013000",
        "COBADEFFXXX",
    )


@pytest.mark.django_db
def test_legal_entity_create_refuses_a_bad_iban_and_bic_and_leaves_no_address():
    with pytest.raises(ValidationError) as exc:
        legal_entity_create(
            name="Bad bank",
            address={"line1": "Friedrichstraße 68", "city": "Berlin", "country": "DE"},
            iban="DE89370400440532013001",
            bic="COBADEF",
        )

    assert set(exc.value.details) == {"iban", "bic"}
    assert not LegalEntity.objects.exists() and not Address.objects.exists()


# --- the API ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_account_api_reads_and_writes_the_einvoicing_fields(admin, reader, world):
    body = {
        "name": "Lumière Studio SARL",
        "currency": "EUR",
        "legal_entity": world.seller.pk,
        "vat_id": "fr 40 303 265 045",
        "registration_id": "303265045",
        "endpoint_scheme": "0002",
        "endpoint_id": "303265045",
        "buyer_reference": "LUM-ACHATS-2026",
        "einvoice_format": "facturx",
        "einvoice_required": True,
        "einvoice_attach": True,
    }

    response = admin.post(API + "accounts/", body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert {k: data[k] for k in body} == {**body, "vat_id": "FR40303265045"}
    account = Account.objects.get(pk=data["id"])
    assert (account.vat_id, account.legal_registration_id, account.einvoice_format) == (
        "FR40303265045",
        "303265045",
        "facturx",
    )
    assert reader.get(API + "accounts/", {"vat_id": "FR40303265045"}).json()["count"] == 1

    # "none" clears the format (stored empty), once nothing is attached any more.
    response = admin.patch(
        f"{API}accounts/{account.pk}",
        {"einvoice_format": "none", "einvoice_attach": False},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["einvoice_format"] == "none"
    account.refresh_from_db()
    assert account.einvoice_format == ""
    assert reader.get(f"{API}accounts/{world.account.pk}").json()["einvoice_format"] == "none"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            {"vat_id": "DE136695977"},
            {
                "vat_id": [
                    "“DE136695977” is not a valid DE VAT id (The number's checksum or check "
                    "digit is invalid.). Check the digits."
                ]
            },
        ),
        (
            {"vat_id": "136695976"},
            {"vat_id": ["“136695976” has no country prefix: write it as e.g. DE123456789."]},
        ),
        (
            {"einvoice_attach": True},
            {
                "einvoice_attach": [
                    "Choose the e-invoice format first: there is nothing to attach without one."
                ]
            },
        ),
        (
            {"einvoice_format": "pdf"},
            {
                "einvoice_format": [
                    "“pdf” is not an e-invoice format: use one of none, ubl, cii, facturx, "
                    "xrechnung."
                ]
            },
        ),
        (
            {"endpoint_scheme": "9999", "endpoint_id": "x"},
            {
                "endpoint_scheme": [
                    "“9999” is not an electronic address scheme: use a CEF EAS code, e.g. 9930 "
                    "(German VAT id), 0088 (GLN), 0204 (Leitweg-ID), 0208 (Belgian enterprise "
                    "number) or EM (email)."
                ]
            },
        ),
        (
            {"endpoint_scheme": "9930", "endpoint_id": "FR40303265045"},
            {"endpoint_id": ["A 9930 address is a DE VAT id starting with DE."]},
        ),
    ],
)
def test_the_account_api_refuses_bad_einvoicing_data_naming_the_field(admin, world, body, details):
    before = list(Account.objects.values_list("pk", "vat_id", "endpoint_id", "einvoice_format"))

    created = admin.post(API + "accounts/", {"name": "Bad", "currency": "EUR", **body})
    changed = admin.patch(f"{API}accounts/{world.account.pk}", body)

    for response in (created, changed):
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert response.json()["details"] == details
    after = list(Account.objects.values_list("pk", "vat_id", "endpoint_id", "einvoice_format"))
    assert after == before  # nothing created, nothing changed


@pytest.mark.django_db
def test_the_legal_entity_api_reads_and_writes_the_einvoicing_fields(admin):
    body = {
        "name": "Ledgerline Europe GmbH",
        "address": {"line1": "Friedrichstraße 68", "city": "Berlin", "country": "DE"},
        "vat_id": "136695976",
        "registration_id": "HRB 187654 B",
        "endpoint_scheme": "9930",
        "endpoint_id": "DE136695976",
        "payment_means": "58",
        "iban": "DE89 3704 0044 0532 0130 00",
        "bic": "COBADEFFXXX",
    }

    response = admin.post(API + "legal-entities/", body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert {k: data[k] for k in body if k not in ("name", "address")} == {
        "vat_id": "DE136695976",
        "registration_id": "HRB 187654 B",
        "endpoint_scheme": "9930",
        "endpoint_id": "DE136695976",
        "payment_means": "58",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
    }
    assert data["registration_scheme"] == ""
    entity = LegalEntity.objects.get(pk=data["id"])
    assert (entity.legal_registration_id, entity.iban) == (
        "HRB 187654 B",
        "DE89370400440532013000",
    )


@pytest.mark.django_db
def test_the_legal_entity_api_refuses_bad_bank_details_and_writes_nothing(admin, world):
    body = {
        "name": "Bad bank",
        "address": {"line1": "Friedrichstraße 68", "city": "Berlin", "country": "DE"},
        "vat_id": "DE136695976",
        "iban": "DE89370400440532013001",
        "payment_means": "99",
    }
    addresses = Address.objects.count()
    response = admin.post(API + "legal-entities/", body, format="json")
    assert response.status_code == 400
    assert response.json()["details"] == {
        "payment_means": [
            "“99” is not a payment means: use a UNCL 4461 code, e.g. 58 (SEPA credit transfer), "
            "30 (credit transfer), 59 (SEPA direct debit) or 54 (credit card)."
        ]
    }

    response = admin.post(API + "legal-entities/", {**body, "payment_means": "58"}, format="json")
    assert response.status_code == 400
    (message,) = response.json()["details"]["iban"]
    assert message.startswith("“DE89370400440532013001” is not a valid IBAN (")
    assert list(response.json()["details"]) == ["iban"]
    assert list(LegalEntity.objects.values_list("pk", flat=True)) == [world.seller.pk]
    assert Address.objects.count() == addresses  # no new one

    # A change to a bad VAT id is refused too, the seller unchanged.
    response = admin.patch(f"{API}legal-entities/{world.seller.pk}", {"vat_id": "DE136695977"})
    assert response.status_code == 400
    assert list(response.json()["details"]) == ["vat_id"]
    world.seller.refresh_from_db()
    assert world.seller.vat_id == ""


# --- the admin ----------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


NO_INLINES = {
    f"{name}-{kind}": "0"
    for name in ("contacts", "billing_profiles", "payment_methods")
    for kind in ("TOTAL_FORMS", "INITIAL_FORMS")
}


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.django_db
def test_the_account_admin_groups_and_checks_the_einvoicing_fields(staff_client):
    page = staff_client.get(_url(Account, "add")).content.decode()
    for field in ("vat_id", "endpoint_scheme", "endpoint_id", "buyer_reference", "einvoice_format"):
        assert f'name="{field}"' in page
    assert "E-invoicing" in page

    form = {"name": "Globex", "currency": "EUR", "timezone": "UTC", **NO_INLINES}
    refused = staff_client.post(_url(Account, "add"), {**form, "vat_id": "DE136695977"})

    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors
    assert list(errors) == ["vat_id"] and "is not a valid DE VAT id" in errors["vat_id"][0]
    assert not Account.objects.exists()

    added = staff_client.post(
        _url(Account, "add"),
        {**form, "vat_id": "de 136 695 976", "einvoice_format": "xrechnung"},
    )

    assert added.status_code == 302, added.context["adminform"].form.errors
    account = Account.objects.get()
    assert (account.vat_id, account.einvoice_format) == ("DE136695976", "xrechnung")
    assert account.billing_profiles.count() == 1  # account_create made its profile


@pytest.mark.django_db
def test_the_legal_entity_admin_checks_the_bank_details(staff_client):
    entity = factories.LegalEntityFactory(address__country="DE")
    form = {"name": entity.name, "address": entity.address_id, "is_active": "on"}

    refused = staff_client.post(
        _url(LegalEntity, "change", entity.pk), {**form, "bic": "COBADEF", "payment_means": "58"}
    )

    assert refused.status_code == 200
    # A bad BIC, and SEPA credit transfer without the IBAN to pay into (BR-61).
    assert sorted(refused.context["adminform"].form.errors) == ["bic", "iban"]
    entity.refresh_from_db()
    assert (entity.bic, entity.payment_means) == ("", "")

    saved = staff_client.post(
        _url(LegalEntity, "change", entity.pk),
        {**form, "bic": "cobadeffxxx", "iban": "DE89 3704 0044 0532 0130 00", "payment_means": 58},
    )

    assert saved.status_code == 302, saved.context["adminform"].form.errors
    entity.refresh_from_db()
    assert (entity.bic, entity.iban, entity.payment_means) == (
        "COBADEFFXXX",
        "DE89370400440532013000",
        "58",
    )
