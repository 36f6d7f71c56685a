"""The dashboard's figures and chart, and the error log list."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.test import override_settings
from django.urls import reverse
from freezegun import freeze_time

from billing.models import BillingSchedule
from billing.services.orders import order_activate, order_create
from invoicing.models import CreditMemo, ErrorLog, Invoice, InvoiceBatchRun
from invoicing.services.drafts import invoice_draft_delete
from invoicing.services.errors import error_log_record
from invoicing.services.generation import invoices_generate
from invoicing.services.void import invoice_void
from tests.factories import InvoiceBatchRunFactory, make_account

pytestmark = pytest.mark.django_db
d = dt.date


def one(account, target, **kw) -> Invoice:
    (pk,) = invoices_generate(account_id=account.pk, target_date=target, **kw).invoice_ids
    return Invoice.objects.get(pk=pk)


@pytest.fixture
def february(billed):
    """As of 2026-02-20: Acme's January seats posted (53.13 USD, dated 2026-01-31), February
    posted (53.13 USD, dated 2026-02-10), March a draft dated 2026-02-20 (53.13 USD); Globex's
    setup posted in December 2025 (265.63 EUR). Runs of the last 30 days: 2 completed, 1 with
    errors, 1 failed (and an older failed one); 2 open error logs and a resolved one."""
    with freeze_time("2026-02-20 09:00:00"):
        one(billed.account, d(2026, 1, 31), action="posted")
        one(billed.account, d(2026, 2, 28), invoice_date=d(2026, 2, 10), action="posted")
        one(billed.account, d(2026, 3, 31), invoice_date=d(2026, 2, 20))
        globex = make_account("Globex Ltd", seller=billed.seller, currency="EUR")
        order = order_create(
            account=globex,
            items=[
                {
                    "product": billed.setup,
                    "quantity": D("1"),
                    "unit_price": D("250.00"),
                    "pricing_term": "one_time",
                    "start_date": d(2025, 12, 5),
                    "billing_frequency": "one_time",
                }
            ],
        )
        order_activate(order_id=order.pk)
        one(globex, d(2025, 12, 31), action="posted")
        for status in ("completed", "completed", "completed_with_errors", "failed"):
            InvoiceBatchRunFactory(status=status)
        old = InvoiceBatchRunFactory(status="failed")
        InvoiceBatchRun.objects.filter(pk=old.pk).update(
            created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        )
        schedule = BillingSchedule.objects.get(pk=billed.schedule.pk)
        error_log_record(category="generation", code="tax_failed", message="x", primary=schedule)
        error_log_record(category="email", code="email_failed", message="y", primary=globex)
        resolved = error_log_record(category="tax", code="z", message="z", primary=globex)
        ErrorLog.objects.filter(pk=resolved.pk).update(is_resolved=True)
    billed.globex = globex
    return billed


@freeze_time("2026-02-20 09:00:00")
def test_dashboard_figures(ops, february):
    page = ops.get(reverse("web:dashboard")).content.decode()
    kpi = dict(re.findall(r'data-kpi="([a-z-]+)">(\d+)', page))
    assert kpi == {
        "posted-this-month": "1",
        "drafts-this-month": "1",
        "voided-this-month": "0",
        "drafts": "1",
        "runs-completed": "2",
        "runs-with-errors": "1",
        "runs-failed": "1",
        "open-errors": "2",
    }
    assert '<span class="card-note" data-posted-amounts>53.13 USD</span>' in page
    assert "1 email · 1 invoice generation" in page
    assert "As of 20 February 2026 (UTC)." in page
    assert "/invoices/?status=posted&amp;date_from=2026-02-01&amp;date_to=2026-02-28" in page


@freeze_time("2026-02-20 09:00:00")
def test_posted_this_month_counts_posted_invoices_only_and_says_so(ops, february):
    """Point 12: the card counts the posted invoices dated this month with their amounts per
    currency; drafts and voided invoices of the month are counted apart, not mixed in."""
    page = ops.get(reverse("web:dashboard")).content.decode()
    card = page.split('<span class="card-label">Posted this month</span>')[1].split("</a>")[0]
    assert '<span class="card-value" data-kpi="posted-this-month">1 <small>invoice</small>' in card
    assert "data-posted-amounts>53.13 USD</span>" in card
    assert (
        'Not counted: <span data-kpi="drafts-this-month">1</span> draft · '
        '<span data-kpi="voided-this-month">0</span> voided'
    ) in card
    assert "Invoice date 1–28 February 2026, UTC" in card

    invoice_draft_delete(invoice_id=Invoice.objects.get(status="draft").pk)
    invoice_void(invoice_id=Invoice.objects.get(invoice_date=d(2026, 2, 10)).pk)
    card = (
        ops.get(reverse("web:dashboard"))
        .content.decode()
        .split('<span class="card-label">Posted this month</span>')[1]
        .split("</a>")[0]
    )
    assert 'data-kpi="posted-this-month">0 <small>invoices</small>' in card
    assert "data-posted-amounts>nothing posted yet</span>" in card
    assert (
        'Not counted: <span data-kpi="drafts-this-month">0</span> drafts · '
        '<span data-kpi="voided-this-month">1</span> voided'
    ) in card


@override_settings(TIME_ZONE="America/New_York")
@freeze_time("2026-03-01 03:00:00")  # 22:00 on 28 February in New York
def test_this_month_is_the_site_time_zone_s_month(ops, february):
    """Point 12: "this month" is the month of today in the site's time zone, labelled."""
    page = ops.get(reverse("web:dashboard")).content.decode()
    assert "As of 28 February 2026 (America/New_York)." in page
    assert "Invoice date 1–28 February 2026, America/New_York" in page
    assert 'data-kpi="posted-this-month">1 <small>invoice</small>' in page


