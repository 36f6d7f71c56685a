"""Accounts: list and search, detail, and the Generate invoices action with its result page."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse

from accounts.models import BillingProfile
from billing.models import BillingSchedule
from invoicing.models import ErrorLog, Invoice
from tests.factories import make_account
from tests.support.confirm import post_confirmed

pytestmark = pytest.mark.django_db
d = dt.date


def test_account_list_and_search(ops, billed):
    other = make_account("Globex Ltd", seller=billed.seller, currency="EUR")
    other.external_id = "GLX-9"
    other.save()
    page = ops.get(reverse("web:account_list")).content.decode()
    assert "Acme Corp" in page and "Globex Ltd" in page and "2 in all" in page
    found = ops.get(reverse("web:account_list"), {"q": "glx-9"}).content.decode()
    assert "Globex Ltd" in found and "Acme Corp" not in found and "1 in all" in found
    by_name = ops.get(reverse("web:account_list"), {"q": "acme"}).content.decode()
    assert "Acme Corp" in by_name and "Globex Ltd" not in by_name
    none = ops.get(reverse("web:account_list"), {"q": "nobody"}).content.decode()
    assert "No account matches." in none


def test_account_list_paginates_by_50(ops, world):
    for n in range(60):
        make_account(f"Bulk {n:02d}", seller=world.seller)
    first = ops.get(reverse("web:account_list")).content.decode()
    assert "Page 1 of 2 · 61 in all" in first
    assert len(re.findall(r'href="/accounts/\d+/"', first)) == 50
    second = ops.get(reverse("web:account_list"), {"page": 2}).content.decode()
    assert len(re.findall(r'href="/accounts/\d+/"', second)) == 11


def test_account_detail_shows_profile_contacts_masked_methods_and_schedules(ops, billed):
    page = ops.get(reverse("web:account_detail", args=[billed.account.pk])).content.decode()
    assert "<h1>Acme Corp</h1>" in page
    assert "Acme Corp AP &lt;ap@example.com&gt;" in page  # bill-to contact
    assert "(system default)" in page  # the profile names no payment term
    assert "Visa •••• 4242" in page
    assert "pm_test_1" not in page  # the processor token never shows
    assert "5 Main St, Austin, TX 73301, United States" in page
    schedule = billed.schedule
    assert f"BS-{schedule.pk:07d}" in page
    assert "2026-01-01" in page  # next billing date
    assert "50.00 USD" in page  # period amount
    assert "No invoice." in page
    assert "No open error." in page
    assert "Generate invoices</button>" in page


def test_generate_creates_invoices_and_shows_them(ops, billed):
    response = ops.post(
        reverse("web:account_generate", args=[billed.account.pk]),
        {"target_date": "2026-02-15", "invoice_date": "2026-02-16", "action": "draft"},
    )
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert response["Location"] == reverse("web:generation_result", args=[invoice.request_id])
    assert (invoice.status, invoice.invoice_date, invoice.total) == (
        "draft",
        d(2026, 2, 16),
        D("106.26"),
    )
    page = ops.get(response["Location"]).content.decode()
    assert "1 invoice created for Acme Corp." in page
    assert f"Draft #{invoice.pk}" in page
    assert "106.26 USD" in page
    assert "2026-02-16" in page and "2026-03-18" in page  # invoice and due date (net 30)
    billed.schedule.refresh_from_db()
    assert billed.schedule.next_billing_date == d(2026, 3, 1)
    detail = ops.get(reverse("web:account_detail", args=[billed.account.pk])).content.decode()
    assert f"Draft #{invoice.pk}" in detail and "106.26 USD" in detail


def test_generate_posted_numbers_the_invoices(ops, billed):
    response = post_confirmed(
        ops,
        reverse("web:account_generate", args=[billed.account.pk]),
        {"target_date": "2026-01-31", "invoice_date": "", "action": "posted"},
    )
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.number, invoice.total) == ("posted", "INV-0001", D("53.13"))
    page = ops.get(response["Location"]).content.decode()
    assert "INV-0001" in page and "53.13 USD" in page and "Posted" in page


def test_generate_with_nothing_due_says_so(ops, billed):
    response = ops.post(
        reverse("web:account_generate", args=[billed.account.pk]),
        {"target_date": "2025-12-31", "action": "draft"},
    )
    page = ops.get(response["Location"]).content.decode()
    assert "0 invoices created for Acme Corp" in page
    assert "Nothing was due on or before the target date" in page
    assert not Invoice.objects.exists()


def test_generate_shows_the_schedule_errors(ops, billed):
    BillingProfile.objects.filter(account=billed.account).update(suspension_date=d(2026, 1, 1))
    response = ops.post(
        reverse("web:account_generate", args=[billed.account.pk]),
        {"target_date": "2026-02-15", "action": "draft"},
    )
    page = ops.get(response["Location"]).content.decode()
    assert "0 invoices created for Acme Corp, 1 schedule error." in page
    assert "schedule_suspended" in page
    assert f"Billing schedule BS-{billed.schedule.pk:07d} is suspended on 2026-01-01" in page
    assert not Invoice.objects.exists()


def test_generate_with_a_bad_form_shows_the_field_error(ops, billed):
    response = ops.post(
        reverse("web:account_generate", args=[billed.account.pk]),
        {"target_date": "someday", "action": "draft"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("web:account_detail", args=[billed.account.pk])
    assert (
        "Target date: “someday” is not a date: use YYYY-MM-DD, e.g. 2026-03-31."
        in response.content.decode()
    )
    assert not Invoice.objects.exists()


def test_generate_shows_the_services_domain_error(ops, billed):
    response = ops.post(
        reverse("web:account_generate", args=[billed.account.pk]),
        {"target_date": "2026-02-15", "action": "bogus"},
        follow=True,
    )
    # The form refuses an unknown choice before the service is called.
    assert "Select a valid choice." in response.content.decode()


def test_account_detail_lists_open_errors_with_their_fix(ops, billed):
    from invoicing.services.errors import error_log_record

    error_log_record(
        category=ErrorLog.Category.GENERATION,
        code="tax_failed",
        message="No tax rate for TX. Add a tax rate, then recover the schedule.",
        primary=BillingSchedule.objects.get(pk=billed.schedule.pk),
    )
    page = ops.get(reverse("web:account_detail", args=[billed.account.pk])).content.decode()
    assert "tax_failed" in page
    assert "No tax rate for TX. Add a tax rate, then recover the schedule." in page
    assert f'href="/schedules/{billed.schedule.pk}/"' in page


def test_generation_result_of_another_session_is_404(ops, billed):
    assert ops.get(reverse("web:generation_result", args=["nope"])).status_code == 404


def test_unknown_account_is_404(ops, db):
    assert ops.get(reverse("web:account_detail", args=[999999])).status_code == 404
