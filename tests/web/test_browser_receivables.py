"""Issue 13, point 6 in a real browser (screenshots in
test-output/screenshots/receivables-*.png): from the nav, the aging report of the demo data
(a chart and a table per currency), then an account's statement from its row, its PDF and
CSV, and the aging of an earlier date."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from accounts.models import Account
from invoicing.models import Invoice
from invoicing.receivables import aging_report
from invoicing.services.drafts import invoice_adjustment_add, invoice_draft_create
from invoicing.services.generation import invoices_generate
from invoicing.services.payments import payment_record
from invoicing.services.posting import invoice_post
from tests.support.browser import TODAY, login, orm, shot

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_aging_report_and_a_statement_in_the_browser(demo, page):
    def expected():
        # Pinecrest: billed today, and by hand in July and September (overdue now), July
        # half paid.
        invoices_generate(account_id=demo.pk, target_date=TODAY, action="posted")
        for day, amount in ((dt.date(2026, 7, 15), "1200.00"), (dt.date(2026, 9, 20), "480.00")):
            draft = invoice_draft_create(account_id=demo.pk, invoice_date=day)
            invoice_adjustment_add(
                invoice_id=draft.pk, name="Consulting", unit_price=amount, taxable=False
            )
            invoice_post(invoice_id=draft.pk, posted_date=day)
        payment_record(
            invoice_id=Invoice.objects.get(account=demo, invoice_date=dt.date(2026, 7, 15)).pk,
            amount="600.00",
            payment_date=dt.date(2026, 8, 10),
            reference="WIRE-0810",
        )
        report = aging_report(as_of=TODAY)
        row = next(r for r in report.rows if r.account_id == demo.pk)
        account = Account.objects.get(pk=demo.pk)
        return report.currencies, row.currency, account

    currencies, currency, account = orm(expected)
    login(page, prefix="receivables-")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Receivables").click()
    page.wait_for_url("**/receivables/")
    page.get_by_label("As of").fill(TODAY.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/receivables/?as_of={TODAY.isoformat()}**")
    shot(page, "receivables-01-aging")
    expect(page.get_by_role("heading", name="Receivables aging")).to_be_visible()
    sections = page.locator("section[data-currency]")
    assert sections.count() == len(currencies)
    for i, code in enumerate(currencies):
        section = sections.nth(i)
        assert section.get_attribute("data-currency") == code
        assert section.locator("svg[role=img] g[data-bucket]").count() == 5
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == f"aging-{TODAY.isoformat()}.csv"

    page.locator(f"section[data-currency={currency}] tr[data-account='{account.pk}'] a").click()
    page.wait_for_url(f"**/accounts/{account.pk}/statement/?to={TODAY.isoformat()}")
    page.get_by_label("From").fill("2026-01-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/accounts/{account.pk}/statement/?from=2026-01-01**")
    shot(page, "receivables-02-statement")
    expect(page.get_by_role("heading", name=f"Statement of {account.name}")).to_be_visible()
    assert page.locator("tr[data-entry=invoice]").count() > 0
    closing = page.locator(f"section[data-currency={currency}] tr[data-closing] td").last
    assert closing.inner_text().endswith(currency)

    pdf = page.request.get(page.get_by_role("link", name="View PDF").get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == (
        f"statement-{account.external_id}-2026-01-01-{TODAY.isoformat()}.csv"
    )