@freeze_time("2026-02-20 09:00:00")
def test_dashboard_chart_per_currency(ops, february):
    page = ops.get(reverse("web:dashboard")).content.decode()
    usd = page.split('data-currency="USD"')[1].split("</figure>")[0]
    eur = page.split('data-currency="EUR"')[1].split("</figure>")[0]
    assert "106.26 USD in 12 months · highest month 53.13 USD" in usd
    assert "265.63 EUR in 12 months · highest month 265.63 EUR" in eur
    months = re.findall(r"<tr><td>(\w+ \d{4})</td><td class=\"num\">([\d.,]+ USD)", usd)
    assert months[0] == ("March 2025", "0.00 USD") and len(months) == 12
    assert months[-2:] == [("January 2026", "53.13 USD"), ("February 2026", "53.13 USD")]
    # Two USD bars (January, February), full height (the same amount, the maximum).
    assert len(re.findall(r'<rect [^>]*class="bar"', usd)) == 2
    assert 'height="120.0"' in usd
    assert "<title>December 2025: 265.63 EUR</title>" in eur


@freeze_time("2026-02-20 09:00:00")
def test_voided_invoices_are_left_out_of_the_chart(ops, february):
    invoice_void(invoice_id=Invoice.objects.get(currency="EUR").pk)
    assert CreditMemo.objects.count() == 1
    page = ops.get(reverse("web:dashboard")).content.decode()
    assert 'data-currency="EUR"' not in page
    assert 'data-currency="USD"' in page


def test_error_list_filters_and_links(ops, february):
    run = InvoiceBatchRunFactory(status="completed_with_errors")
    draft = Invoice.objects.get(status="draft")
    error_log_record(
        category="posting",
        code="no_sequence",
        message="No sequence policy matches. Add one for USD, then post again.",
        primary=draft,
        batch_run_id=run.pk,
    )
    url = reverse("web:error_list")
    page = ops.get(url).content.decode()
    assert "3 in all" in page  # open ones by default
    assert "No sequence policy matches. Add one for USD, then post again." in page
    assert f'<a href="/invoices/{draft.pk}/">Draft invoice #{draft.pk}</a>' in page
    assert f'<a href="/schedules/{february.schedule.pk}/">' in page
    assert f'<a href="/accounts/{february.globex.pk}/">Account Globex Ltd</a>' in page
    assert f'<a href="/runs/{run.pk}/">Run {run.pk}</a>' in page

    def codes(**params):
        return re.findall(r"<td><code>(\w+)</code>", ops.get(url, params).content.decode())

    assert sorted(codes()) == ["email_failed", "no_sequence", "tax_failed"]
    assert codes(state="resolved") == ["z"]
    assert sorted(codes(state="all")) == ["email_failed", "no_sequence", "tax_failed", "z"]
    assert codes(category="posting") == ["no_sequence"]
    assert codes(code="email_failed") == ["email_failed"]
    assert codes(run=str(run.pk)) == ["no_sequence"]
    assert codes(q="sequence policy") == ["no_sequence"]


def test_error_rows_of_other_records_link_to_the_admin(ops, billed):
    memo = CreditMemo.objects.create(
        account=billed.account, currency="USD", memo_date=d(2026, 1, 1)
    )
    error_log_record(category="void", code="memo", message="Memo problem.", primary=memo)
    page = ops.get(reverse("web:error_list")).content.decode()
    assert f'href="/admin/invoicing/creditmemo/{memo.pk}/change/"' in page
