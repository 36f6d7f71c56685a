"""Batch runs: start, list, detail with progress and counters, the progress JSON, and the
actions recover, draft to posted and send emails (eager Celery: tasks run in-process once
the request's transaction commits)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core import mail
from django.urls import reverse

from invoicing.models import ErrorLog, Invoice, InvoiceBatchRun
from tests.factories import InvoiceBatchRunFactory, make_account

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
    assert f"Run {run.pk}: invoice generation" in page
    assert 'data-status="completed"' in page and 'value="100"' in page
    assert '<dd data-counter="matching_schedules">1</dd>' in page
    assert '<dd data-counter="invoices_generated">1</dd>' in page
    assert '<dd data-counter="draft_invoices">1</dd>' in page
    assert '<dd data-counter="schedules_failed">0</dd>' in page
    assert "106.26 USD" in page  # the run's invoice and its draft amount
    assert "Post 1 draft</button>" in page
    assert "web.js" not in page  # a finished run is not polled


def test_progress_json(ops, finished_run):
    data = ops.get(reverse("web:run_progress", args=[finished_run.pk])).json()
    assert data["status"] == "completed" and data["finished"] is True
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


def test_draft_to_posted(ops, finished_run, post_and_run):
    response = post_and_run(reverse("web:run_draft_to_posted", args=[finished_run.pk]))
    sub = InvoiceBatchRun.objects.get(parent_run=finished_run)
    assert response["Location"] == reverse("web:run_detail", args=[sub.pk])
    assert (sub.kind, sub.status, sub.posted_invoices) == ("draft_to_posted", "completed", 1)
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.number) == ("posted", "INV-0001")
    page = ops.get(response["Location"]).content.decode()
    assert '<dd data-counter="posted_invoices">1</dd>' in page
    parent = ops.get(reverse("web:run_detail", args=[finished_run.pk])).content.decode()
    assert f'href="/runs/{sub.pk}/"' in parent and "Draft to posted" in parent


def test_draft_to_posted_of_a_started_run_shows_the_service_message(ops, billed):
    run = InvoiceBatchRunFactory(status="started")
    response = ops.post(reverse("web:run_draft_to_posted", args=[run.pk]), follow=True)
    html = response.content.decode()
    assert f"Batch run {run.pk} is still running; post its drafts once it has finished." in html
    assert InvoiceBatchRun.objects.count() == 1


def test_recover(ops, finished_run, post_and_run):
    response = post_and_run(reverse("web:run_recover", args=[finished_run.pk]))
    sub = InvoiceBatchRun.objects.get(parent_run=finished_run)
    assert sub.kind == "recovery" and sub.status in ("completed", "completed_with_errors")
    assert response["Location"] == reverse("web:run_detail", args=[sub.pk])
    page = ops.get(response["Location"]).content.decode()
    assert f"Run {sub.pk}: recovery" in page


def test_send_emails_of_a_run(ops, billed, post_and_run):
    make_account("Opted Out Inc", seller=billed.seller, currency="USD")
    post_and_run(
        reverse("web:run_start"),
        {"target_date": "2026-01-31", "invoice_status": "posted"},
    )
    run = InvoiceBatchRun.objects.get()
    assert run.posted_invoices == 1
    page = ops.get(reverse("web:run_detail", args=[run.pk])).content.decode()
    assert "Send emails</button>" in page
    response = post_and_run(reverse("web:run_send_emails", args=[run.pk]))
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ap@example.com"]
    sub = InvoiceBatchRun.objects.get(kind=InvoiceBatchRun.Kind.EMAIL)
    assert sub.parent_run_id == run.pk
    assert response["Location"] == reverse("web:run_detail", args=[sub.pk])
    again = post_and_run(reverse("web:run_send_emails", args=[run.pk]))
    assert len(mail.outbox) == 1  # already sent: not sent twice
    assert again.status_code == 302


def test_run_detail_shows_its_error_log(ops, finished_run):
    from invoicing.services.errors import error_log_record

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
    assert 'class="msg msg-error"' in html and "ZZZ" in html
    assert not InvoiceBatchRun.objects.exists()


def test_amount_figures_are_exact(ops, finished_run):
    assert finished_run.amounts == [{"currency": "USD", "draft": "106.26", "posted": "0.00"}]
    assert Invoice.objects.get().total == D("106.26")
