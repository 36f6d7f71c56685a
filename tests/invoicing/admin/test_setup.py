"""The invoicing setup admin (invoicing/admin/setup.py): sequence policies, tax rates, email
templates and the error log are plain records written through core.crud."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from invoicing.models import ErrorLog, SequencePolicy, TaxRate
from tests import factories

pytestmark = pytest.mark.django_db


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_a_sequence_policy_is_added_but_its_next_value_is_not_typed_in(admin_client_logged):
    response = admin_client_logged.post(
        _url(SequencePolicy, "add"),
        {
            "name": "EU",
            "target": "invoice",
            "pattern": "EU-{SEQ}",
            "min_width": "5",
            "date_format": "YYYY",
            "fiscal_year_start_month": "1",
            "start": "100",
            "increment": "1",
            "currency": "EUR",
            "next_value": "900",
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    policy = SequencePolicy.objects.get()
    assert (policy.name, policy.pattern, policy.min_width, policy.next_value) == (
        "EU",
        "EU-{SEQ}",
        5,
        None,  # taken from `start` (100) by the first posting, never typed in
    )


def test_a_sequence_policy_stamp_outside_the_reference_formats_is_refused(admin_client_logged):
    form = {
        "name": "EU",
        "target": "invoice",
        "pattern": "EU-{DATE}-{SEQ}",
        "min_width": "5",
        "start": "1",
        "increment": "1",
        "currency": "EUR",
        "is_active": "on",
    }

    refused = admin_client_logged.post(
        _url(SequencePolicy, "add"),
        {**form, "date_format": "%Y", "fiscal_year_start_month": "13"},
    )
    added = admin_client_logged.post(
        _url(SequencePolicy, "add"),
        {**form, "date_format": "YYYY-YY", "fiscal_year_start_month": "4"},
    )

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {
        "date_format": [
            '"%Y" is not a date stamp format. '
            "Accepted: YYYY, MM-YYYY, MM-DD-YYYY, YYYY-YY (fiscal year)."
        ],
        "fiscal_year_start_month": ["Ensure this value is less than or equal to 12."],
    }
    assert added.status_code == 302, added.context["adminform"].form.errors
    policy = SequencePolicy.objects.get()
    assert (policy.date_format, policy.fiscal_year_start_month) == ("YYYY-YY", 4)


def test_a_tax_rate_is_changed_and_a_refusal_changes_nothing(admin_client_logged):
    rate = factories.TaxRateFactory(name="TX state tax", rate=D("6.25"))
    url = _url(TaxRate, "change", rate.pk)
    form = {
        "name": "TX state tax",
        "country": "US",
        "region": "TX",
        "tax_code": "",
        "kind": "percentage",
        "priority": "1",
        "vat_category": "S",
        "is_active": "on",
    }

    changed = admin_client_logged.post(url, {**form, "rate": "6.50"})
    refused = admin_client_logged.post(url, {**form, "rate": "-1"})

    assert (changed.status_code, refused.status_code) == (302, 200)
    rate.refresh_from_db()
    assert (rate.rate, rate.region) == (D("6.5000"), "TX")


def test_an_error_is_marked_resolved(admin_client_logged):
    error = factories.ErrorLogFactory(is_resolved=False)

    response = admin_client_logged.post(_url(ErrorLog, "change", error.pk), {"is_resolved": "on"})

    assert response.status_code == 302
    error.refresh_from_db()
    assert error.is_resolved is True
