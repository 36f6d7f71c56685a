"""The invoice PDF: content, pagination, query count, currency minor units, drafts."""

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from accounts.models import Account, Address, Contact, LegalEntity, PaymentTerm, SavedPaymentMethod
from billing.models import UnitOfMeasure
from invoicing.models import Invoice, InvoiceAddress, InvoiceLine, InvoiceLineTax
from invoicing.pdf import render_invoice_pdf

D = Decimal
JAN1 = dt.date(2026, 1, 1)
JAN31 = dt.date(2026, 1, 31)


# --- local helpers (ORM only) ---------------------------------------------------------------


def _unit(code: str, scale: int) -> UnitOfMeasure:
    unit, _ = UnitOfMeasure.objects.get_or_create(
        code=code, defaults={"name": code, "scale": scale}
    )
    return unit


def _seller() -> LegalEntity:
    address = Address.objects.create(
        line1="1 Harbour Street", city="Dublin", postal_code="D02 X285", country="IE"
    )
    return LegalEntity.objects.create(
        name="Ledgerline Europe Ltd", address=address, tax_id="IE9876543W"
    )


def _account(currency: str = "USD", **kwargs) -> Account:
    return Account.objects.create(name="Acme Widgets Inc", currency=currency, **kwargs)


def _invoice(account: Account, *, posted: bool = True, number: str = "INV-2026-000042", **kw):
    values = {
        "account": account,
        "currency": account.currency,
        "invoice_date": dt.date(2026, 2, 1),
        "due_date": dt.date(2026, 3, 3),
        "status": "posted" if posted else "draft",
        "number": number if posted else None,
        "posted_date": dt.date(2026, 2, 1) if posted else None,
    }
    values.update(kw)
    return Invoice.objects.create(**values)


def _line(invoice: Invoice, sort_order: int, name: str, **kw) -> InvoiceLine:
    values = {"invoice": invoice, "sort_order": sort_order, "name": name}
    values.update(kw)
    return InvoiceLine.objects.create(**values)


def _text(pdf: bytes) -> tuple[PdfReader, list[str]]:
    """The PDF's pages as text.

    reportlab writes U+2022 (•) in Helvetica's WinAnsiEncoding as byte 0x7F, which the PDF
    specification (Annex D) maps to the bullet glyph and viewers render as one (poppler's
    pdftotext extracts it as •); pypdf alone decodes it as DEL, so it is mapped back here.
    """
    reader = PdfReader(io.BytesIO(pdf))
    return reader, [page.extract_text().replace("\x7f", "•") for page in reader.pages]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _sample_invoice() -> Invoice:
    seller = _seller()
    account = _account(tax_id="US-EIN 12-3456789")
    contact = Contact.objects.create(account=account, name="Jane Doe", email="ap@acme.example")
    term = PaymentTerm.objects.create(name="Net 30", days=30)
    method = SavedPaymentMethod.objects.create(
        account=account, processor_token="pm_1NxTestToken", label="Visa •••• 4242"
    )
    invoice = _invoice(
        account,
        legal_entity=seller,
        bill_to=contact,
        payment_term=term,
        saved_payment_method=method,
        total_charges=D("3590.7800"),
        total_adjustments=D("-100.0000"),
        total_tax=D("712.1560"),
        total=D("4202.9400"),
        balance=D("2202.9400"),
    )
    InvoiceAddress.objects.create(
        invoice=invoice,
        kind="billing",
        name="Acme Widgets Inc",
        line1="500 Market Street",
        line2="Suite 12",
        city="San Francisco",
        region="CA",
        postal_code="94105",
        country="US",
    )
    each, gb = _unit("each", 0), _unit("GB", 3)
    period = {"period_start": JAN1, "period_end": JAN31}
    bundle = _line(
        invoice,
        1,
        "Platform Suite",
        quantity=D("1"),
        unit=each,
        unit_price=D("2500"),
        amount=D("2500.0000"),
        **period,
    )
    seats = _line(
        invoice,
        2,
        "Analyst seats",
        parent_line=bundle,
        quantity=D("25"),
        unit=each,
        unit_price=D("40"),
        amount=D("1000.0000"),
        **period,
    )
    _line(
        invoice,
        3,
        "Seat onboarding",
        parent_line=seats,
        quantity=D("25"),
        unit=each,
        unit_price=D("0"),
        amount=D("0"),
        **period,
    )
    _line(
        invoice,
        4,
        "API gateway",
        parent_line=bundle,
        quantity=D("1"),
        unit=each,
        unit_price=D("0"),
        amount=D("0"),
        **period,
    )
    usage = _line(
        invoice,
        5,
        "Data transfer",
        is_usage=True,
        quantity=D("234.567"),
        unit=gb,
        unit_price=D("0.0125"),
        amount=D("90.7800"),
        consumed_quantity=D("1234.567"),
        included_quantity=D("1000"),
        overage_quantity=D("234.567"),
        **period,
    )
    _line(
        invoice,
        6,
        "Loyalty credit",
        type="adjustment",
        quantity=D("1"),
        unit_price=D("-100"),
        amount=D("-100.0000"),
        taxable=False,
    )
    for line, amount in ((bundle, D("2500.0000")), (seats, D("1000.0000"))):
        InvoiceLineTax.objects.create(
            line=line, name="VAT", rate=D("20"), taxable_amount=amount, amount=amount / 5
        )
    InvoiceLineTax.objects.create(
        line=usage, name="VAT", rate=D("20"), taxable_amount=D("90.78"), amount=D("18.156")
    )
    InvoiceLineTax.objects.create(
        line=bundle,
        name="Digital services levy",
        rate=D("0.5"),
        taxable_amount=D("2500"),
        amount=D("12.50"),
    )
    return invoice


