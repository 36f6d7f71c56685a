"""The confirmation step of the staff UI's irreversible and bulk actions (web/views/confirm.py)
on invoices and generation: post an invoice, delete a draft, generate posted invoices for an
account or an order. A POST without confirmation answers the page stating counts and amounts
and changes nothing; a confirmation of figures that no longer hold shows the new figures and
changes nothing; only the confirmation of the current figures acts. (Runs and schedulers:
tests/web/test_runs.py and test_schedulers.py.) Also the time display every page uses.

Figures: Acme's 10 seats at 5.00 USD a month with Texas tax 6.25 % are 53.13 USD a month;
January and February are 106.26 USD."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.test import override_settings
from django.urls import reverse

from billing.models import BillingSchedule
from invoicing.models import ErrorLog, Invoice, SequencePolicy
from invoicing.services.drafts import invoice_adjustment_add
from invoicing.services.generation import invoices_generate
from tests.support.confirm import confirmation_of
from web.templatetags.web import when

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def draft(billed) -> Invoice:
    """Acme's January and February seats, dated 2026-02-16: 106.26 USD."""
    result = invoices_generate(
        account_id=billed.account.pk, target_date=d(2026, 2, 15), invoice_date=d(2026, 2, 16)
    )
    return Invoice.objects.get(pk=result.invoice_ids[0])


def unchanged(invoice: Invoice) -> tuple:
    invoice.refresh_from_db()
    return invoice.status, invoice.number, invoice.total


# --- post -------------------------------------------------------------------------------------


