"""The customer's hosted invoice page in a real browser (the harness is
tests/support/browser.py): a logged-out customer opens the link from the email, sees the
status and the balance, downloads the PDF; an edited link and an expired one say so. Each
step is screenshotted to test-output/screenshots/ (look at them)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core import signing
from freezegun import freeze_time
from playwright.sync_api import expect

from invoicing.models import Invoice
from invoicing.services.generation import invoices_generate
from invoicing.services.hosted_links import hosted_link_token
from invoicing.services.payments import payment_record
from tests.support.browser import TODAY, login, orm, shot

pytestmark = pytest.mark.django_db(transaction=True)


def _posted_and_partly_paid(account_id: int) -> tuple[Invoice, str, str]:
    """Pinecrest's invoice, dated today (so its due date is ahead whatever day the test runs),
    posted, 500.00 paid; its customer link, and one made 91 days ago."""
    today = dt.date.today()
    result = invoices_generate(
        account_id=account_id, target_date=TODAY, invoice_date=today, action="posted"
    )
    (invoice_id,) = result.invoice_ids
    payment_record(invoice_id=invoice_id, amount="500.00", payment_date=today)
    invoice = Invoice.objects.select_related("legal_entity").get(pk=invoice_id)
    with freeze_time(dt.datetime.now(dt.UTC) - dt.timedelta(days=91)):
        expired = hosted_link_token(invoice)
    return invoice, hosted_link_token(invoice), expired


def test_a_customer_opens_the_link_sees_the_balance_and_downloads_the_pdf(demo, page, tmp_path):
    invoice, token, expired = orm(_posted_and_partly_paid, demo.pk)
    assert invoice.total == D("1784.08") and invoice.balance == D("1284.08")
    seller = invoice.legal_entity.name

    # Logged out, straight from the email's link: the invoice, no staff screen.
    response = page.goto(f"/d/{token}/")
    assert response.status == 200
    assert response.headers["x-robots-tag"] == "noindex, nofollow, noarchive"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert page.title() == f"Invoice {invoice.number} · {seller}"
    expect(page.get_by_role("heading", name=f"Invoice {invoice.number}")).to_be_visible()
    assert page.locator("[data-status]").inner_text() == "Partly paid"
    assert page.locator("[data-status-detail]").inner_text() == (
        f"500.00 USD received; 1,284.08 USD due by {invoice.due_date.isoformat()}."
    )
    assert page.locator("[data-due]").inner_text() == "1,284.08 USD"
    assert page.locator('[data-amount="total"]').inner_text() == "1,784.08 USD"
    assert page.locator('[data-amount="paid"]').inner_text() == "500.00 USD"
    assert page.locator('[data-amount="balance"]').inner_text() == "1,284.08 USD"
    assert "Pinecrest Media Group" in page.locator("[data-customer]").inner_text()
    assert page.locator("[data-line]").count() >= 1
    # The one link on the page is this document's PDF; no login was asked, no cookie set.
    assert page.locator("a").count() == 1
    assert page.get_by_text("Log in").count() == 0
    assert page.context.cookies() == []
    shot(page, "hosted-01-invoice")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    download = info.value
    assert download.suggested_filename == f"{invoice.number}.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    assert page.context.cookies() == []

    # A phone-sized screen: the same page, one column.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("[data-due]")).to_be_visible()
    shot(page, "hosted-02-invoice-phone")
    page.set_viewport_size({"width": 1360, "height": 900})

    # An edited link opens nothing (404), an old one is gone (410) and says whom to ask.
    payload, timestamp, signature = token.split(":")
    other = signing.b64_encode(f'["invoice",{invoice.pk + 1},"{invoice.number}"]'.encode())
    response = page.goto(f"/d/{other.decode()}:{timestamp}:{signature}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
    assert page.locator("a").count() == 0
    shot(page, "hosted-03-edited-link")

    response = page.goto(f"/d/{expired}/")
    assert response.status == 410
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    expect(
        page.get_by_text(f"The link to invoice {invoice.number} from {seller} is no longer valid")
    ).to_be_visible()
    assert "1,284.08" not in page.content()
    shot(page, "hosted-04-expired-link")


def test_staff_find_the_customer_link_on_the_invoice_page(demo, page):
    invoice, _, _ = orm(_posted_and_partly_paid, demo.pk)
    login(page, prefix="hosted-staff-")

    page.goto(f"/invoices/{invoice.pk}/")
    link = page.get_by_label("Customer link (copy it for the customer)")
    url = link.input_value()
    assert url.startswith("http://127.0.0.1:8000/d/") and url.endswith("/")
    expect(page.get_by_text("The customer's page of this invoice, no login needed")).to_be_visible()
    shot(page, "hosted-05-staff-customer-link")

    # The link opens the customer's page in a fresh browser with no staff session.
    customer = page.context.browser.new_context(base_url=page.url.split("/invoices/")[0])
    try:
        tab = customer.new_page()
        tab.goto(url.removeprefix("http://127.0.0.1:8000"))
        expect(tab.get_by_role("heading", name=f"Invoice {invoice.number}")).to_be_visible()
        assert tab.locator("[data-due]").inner_text() == "1,284.08 USD"
    finally:
        customer.close()
