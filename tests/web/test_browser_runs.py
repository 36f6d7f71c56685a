"""Issue 12, points 11, 13 and 15 in a real browser (the harness is tests/support/browser.py;
each step is screenshotted to test-output/screenshots/runs-*.png and confirm-*.png):

- 11: a scheduler's next run is shown in its own time zone, labelled with it; run times say
  UTC;
- 13: follow-up runs say what they did, count it and list it; /runs/ lists them under their
  parent;
- 15: posting a run's drafts, sending its emails, running a scheduler now, generating posted
  invoices and deleting a draft each show a confirmation page with counts and amounts first,
  and nothing changes before it is confirmed.
"""

import datetime as dt
import re
from collections import defaultdict
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Account
from core.money import money_display
from invoicing import selectors
from invoicing.models import Invoice, InvoiceBatchRun, InvoiceScheduler
from invoicing.services.generation import invoices_generate
from tests.factories import InvoiceSchedulerFactory
from tests.support.browser import TODAY, login, orm, shot

pytestmark = pytest.mark.django_db(transaction=True)


def amounts_of(invoices) -> str:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        totals[invoice.currency] += invoice.total
    return " + ".join(money_display(totals[c], c) for c in sorted(totals))


def test_follow_up_runs_after_their_confirmations(demo, page):
    scheduler = orm(
        lambda: InvoiceSchedulerFactory(
            name="New York close",
            status=InvoiceScheduler.Status.ACTIVE,
            day_of_month="5",
            timezone="America/New_York",
            start_date=dt.date(2026, 1, 1),
        )
    )
    login(page, prefix="runs-")

    # 11: the next run at 02:00 New York reads 02:00 America/New_York, not the UTC hour.
    (at,) = orm(
        lambda: selectors.scheduler_next_runs(
            scheduler=scheduler, count=1, after=dt.datetime.now(dt.UTC)
        )
    )
    assert (at.hour, at.minute) == (2, 0)
    cell = page.locator("[data-next-run]").first
    assert cell.inner_text() == f"{at:%Y-%m-%d} 02:00 America/New_York"
    assert at.astimezone(dt.UTC).strftime("%H:%M") not in cell.inner_text()
    shot(page, "runs-03-dashboard-next-run-in-its-zone")

    # A draft run over the demo data.
    page.get_by_role("link", name="Runs", exact=True).click()
    page.get_by_role("link", name="Start a run").click()
    page.get_by_label("Target date").fill(TODAY.isoformat())
    page.get_by_label("Create").select_option("draft")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    run = orm(lambda: InvoiceBatchRun.objects.get())
    drafts = orm(lambda: list(Invoice.objects.filter(batch_run=run, status="draft")))
    n = len(drafts)
    assert run.status == "completed" and n == run.draft_invoices == 20
    started = page.locator("dt:text('Started') + dd").inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC by olga", started), started

    # 15: "Post 20 drafts…" shows what it will post, for how much, and posts nothing yet.
    page.get_by_role("button", name=f"Post {n} drafts…").click()
    question = f"Post {n} draft invoices of run {run.pk} for {amounts_of(drafts)}?"
    expect(page.get_by_role("heading", name=question)).to_be_visible()
    expect(page.get_by_text("Posting cannot be undone")).to_be_visible()
    assert orm(lambda: Invoice.objects.filter(status="posted").count()) == 0
    assert orm(lambda: InvoiceBatchRun.objects.count()) == 1
    shot(page, "runs-04-post-drafts-confirm")
    page.get_by_role("button", name=f"Post {n} drafts").click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    sub = orm(lambda: InvoiceBatchRun.objects.get(kind="draft_to_posted"))
    assert page.url.endswith(f"/runs/{sub.pk}/")

    # 13: the follow-up run says "posts drafts", counts the 20 and lists them.
    expect(
        page.get_by_role("heading", name=re.compile(f"Run {sub.pk}: posts drafts of run"))
    ).to_be_visible()
    assert page.locator('[data-counter="posted_invoices"]').inner_text() == str(n)
    assert page.locator('[data-counter="invoices_selected"]').inner_text() == str(n)
    assert page.locator('[data-counter="invoices_failed"]').inner_text() == "0"
    rows = page.locator("tr[data-invoice]")
    assert rows.count() == n
    assert all("Posted" in rows.nth(i).inner_text() for i in range(n))
    shot(page, "runs-05-posting-run")

    # 15: "Send emails…" on the parent states how many, who is skipped; nothing sent yet.
    page.get_by_role("link", name=f"Run {run.pk}", exact=True).click()
    reach = orm(lambda: selectors.batch_run_email_reach(run=run))
    assert reach.posted == n and reach.opted_out >= 1
    page.get_by_role("button", name="Send emails…").click()
    emails = f"Send {reach.to_send} invoice emails of run {run.pk}?"
    expect(page.get_by_role("heading", name=emails)).to_be_visible()
    opted = f"{reach.opted_out} invoice{'s' if reach.opted_out > 1 else ''} of accounts"
    expect(page.get_by_text(re.compile(opted))).to_be_visible()
    assert orm(lambda: InvoiceBatchRun.objects.filter(kind="email").count()) == 0
    shot(page, "runs-06-send-emails-confirm")
    page.get_by_role("button", name=f"Send {reach.to_send} emails").click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    email_run = orm(lambda: InvoiceBatchRun.objects.get(kind="email"))
    counters = {
        name: page.locator(f'[data-counter="{name}"]').inner_text()
        for name in ("invoices_selected", "sent", "skipped", "failed")
    }
    assert counters == {
        "invoices_selected": str(n),
        "sent": str(email_run.summary["sent"]),
        "skipped": str(reach.opted_out),
        "failed": str(email_run.summary["failed"]),
    }
    assert email_run.summary["sent"] + email_run.summary["failed"] == reach.to_send
    assert page.locator("tr[data-email]").count() == reach.to_send + reach.opted_out
    shot(page, "runs-07-email-run")

    # 13: /runs/ lists the two follow-up runs right under their parent.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    ids = page.locator("tr[data-run]").evaluate_all("rows => rows.map(r => r.dataset.run)")
    assert ids == [str(run.pk), str(sub.pk), str(email_run.pk)]
    follow_ups = page.locator("tr.follow-up")
    assert follow_ups.count() == 2
    assert "Posts drafts" in follow_ups.nth(0).inner_text()
    assert f"{n} posted" in follow_ups.nth(0).inner_text()
    assert "Sends emails" in follow_ups.nth(1).inner_text()
    shot(page, "runs-08-list-with-follow-ups")

    # 15: "Run now" states the run it would start; Cancel starts nothing.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedulers").click()
    row = page.locator("tr", has_text="New York close")
    assert "America/New_York" in row.locator("[data-next-runs]").inner_text()
    row.get_by_role("button", name="Run now").click()
    expect(page.get_by_role("heading", name="Run scheduler 'New York close' now?")).to_be_visible()
    expect(page.get_by_text(re.compile(r"today in America/New_York"))).to_be_visible()
    shot(page, "runs-09-run-now-confirm")
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(f"**/schedulers/{scheduler.pk}/")
    assert orm(lambda: InvoiceBatchRun.objects.filter(scheduler_id=scheduler.pk).count()) == 0


