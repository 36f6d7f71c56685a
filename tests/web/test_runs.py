"""Batch runs: start, list (follow-up runs under their parent), detail with progress and the
counters of its kind, the progress JSON, and the actions recover, draft to posted and send
emails, each behind its confirmation page (eager Celery: tasks run in-process once the
request's transaction commits).

Figures: Acme's 10 seats at 5.00 USD a month with Texas tax 6.25 % are 53.13 USD a month
(50.00 + 3.13), 106.26 USD for two months."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.core import mail
from django.urls import reverse
from freezegun import freeze_time

from accounts.models import Account, Contact
from billing.models import BillingSchedule
from invoicing.models import ErrorLog, Invoice, InvoiceBatchRun, InvoiceBatchRunKey, InvoiceEmail
from invoicing.services.email import invoice_email_send
from invoicing.services.errors import error_log_record
from tests.factories import InvoiceBatchRunFactory, make_account
from tests.support.confirm import confirmation_of
from tests.support.invoicing import customers

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def post_and_run(ops, django_capture_on_commit_callbacks):
    """POST as operations staff and run every task queued after commit."""

    def go(url, data=None):
        with django_capture_on_commit_callbacks(execute=True):
            response = ops.post(url, data or {})
        return response

    return go


@pytest.fixture
def finished_run_of_19(billed, post_and_run) -> InvoiceBatchRun:
    """A completed run that made 19 January drafts of 53.13 USD: Acme's and 18 customers'."""
    customers(billed, 18)
    post_and_run(reverse("web:run_start"), {"target_date": "2026-01-15", "invoice_status": "draft"})
    run = InvoiceBatchRun.objects.get()
    assert (run.status, run.draft_invoices) == ("completed", 19)
    return run


@pytest.fixture
def confirm_and_run(ops, post_and_run):
    """POST an action, which answers its confirmation page (nothing done); then confirm it
    and run every task queued after commit. Returns (confirmation page, final response)."""

    def go(url, data=None):
        first = ops.post(url, data or {})
        figures = confirmation_of(first)
        return first.content.decode(), post_and_run(url, {**(data or {}), "confirm": figures})

    return go


@pytest.fixture
def finished_run(billed, post_and_run) -> InvoiceBatchRun:
    """A completed run that made Acme's January and February draft (106.26 USD)."""
    response = post_and_run(
        reverse("web:run_start"),
        {"target_date": "2026-02-15", "invoice_date": "2026-02-16", "invoice_status": "draft"},
    )
    run = InvoiceBatchRun.objects.get()
    assert response["Location"] == reverse("web:run_detail", args=[run.pk])
    return run


def test_start_form(ops, billed):
    page = ops.get(reverse("web:run_start")).content.decode()
    for field in ("target_date", "invoice_date", "invoice_status", "billing_period_count"):
        assert f'name="{field}"' in page
    assert "Start run</button>" in page


def test_start_a_run_and_see_it_finish_with_its_counters(ops, finished_run):
    run = finished_run
    assert (run.status, run.stage, run.progress) == ("completed", "done", 100)
    assert (run.matching_schedules, run.schedules_processed, run.invoices_generated) == (1, 1, 1)
    assert (run.draft_invoices, run.posted_invoices, run.requested_by) == (1, 0, "olga")
    page = ops.get(reverse("web:run_detail", args=[run.pk])).content.decode()
    assert f"Run {run.pk}: generates invoices" in page
    assert 'data-status="completed"' in page and 'value="100"' in page
    assert '<dd data-counter="matching_schedules">1</dd>' in page
    assert '<dd data-counter="invoices_generated">1</dd>' in page
    assert '<dd data-counter="draft_invoices">1</dd>' in page
    assert '<dd data-counter="schedules_failed">0</dd>' in page
    assert "106.26 USD" in page  # the run's invoice and its draft amount
    assert "Post 1 draft…</button>" in page
    assert "web.js" not in page  # a finished run is not polled


def test_progress_json(ops, finished_run):
    data = ops.get(reverse("web:run_progress", args=[finished_run.pk])).json()
    assert data["status"] == "completed" and data["finished"] is True
    assert data["kind"] == "generation"
    assert data["progress"] == 100 and data["stage"] == "done"
    assert data["counters"] == {
        "matching_schedules": 1,
        "schedules_processed": 1,
        "schedules_failed": 0,
        "invoices_generated": 1,
        "invoices_failed": 0,
        "draft_invoices": 1,
        "posted_invoices": 0,
    }
    assert data["amounts"] == [{"currency": "USD", "draft": "106.26", "posted": "0.00"}]


