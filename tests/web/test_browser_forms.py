"""Issue 12, point 16 in a real browser (screenshots in test-output/screenshots/forms-*.png):
a scheduler that breaks two rules shows both errors next to their fields, with a summary that
links to them; a payment of 0 is refused by the browser before anything is sent; a bad list
filter says so and lists nothing."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from invoicing.models import InvoiceScheduler, Payment
from invoicing.services.generation import invoices_generate
from tests.support.browser import TODAY, login, orm, shot

pytestmark = pytest.mark.django_db(transaction=True)


def test_form_errors_in_the_browser(demo, page):
    login(page, prefix="forms-")

    # A scheduler with a day of month and a time zone that do not exist: both errors at once.
    page.goto("/schedulers/new")
    page.get_by_label("Name").fill("Month end on Mars")
    page.get_by_label("Cadence").select_option("monthly")
    page.get_by_label("Day of month").fill("32")
    page.get_by_label("Time zone").fill("Mars/Base")
    page.get_by_label("Start date").fill("2026-12-01")
    page.get_by_role("button", name="Save scheduler").click()
    page.wait_for_load_state()
    shot(page, "forms-01-scheduler-two-errors")
    assert (
        page.locator("#id_day_of_month_error")
        .inner_text()
        .startswith("A monthly scheduler runs on day 1–28, L (last day)")
    )
    assert page.locator("#id_timezone_error").inner_text() == (
        "'Mars/Base' is not an IANA time zone, e.g. Europe/Berlin or UTC."
    )
    assert page.locator("#id_timezone").get_attribute("aria-invalid") == "true"
    summary = page.locator(".form-errors")
    assert summary.get_by_role("link", name="Day of month").get_attribute("href") == (
        "#id_day_of_month"
    )
    assert summary.get_by_role("link", name="Time zone").get_attribute("href") == "#id_timezone"
    assert "more)" not in page.content()
    # What was typed is kept, so fixing one field is enough to save.
    assert page.get_by_label("Name").input_value() == "Month end on Mars"
    page.get_by_label("Day of month").fill("L")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_role("button", name="Save scheduler").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Scheduler 'Month end on Mars' saved (Draft).")).to_be_visible()
    assert orm(lambda: InvoiceScheduler.objects.get().timezone) == "Europe/Berlin"

    # A payment of 0: the browser refuses it (min is the currency's minor unit), nothing sent.
    invoice_id = orm(
        lambda: list(
            invoices_generate(account_id=demo.pk, target_date=TODAY, action="posted").invoice_ids
        )[0]
    )
    page.goto(f"/invoices/{invoice_id}/payment")
    amount = page.get_by_label("Amount")
    amount.fill("0")
    page.get_by_label("Payment date").fill(f"{TODAY + dt.timedelta(days=3):%Y-%m-%d}")
    page.get_by_role("button", name="Record payment").click()
    assert amount.evaluate("e => e.validity.rangeUnderflow") is True
    assert page.url.endswith(f"/invoices/{invoice_id}/payment")
    shot(page, "forms-02-payment-of-zero")
    assert orm(lambda: Payment.objects.count()) == 0

    # A list filter that is not a date: an error at the field, and nothing listed.
    page.goto("/invoices/?date_from=2026-99-99")
    shot(page, "forms-03-bad-filter")
    errors = page.locator(".filter-errors")
    nothing = "Nothing is listed: these filters cannot be applied."
    expect(errors.get_by_text(nothing)).to_be_visible()
    assert "“2026-99-99” is not a date: use YYYY-MM-DD" in errors.inner_text()
    assert page.locator("tr[data-invoice]").count() == 0
    page.goto("/invoices/")
    assert page.locator("tr[data-invoice]").count() >= 1
