"""VAT on the customer documents (invoicing/pdf): both parties' VAT ids, the tax summary
grouped per (VAT category, rate) as EN 16931 groups it, the legal note of a reverse-charged,
intra-community or exempt supply, and the seller's bank account to pay into. The reverse
charge invoice is generated through the real path (an order, invoices_generate) and also
drawn to PNG by poppler, whose text must read the same."""

import datetime as dt
import io
import re
import subprocess
from decimal import Decimal as D

import pytest
from pypdf import PdfReader

from invoicing.models import InvoiceLineTax
from invoicing.pdf import render_credit_memo_pdf, render_invoice_pdf
from invoicing.pdf.document import Tax
from invoicing.pdf.layout import tax_summary
from invoicing.pdf.text import rate
from invoicing.services.credits import invoice_credit
from tests.factories import (
    AccountFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    InvoiceLineTaxFactory,
    LegalEntityFactory,
)
from tests.support.eu_vat import (
    FR_VAT,
    buyer,
    generated,
    goods_product,
    monthly,
    once,
    seller,
    service_product,
)

pytestmark = pytest.mark.django_db
REVERSE_CHARGE = "Reverse charge: VAT to be accounted for by the customer"


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def banked_seller():
    entity = seller()
    entity.legal_registration_id = "HRB 187654 B"
    entity.payment_means = "58"
    entity.iban = "DE89370400440532013000"
    entity.bic = "COBADEFFXXX"
    entity.tax_id = ""
    entity.save()
    return entity


@pytest.fixture
def service(db):
    return service_product()


@pytest.fixture
def goods(db):
    return goods_product()


