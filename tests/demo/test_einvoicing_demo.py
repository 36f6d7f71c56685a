"""The demo's e-invoicing data: the European seller's VAT id, electronic address and bank
account, valid VAT ids on the EU accounts (the French businesses are reverse-charged, the
German ones pay German VAT), UN/ECE unit codes, purchase orders; and a demo loaded before
that data existed gets it on the next run, once."""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts.models import Account, LegalEntity
from billing.models import Order, UnitOfMeasure
from core.vat import vat_id_valid
from demo.data import COUNT_KEYS, EU_ENTITY, demo_load
from invoicing.models import InvoiceLineTax
from invoicing.services.generation import invoices_generate

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 24)
EU_ACCOUNTS = {
    "DEMO-016": "DE298765435",
    "DEMO-017": "DE143256786",
    "DEMO-018": "DE811907352",
    "DEMO-019": "FR40303265045",
    "DEMO-020": "FR14987654324",
}


@pytest.fixture
def demo():
    return demo_load(today=TODAY)


def test_the_european_seller_states_what_its_einvoices_need(demo):
    entity = LegalEntity.objects.get(name=EU_ENTITY)

    assert (entity.vat_id, entity.country, entity.legal_registration_id) == (
        "DE136695976",
        "DE",
        "HRB 187654 B",
    )
    assert (entity.endpoint_scheme, entity.endpoint_id) == ("9930", "DE136695976")
    assert (entity.payment_means, entity.iban, entity.bic) == (
        "58",
        "DE89370400440532013000",
        "COBADEFFXXX",
    )
    entity.full_clean()  # every check of the model passes


def test_the_eu_accounts_have_valid_vat_ids_and_two_receive_einvoices(demo):
    accounts = {a.external_id: a for a in Account.objects.filter(external_id__in=EU_ACCOUNTS)}

    assert {ext: a.vat_id for ext, a in accounts.items()} == EU_ACCOUNTS
    assert all(vat_id_valid(vat_id) for vat_id in EU_ACCOUNTS.values())
    assert {ext: a.tax_id for ext, a in accounts.items()} == dict.fromkeys(EU_ACCOUNTS, "")
    formats = {
        ext: (a.einvoice_format, a.buyer_reference, a.endpoint_scheme, a.endpoint_id)
        for ext, a in accounts.items()
        if a.einvoice_format
    }
    assert formats == {
        "DEMO-017": ("xrechnung", "EK-2026-4711", "9930", "DE143256786"),
        "DEMO-019": ("facturx", "LUM-ACHATS-2026", "0002", "303265045"),
        "DEMO-020": ("ubl", "MV-2026-0020", "0002", "987654324"),
    }
    for account in accounts.values():
        account.full_clean()
    units = dict(UnitOfMeasure.objects.values_list("code", "unece_code"))
    assert units == {"EA": "C62", "HR": "HUR", "GB": "E34"}
    orders = dict(
        Order.objects.exclude(purchase_order="").values_list("description", "purchase_order")
    )
    assert orders == {
        "Plant floor seats (PO-4471)": "PO-4471",
        "Premium-Support und Einrichtung": "4500012345",
        "Sièges, mensuel à terme échu": "BC-2026-0193",
    }


def test_a_french_business_is_reverse_charged_and_a_german_one_pays_german_vat(demo):
    french = Account.objects.get(external_id="DEMO-019")
    result = invoices_generate(account_id=french.pk, target_date=TODAY, action="posted")
    assert result.errors == [] and result.posting_errors == []
    # 6 seats at 29.00 a month in arrears from Sep 20: the Sep 20–30 stub (11/30 of 174.00 =
    # 63.80) and October (174.00) on one invoice, no VAT.
    (invoice,) = result.invoices
    assert (invoice.total_charges, invoice.total_tax, invoice.total) == (
        D("237.80"),
        D("0.00"),
        D("237.80"),
    )
    assert sorted(invoice.lines.values_list("amount", flat=True)) == [D("63.80"), D("174.00")]
    rows = InvoiceLineTax.objects.filter(line__invoice__account=french)
    assert set(rows.values_list("vat_category", "rate", "amount", "exemption_reason")) == {
        ("AE", D("0"), D("0.00"), "Reverse charge: VAT to be accounted for by the customer")
    }

    german = Account.objects.get(external_id="DEMO-018")
    result = invoices_generate(account_id=german.pk, target_date=TODAY, action="posted")
    # 60 seats at 300.00 a year, annual in advance from Feb 1: 18,000.00 + 19 % = 3,420.00.
    assert [(i.total_charges, i.total_tax, i.total) for i in result.invoices] == [
        (D("18000.00"), D("3420.00"), D("21420.00"))
    ]
    rows = InvoiceLineTax.objects.filter(line__invoice__account=german)
    assert list(rows.values_list("name", "vat_category", "rate")) == [("USt.", "S", D("19"))]


def test_a_demo_loaded_before_the_einvoicing_data_gets_it_once(demo):
    # What a demo loaded before this data existed looks like.
    LegalEntity.objects.filter(name=EU_ENTITY).update(
        vat_id="", endpoint_scheme="", endpoint_id="", payment_means="", iban="", bic=""
    )
    Account.objects.update(vat_id="", endpoint_scheme="", endpoint_id="", einvoice_format="")
    UnitOfMeasure.objects.update(unece_code="C62")
    # A field someone set since is theirs: never overwritten.
    Account.objects.filter(external_id="DEMO-016").update(vat_id="DE811907352")

    assert demo_load(today=TODAY) == dict.fromkeys(COUNT_KEYS, 0)  # nothing new is created

    entity = LegalEntity.objects.get(name=EU_ENTITY)
    assert (entity.vat_id, entity.iban, entity.endpoint_id) == (
        "DE136695976",
        "DE89370400440532013000",
        "DE136695976",
    )
    vat_ids = dict(
        Account.objects.filter(external_id__in=EU_ACCOUNTS).values_list("external_id", "vat_id")
    )
    assert vat_ids == {**EU_ACCOUNTS, "DEMO-016": "DE811907352"}
    assert Account.objects.get(external_id="DEMO-020").einvoice_format == "ubl"
    units = dict(UnitOfMeasure.objects.values_list("code", "unece_code"))
    assert units == {"EA": "C62", "HR": "HUR", "GB": "E34"}

    stamps = sorted(Account.objects.values_list("pk", "updated_at"))
    assert demo_load(today=TODAY) == dict.fromkeys(COUNT_KEYS, 0)
    assert sorted(Account.objects.values_list("pk", "updated_at")) == stamps  # nothing to fill
