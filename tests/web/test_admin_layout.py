"""The Django admin on a 1440 px screen, in a real browser (tests/support/browser.py), on the
demo data with October posted and November draft invoices: the main list pages and the
invoice pages need no horizontal scroll, and show money with its currency. Screenshots in
test-output/screenshots/admin-*.png."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from invoicing.models import Invoice
from invoicing.services.generation import invoices_generate
from tests.support.browser import orm, shot

pytestmark = pytest.mark.django_db(transaction=True)

LIST_PAGES = (
    "invoicing/invoice",
    "invoicing/invoiceline",
    "invoicing/billingperioditem",
    "invoicing/invoicelinetax",
    "invoicing/creditmemo",
    "invoicing/debitmemo",
    "invoicing/payment",
    "invoicing/invoicebatchrun",
    "invoicing/sequencepolicy",
    "invoicing/taxrate",
    "invoicing/errorlog",
    "billing/billingschedule",
    "billing/billingschedulegroup",
    "billing/order",
    "billing/orderitem",
    "billing/product",
    "billing/usagesummary",
    "accounts/account",
    "accounts/billingprofile",
    "accounts/contact",
)

# How far the page, or any box that scrolls sideways, is wider than the window.
OVERFLOW_JS = """() => {
  const boxes = [...document.querySelectorAll('*')]
    .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX));
  return Math.max(
    document.documentElement.scrollWidth - window.innerWidth,
    ...boxes.map(e => e.scrollWidth - e.clientWidth),
  );
}"""


def _billed() -> tuple[Invoice, Invoice]:
    User.objects.create_superuser("root", "root@example.com", "root-secret-1")
    invoices_generate(all_schedules=True, target_date=dt.date(2026, 10, 31), action="posted")
    invoices_generate(all_schedules=True, target_date=dt.date(2026, 11, 30))
    posted = Invoice.objects.filter(status="posted").order_by("id").first()
    draft = Invoice.objects.filter(status="draft").order_by("id").first()
    return posted, draft


def test_admin_pages_fit_1440_px_and_show_money(demo, live_server, browser):
    posted, draft = orm(_billed)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("root-secret-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")

    for path in LIST_PAGES:
        page.goto(f"/admin/{path}/")
        shot(page, f"admin-{path.replace('/', '-')}")
        assert page.evaluate(OVERFLOW_JS) <= 0, path

    page.goto("/admin/invoicing/invoice/")
    first_total = page.locator("td.field-total_shown").first.inner_text()
    assert first_total.endswith((" USD", " EUR")) and "." in first_total
    assert ".0000" not in page.content()

    for invoice, name in ((posted, "posted"), (draft, "draft")):
        page.goto(f"/admin/invoicing/invoice/{invoice.pk}/change/")
        shot(page, f"admin-invoice-{name}")
        assert page.evaluate(OVERFLOW_JS) <= 0, name
        expect(page.get_by_text("Line 1: ").first).to_be_visible()
        assert " object (" not in page.content()
    # A posted invoice is view-only: no Delete.
    page.goto(f"/admin/invoicing/invoice/{posted.pk}/change/")
    assert page.locator("a.deletelink").count() == 0
    context.close()
