"""The customer documents as PDF: the invoice (content, pagination, query count, currency
minor units, drafts, payments and voids as they happened), credit and debit memos (one
renderer), addresses in their country's order, and the PDF's metadata."""

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from freezegun import freeze_time
from pypdf import PdfReader

from accounts.models import Account, Address, Contact, LegalEntity, PaymentTerm, SavedPaymentMethod
from billing.models import UnitOfMeasure
from invoicing.models import (
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    Payment,
    SequencePolicy,
)
from invoicing.pdf import render_credit_memo_pdf, render_debit_memo_pdf, render_invoice_pdf
from invoicing.services.memos import credit_memo_create, debit_memo_create, debit_memo_invoice
from invoicing.services.payments import payment_record
from invoicing.services.void import invoice_void
from tests.support.invoicing import generate

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
    # Two payments settled 2,000.00 of it (total 4,202.94, balance 2,202.94).
    for day, amount in ((10, D("1500.00")), (20, D("500.00"))):
        Payment.objects.create(
            invoice=invoice,
            account=account,
            amount=amount,
            currency="USD",
            payment_date=dt.date(2026, 2, day),
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
        # Each address in its country's order, the country named (seller and buyer differ).
        "San Francisco, CA 94105 United States",
        "Dublin D02 X285 Ireland",
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
        "Amount paid 2,000.00",
        "Balance due USD 2,202.94",
        "Payment method: Visa •••• 4242",
        "Payment received 10 Feb 2026: USD 1,500.00",
        "Payment received 20 Feb 2026: USD 500.00",
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


# --- what really settled an invoice: payments, credits, a void ------------------------------


def _credit_memo_policy() -> None:
    SequencePolicy.objects.create(
        name="Credit memos", target="credit_memo", pattern="CM-{SEQ}", min_width=4
    )


@pytest.mark.django_db
def test_voided_invoice_says_when_and_by_which_credit_memo_and_shows_no_payment(lw):
    _credit_memo_policy()
    # Jan + Feb of both schedules: 139.98 + tax 11.56 (8.76 state, 2.80 city) = 151.54.
    invoice = generate(lw, dt.date(2026, 2, 15))
    invoice_void(invoice_id=invoice.pk, void_date=dt.date(2026, 3, 3))

    reader, pages = _text(render_invoice_pdf(invoice))

    text = _squash(pages[0])
    for expected in (
        "INVOICE VOID",
        "Invoice number INV-0001",
        "Voided on 3 Mar 2026",
        # In the box at the top and in the Void section, word for word.
        "BALANCE DUE USD 0.00 Voided on 3 Mar 2026, credited in full by credit memo CM-0001 "
        "of 3 Mar 2026.",
        "Void Voided on 3 Mar 2026, credited in full by credit memo CM-0001 of 3 Mar 2026.",
        "Subtotal 139.98 Tax 11.56 Total USD 151.54 Credited by CM-0001 151.54 "
        "Balance due USD 0.00",
        "TX state tax 6.25% 139.98 8.76",
        "Austin city tax 2% 139.98 2.80",
    ):
        assert expected in text, f"{expected!r} not in the PDF text"
    # No payment happened: none is shown, nor asked for.
    for absent in ("Amount paid", "Paid in full", "Payment received", "Please quote", "Due 17"):
        assert absent not in text, f"{absent!r} in the PDF text"


@pytest.mark.django_db
def test_invoice_settled_by_a_recorded_payment_says_paid_in_full(lw):
    invoice = generate(lw, dt.date(2026, 2, 15))
    payment_record(invoice_id=invoice.pk, amount="151.54", payment_date=dt.date(2026, 3, 10))

    text = _squash(_text(render_invoice_pdf(invoice))[1][0])

    assert "BALANCE DUE USD 0.00 Paid in full" in text
    assert "Total USD 151.54 Amount paid 151.54 Balance due USD 0.00" in text
    assert "Payment received 10 Mar 2026: USD 151.54" in text
    assert "Credited" not in text and "VOID" not in text


@pytest.mark.django_db
def test_a_balance_below_the_total_without_payment_rows_claims_no_payment():
    """A settled balance that no Payment row explains is not shown as a payment."""
    account = _account()
    invoice = _invoice(account, total=D("100.00"), balance=D("0.00"))
    _line(invoice, 1, "Support", quantity=D("1"), unit_price=D("100"), amount=D("100.00"))

    text = _squash(_text(render_invoice_pdf(invoice))[1][0])

    assert "Amount paid" not in text and "Paid in full" not in text
    assert "Total USD 100.00 Other settlements 100.00 Balance due USD 0.00" in text


# --- the PDF's metadata -----------------------------------------------------------------------


def _pdf_time(value: str) -> dt.datetime:
    """A PDF date as the file stores it ("D:20260215093000+00'00'"), read back."""
    return dt.datetime.strptime(value[2:16], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)


@pytest.mark.django_db
def test_metadata_carries_the_real_posting_and_void_times_title_author_and_subject(lw):
    _credit_memo_policy()
    with freeze_time("2026-02-15 09:30:00"):
        invoice = generate(lw, dt.date(2026, 2, 15))
    posted = render_invoice_pdf(invoice)
    with freeze_time("2026-03-03 16:45:10"):
        invoice_void(invoice_id=invoice.pk, void_date=dt.date(2026, 3, 3))
    voided = render_invoice_pdf(invoice)

    info = PdfReader(io.BytesIO(posted)).metadata
    assert _pdf_time(info["/CreationDate"]) == dt.datetime(2026, 2, 15, 9, 30, tzinfo=dt.UTC)
    assert _pdf_time(info["/ModDate"]) == dt.datetime(2026, 2, 15, 9, 30, tzinfo=dt.UTC)
    assert info.title == "Invoice INV-0001"
    assert info.author == "Ledgerline Demo Inc."
    assert info.subject == "Invoice INV-0001 for Acme Corp"
    info = PdfReader(io.BytesIO(voided)).metadata
    assert _pdf_time(info["/CreationDate"]) == dt.datetime(2026, 2, 15, 9, 30, tzinfo=dt.UTC)
    assert _pdf_time(info["/ModDate"]) == dt.datetime(2026, 3, 3, 16, 45, 10, tzinfo=dt.UTC)
    # The same document renders to the same bytes (nothing else in the file moves).
    assert render_invoice_pdf(invoice) == voided


@pytest.mark.django_db
def test_draft_and_memo_metadata_carry_the_time_they_were_made():
    account = _account()
    invoice = _invoice(account, posted=False, total=D("10"), balance=D("10"))
    with freeze_time("2026-04-01 12:00:05"):
        info = PdfReader(io.BytesIO(render_invoice_pdf(invoice))).metadata
    assert _pdf_time(info["/CreationDate"]) == dt.datetime(2026, 4, 1, 12, 0, 5, tzinfo=dt.UTC)
    assert info.title == "Draft invoice"


# --- addresses in their country's order --------------------------------------------------------


def _billed_to(country: str, **address) -> str:
    """The text of a posted invoice of a US seller billed to an address in `country`."""
    seller_address = Address.objects.create(
        line1="1 Market St", city="San Francisco", region="CA", postal_code="94105", country="US"
    )
    seller = LegalEntity.objects.create(name="Ledgerline Demo Inc.", address=seller_address)
    invoice = _invoice(_account(), legal_entity=seller, total=D("1"), balance=D("1"))
    InvoiceAddress.objects.create(invoice=invoice, kind="billing", country=country, **address)
    return _text(render_invoice_pdf(invoice))[1][0]


@pytest.mark.django_db
def test_a_domestic_us_address_reads_city_state_zip_without_a_country():
    text = _billed_to(
        "US", line1="500 Howard St", city="San Francisco", region="CA", postal_code="94103"
    )

    assert "500 Howard St\nSan Francisco, CA 94103\n" in text
    assert "94103 San Francisco" not in text
    assert "United States" not in text and not re.search(r"\bUS\b", text)


@pytest.mark.django_db
def test_a_german_address_reads_postcode_city_and_names_both_countries():
    text = _billed_to("DE", line1="Unter den Linden 1", city="Berlin", postal_code="10117")

    assert "Unter den Linden 1\n10117 Berlin\nGermany\n" in text
    # The seller's own address names its country, since the buyer is abroad.
    assert "San Francisco, CA 94105\nUnited States\n" in text


@pytest.mark.django_db
def test_a_uk_address_puts_the_postcode_on_its_own_line():
    text = _billed_to("GB", line1="10 Downing Street", city="London", postal_code="SW1A 2AA")

    assert "10 Downing Street\nLondon\nSW1A 2AA\nUnited Kingdom\n" in text


# --- credit memos -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_credit_memo_of_a_void_shows_the_invoice_it_credits_lines_taxes_and_application(lw):
    _credit_memo_policy()
    invoice = generate(lw, dt.date(2026, 2, 15))
    memo = invoice_void(invoice_id=invoice.pk, void_date=dt.date(2026, 3, 3)).credit_memo

    reader, pages = _text(render_credit_memo_pdf(memo))

    assert len(reader.pages) == 1
    text = _squash(pages[0])
    for expected in (
        "Ledgerline Demo Inc. 1 Market St San Francisco, CA 94105 Tax ID: US-12-3456789",
        "CREDIT MEMO",
        "Credit memo number CM-0001",
        "Credit memo date 3 Mar 2026",
        "Credits invoice INV-0001 of 15 Feb 2026",
        "CREDIT TO Acme Corp Acme Corp AP ap@example.com 5 Main St Austin, TX 73301",
        "TOTAL CREDIT USD 151.54 Credits invoice INV-0001 in full (void)",
        "Seat 1 Jan 2026 – 31 Jan 2026 10 EA 5.00 50.00",
        "Premium support 1 Feb 2026 – 28 Feb 2026 1 EA 19.99 19.99",
        "TX state tax 6.25% 139.98 8.76",
        "Austin city tax 2% 139.98 2.80",
        "Subtotal 139.98 Tax 11.56 Total credit USD 151.54 Applied to INV-0001 151.54 "
        "Credit remaining USD 0.00",
        "Issued on voiding invoice INV-0001 of 15 Feb 2026",
        "Credit memo CM-0001 Ledgerline Demo Inc. Page 1 of 1",
    ):
        assert expected in text, f"{expected!r} not in the PDF text"
    assert "DRAFT" not in text
    info = reader.metadata
    assert (info.title, info.author, info.subject) == (
        "Credit memo CM-0001",
        "Ledgerline Demo Inc.",
        "Credit memo CM-0001 for Acme Corp",
    )


@pytest.mark.django_db
def test_draft_credit_memo_sums_its_lines_and_is_marked_draft(lw):
    invoice = generate(lw, dt.date(2026, 2, 15))
    memo = credit_memo_create(
        account_id=lw.account.pk,
        invoice_id=invoice.pk,
        memo_date=dt.date(2026, 3, 5),
        reason="Outage on 4 March",
        lines=[
            {
                "name": "Goodwill credit",
                "quantity": "2",
                "unit_price": "12.50",
                "tax_amount": "2.06",
            }
        ],
    )

    with freeze_time("2026-03-05 08:00:00"):
        pdf = render_credit_memo_pdf(memo)

    reader, pages = _text(pdf)
    text = _squash(pages[0])
    for expected in (
        "DRAFT · not yet issued",
        "Credit memo date 5 Mar 2026",
        "Credits invoice INV-0001 of 15 Feb 2026",
        "TOTAL CREDIT USD 27.06 Not yet issued",
        "Goodwill credit 2 12.50 25.00",
        "Tax 25.00 2.06",  # typed in as an amount: no rate
        "Subtotal 25.00 Tax 2.06 Total credit USD 27.06",
        "Reason Outage on 4 March",
        "Draft credit memo",
    ):
        assert expected in text, f"{expected!r} not in the PDF text"
    assert "Credit memo number" not in text
    assert _pdf_time(reader.metadata["/CreationDate"]) == dt.datetime(
        2026, 3, 5, 8, 0, tzinfo=dt.UTC
    )


@pytest.mark.django_db
def test_credit_memo_reads_in_bounded_queries(lw, django_assert_max_num_queries):
    invoice = generate(lw, dt.date(2026, 6, 15))  # six months of two schedules: 12 lines
    memo = invoice_void(invoice_id=invoice.pk).credit_memo

    with django_assert_max_num_queries(10):
        render_credit_memo_pdf(memo)


# --- debit memos ------------------------------------------------------------------------------


def _debit_memo(lw):
    return debit_memo_create(
        account_id=lw.account.pk,
        memo_date=dt.date(2026, 3, 18),
        next_billing_date=dt.date(2026, 4, 1),
        reason="Late payment of INV-0001",
        post=True,
        lines=[
            {"name": "Late fee", "quantity": "1", "unit_price": "25.00"},
            {"name": "Extra seats", "product_id": lw.seat.pk, "quantity": "3", "unit_price": "5"},
        ],
    )


@pytest.mark.django_db
def test_posted_debit_memo_says_when_it_is_billed_and_that_tax_comes_then(lw):
    memo = _debit_memo(lw)

    text = _squash(_text(render_debit_memo_pdf(memo))[1][0])

    for expected in (
        "DEBIT MEMO",
        f"Debit memo number #{memo.pk}",
        "Debit memo date 18 Mar 2026",
        "Billing date 1 Apr 2026",
        "BILL TO Acme Corp Acme Corp AP ap@example.com 5 Main St Austin, TX 73301",
        "TOTAL BEFORE TAX USD 40.00 Billed with the next invoice from 1 Apr 2026",
        "Late fee 1 25.00 25.00",
        "Extra seats 3 EA 5.00 15.00",
        "Tax, where due, is added on the invoice that bills this memo.",
        "Subtotal 40.00 Total before tax USD 40.00",
        "These amounts are billed on your next invoice dated on or after 1 Apr 2026",
        "Reason Late payment of INV-0001",
        f"Debit memo #{memo.pk} Ledgerline Demo Inc. Page 1 of 1",
    ):
        assert expected in text, f"{expected!r} not in the PDF text"
    assert "Tax summary" not in text


@pytest.mark.django_db
def test_invoiced_debit_memo_shows_its_invoice_and_that_invoices_tax(lw):
    memo = _debit_memo(lw)
    debit_memo_invoice(debit_memo_id=memo.pk, invoice_date=dt.date(2026, 3, 20), post=True)

    text = _squash(_text(render_debit_memo_pdf(memo))[1][0])

    for expected in (
        "Billed on invoice INV-0001 of 20 Mar 2026",
        "TOTAL USD 43.30 Billed on invoice INV-0001",
        # 40.00 × 6.25 % = 2.50 and × 2 % = 0.80, as charged on the invoice.
        "TX state tax 6.25% 40.00 2.50",
        "Austin city tax 2% 40.00 0.80",
        "Tax as charged on invoice INV-0001.",
        "Subtotal 40.00 Tax 3.30 Total USD 43.30",
        "The amounts of this memo are billed on invoice INV-0001 of 20 Mar 2026.",
    ):
        assert expected in text, f"{expected!r} not in the PDF text"
    assert "Billing date" not in text
