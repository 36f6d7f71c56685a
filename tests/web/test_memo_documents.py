"""The memo documents in the staff UI: an invoice's page lists its credit and debit memos
(number, date, amount, PDF links); each memo's PDF is shown inline or downloaded; the
invoice's addresses print in their country's order."""

import datetime as dt
import io
import re
from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect
from pypdf import PdfReader

from invoicing.models import Invoice, SequencePolicy
from invoicing.services.generation import invoices_generate
from invoicing.services.memos import debit_memo_create, debit_memo_invoice
from invoicing.services.void import invoice_void
from tests.support.browser import TODAY, login, orm, shot

pytestmark = pytest.mark.django_db
d = dt.date


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def _memo_rows(page: str) -> str:
    return page.split('id="credits"')[1].split("</table>")[0]


@pytest.fixture
def voided(billed):
    """Acme's January seats, posted as INV-0001 (50.00 + 3.13 tax = 53.13), voided on
    3 Mar 2026: credit memo CM-0001."""
    SequencePolicy.objects.create(
        name="Credit memos", target="credit_memo", pattern="CM-{SEQ}", min_width=4
    )
    (invoice_id,) = invoices_generate(
        account_id=billed.account.pk, target_date=d(2026, 1, 31), action="posted"
    ).invoice_ids
    memo = invoice_void(invoice_id=invoice_id, void_date=d(2026, 3, 3)).credit_memo
    return Invoice.objects.get(pk=invoice_id), memo


@pytest.fixture
def debit_invoiced(billed):
    """A late fee of 25.00 (debit memo) invoiced on its own invoice, posted on 20 Mar 2026."""
    memo = debit_memo_create(
        account_id=billed.account.pk,
        memo_date=d(2026, 3, 18),
        reason="Late payment of INV-0001",
        post=True,
        lines=[{"name": "Late fee", "quantity": "1", "unit_price": "25.00"}],
    )
    invoice = debit_memo_invoice(debit_memo_id=memo.pk, invoice_date=d(2026, 3, 20), post=True)
    memo.refresh_from_db()
    return invoice, memo


def test_invoice_page_lists_its_credit_memo_with_number_date_amount_and_pdf_links(ro, voided):
    invoice, memo = voided

    page = ro.get(reverse("web:invoice_detail", args=[invoice.pk])).content.decode()

    rows = _memo_rows(page)
    row = rows.split(f'data-credit-memo="{memo.pk}"')[1].split("</tr>")[0]
    assert "Credit memo CM-0001" in row
    assert "2026-03-03" in row
    assert "53.13 USD" in row
    url = reverse("web:credit_memo_pdf", args=[memo.pk])
    assert f'href="{url}"' in row and f'href="{url}?download=1"' in row
    assert "No credit or debit memo issued for this invoice." not in rows


def test_invoice_page_lists_the_debit_memo_it_bills(ops, debit_invoiced):
    invoice, memo = debit_invoiced

    page = ops.get(reverse("web:invoice_detail", args=[invoice.pk])).content.decode()

    row = _memo_rows(page).split(f'data-debit-memo="{memo.pk}"')[1].split("</tr>")[0]
    assert f"Debit memo #{memo.pk}" in row
    assert "2026-03-18" in row
    assert "25.00 USD" in row
    assert f'href="{reverse("web:debit_memo_pdf", args=[memo.pk])}"' in row


def test_an_invoice_without_memos_says_so(ops, billed):
    (invoice_id,) = invoices_generate(
        account_id=billed.account.pk, target_date=d(2026, 1, 31), action="posted"
    ).invoice_ids

    page = ops.get(reverse("web:invoice_detail", args=[invoice_id])).content.decode()

    assert "No credit or debit memo issued for this invoice." in _memo_rows(page)


def test_credit_memo_pdf_opens_inline_and_downloads(ro, voided):
    _, memo = voided
    url = reverse("web:credit_memo_pdf", args=[memo.pk])

    shown = ro.get(url)
    downloaded = ro.get(url, {"download": "1"})

    assert shown.status_code == downloaded.status_code == 200
    assert shown["Content-Type"] == "application/pdf"
    assert shown["Content-Disposition"] == 'inline; filename="CM-0001.pdf"'
    assert downloaded["Content-Disposition"] == 'attachment; filename="CM-0001.pdf"'
    text = _text(shown.content)
    assert "Credit memo number CM-0001" in text
    assert "Credits invoice INV-0001 of 31 Jan 2026" in text
    assert "Total credit USD 53.13" in text


def test_debit_memo_pdf_names_the_invoice_that_bills_it(ro, debit_invoiced):
    invoice, memo = debit_invoiced

    response = ro.get(reverse("web:debit_memo_pdf", args=[memo.pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'inline; filename="debit-memo-{memo.pk}.pdf"'
    text = _text(response.content)
    assert f"Billed on invoice {invoice.number} of 20 Mar 2026" in text
    # 25.00 and Texas tax 6.25 % = 1.5625 → 1.56, as charged on the invoice.
    assert "Subtotal 25.00 Tax 1.56 Total USD 26.56" in text
    assert invoice.total == D("26.56")


def test_memo_pdfs_need_a_login_and_an_existing_memo(ops, voided):
    _, memo = voided
    url = reverse("web:credit_memo_pdf", args=[memo.pk])

    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert ops.get(reverse("web:credit_memo_pdf", args=[999999])).status_code == 404
    assert ops.get(reverse("web:debit_memo_pdf", args=[999999])).status_code == 404


def test_invoice_page_prints_the_billing_address_in_its_countrys_order(ops, billed):
    (invoice_id,) = invoices_generate(
        account_id=billed.account.pk, target_date=d(2026, 1, 31), action="posted"
    ).invoice_ids

    page = ops.get(reverse("web:invoice_detail", args=[invoice_id])).content.decode()

    address = page.split("<address")[1].split("</address>")[0]
    assert "5 Main St<br>Austin, TX 73301" in address
    assert "73301 Austin" not in address
    assert "United States" not in address  # the seller is in the US too


@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_voided_invoice_lists_its_credit_memo_and_serves_its_pdf(demo, page):
    def void_an_invoice():
        (invoice_id,) = invoices_generate(
            account_id=demo.pk, target_date=TODAY, invoice_date=TODAY, action="posted"
        ).invoice_ids
        return invoice_void(invoice_id=invoice_id, void_date=TODAY).credit_memo

    memo = orm(void_an_invoice)
    login(page, "memo-")

    page.goto(reverse("web:invoice_detail", args=[memo.invoice_id]))
    row = page.locator(f'tr[data-credit-memo="{memo.pk}"]')
    expect(row).to_be_visible()
    assert "1,784.08 USD" in row.inner_text()
    assert str(memo.memo_date) in row.inner_text()
    shot(page, "memo-03-voided-invoice")

    href = row.get_by_role("link", name=re.compile("^View the PDF")).get_attribute("href")
    response = page.request.get(href)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    text = _text(response.body())
    assert "CREDIT MEMO" in text and "Total credit USD 1,784.08" in text
    invoice_pdf = page.request.get(reverse("web:invoice_pdf", args=[memo.invoice_id])).body()
    assert f"credited in full by credit memo {memo.number or f'#{memo.pk}'}" in _text(invoice_pdf)
