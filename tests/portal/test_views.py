"""The customer's hosted pages (portal/views.py): a signed link opens one document's page and
its PDF without a login; nothing else is reachable; edited links are 404, expired ones 410;
no session, no cookie, no indexing, no referrer."""

import base64
import datetime as dt
import json
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from freezegun import freeze_time

from invoicing.models import ErrorLog, InvoiceDocument
from invoicing.services import documents
from invoicing.services.hosted_links import hosted_link_token
from invoicing.services.memos import debit_memo_create
from invoicing.services.payments import payment_record
from invoicing.services.void import invoice_void
from tests.support.invoicing import generate

pytestmark = pytest.mark.django_db
d = dt.date

HEADERS = {
    "X-Robots-Tag": "noindex, nofollow, noarchive",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store, private",
    "X-Frame-Options": "DENY",
}


def text(response) -> str:
    """The page's visible text, whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def amount(response, key: str) -> str:
    match = re.search(rf'data-amount="{key}">([^<]*)<', response.content.decode())
    return match.group(1) if match else ""


def status(response) -> tuple[str, str, str]:
    html = response.content.decode()
    code, label = re.search(r'data-status="([^"]+)">([^<]*)<', html).groups()
    detail = re.search(r"data-status-detail>([^<]*)<", html).group(1)
    return code, label, detail


def assert_private(response) -> None:
    for name, value in HEADERS.items():
        assert response[name] == value, name
    assert response["Content-Security-Policy"].startswith("default-src 'none';")
    assert not response.cookies  # no session, no CSRF cookie
    assert "Cookie" not in response.get("Vary", "")


def page_url(token: str) -> str:
    return f"/d/{token}/"


def test_the_invoice_page_opens_without_a_login(shop, customer):
    invoice = generate(shop, d(2026, 1, 15))
    token = hosted_link_token(invoice)

    with freeze_time("2026-01-20 12:00"):
        response = customer.get(page_url(token))

    assert response.status_code == 200
    assert_private(response)
    assert status(response) == ("open", "Open", "75.77 USD due by 2026-02-14.")
    page = text(response)
    for fact in (
        "Ledgerline Demo Inc. 1 Market St San Francisco, CA 94105 Tax ID US-12-3456789",
        "Invoice INV-0001 Issued 2026-01-15 · due 2026-02-14",
        "Billed to Acme Corp Attn. Acme Corp AP 5 Main St Austin, TX 73301 ap@example.com",
        "Invoice number INV-0001 Invoice date 2026-01-15 Due date 2026-02-14 "
        "Payment terms Net 30 Payment method Visa •••• 4242 Currency USD",
        "Seat 2026-01-01 – 2026-01-31 10 EA 5.00 50.00",
        "Premium support 2026-01-01 – 2026-01-31 1 EA 19.99 19.99",
        "Charges 69.99 USD Tax 5.78 USD TX state tax 6.25 % 4.38 USD "
        "Austin city tax 2 % 1.40 USD Total 75.77 USD Amount paid 0.00 USD "
        "Balance due 75.77 USD",
        "Contact Ledgerline Demo Inc. at billing@ledgerline.example.",
    ):
        assert fact in page, fact

    # Nothing to follow but the PDF of this document: no navigation, form or script.
    html = response.content.decode()
    assert re.findall(r'(?:href|src|action)="([^"]*)"', html) == ["data:,", f"/d/{token}/pdf"]
    assert "<form" not in html and "<script" not in html
    assert "Log out" not in html


def test_the_status_follows_payments_the_due_date_and_the_account_time_zone(shop, customer):
    invoice = generate(shop, d(2026, 1, 15))
    url = page_url(hosted_link_token(invoice))

    payment_record(invoice_id=invoice.pk, amount="25.77", payment_date=d(2026, 1, 20))
    with freeze_time("2026-02-14 12:00"):
        response = customer.get(url)
    assert status(response) == (
        "partly_paid",
        "Partly paid",
        "25.77 USD received; 50.00 USD due by 2026-02-14.",
    )
    assert (amount(response, "paid"), amount(response, "balance")) == ("25.77 USD", "50.00 USD")

    # The same moment is already Feb 15 in Auckland: overdue there.
    shop.account.timezone = "Pacific/Auckland"
    shop.account.save()
    with freeze_time("2026-02-14 12:00"):
        response = customer.get(url)
    assert status(response) == (
        "overdue",
        "Overdue",
        "25.77 USD received; 50.00 USD was due on 2026-02-14 (1 day ago).",
    )

    payment_record(invoice_id=invoice.pk, amount="50.00", payment_date=d(2026, 2, 20))
    with freeze_time("2026-02-20 12:00"):
        response = customer.get(url)
    assert status(response) == ("paid", "Paid", "Paid in full. Thank you.")
    assert (amount(response, "paid"), amount(response, "balance")) == ("75.77 USD", "0.00 USD")


def test_an_unpaid_invoice_past_its_due_date_is_overdue(shop, customer):
    invoice = generate(shop, d(2026, 1, 15))
    with freeze_time("2026-02-24 12:00"):
        response = customer.get(page_url(hosted_link_token(invoice)))
    assert status(response) == (
        "overdue",
        "Overdue",
        "75.77 USD was due on 2026-02-14 (10 days ago).",
    )


def test_a_voided_invoice_says_so_and_names_its_credit_memo(shop, customer):
    invoice = generate(shop, d(2026, 1, 15))
    url = page_url(hosted_link_token(invoice))  # the link the email carried

    invoice_void(invoice_id=invoice.pk, void_date=d(2026, 1, 20))
    response = customer.get(url)

    assert response.status_code == 200
    assert status(response) == (
        "voided",
        "Voided",
        "This invoice was voided on 2026-01-20 and credited in full by credit memo CM-001. "
        "Nothing is due.",
    )
    assert (amount(response, "total"), amount(response, "credited")) == ("75.77 USD", "75.77 USD")
    assert amount(response, "balance") == "0.00 USD"


def test_the_credit_memo_page(shop, customer):
    invoice = generate(shop, d(2026, 1, 15))
    memo = invoice_void(invoice_id=invoice.pk, void_date=d(2026, 1, 20)).credit_memo

    response = customer.get(page_url(hosted_link_token(memo)))

    assert response.status_code == 200
    assert_private(response)
    assert status(response) == ("credit", "Credit issued", "Applied in full to invoice INV-0001.")
    page = text(response)
    assert "Credit memo CM-001 Issued 2026-01-20 · for invoice INV-0001" in page
    assert "Seat 2026-01-01 – 2026-01-31 10 5.00 50.00" in page
    assert [amount(response, k) for k in ("total", "applied", "balance")] == [
        "75.77 USD",
        "75.77 USD",
        "0.00 USD",
    ]

    pdf = customer.get(page_url(hosted_link_token(memo)) + "pdf")
    assert pdf.status_code == 200
    assert_private(pdf)
    assert pdf["Content-Disposition"] == 'attachment; filename="CM-001.pdf"'
    assert pdf.content.startswith(b"%PDF")


def test_the_debit_memo_page_before_and_after_it_is_invoiced(shop, customer):
    memo = debit_memo_create(
        account_id=shop.account.pk,
        memo_date=d(2026, 1, 10),
        next_billing_date=d(2026, 2, 1),
        reason="Late payment",
        lines=[{"name": "Late fee", "unit_price": "25.00"}],
        post=True,
    )
    url = page_url(hosted_link_token(memo))

    response = customer.get(url)
    assert response.status_code == 200
    assert status(response) == (
        "to_be_invoiced",
        "To be invoiced",
        "These charges (25.00 USD) will be billed on your next invoice on or after "
        "2026-02-01. Nothing to pay on this memo.",
    )
    assert "Late fee 1 25.00 25.00" in text(response)
    assert "Notes Late payment" in text(response)
    pdf = customer.get(url + "pdf")
    assert pdf["Content-Disposition"] == f'attachment; filename="debit-memo-{memo.pk}.pdf"'
    assert pdf.content.startswith(b"%PDF")

    invoice = generate(shop, d(2026, 1, 15))  # takes the memo: due from Feb 1, target Jan 15
    assert invoice.debit_memos.count() == 0
    february = generate(shop, d(2026, 2, 15))
    assert february.debit_memos.get() == memo
    response = customer.get(url)
    assert status(response) == (
        "invoiced",
        "Invoiced",
        "These charges (25.00 USD) are billed on invoice INV-0002; pay them there.",
    )


def _edited(token: str, payload: list) -> str:
    """The token with another payload and the original timestamp and signature."""
    _, timestamp, signature = token.split(":")
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return f"{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}:{timestamp}:{signature}"


def test_editing_the_link_reaches_nothing_else(shop, customer):
    january = generate(shop, d(2026, 1, 15))
    february = generate(shop, d(2026, 2, 15))
    token = hosted_link_token(january)
    assert token.split(":")[0] == _edited(token, ["invoice", january.pk, "INV-0001"]).split(":")[0]

    response = customer.get(page_url(token))
    assert "INV-0001" in text(response) and "INV-0002" not in text(response)

    for bad in (
        _edited(token, ["invoice", february.pk, "INV-0002"]),
        token[:-2],
        token.replace(":", "x", 1),
        "x",
    ):
        for url in (page_url(bad), page_url(bad) + "pdf"):
            response = customer.get(url)
            assert response.status_code == 404, url
            assert_private(response)
            assert "This link is not valid" in text(response)
            assert "INV-0002" not in text(response) and "Acme" not in text(response)
    # Nothing else lives under a link.
    assert customer.get(page_url(token) + "lines").status_code == 404
    assert customer.get(f"/d/{january.pk}/").status_code == 404


def test_an_expired_link_is_gone(shop, customer):
    invoice = generate(shop, d(2026, 1, 15))
    with freeze_time("2026-01-20 10:00"):
        token = hosted_link_token(invoice)

    with freeze_time("2026-04-20 10:00:01"):
        page = customer.get(page_url(token))
        pdf = customer.get(page_url(token) + "pdf")

    for response in (page, pdf):
        assert response.status_code == 410
        assert_private(response)
        assert text(response).endswith(
            "This link has expired The link to invoice INV-0001 from Ledgerline Demo Inc. is "
            "no longer valid: links to documents work for 90 days. Please ask Ledgerline Demo "
            "Inc. (billing@ledgerline.example) for a new link."
        )
        assert "75.77" not in text(response)


def test_the_pdf_downloads_under_the_document_number(shop, customer):
    invoice = generate(shop, d(2026, 1, 15))
    token = hosted_link_token(invoice)

    response = customer.get(f"/d/{token}/pdf")

    assert response.status_code == 200
    assert_private(response)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="INV-0001.pdf"'
    assert response.content.startswith(b"%PDF")
    assert invoice.documents.filter(status=InvoiceDocument.Status.READY).count() == 1
    customer.get(f"/d/{token}/pdf")
    assert invoice.documents.count() == 1  # the stored document is served again


def test_a_failing_pdf_tells_the_customer_nothing_internal(shop, customer, monkeypatch):
    invoice = generate(shop, d(2026, 1, 15))
    InvoiceDocument.objects.filter(invoice=invoice).delete()

    def broken(invoice):
        raise RuntimeError("font cache corrupted")

    monkeypatch.setattr(documents, "render_invoice_pdf", broken)
    response = customer.get(f"/d/{hosted_link_token(invoice)}/pdf")

    assert response.status_code == 503
    assert_private(response)
    assert "The PDF of INV-0001 could not be produced just now." in text(response)
    assert "font cache" not in text(response) and "admin" not in text(response)
    assert ErrorLog.objects.get(category="document").primary_id == invoice.pk


def test_only_get_and_head(shop):
    customer = Client(enforce_csrf_checks=True)
    token = hosted_link_token(generate(shop, d(2026, 1, 15)))
    assert customer.head(page_url(token)).status_code == 200
    response = customer.post(page_url(token))  # 405, not a CSRF failure page
    assert response.status_code == 405
    assert_private(response)
    assert customer.post(page_url(token) + "pdf").status_code == 405


def test_a_staff_session_is_neither_needed_nor_touched(shop, customer):
    token = hosted_link_token(generate(shop, d(2026, 1, 15)))
    staff = User.objects.create_user("olga", password="pw-olga")
    customer.force_login(staff)
    session_key = customer.session.session_key

    response = customer.get(page_url(token))

    assert response.status_code == 200
    assert_private(response)
    assert customer.session.session_key == session_key
    assert "olga" not in response.content.decode()
