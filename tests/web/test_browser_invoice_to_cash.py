"""Issue 13's "Done when" in a real browser, from the UI alone (screenshots in
test-output/screenshots/cash-*.png): a reminder goes out for an overdue invoice; the clerk
credits one line, records a part payment and a bank transfer that overpays, refunds the
surplus and writes off a small remainder; the statement and the aging report show it; and the
invoice drops out of dunning once it is settled.

The invoice: Pinecrest's consulting (1,000.00) and travel (200.00), untaxed, dated 1 October
2026, due 15 November (end of month + 15), so overdue today."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dunning.models import DunningReminder
from invoicing.models import Invoice, Receipt
from invoicing.services.drafts import invoice_adjustment_add, invoice_draft_create
from invoicing.services.posting import invoice_post
from tests.support.browser import login, orm, shot

pytestmark = pytest.mark.django_db(transaction=True)


def confirm(page) -> None:
    page.locator("[data-confirmation] button[type=submit]").click()
    page.wait_for_load_state()


def test_a_clerk_takes_an_invoice_to_cash_from_the_ui(demo, page):
    def setup():
        draft = invoice_draft_create(account_id=demo.pk, invoice_date=dt.date(2026, 10, 1))
        for name, amount in (("Consulting", "1000.00"), ("Travel", "200.00")):
            invoice_adjustment_add(invoice_id=draft.pk, name=name, unit_price=amount, taxable=False)
        invoice = invoice_post(invoice_id=draft.pk, posted_date=dt.date(2026, 10, 1))
        return invoice.pk, invoice.number, invoice.due_date, invoice.total

    invoice_id, number, due, total = orm(setup)
    assert total == D("1200.00") and due < timezone.localdate()
    balance = lambda: orm(lambda: Invoice.objects.get(pk=invoice_id).balance)  # noqa: E731
    login(page, prefix="cash-")

    # A reminder goes out for the overdue invoice.
    page.goto("/dunning/")
    assert page.locator(f"[data-due-invoice='{invoice_id}']").count() == 1
    page.locator("form button.primary", has_text="Send").click()
    page.wait_for_load_state()
    shot(page, "cash-01-dunning-confirmation")
    confirm(page)
    shot(page, "cash-02-dunning-sent")
    assert orm(lambda: DunningReminder.objects.filter(invoice_id=invoice_id).count()) == 1

    # Credit the travel line.
    page.goto(f"/invoices/{invoice_id}/")
    page.get_by_role("link", name="Credit lines…").click()
    page.get_by_label("Amount to credit of Travel").fill("200.00")
    page.get_by_label("Reason").select_option("service_issue")
    page.get_by_role("button", name="Credit…").click()
    page.wait_for_load_state()
    shot(page, "cash-03-credit-confirmation")
    confirm(page)
    expect(page.get_by_text("posted and applied to this invoice")).to_be_visible()
    assert balance() == D("1000.00")

    # A part payment on the invoice.
    page.get_by_role("link", name="Record payment").click()
    page.get_by_label("Amount").fill("400.00")
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_load_state()
    assert balance() == D("600.00")

    # A bank transfer that overpays: 595.00 to the invoice, 55.00 kept as credit.
    page.goto(f"/accounts/{demo.pk}/")
    page.get_by_role("link", name="Receive a payment").click()
    page.get_by_label("Amount", exact=True).fill("650.00")
    page.get_by_label("Method", exact=True).select_option("bank_transfer")
    page.get_by_label(f"Allocate to {number}").fill("595.00")
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_load_state()
    shot(page, "cash-04-payment")
    assert page.locator("[data-unallocated]").inner_text() == "55.00 USD"
    assert balance() == D("5.00")

    # Refund the surplus.
    page.locator("#id_refund-amount").fill("55.00")
    page.get_by_role("button", name="Refund…").click()
    page.wait_for_load_state()
    confirm(page)
    shot(page, "cash-05-refunded")
    receipt = orm(lambda: Receipt.objects.get(method="bank_transfer"))
    assert (receipt.unallocated, receipt.refunded) == (D("0.00"), D("55.00"))

    # Write off the small remainder.
    page.goto(f"/invoices/{invoice_id}/")
    page.get_by_label("Write-off note").fill("Small remainder")
    page.get_by_role("button", name="Write off…").click()
    page.wait_for_load_state()
    confirm(page)
    shot(page, "cash-06-written-off")
    expect(page.locator("[data-written-off]")).to_be_visible()
    assert balance() == D("0.00")

    # The statement and the aging report; the invoice has left dunning.
    page.goto(f"/accounts/{demo.pk}/statement/")
    shot(page, "cash-07-statement")
    expect(page.get_by_text(number).first).to_be_visible()
    page.goto("/receivables/")
    shot(page, "cash-08-aging")
    page.goto("/dunning/")
    assert page.locator(f"[data-due-invoice='{invoice_id}']").count() == 0