def test_generate_posted_and_delete_a_draft_after_their_confirmations(demo, page):
    login(page, prefix="confirm-")
    page.get_by_role("link", name="Accounts", exact=True).click()
    page.get_by_role("link", name="Pinecrest Media Group").click()

    # 15: generating posted invoices asks first, with the count and amount.
    page.get_by_label("Target date").fill(TODAY.isoformat())
    page.get_by_label("Invoice date").fill(TODAY.isoformat())
    page.get_by_label("Posted invoices (numbered)").check()
    page.get_by_role("button", name="Generate invoices").click()
    question = "Generate and post 1 invoice for 1,784.08 USD?"
    expect(page.get_by_role("heading", name=question)).to_be_visible()
    assert orm(lambda: Invoice.objects.filter(account=demo).count()) == 0
    shot(page, "confirm-03-generate-posted")
    page.get_by_role("button", name="Generate and post 1 invoice").click()
    page.wait_for_url("**/generations/*/")
    invoice = orm(lambda: Invoice.objects.get(account=demo))
    assert invoice.status == "posted" and invoice.number
    assert invoice.total == Decimal("1784.08")
    shot(page, "confirm-04-generated-posted")

    # The invoice page says when it was posted, in UTC.
    page.goto(f"/invoices/{invoice.pk}/")
    assert re.search(
        r"at \d{4}-\d\d-\d\d \d\d:\d\d UTC", page.locator("[data-posted-at]").inner_text()
    )

    # 15: deleting a draft asks first, with its amount and what it releases.
    draft = orm(draft_of_another_account, demo)
    page.goto(f"/invoices/{draft.pk}/edit")
    page.get_by_role("button", name=f"Delete draft #{draft.pk}").click()
    amount = money_display(draft.total, draft.currency)
    question = f"Delete draft #{draft.pk} for {amount}?"
    expect(page.get_by_role("heading", name=question)).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"billed periods? of \d+ billing schedules? roll back"))
    ).to_be_visible()
    assert orm(lambda: Invoice.objects.filter(pk=draft.pk).exists())
    shot(page, "confirm-05-delete-draft")
    page.get_by_role("button", name=f"Delete draft #{draft.pk}").click()
    page.wait_for_url(f"**/accounts/{draft.account_id}/")
    expect(page.get_by_text(f"Draft invoice #{draft.pk} deleted")).to_be_visible()
    assert not orm(lambda: Invoice.objects.filter(pk=draft.pk).exists())
    shot(page, "confirm-06-draft-deleted")


def draft_of_another_account(pinecrest) -> Invoice:
    """A draft of the first demo account other than Pinecrest with something due."""
    for account in Account.objects.exclude(pk=pinecrest.pk).order_by("id"):
        result = invoices_generate(account_id=account.pk, target_date=TODAY)
        if result.invoice_ids:
            return Invoice.objects.get(pk=result.invoice_ids[0])
    raise AssertionError("no demo account has anything due")
