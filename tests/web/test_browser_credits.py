"""Issue 13, point 2 in a real browser (screenshots in test-output/screenshots/credits-*.png): a
clerk opens a posted invoice, applies part of the account's credit memo, sees the balance
drop and the application listed with who and when, then unapplies it."""

import re

import pytest
from playwright.sync_api import expect

from invoicing.models import Invoice
from invoicing.services.generation import invoices_generate
from invoicing.services.memos import credit_memo_create, credit_memo_post
from tests.support.browser import TODAY, login, orm, shot

pytestmark = pytest.mark.django_db(transaction=True)


def test_apply_and_unapply_a_credit_in_the_browser(demo, page):
    def setup():
        (invoice_id,) = invoices_generate(
            account_id=demo.pk, target_date=TODAY, action="posted"
        ).invoice_ids
        invoice = Invoice.objects.get(pk=invoice_id)
        memo = credit_memo_create(
            account_id=demo.pk,
            currency=invoice.currency,
            memo_date=TODAY,
            reason="Outage on 3 November",
            lines=[{"name": "Goodwill credit", "unit_price": "150.00"}],
        )
        memo = credit_memo_post(credit_memo_id=memo.pk, posted_date=TODAY)
        return invoice.pk, str(invoice), invoice.balance, invoice.currency, memo.pk, str(memo)

    invoice_id, number, balance, currency, memo_id, memo_name = orm(setup)
    assert memo_name.startswith("CM-")  # numbered by the demo's credit memo policy
    login(page, prefix="credits-")

    page.goto(f"/invoices/{invoice_id}/")
    page.get_by_role("link", name="Apply credit").click()
    page.wait_for_url(f"**/invoices/{invoice_id}/credit")
    expect(page.get_by_role("heading", name=f"Apply a credit to {number}")).to_be_visible()
    page.get_by_label("Credit memo").select_option(str(memo_id))
    page.get_by_label("Amount").fill("40.00")
    shot(page, "credits-01-apply-form")
    page.get_by_role("button", name="Apply credit").click()
    page.wait_for_url(f"**/invoices/{invoice_id}/")
    shot(page, "credits-02-applied")

    assert page.get_by_text(f"40.00 {currency} of {memo_name} applied to {number}.")
    row = page.locator("#credit-applications tbody tr")
    assert row.count() == 1
    cells = row.first.locator("td").all_inner_texts()
    assert cells[0] == memo_name
    assert cells[2:4] == ["olga", f"40.00 {currency}"]
    shown = page.locator("[data-balance]").first.inner_text()
    assert re.sub(r"[^\d.]", "", shown) == f"{balance - 40:.2f}".replace(",", "")

    page.get_by_role("button", name=f"Unapply 40.00 {currency} of {memo_name}").click()
    page.wait_for_url(f"**/invoices/{invoice_id}/")
    shot(page, "credits-03-unapplied")
    assert "(unapplied " in row.first.inner_text()
    assert page.locator("#credit-applications button").count() == 0
    assert orm(lambda: Invoice.objects.get(pk=invoice_id).balance) == balance