def test_a_started_run_page_polls_its_progress(ops, billed):
    run = InvoiceBatchRunFactory(status="started", stage="generating", progress=40)
    page = ops.get(reverse("web:run_detail", args=[run.pk])).content.decode()
    assert 'data-status="started"' in page
    assert f'data-url="/runs/{run.pk}/progress.json"' in page
    assert "web/web.js" in page
    assert 'value="40"' in page and "40%" in page
    data = ops.get(reverse("web:run_progress", args=[run.pk])).json()
    assert (data["status"], data["finished"], data["progress"]) == ("started", False, 40)


def test_draft_to_posted(ops, finished_run, confirm_and_run):
    url = reverse("web:run_draft_to_posted", args=[finished_run.pk])
    confirm, response = confirm_and_run(url)
    assert f"Post 1 draft invoice of run {finished_run.pk} for 106.26 USD?" in confirm
    sub = InvoiceBatchRun.objects.get(parent_run=finished_run)
    assert response["Location"] == reverse("web:run_detail", args=[sub.pk])
    assert (sub.kind, sub.status, sub.posted_invoices) == ("draft_to_posted", "completed", 1)
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.number) == ("posted", "INV-0001")
    page = ops.get(response["Location"]).content.decode()
    assert '<dd data-counter="posted_invoices">1</dd>' in page
    parent = ops.get(reverse("web:run_detail", args=[finished_run.pk])).content.decode()
    assert f'href="/runs/{sub.pk}/"' in parent and "Draft to posted" in parent


