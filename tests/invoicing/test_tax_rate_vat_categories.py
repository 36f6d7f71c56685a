"""Tax rates' VAT categories and exemption reasons at their doors (the API and the admin,
through core.crud's services, which run the model's checks): a zero or exempt category is a
0 % rate with a reason; a standard rate is above 0; bad input names the field, saving
nothing."""

import pytest
from django.urls import reverse

from invoicing.models import TaxRate

pytestmark = pytest.mark.django_db
API = "/api/v1/"


def rate_body(**fields) -> dict:
    return {"name": "Reverse charge", "country": "FR", "rate": "0", "kind": "percentage", **fields}


def test_a_tax_rate_has_its_category_and_exemption_reason(admin, reader, world):
    response = admin.post(
        API + "tax-rates/",
        rate_body(
            vat_category="AE",
            exemption_reason_code="VATEX-EU-AE",
            exemption_reason="Reverse charge: VAT to be accounted for by the customer",
        ),
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["vat_category"], data["exemption_reason_code"], data["exemption_reason"]) == (
        "AE",
        "VATEX-EU-AE",
        "Reverse charge: VAT to be accounted for by the customer",
    )
    assert reader.get(API + "tax-rates/", {"vat_category": "AE"}).json()["count"] == 1
    standard = admin.post(API + "tax-rates/", {"name": "TVA", "country": "FR", "rate": "20"})
    assert standard.status_code == 201 and standard.json()["vat_category"] == "S"


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            rate_body(vat_category="AE", rate="19", exemption_reason="Reverse charge"),
            {"rate": ["A rate of VAT category AE is 0: set the rate to 0 or choose category S."]},
        ),
        (
            rate_body(vat_category="E"),
            {
                "exemption_reason": [
                    "VAT category E needs the exemption reason on the document: give a VATEX "
                    "code or the reason in words."
                ]
            },
        ),
        (
            rate_body(vat_category="S"),
            {"rate": ["A standard-rated (S) rate is above 0: use category Z for 0 %."]},
        ),
        (
            rate_body(vat_category="X"),
            {
                "vat_category": [
                    "“X” is not a VAT category: use S (standard), Z (zero rated), E (exempt), "
                    "AE (reverse charge), K (intra-community supply), G (export), O (outside "
                    "the scope of VAT), L (IGIC) or M (IPSI)."
                ]
            },
        ),
    ],
)
def test_a_category_that_does_not_fit_the_rate_is_refused_naming_the_field(
    admin, world, body, details
):
    response = admin.post(API + "tax-rates/", body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["details"] == details
    assert not TaxRate.objects.exists()


def test_a_change_to_an_exempt_category_without_a_reason_changes_nothing(admin, world):
    rate = TaxRate.objects.create(name="USt.", country="DE", rate="19")

    response = admin.patch(f"{API}tax-rates/{rate.pk}", {"vat_category": "Z"})

    assert response.status_code == 400
    assert list(response.json()["details"]) == ["rate"]
    rate.refresh_from_db()
    assert (rate.vat_category, str(rate.rate)) == ("S", "19.0000")


def test_the_admin_refuses_an_exempt_rate_without_a_reason(admin_client_logged, world):
    form = {
        "name": "Exempt",
        "country": "DE",
        "region": "",
        "tax_code": "EDU",
        "rate": "0",
        "kind": "percentage",
        "priority": "1",
        "vat_category": "E",
        "is_active": "on",
    }

    refused = admin_client_logged.post(reverse("admin:invoicing_taxrate_add"), form)

    assert refused.status_code == 200
    assert list(refused.context["adminform"].form.errors) == ["exemption_reason"]
    assert not TaxRate.objects.exists()

    saved = admin_client_logged.post(
        reverse("admin:invoicing_taxrate_add"),
        {**form, "exemption_reason_code": "VATEX-EU-132", "exemption_reason": "Education"},
    )

    assert saved.status_code == 302, saved.context["adminform"].form.errors
    rate = TaxRate.objects.get()
    assert (rate.vat_category, rate.exemption_reason_code, rate.exemption_reason) == (
        "E",
        "VATEX-EU-132",
        "Education",
    )