def test_post_asks_first_stating_amount_numbering_and_that_it_is_final(ops, draft):
    url = reverse("web:invoice_post", args=[draft.pk])
    response = ops.post(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Post invoice for 106.26 USD?</h1>" in page
    assert (
        f"Draft #{draft.pk} of <strong>Acme Corp</strong>, dated 2026-02-16, for "
        "<strong>106.26 USD</strong> becomes posted (tax as estimated now; posting computes "
        "the actual tax)."
    ) in page
    assert (
        "It is numbered when it is posted: it takes the next number of sequence "
        "<strong>US</strong> (pattern INV-{SEQ}). The number is only known then."
    ) in page
    assert "Posting cannot be undone" in page
    assert "Post invoice for 106.26 USD</button>" in page
    assert confirmation_of(response) == "106.26 USD"  # what the confirmation confirms
    assert unchanged(draft) == ("draft", None, D("106.26"))

    done = ops.post(url, {"confirm": "106.26 USD"}, follow=True)
    assert unchanged(draft) == ("posted", "INV-0001", D("106.26"))
    assert "Invoice posted as INV-0001." in done.content.decode()


def test_post_of_a_draft_changed_meanwhile_asks_again(ops, draft):
    url = reverse("web:invoice_post", args=[draft.pk])
    seen = confirmation_of(ops.post(url))
    invoice_adjustment_add(invoice_id=draft.pk, name="Onboarding", unit_price="100.00")
    again = ops.post(url, {"confirm": seen})
    page = again.content.decode()
    assert again.status_code == 200 and "The figures changed" in page
    assert "<h1>Post invoice for 212.51 USD?</h1>" in page  # + 100.00 and 6.25 tax
    assert unchanged(draft) == ("draft", None, D("212.51"))
    ops.post(url, {"confirm": confirmation_of(again)})
    assert unchanged(draft)[:2] == ("posted", "INV-0001")


def test_post_without_a_sequence_policy_is_refused_on_its_page(ops, draft):
    SequencePolicy.objects.all().delete()
    response = ops.post(reverse("web:invoice_post", args=[draft.pk]), {"confirm": "106.26 USD"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'class="msg msg-error" role="alert" data-refusal>It cannot be posted now: ' in page
    assert "sequence" in page.split("data-refusal>")[1].split("</p>")[0].lower()
    assert 'name="confirm"' not in page
    assert unchanged(draft) == ("draft", None, D("106.26"))
    assert not ErrorLog.objects.exists()


# --- delete a draft ---------------------------------------------------------------------------


def test_delete_draft_asks_first_stating_what_it_releases(ops, billed, draft):
    url = reverse("web:invoice_delete", args=[draft.pk])
    response = ops.post(url)
    page = response.content.decode()
    assert f"<h1>Delete draft #{draft.pk} for 106.26 USD?</h1>" in page
    assert (
        f"Draft #{draft.pk} of <strong>Acme Corp</strong> for <strong>106.26 USD</strong> is "
        "deleted with its 2 lines. It has no number, so no number is lost."
    ) in page
    assert (
        "What it billed is released: 2 billed periods of 1 billing schedule roll back, so the "
        "next generation bills them again."
    ) in page
    assert "This cannot be undone." in page
    assert f'class="danger">Delete draft #{draft.pk}</button>' in page
    assert confirmation_of(response) == "106.26 USD, 2 periods"
    assert Invoice.objects.filter(pk=draft.pk).exists()
    assert BillingSchedule.objects.get(pk=billed.schedule.pk).next_billing_date == d(2026, 3, 1)

    ops.post(url, {"confirm": "106.26 USD, 2 periods"})
    assert not Invoice.objects.exists()
    assert BillingSchedule.objects.get(pk=billed.schedule.pk).next_billing_date == d(2026, 1, 1)


# --- generate posted --------------------------------------------------------------------------


def test_generate_posted_asks_first_stating_count_and_amount(ops, billed):
    url = reverse("web:account_generate", args=[billed.account.pk])
    form = {"target_date": "2026-02-15", "invoice_date": "", "action": "posted"}
    response = ops.post(url, form)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Generate and post 1 invoice for 106.26 USD?</h1>" in page
    assert (
        "1 billing schedule of <strong>Acme Corp</strong> due on or before 2026-02-15 is billed "
        "on <strong>1 invoice</strong> dated 2026-02-15, totalling <strong>106.26 USD</strong>"
    ) in page
    assert "They are posted at once: each is numbered then" in page
    # The confirmation posts the same form again, with its figures.
    assert '<input type="hidden" name="target_date" value="2026-02-15">' in page
    assert '<input type="hidden" name="action" value="posted">' in page
    assert confirmation_of(response) == "1 invoices, 106.26 USD"
    assert not Invoice.objects.exists()
    assert BillingSchedule.objects.get(pk=billed.schedule.pk).next_billing_date == d(2026, 1, 1)

    done = ops.post(url, {**form, "confirm": "1 invoices, 106.26 USD"})
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.number, invoice.total) == ("posted", "INV-0001", D("106.26"))
    assert done["Location"] == reverse("web:generation_result", args=[invoice.request_id])


def test_generate_posted_for_an_order_asks_first(ops, billed):
    url = reverse("web:order_generate", args=[billed.order.pk])
    form = {"target_date": "2026-01-15", "invoice_date": "2026-01-20", "action": "posted"}
    response = ops.post(url, form)
    page = response.content.decode()
    assert "<h1>Generate and post 1 invoice for 53.13 USD?</h1>" in page
    assert (
        f"1 billing schedule of <strong>{billed.order}</strong> due on or before 2026-01-15 is "
        "billed on <strong>1 invoice</strong> dated 2026-01-20"
    ) in page
    assert not Invoice.objects.exists()
    ops.post(url, {**form, "confirm": confirmation_of(response)})
    assert list(Invoice.objects.values_list("status", "invoice_date", "total")) == [
        ("posted", d(2026, 1, 20), D("53.13"))
    ]


def test_generate_drafts_and_nothing_due_go_straight_on(ops, billed):
    url = reverse("web:account_generate", args=[billed.account.pk])
    nothing = ops.post(url, {"target_date": "2025-12-31", "action": "posted"})
    assert nothing.status_code == 302  # nothing would be posted: nothing to confirm
    assert not Invoice.objects.exists()
    drafts = ops.post(url, {"target_date": "2026-01-31", "action": "draft"})
    assert drafts.status_code == 302
    assert Invoice.objects.get().status == "draft"


def test_a_stale_generation_confirmation_changes_nothing(ops, billed):
    url = reverse("web:account_generate", args=[billed.account.pk])
    form = {"target_date": "2026-02-15", "action": "posted"}
    response = ops.post(url, {**form, "confirm": "1 invoices, 53.13 USD"})
    assert response.status_code == 200 and "The figures changed" in response.content.decode()
    assert not Invoice.objects.exists()


# --- times with their zone --------------------------------------------------------------------


def test_when_shows_an_instant_with_its_zone():
    at = dt.datetime(2026, 12, 5, 7, 0, tzinfo=dt.UTC)
    assert str(when(at, "America/New_York")) == (
        '<time datetime="2026-12-05T02:00:00-05:00">2026-12-05 02:00 America/New_York</time>'
    )
    assert str(when(at)) == '<time datetime="2026-12-05T07:00:00+00:00">2026-12-05 07:00 UTC</time>'
    assert "2026-12-05 07:00 UTC" in str(when(at, "Not/AZone"))  # unknown: the site's zone
    assert when(None) == "—" and when("") == "—"
    with override_settings(TIME_ZONE="Europe/Berlin"):
        assert "2026-12-05 08:00 Europe/Berlin" in str(when(at))
        naive = dt.datetime(2026, 12, 5, 8, 0)  # read as the site's time
        assert "2026-12-05 08:00 Europe/Berlin" in str(when(naive))
