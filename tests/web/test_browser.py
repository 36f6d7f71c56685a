"""The staff UI in a real browser (the harness is tests/support/browser.py). Each step is
screenshotted to test-output/screenshots/ (look at them)."""

import re

import pytest
from playwright.sync_api import expect

from invoicing.models import CreditMemo, Invoice, InvoiceBatchRun
from tests.support.browser import TODAY, login, orm, shot

pytestmark = pytest.mark.django_db(transaction=True)


def test_generate_post_void_and_a_batch_run(demo, page):
    login(page)

    # Generate invoices for a demo account.
    page.get_by_role("link", name="Accounts", exact=True).click()
    page.get_by_role("link", name="Pinecrest Media Group").click()
    expect(page.get_by_role("heading", name="Pinecrest Media Group")).to_be_visible()
    page.get_by_label("Target date").fill("2026-11-24")
    page.get_by_label("Invoice date").fill("2026-11-24")
    page.get_by_label("Draft invoices").check()
    shot(page, "03-account")
    page.get_by_role("button", name="Generate invoices").click()
    page.wait_for_url("**/generations/*/")
    assert (
        page.locator("[data-generated]")
        .inner_text()
        .startswith("1 invoice created for Pinecrest Media Group")
    )
    invoice = orm(lambda: Invoice.objects.get(account=demo))
    row = page.locator(f'tr[data-invoice="{invoice.pk}"]')
    assert "1,784.08 USD" in row.inner_text() and "Draft" in row.inner_text()
    shot(page, "04-generated")

    # Post it.
    row.get_by_role("link", name=f"Draft #{invoice.pk}").click()
    expect(page.get_by_role("heading", name=f"Draft invoice #{invoice.pk}")).to_be_visible()
    page.get_by_role("button", name="Post invoice").click()
    # The confirmation page: amount, numbering at posting, final; nothing posted yet.
    expect(page.get_by_role("heading", name="Post invoice for 1,784.08 USD?")).to_be_visible()
    assert orm(lambda: Invoice.objects.get(pk=invoice.pk).status) == "draft"
    shot(page, "05-post-confirm")
    page.get_by_role("button", name="Post invoice for 1,784.08 USD").click()
    page.wait_for_url(f"**/invoices/{invoice.pk}/")
    invoice = orm(lambda: Invoice.objects.get(pk=invoice.pk))
    assert invoice.status == "posted" and invoice.number
    expect(page.get_by_text(f"Invoice posted as {invoice.number}.")).to_be_visible()
    assert page.locator("[data-total]").inner_text() == "1,784.08 USD"
    shot(page, "05-posted")

    # Void it, after the confirmation page.
    page.get_by_role("link", name="Void…").click()
    expect(page.get_by_role("heading", name=f"Void invoice {invoice.number}?")).to_be_visible()
    expect(page.get_by_text("credit memo of 1,784.08 USD")).to_be_visible()
    page.get_by_label("Reason").fill("Billed the wrong seats")
    shot(page, "06-void-confirm")
    page.get_by_role("button", name=f"Void invoice {invoice.number}").click()
    page.wait_for_url(f"**/invoices/{invoice.pk}/")
    memo = orm(lambda: CreditMemo.objects.get(invoice_id=invoice.pk))
    assert page.locator("h1 .badge").inner_text() == "Voided"
    assert page.locator("[data-balance]").inner_text() == "0.00 USD"
    assert "1,784.08 USD" in page.locator(f'tr[data-credit-memo="{memo.pk}"]').inner_text()
    shot(page, "07-voided")

    # Start a batch run and see it finish with its counters (eager Celery: the run is done
    # when the start request answers).
    page.get_by_role("link", name="Runs", exact=True).click()
    page.get_by_role("link", name="Start a run").click()
    page.get_by_label("Target date").fill("2026-11-24")
    page.get_by_label("Invoice date").fill("2026-11-24")
    page.get_by_label("Create").select_option("draft")
    shot(page, "08-run-start")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    run = orm(lambda: InvoiceBatchRun.objects.get())
    assert run.status == "completed", run.summary
    counters = {
        name: page.locator(f'[data-counter="{name}"]').inner_text()
        for name in ("matching_schedules", "schedules_processed", "invoices_generated")
    }
    generated = orm(lambda: Invoice.objects.filter(batch_run=run).count())
    assert counters == {
        "matching_schedules": str(run.matching_schedules),
        "schedules_processed": str(run.schedules_processed),
        "invoices_generated": str(generated),
    }
    # 27 of the demo's 28 schedules are due by 2026-11-24 (Atlas Freight's second starts on
    # 2026-12-01), Pinecrest's again since its invoice was voided; one invoice per account.
    assert (run.matching_schedules, run.schedules_processed, generated) == (27, 27, 20)
    assert (run.schedules_failed, run.invoices_failed, run.draft_invoices) == (0, 0, 20)
    assert page.locator("#run-status .badge").inner_text() == "Completed"
    assert page.locator("#run-percent").inner_text() == "100%"
    shot(page, "09-run-finished")


def test_the_run_page_follows_a_running_run(demo, page):
    """The progress bar and counters update while the run works (polled every 2 s), and the
    page reloads itself when the run finishes."""
    run = orm(
        lambda: InvoiceBatchRun.objects.create(
            status="started", stage="generating", progress=10, target_date=TODAY
        )
    )
    login(page, prefix="progress-")
    page.goto(f"/runs/{run.pk}/")
    assert page.locator("#run-percent").inner_text() == "10%"
    orm(
        lambda: InvoiceBatchRun.objects.filter(pk=run.pk).update(
            progress=60, matching_schedules=40, schedules_processed=24, invoices_generated=12
        )
    )
    page.wait_for_function("document.getElementById('run-percent').textContent === '60%'")
    assert page.locator('[data-counter="schedules_processed"]').inner_text() == "24"
    assert page.locator('[data-counter="invoices_generated"]').inner_text() == "12"
    assert page.locator("#run-bar").get_attribute("value") is not None
    shot(page, "progress-03-running")
    orm(
        lambda: InvoiceBatchRun.objects.filter(pk=run.pk).update(
            status="completed", stage="done", progress=100, schedules_processed=40
        )
    )
    page.wait_for_function(
        "document.querySelector('#run-status .badge').textContent === 'Completed'"
    )
    assert page.locator('[data-counter="schedules_processed"]').inner_text() == "40"
    shot(page, "progress-04-finished")