def test_a_reverse_charged_invoice_names_both_vat_ids_and_the_reverse_charge(service, tmp_path):
    account = buyer(banked_seller(), "FR", vat_id=FR_VAT)
    invoice = generated(account, monthly(service))

    pdf = render_invoice_pdf(invoice)

    text = text_of(pdf)
    for expected in (
        "VAT ID: DE136695976",  # the seller, under its address
        "Registration: HRB 187654 B",
        "VAT ID: FR40303265045",  # the buyer, in the bill-to block
        # The tax summary: one row for the category and rate, the category shown.
        "Tax Rate Taxable Tax amount Reverse charge (AE) 0% 90.93 0.00",
        "Total EUR 90.93",
        # The legal note and both VAT ids.
        f"VAT {REVERSE_CHARGE} Supplier VAT ID DE136695976 · Customer VAT ID FR40303265045",
        f"Pay by SEPA credit transfer to IBAN DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX, "
        f"quoting {invoice.number}.",
    ):
        assert expected in text, f"{expected!r} not in {text!r}"
    assert "Tax ID" not in text  # neither party has a tax id besides its VAT id

    # Drawn by poppler as a reader sees it (test-output keeps the picture).
    (tmp_path / "invoice.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "invoice.pdf", "page"],
        cwd=tmp_path,
        check=True,
    )
    (png,) = tmp_path.glob("page*.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    drawn = subprocess.run(
        ["pdftotext", "-layout", "invoice.pdf", "-"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert REVERSE_CHARGE in drawn and "VAT ID: FR40303265045" in drawn


def test_services_and_goods_get_a_row_and_a_note_each(service, goods):
    account = buyer(banked_seller(), "FR", vat_id=FR_VAT)
    invoice = generated(account, monthly(service), once(goods))

    text = text_of(render_invoice_pdf(invoice))

    assert "Reverse charge (AE) 0% 90.93 0.00" in text
    assert "Intra-Community supply (K) 0% 499.00 0.00" in text
    assert (
        f"VAT {REVERSE_CHARGE} Intra-Community supply exempt from VAT (Art. 138 Directive "
        "2006/112/EC) Supplier VAT ID DE136695976 · Customer VAT ID FR40303265045"
    ) in text


def test_a_domestic_invoice_shows_no_category_and_no_note(service):
    account = buyer(banked_seller(), "DE", vat_id="DE143256786")
    invoice = generated(account, monthly(service))

    text = text_of(render_invoice_pdf(invoice))

    assert "Tax Rate Taxable Tax amount USt. 19% 90.93 17.28" in text
    assert "(S)" not in text and "Reverse charge" not in text
    assert "VAT ID: DE143256786" in text


def test_an_export_names_its_exemption_but_not_the_customers_missing_vat_id(goods):
    account = buyer(banked_seller(), "US")
    invoice = generated(account, once(goods))

    text = text_of(render_invoice_pdf(invoice))

    assert "Export (G) 0% 499.00 0.00" in text
    assert "VAT Export outside the EU exempt from VAT" in text
    assert "Customer VAT ID" not in text  # only a reverse charge or K names both ids


def test_a_credit_memo_of_a_reverse_charged_invoice_carries_the_note(service):
    account = buyer(banked_seller(), "FR", vat_id=FR_VAT)
    invoice = generated(account, monthly(service))
    credit = invoice_credit(
        invoice_id=invoice.pk,
        lines=[{"invoice_line": invoice.lines.get().pk, "amount": "30.00"}],
        credit_date=dt.date(2026, 1, 15),
    )

    text = text_of(render_credit_memo_pdf(credit.credit_memo))

    assert "Reverse charge (AE) 0% 30.00 0.00" in text
    assert f"VAT {REVERSE_CHARGE} Supplier VAT ID DE136695976 · Customer VAT ID" in text


def test_a_tax_exempt_account_s_reason_is_printed():
    entity = LegalEntityFactory(address__country="DE", vat_id="DE136695976")
    account = AccountFactory(
        legal_entity=entity,
        currency="EUR",
        tax_exempt=True,
        tax_exemption_reason="Exempt under Art. 132(1)(i) Directive 2006/112/EC (education)",
    )
    invoice = InvoiceFactory(account=account, legal_entity=entity, currency="EUR")
    InvoiceLineFactory(invoice=invoice, name="Course", amount=D("100.00"))

    text = text_of(render_invoice_pdf(invoice))

    assert "VAT Exempt under Art. 132(1)(i) Directive 2006/112/EC (education)" in text


def test_taxes_of_one_category_and_rate_are_one_row_naming_them():
    """Two names of one standard 19 % rate (a renamed tax) are one row of the VAT breakdown;
    another rate, another category or a flat tax are rows of their own."""
    taxes = (
        Tax("USt.", D("19"), "percentage", D("100.00"), D("19.00"), category="S"),
        Tax("MwSt.", D("19.0000"), "percentage", D("50.00"), D("9.50"), category="S"),
        Tax("USt. ermäßigt", D("7"), "percentage", D("20.00"), D("1.40"), category="S"),
        Tax("USt.", D("19"), "percentage", D("10.00"), D("1.90"), category="S"),
        Tax("Reverse charge", D("0"), "percentage", D("80.00"), D("0"), category="AE"),
        Tax("Levy", D("19"), "flat", D("10.00"), D("19.00"), category="S"),
    )

    assert tax_summary(taxes) == [
        ("USt. / MwSt.", "S", "19%", D("160.00"), D("30.40")),
        ("USt. ermäßigt", "S", "7%", D("20.00"), D("1.40")),
        ("Reverse charge", "AE", "0%", D("80.00"), D("0")),
        ("Levy", "S", rate(D("19"), "flat"), D("10.00"), D("19.00")),
    ]


def test_stored_rows_of_one_category_and_rate_print_as_one_summary_row():
    entity = LegalEntityFactory(address__country="DE")
    invoice = InvoiceFactory(legal_entity=entity, account__legal_entity=entity, currency="EUR")
    for name, amount in (("Seats", "100.00"), ("Support", "50.00")):
        line = InvoiceLineFactory(invoice=invoice, name=name, amount=D(amount))
        InvoiceLineTaxFactory(
            line=line,
            name="USt." if name == "Seats" else "MwSt.",
            rate=D("19"),
            taxable_amount=D(amount),
            amount=D(amount) * D("0.19"),
            vat_category="S",
        )
    assert InvoiceLineTax.objects.filter(line__invoice=invoice).count() == 2

    text = text_of(render_invoice_pdf(invoice))

    assert "USt. / MwSt. 19% 150.00 28.50" in text


def test_a_partial_credit_shows_the_taxable_amount_it_credits(service):
    """30.00 of a 90.93 line at 19 %: the credit's tax row is on 30.00 (5.70), not on the
    whole line the invoice taxed."""
    account = buyer(banked_seller(), "DE")
    invoice = generated(account, monthly(service))
    credit = invoice_credit(
        invoice_id=invoice.pk,
        lines=[{"invoice_line": invoice.lines.get().pk, "amount": "30.00"}],
        credit_date=dt.date(2026, 1, 15),
    )
    assert credit.credit_memo.total_tax == D("5.70")

    text = text_of(render_credit_memo_pdf(credit.credit_memo))

    assert "Tax Rate Taxable Tax amount USt. 19% 30.00 5.70" in text