def _large_invoice(n: int = 2000) -> Invoice:
    seller = _seller()
    account = _account()
    invoice = _invoice(
        account,
        legal_entity=seller,
        number="INV-2026-002000",
        total_charges=D("100000.0000"),
        total_tax=D("20000.0000"),
        total=D("120000.0000"),
        balance=D("120000.0000"),
    )
    each = _unit("each", 0)
    lines = InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            sort_order=i,
            name=f"Subscription item {i:04d}",
            quantity=D("2"),
            unit=each,
            unit_price=D("25"),
            amount=D("50"),
            period_start=JAN1,
            period_end=JAN31,
        )
        for i in range(n)
    )
    # A few bundles so that parent lookups are exercised at scale.
    for parent, child in zip(lines[0:200:10], lines[1:200:10], strict=True):
        child.parent_line = parent
    InvoiceLine.objects.bulk_update(lines[1:200:10], ["parent_line"])
    InvoiceLineTax.objects.bulk_create(
        InvoiceLineTax(line=line, name="VAT", rate=D("20"), taxable_amount=D("50"), amount=D("10"))
        for line in lines
    )
    return invoice


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_posted_invoice_shows_parties_lines_taxes_totals_and_payment():
    invoice = _sample_invoice()

    pdf = render_invoice_pdf(invoice)

    assert pdf.startswith(b"%PDF")
    reader, pages = _text(pdf)
    assert len(reader.pages) == 1
    text = _squash(pages[0])
    for expected in (
        "INVOICE",
        "INV-2026-000042",
        "Ledgerline Europe Ltd",
        "1 Harbour Street",
        "Tax ID: IE9876543W",
        "Jane Doe",
        "ap@acme.example",
        "Acme Widgets Inc",
        "500 Market Street",
        "94105 San Francisco",
        "Tax ID: US-EIN 12-3456789",
        "Net 30",
        "1 Feb 2026",
        "3 Mar 2026",
        # Lines, quantities with units, unit prices, amounts.
        "Platform Suite",
        "Analyst seats",
        "Seat onboarding",
        "API gateway",
        "Data transfer",
        "Loyalty credit",
        "Adjustment",
        "1 Jan 2026 – 31 Jan 2026",
        "25 each",
        "234.567 GB",
        "0.0125",
        "2,500.00",
        "1,000.00",
        "90.78",
        "-100.00",
        "Consumed 1,234.567 GB · Included 1,000.000 · Overage 234.567",
        # Tax summary: VAT summed over three lines, the levy on its own row.
        "VAT",
        "20%",
        "718.16",
        "Digital services levy",
        "0.5%",
        "12.50",
        # Totals.
        "Subtotal",
        "3,590.78",
        "Adjustments",
        "Total",
        "USD 4,202.94",
        "Amount paid",
        "2,000.00",
        "Balance due",
        "USD 2,202.94",
        "Payment method: Visa •••• 4242",
        "Page 1 of 1",
    ):
        assert expected in text, f"{expected!r} not in the PDF text"
    assert "DRAFT" not in text
    assert "pm_1NxTestToken" not in text  # only the label of the payment method