def test_draft_to_posted_asks_first_and_changes_nothing_until_confirmed(ops, finished_run):
    """Point 15: the POST without confirmation answers the page stating count and amount; a
    confirmation of figures that no longer hold shows the new ones and does nothing."""
    url = reverse("web:run_draft_to_posted", args=[finished_run.pk])
    response = ops.post(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Post 1 draft invoice of run {finished_run.pk} for 106.26 USD?" in page
    assert (
        f"The <strong>1 draft invoice</strong> of run {finished_run.pk}, totalling "
        "<strong>106.26 USD</strong>"
    ) in page
    assert "Post 1 draft</button>" in page
    assert confirmation_of(response) == "1 drafts, 106.26 USD"
    stale = ops.post(url, {"confirm": "1 drafts, 53.13 USD"})
    assert stale.status_code == 200 and "The figures changed" in stale.content.decode()
    assert InvoiceBatchRun.objects.count() == 1
    assert Invoice.objects.get().status == "draft"


def test_draft_to_posted_of_a_started_run_shows_the_service_message(ops, billed):
    run = InvoiceBatchRunFactory(status="started")
    response = ops.post(reverse("web:run_draft_to_posted", args=[run.pk]), follow=True)
    html = response.content.decode()
    assert f"Batch run {run.pk} is still running; post its drafts once it has finished." in html
    assert InvoiceBatchRun.objects.count() == 1


def test_draft_to_posted_with_no_draft_left_is_refused_on_its_page(ops, finished_run):
    Invoice.objects.update(status="canceled")
    response = ops.post(
        reverse("web:run_draft_to_posted", args=[finished_run.pk]), {"confirm": "anything"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert f"Run {finished_run.pk} has no draft invoice: there is nothing to post." in page
    assert 'name="confirm"' not in page
    assert InvoiceBatchRun.objects.count() == 1


def test_a_draft_to_posted_run_says_what_it_did_counts_and_lists_it(
    ops, billed, finished_run_of_19, confirm_and_run
):
    """Point 13: the follow-up run that posted 19 drafts says "posts drafts", counts 19 and
    lists the 19 invoices it posted; /runs/ lists it under its parent."""
    run = finished_run_of_19
    confirm, response = confirm_and_run(reverse("web:run_draft_to_posted", args=[run.pk]))
    assert f"Post 19 draft invoices of run {run.pk} for 1,009.47 USD?" in confirm
    sub = InvoiceBatchRun.objects.get(parent_run=run)
    assert (sub.status, sub.posted_invoices, sub.invoices_failed) == ("completed", 19, 0)
    page = ops.get(response["Location"]).content.decode()
    assert f"Run {sub.pk}: posts drafts of run {run.pk}" in page
    assert "it posts the run's draft invoices." in page
    counters = dict(re.findall(r'<dd data-counter="([a-z_]+)">(\d+)</dd>', page))
    assert counters == {
        "invoices_selected": "19",
        "posted_invoices": "19",
        "invoices_failed": "0",
        "draft_invoices": "0",
    }
    assert "matching_schedules" not in page  # no generation counter on a posting run
    listed = set(map(int, re.findall(r'<tr data-invoice="(\d+)">', page)))
    assert listed == set(Invoice.objects.filter(batch_run=run).values_list("pk", flat=True))
    assert len(listed) == 19 and page.count('data-status="posted"') == 19
    assert "Invoices it posted (or failed to post)" in page
    data = ops.get(reverse("web:run_progress", args=[sub.pk])).json()
    assert (data["kind"], data["counters"]) == (
        "draft_to_posted",
        {"invoices_selected": 19, "posted_invoices": 19, "invoices_failed": 0, "draft_invoices": 0},
    )

    listing = ops.get(reverse("web:run_list")).content.decode()
    rows = re.findall(
        r'<tr data-run="(\d+)"( data-parent-run="\d+")?( class="follow-up")?>', listing
    )
    assert rows == [
        (str(run.pk), "", ""),
        (str(sub.pk), f' data-parent-run="{run.pk}"', ' class="follow-up"'),
    ]
    sub_row = listing.split(f'<tr data-run="{sub.pk}"')[1].split("</tr>")[0]
    assert "Posts drafts" in sub_row and "<td data-outcome>19 posted</td>" in sub_row
    assert f"follows up run {run.pk}" in sub_row
    parent_row = listing.split(f'<tr data-run="{run.pk}"')[1].split("</tr>")[0]
    assert "Generates invoices" in parent_row
    assert "<td data-outcome>19 invoices generated</td>" in parent_row
    flat = ops.get(reverse("web:run_list"), {"kind": "draft_to_posted"}).content.decode()
    assert re.findall(r'<tr data-run="(\d+)"', flat) == [str(sub.pk)]


def test_recover(ops, finished_run, confirm_and_run):
    confirm, response = confirm_and_run(reverse("web:run_recover", args=[finished_run.pk]))
    assert f"Recover run {finished_run.pk}?" in confirm
    assert "0 grouping keys not yet processed (0 schedules) are billed now" in confirm
    assert "0 invoices stuck in progress are canceled" in confirm
    sub = InvoiceBatchRun.objects.get(parent_run=finished_run)
    assert sub.kind == "recovery" and sub.status in ("completed", "completed_with_errors")
    assert response["Location"] == reverse("web:run_detail", args=[sub.pk])
    page = ops.get(response["Location"]).content.decode()
    assert f"Run {sub.pk}: recovers a run of run {finished_run.pk}" in page
    assert '<dd data-counter="schedules_processed">' in page


def test_recover_states_what_is_stuck(ops, finished_run):
    """The recovery confirmation counts what recovery would touch: the pending keys and their
    schedules, the invoices stuck in progress, the schedules left processing or in error."""

    InvoiceBatchRunKey.objects.filter(run=finished_run).update(status="pending")
    Invoice.objects.update(status="draft_in_progress")
    BillingSchedule.objects.update(status="processing")
    response = ops.post(reverse("web:run_recover", args=[finished_run.pk]))
    page = response.content.decode()
    assert "1 grouping key not yet processed (1 schedule) are billed now by the recovery" in page
    assert "1 invoice stuck in progress is canceled" in page
    assert "1 billing schedule left processing or in error are reset" in page
    assert confirmation_of(response) == "1 keys, 1 schedules pending, 1 invoices, 1 schedules stuck"
    assert InvoiceBatchRun.objects.count() == 1  # nothing started
    assert Invoice.objects.get().status == "draft_in_progress"


def test_send_emails_of_a_run(ops, billed, post_and_run, confirm_and_run):
    make_account("Opted Out Inc", seller=billed.seller, currency="USD")
    post_and_run(
        reverse("web:run_start"),
        {"target_date": "2026-01-31", "invoice_status": "posted"},
    )
    run = InvoiceBatchRun.objects.get()
    assert run.posted_invoices == 1
    page = ops.get(reverse("web:run_detail", args=[run.pk])).content.decode()
    assert "Send emails…</button>" in page
    confirm, response = confirm_and_run(reverse("web:run_send_emails", args=[run.pk]))
    assert f"Send 1 invoice email of run {run.pk}?" in confirm
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ap@example.com"]
    sub = InvoiceBatchRun.objects.get(kind=InvoiceBatchRun.Kind.EMAIL)
    assert sub.parent_run_id == run.pk
    assert response["Location"] == reverse("web:run_detail", args=[sub.pk])
    again = post_and_run(reverse("web:run_send_emails", args=[run.pk]), {"confirm": "x"})
    assert again.status_code == 200  # nothing left to send: refused on the page
    assert (
        f"There is no email to send: of the 1 posted invoice of run {run.pk}, 1 was already "
        "emailed and 0 belong to accounts that opted out of bulk email."
    ) in again.content.decode()
    assert len(mail.outbox) == 1  # already sent: not sent twice
    assert InvoiceBatchRun.objects.filter(kind="email").count() == 1


def test_an_email_run_counts_sent_skipped_and_failed(ops, billed, post_and_run, confirm_and_run):
    """Point 13: of 4 posted invoices, 1 emailed before, 1 of an account that opted out, 1
    without a recipient: the email run sends 1, skips 1, fails 1, and its counters, list and
    outcome say so."""
    opted, mute, sent_before = customers(billed, 3)
    Account.objects.filter(pk=opted.pk).update(bulk_email_opt_out=True)
    Contact.objects.filter(account=mute).update(email="")
    post_and_run(
        reverse("web:run_start"), {"target_date": "2026-01-15", "invoice_status": "posted"}
    )
    run = InvoiceBatchRun.objects.get()
    assert run.posted_invoices == 4
    invoice_email_send(invoice_id=Invoice.objects.get(account=sent_before).pk)
    assert len(mail.outbox) == 1

    confirm, response = confirm_and_run(reverse("web:run_send_emails", args=[run.pk]))
    assert f"Send 2 invoice emails of run {run.pk}?" in confirm
    assert (
        f"<strong>2 emails</strong>, one per posted invoice of run {run.pk} (totalling "
        "106.26 USD), are sent by a follow-up run"
    ) in confirm
    assert "1 invoice of accounts that opted out of bulk email is skipped." in confirm
    assert "1 invoice already emailed is not sent again." in confirm
    assert confirmation_of(ops.post(reverse("web:run_send_emails", args=[run.pk]))) == (
        "1 to send, 1 opted out, 2 sent before"
    )  # after the run: the failed one may be sent again; the sent one is not
    sub = InvoiceBatchRun.objects.get(kind="email")
    assert (sub.status, sub.invoices_failed) == ("completed_with_errors", 1)
    assert len(mail.outbox) == 2
    page = ops.get(response["Location"]).content.decode()
    assert f"Run {sub.pk}: sends emails of run {run.pk}" in page
    counters = dict(re.findall(r'<dd data-counter="([a-z_]+)">(\d+)</dd>', page))
    assert counters == {
        "invoices_selected": "4",
        "sent": "1",
        "skipped": "1",
        "already_sent": "1",
        "failed": "1",
        "not_posted": "0",
    }
    emails = re.findall(r'<tr data-email="(\d+)">', page)
    assert sorted(map(int, emails)) == sorted(
        InvoiceEmail.objects.filter(batch_run=sub).values_list("pk", flat=True)
    )
    assert len(emails) == 3
    assert page.count('data-status="sent"') == 1 and page.count('data-status="skipped"') == 1
    assert page.count('data-status="failed"') == 1
    assert "Error log (1)" in page  # the failure, logged on the email run
    listing = ops.get(reverse("web:run_list")).content.decode()
    sub_row = listing.split(f'<tr data-run="{sub.pk}"')[1].split("</tr>")[0]
    assert "<td data-outcome>1 sent, 1 skipped, 1 failed</td>" in sub_row


def test_run_detail_shows_its_error_log(ops, finished_run):
    error_log_record(
        category=ErrorLog.Category.BATCH_RUN,
        code="chunk_failed",
        message="Chunk 3 failed: the database went away. Recover the run.",
        primary=finished_run,
        batch_run_id=finished_run.pk,
    )
    page = ops.get(reverse("web:run_detail", args=[finished_run.pk])).content.decode()
    assert "Error log (1)" in page
    assert "Chunk 3 failed: the database went away. Recover the run." in page


def test_run_list(ops, finished_run):
    failed = InvoiceBatchRunFactory(status="failed")
    page = ops.get(reverse("web:run_list")).content.decode()
    assert f"Run {finished_run.pk}</a>" in page and f"Run {failed.pk}</a>" in page
    assert "Start a run</a>" in page
    only_failed = ops.get(reverse("web:run_list"), {"status": "failed"}).content.decode()
    assert f"Run {failed.pk}</a>" in only_failed and f"Run {finished_run.pk}</a>" not in only_failed


def test_start_with_filters(ops, billed, post_and_run):
    eur = make_account("Euro GmbH", seller=billed.seller, currency="EUR")
    assert eur  # has no schedule: the filter below matches nothing of USD
    post_and_run(
        reverse("web:run_start"),
        {"target_date": "2026-02-15", "invoice_status": "draft", "currencies": "eur"},
    )
    run = InvoiceBatchRun.objects.get()
    assert run.filters == {"currencies": ["EUR"]}
    assert (run.matching_schedules, run.invoices_generated) == (0, 0)
    assert not Invoice.objects.exists()
    page = ops.get(reverse("web:run_detail", args=[run.pk])).content.decode()
    assert "currencies: EUR" in page


def test_start_with_a_bad_filter_shows_the_service_message(ops, billed):
    response = ops.post(
        reverse("web:run_start"),
        {"target_date": "2026-02-15", "invoice_status": "draft", "currencies": "ZZZ"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    message = "&#x27;ZZZ&#x27; is not an ISO 4217 currency code; use e.g. USD, EUR, JPY."
    assert f'<li><a href="#id_currencies">Currencies</a>: {message}</li>' in html  # the summary
    assert f'<span class="error" id="id_currencies_error">{message}</span>' in html  # the field
    assert not InvoiceBatchRun.objects.exists()


def test_amount_figures_are_exact(ops, finished_run):
    assert finished_run.amounts == [{"currency": "USD", "draft": "106.26", "posted": "0.00"}]
    assert Invoice.objects.get().total == D("106.26")


def test_run_times_say_their_zone(ops, billed):
    """Point 11: a run's start and end, and its error log, are shown in the site's time zone
    (UTC), labelled; on the run page, the runs list and the dashboard."""
    run = InvoiceBatchRunFactory(
        status="completed",
        stage="done",
        progress=100,
        started_at=dt.datetime(2026, 2, 20, 9, 15, 30, tzinfo=dt.UTC),
        completed_at=dt.datetime(2026, 2, 20, 9, 17, 2, tzinfo=dt.UTC),
        requested_by="olga",
    )
    with freeze_time("2026-02-20 09:16:00"):
        error_log_record(
            category=ErrorLog.Category.BATCH_RUN,
            code="chunk_failed",
            message="Chunk 1 failed.",
            primary=run,
            batch_run_id=run.pk,
        )
    page = ops.get(reverse("web:run_detail", args=[run.pk])).content.decode()
    assert (
        '<dt>Started</dt><dd><time datetime="2026-02-20T09:15:30+00:00">2026-02-20 09:15 UTC'
        "</time> by olga</dd>"
    ) in page
    assert (
        '<dt>Completed</dt><dd><time datetime="2026-02-20T09:17:02+00:00">2026-02-20 09:17 UTC'
        "</time></dd>"
    ) in page
    assert '<time datetime="2026-02-20T09:16:00+00:00">2026-02-20 09:16 UTC</time>' in page
    listing = ops.get(reverse("web:run_list")).content.decode()
    assert '<td><time datetime="2026-02-20T09:15:30+00:00">2026-02-20 09:15 UTC</time></td>' in (
        listing
    )
    dashboard = ops.get(reverse("web:dashboard")).content.decode()
    assert "2026-02-20 09:15 UTC</time>" in dashboard