@pytest.mark.django_db
def test_bundle_children_are_listed_under_their_parent_in_tree_order():
    invoice = _sample_invoice()

    text = _squash(_text(render_invoice_pdf(invoice))[1][0])

    order = [
        text.index(name)
        for name in (
            "Platform Suite",
            "Analyst seats",
            "Seat onboarding",
            "API gateway",
            "Data transfer",
            "Loyalty credit",
        )
    ]
    assert order == sorted(order)


@pytest.mark.django_db
def test_two_thousand_lines_paginate_with_repeated_headers_in_bounded_queries(
    django_assert_max_num_queries,
):
    invoice = _large_invoice(2000)

    with django_assert_max_num_queries(15):
        pdf = render_invoice_pdf(invoice)

    reader, pages = _text(pdf)
    n = len(reader.pages)
    assert n > 20
    first, last = _squash(pages[0]), _squash(pages[-1])
    assert f"Page 1 of {n}" in first
    assert f"Page {n} of {n}" in last
    assert "INV-2026-002000" in last  # footer on every page
    for header in ("Description", "Quantity", "Unit price", "Amount (USD)"):
        assert header in last
    assert "Subscription item 1999" in _squash(" ".join(pages[-3:]))
    assert "USD 120,000.00" in last
    all_text = "".join(pages)
    assert all_text.count("Subscription item") == 2000


@pytest.mark.django_db
def test_jpy_amounts_have_no_decimals():
    account = _account(currency="JPY")
    invoice = _invoice(
        account,
        number="INV-JP-1",
        total_charges=D("1234567"),
        total_tax=D("123456"),
        total=D("1358023"),
        balance=D("1358023"),
    )
    _line(
        invoice, 1, "Enterprise plan", quantity=D("1"), unit_price=D("1234567"), amount=D("1234567")
    )
    InvoiceLineTax.objects.create(
        line=invoice.lines.get(),
        name="Consumption tax",
        rate=D("10"),
        taxable_amount=D("1234567"),
        amount=D("123456"),
    )

    text = _squash(_text(render_invoice_pdf(invoice))[1][0])

    assert "JPY 1,358,023" in text
    assert "1,234,567" in text
    assert "123,456" in text
    assert not re.search(r"\d,\d{3}\.\d", text)  # no minor-unit decimals on any amount


@pytest.mark.django_db
def test_bhd_amounts_have_three_decimals():
    account = _account(currency="BHD")
    invoice = _invoice(
        account,
        number="INV-BH-1",
        total_charges=D("1250.125"),
        total=D("1250.125"),
        balance=D("1250.125"),
    )
    _line(invoice, 1, "Support", quantity=D("1"), unit_price=D("1250.125"), amount=D("1250.125"))

    text = _squash(_text(render_invoice_pdf(invoice))[1][0])

    assert "BHD 1,250.125" in text


@pytest.mark.django_db
def test_draft_is_marked_draft_and_has_no_number():
    account = _account()
    invoice = _invoice(account, posted=False, total=D("10"), balance=D("10"))
    _line(invoice, 1, "Setup fee", quantity=D("1"), unit_price=D("10"), amount=D("10"))

    text = _squash(_text(render_invoice_pdf(invoice))[1][0])

    assert "DRAFT" in text
    assert "Draft invoice" in text
    assert "Invoice number" not in text
    assert "INV-" not in text
    assert "Page 1 of 1" in text


@pytest.mark.django_db
def test_text_outside_helvetica_is_replaced_and_markup_is_escaped():
    account = Account.objects.create(name="Żabka & <Sons> Sp. z o.o.", currency="EUR")
    invoice = _invoice(account, number="INV-EU-1", total=D("5"), balance=D("5"))
    _line(invoice, 1, "Câble − 5 m → rack 日本", quantity=D("1"), unit_price=D("5"), amount=D("5"))

    text = _squash(_text(render_invoice_pdf(invoice))[1][0])

    assert "Zabka & <Sons> Sp. z o.o." in text
    assert "Câble - 5 m -> rack ??" in text


@pytest.mark.django_db
def test_seller_defaults_to_the_accounts_legal_entity_never_to_the_customer():
    account = _account(legal_entity=_seller())
    invoice = _invoice(account, number="INV-LE-1", total=D("1"), balance=D("1"))

    text = _squash(_text(render_invoice_pdf(invoice))[1][0])

    assert "Ledgerline Europe Ltd" in text
    assert "Tax ID: IE9876543W" in text
    assert text.count("Acme Widgets Inc") == 1  # in the bill-to block only
