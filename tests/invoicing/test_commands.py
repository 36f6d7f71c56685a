"""Commands: void_invoice, send_invoice_emails, render_invoice_pdfs, run_invoice_batch,
recover_invoice_batch. Piped (as here: the output is no terminal) a long command prints one
summary line, a line per record with -v 2, and its failures on standard error."""

import datetime as dt
import logging
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from billing.models import BillingSchedule
from core.management.progress import CommandProgress
from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    InvoiceBatchRun,
    InvoiceDocument,
    Receipt,
)
from invoicing.services.memos import credit_memo_create, credit_memo_post
from invoicing.services.schedulers import scheduler_save
from tests.support.invoicing import broken_customer, customers, generate, schedules_of, snapshot
from tests.support.tax_engines import TAX_ENGINE

pytestmark = pytest.mark.django_db
d = dt.date
TARGET = d(2026, 2, 15)


def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_void_invoice_by_number_newest_first(lw):
    january = generate(lw, d(2026, 1, 15))
    generate(lw, d(2026, 2, 15))
    out, _ = run("void_invoice", "INV-0001", "INV-0002", "--reason", "Wrong price")
    memo_of = {m.invoice.number: m.pk for m in CreditMemo.objects.select_related("invoice")}
    assert out.splitlines() == [
        f"voided INV-0002: credit memo #{memo_of['INV-0002']} for 75.77 USD",
        f"voided INV-0001: credit memo #{memo_of['INV-0001']} for 75.77 USD",
    ]
    assert january.credit_memos.count() == 1
    assert set(CreditMemo.objects.values_list("reason", flat=True)) == {"Wrong price"}


def test_void_invoice_errors(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    before = snapshot()
    with pytest.raises(CommandError, match="No invoice with number or id 'NOPE'"):
        run("void_invoice", "NOPE")
    err = StringIO()
    with pytest.raises(CommandError, match="1 invoice"):
        call_command("void_invoice", str(draft.pk), stdout=StringIO(), stderr=err)
    assert "[invoice_not_posted]" in err.getvalue()
    assert snapshot() == before


def test_send_invoice_emails_single_and_bulk(lw):
    lw.account.bulk_email_opt_out = True
    lw.account.save()
    invoice = generate(lw, d(2026, 1, 15))

    out, err = run("send_invoice_emails", "--unsent")
    assert (out, err) == ("Bulk send: 1 skipped.\n", "")
    assert mail.outbox == []

    out, err = run("send_invoice_emails", "--ids", str(invoice.pk), "--to", "cfo@acme.example")
    assert (out, err) == ("1 email(s) sent, 0 failed.\n", "")
    assert mail.outbox[0].to == ["cfo@acme.example"]

    out, _ = run(
        "send_invoice_emails", "--ids", str(invoice.pk), "--to", "ap@x.example", verbosity=2
    )
    assert out.splitlines() == [
        f"invoice {invoice.pk}: sent to ap@x.example",
        "1 email(s) sent, 0 failed.",
    ]


def test_send_invoice_emails_reports_failures_on_stderr(lw):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="^1 email\\(s\\) not sent; see the errors above.$"):
        call_command("send_invoice_emails", "--ids", str(draft.pk), stdout=out, stderr=err)
    assert out.getvalue() == "0 email(s) sent, 1 failed.\n"
    assert err.getvalue().startswith(f"invoice {draft.pk}: [invoice_not_posted] ")
    assert mail.outbox == []


def test_render_invoice_pdfs(lw):
    invoice = generate(lw, d(2026, 1, 15))
    generate(lw, d(2026, 2, 15), action="draft")

    out, err = run("render_invoice_pdfs", "--missing")
    assert (out, err) == ("1 rendered, 0 failed.\n", "")
    out, _ = run("render_invoice_pdfs", "--missing")
    assert out == "0 rendered, 0 failed.\n"
    out, _ = run("render_invoice_pdfs", "--ids", str(invoice.pk), "--regenerate", verbosity=2)
    first, summary = out.splitlines()
    assert first.startswith(f"invoice {invoice.pk}: version 2, 1 page(s), ")
    assert summary == "1 rendered, 0 failed."
    assert InvoiceDocument.objects.count() == 2


# --------------------------------------------------------------------------------------------
# Commands


@pytest.mark.django_db(transaction=True)
def test_run_invoice_batch_command_ad_hoc_and_by_scheduler(billed):
    """Without a broker (eager Celery) the run completes inside the command."""
    customers(billed, 2)
    customers(billed, 1, prefix="Enterprise", matching_value="enterprise")
    out, err = StringIO(), StringIO()
    call_command(
        "run_invoice_batch",
        "--target-date",
        "2026-01-31",
        "--matching-value",
        "enterprise",
        "--currency",
        "USD",
        "--post",
        stdout=out,
        stderr=err,
    )
    run = InvoiceBatchRun.objects.get()
    # Piped: one summary line, no Celery task chatter.
    assert out.getvalue() == (
        f"Run {run.pk} (Invoice generation) completed: 1 schedule(s) matching, 1 processed, "
        "0 failed; 1 invoice(s) generated (0 draft, 1 posted), 0 failed; 53.13 USD posted.\n"
    )
    assert err.getvalue() == ""
    assert run.filters == {"currencies": ["USD"], "matching_values": ["enterprise"]}

    scheduler = scheduler_save(
        name="Cmd", cadence="once", day_of_month="", start_date=d(2026, 1, 1), target_date=TARGET
    )
    out = StringIO()
    call_command(
        "run_invoice_batch",
        "--scheduler",
        str(scheduler.pk),
        "--chunk-size",
        "1",
        stdout=out,
        verbosity=2,
    )
    # -v 2: the run's report, then the summary. Jan + Feb of the other two, Feb of the
    # enterprise customer.
    text = out.getvalue()
    run = InvoiceBatchRun.objects.get(scheduler=scheduler)
    assert f"Run {run.pk} (Invoice generation) — completed, stage done, 100 %" in text
    assert "schedules: 3 matching, 3 processed, 0 failed" in text
    assert "invoices: 3 generated, 0 failed, 3 draft, 0 posted" in text
    assert text.splitlines()[-1].startswith(f"Run {run.pk} (Invoice generation) completed: 3 ")
    assert InvoiceBatchRun.objects.get(scheduler=scheduler).chunks_total == 3

    with pytest.raises(CommandError, match="Give --scheduler, or --target-date"):
        call_command("run_invoice_batch")
    with pytest.raises(CommandError, match=r"\[invalid\] billing_period_count"):
        call_command("run_invoice_batch", "--target-date", "2026-01-31", "--period-count", "13")
    with pytest.raises(CommandError, match="not a date"):
        call_command("run_invoice_batch", "--target-date", "31.01.2026")


@pytest.mark.django_db(transaction=True)
def test_run_invoice_batch_follows_the_run_and_keeps_celery_out(billed, caplog, monkeypatch):
    """Eager Celery runs the run's tasks inside the command: the bar follows the run's
    percent task by task, and Celery's "Task … succeeded" lines are not logged."""
    customers(billed, 3)
    seen = []
    original = CommandProgress.update

    def update(self, done, total=None):
        seen.append((done, total))
        original(self, done, total)

    monkeypatch.setattr(CommandProgress, "update", update)
    caplog.set_level(logging.INFO)
    out = StringIO()
    call_command(
        "run_invoice_batch", "--target-date", "2026-01-31", "--chunk-size", "1", stdout=out
    )
    # Planned (5 %), after each of the 3 chunks (5 + 90 × n / 3), summarised (100 %).
    assert seen == [(5, 100), (35, 100), (65, 100), (95, 100), (100, 100)]
    assert [r.getMessage() for r in caplog.records if r.name.startswith(("celery", "kombu"))] == []
    assert out.getvalue().startswith(f"Run {InvoiceBatchRun.objects.get().pk} (Invoice ")
    # Outside the command Celery logs as configured again.
    assert logging.getLogger("celery").level == logging.NOTSET


@pytest.mark.django_db(transaction=True)
def test_recover_invoice_batch_command(billed, settings):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "TAX_ENGINE": TAX_ENGINE}
    customers(billed, 1)
    broken = broken_customer(billed)
    (schedule,) = schedules_of([broken])
    call_command("run_invoice_batch", "--target-date", "2026-01-31", stdout=StringIO())
    run = InvoiceBatchRun.objects.get()
    assert run.status == "completed_with_errors"

    out = StringIO()
    call_command("recover_invoice_batch", str(run.pk), stdout=out)
    text = out.getvalue()
    assert "(Recovery) — completed" in text
    assert f"'schedules_recovered': [{schedule.pk}]" in text
    assert BillingSchedule.objects.get(pk=schedule.pk).status == "ready_for_invoicing"

    out = StringIO()
    call_command("recover_invoice_batch", "--schedules", str(schedule.pk), "424242", stdout=out)
    text = out.getvalue()
    assert f"no invoice; schedules: {schedule.pk} ready_for_invoicing" in text
    assert "[nothing_to_recover]" in text and "[not_found] Billing schedule 424242" in text
    with pytest.raises(CommandError, match="Give a batch run id"):
        call_command("recover_invoice_batch")
    assert D(str(BillingSchedule.objects.get(pk=schedule.pk).billed_amount)) == D("0.00")


# --- apply_credit_memo ----------------------------------------------------------------------


def test_apply_credit_memo_over_two_invoices_then_unapply(lw):
    january = generate(lw, d(2026, 1, 15))  # INV-0001, 75.77
    february = generate(lw, d(2026, 2, 15))  # INV-0002, 75.77
    memo = credit_memo_create(
        account_id=lw.account.pk,
        memo_date=d(2026, 3, 1),
        lines=[{"name": "Goodwill", "unit_price": "100.00"}],
    )
    credit_memo_post(credit_memo_id=memo.pk, posted_date=d(2026, 3, 1))
    out = StringIO()
    call_command(
        "apply_credit_memo",
        str(memo.pk),
        "INV-0001:40.00",
        "INV-0002",
        "--date",
        "2026-03-02",
        stdout=out,
    )
    first, second = CreditMemoApplication.objects.order_by("id")
    assert out.getvalue().splitlines() == [
        f"applied 40.00 USD of Credit memo #{memo.pk} to INV-0001 (application {first.pk})",
        f"applied 60.00 USD of Credit memo #{memo.pk} to INV-0002 (application {second.pk})",
        f"Credit memo #{memo.pk}: 0.00 USD left",
    ]
    assert (first.applied_by, first.applied_date) == ("manage.py", d(2026, 3, 2))
    january.refresh_from_db()
    february.refresh_from_db()
    assert (january.balance, february.balance) == (D("35.77"), D("15.77"))

    out = StringIO()
    call_command("apply_credit_memo", "--unapply", str(second.pk), stdout=out)
    assert (
        out.getvalue()
        == f"unapplied 60.00 USD of Credit memo #{memo.pk} applied to INV-0002 on 2026-03-02\n"
    )
    february.refresh_from_db()
    assert february.balance == D("75.77")

    before = snapshot()
    with pytest.raises(CommandError) as exc:
        call_command("apply_credit_memo", str(memo.pk), "INV-0002:80.00")
    assert str(exc.value) == (
        "[credit_exceeds_balance] 80.00 USD is more than the 75.77 USD open on invoice INV-0002. "
        "Apply at most the open balance."
    )
    with pytest.raises(CommandError) as exc:
        call_command("apply_credit_memo", str(memo.pk), "INV-0002:abc")
    assert str(exc.value) == (
        "[invalid] applications[0].amount: Give the amount as a decimal string, e.g. '125.00'."
    )
    with pytest.raises(CommandError, match="No invoice with number or id 'INV-9999'."):
        call_command("apply_credit_memo", str(memo.pk), "INV-9999")
    with pytest.raises(CommandError, match="--date '2026-13-01' is not a date"):
        call_command("apply_credit_memo", str(memo.pk), "INV-0002", "--date", "2026-13-01")
    assert snapshot() == before


# --- credit_invoice ---------------------------------------------------------------------------


def test_credit_invoice_lines_by_amount_and_quantity(lw):
    january = generate(lw, d(2026, 1, 15))  # INV-0001: Seat 50.00 (tax 4.13), support 19.99
    seat = january.lines.get(name="Seat")
    support = january.lines.get(name="Premium support")
    out = StringIO()
    call_command(
        "credit_invoice",
        "INV-0001",
        "--line",
        f"{seat.pk}=x2",
        "--line",
        f"{support.pk}=5.00",
        "--reason",
        "billing_error",
        "--date",
        "2026-02-10",
        stdout=out,
    )
    memo = CreditMemo.objects.get()
    # Seat: 2 of 10 → 10.00, tax 0.63 + 0.20; support 5.00, tax 0.31 + 0.10.
    assert out.getvalue().splitlines() == [
        f"Credit memo #{memo.pk} (posted): 16.24 USD = 15.00 USD + tax 1.24 USD",
        "applied 16.24 USD to INV-0001: balance 59.53 USD",
    ]
    assert (memo.reason_code, memo.memo_date) == ("billing_error", d(2026, 2, 10))

    before = snapshot()
    with pytest.raises(CommandError) as exc:
        call_command("credit_invoice", "INV-0001", "--line", f"{support.pk}=20.00")
    assert str(exc.value) == (
        "[invalid] lines[0].amount: Line 'Premium support' has 14.99 USD left to credit of "
        "19.99 USD (5.00 USD credited before); 20.00 USD is more."
    )
    with pytest.raises(CommandError, match="start with the invoice line's id"):
        call_command("credit_invoice", "INV-0001", "--line", "seat=1")
    assert snapshot() == before


# --- write_off_invoice ------------------------------------------------------------------------


def test_write_off_invoice_and_reverse(lw):
    generate(lw, d(2026, 1, 15))  # INV-0001, 75.77
    out = StringIO()
    call_command(
        "write_off_invoice", "INV-0001", "--note", "Bankrupt", "--date", "2026-04-30", stdout=out
    )
    memo = CreditMemo.objects.get()
    assert out.getvalue() == f"wrote off 75.77 USD of INV-0001 ({memo})\n"
    assert (memo.source, memo.reason, memo.memo_date) == (
        "write_off",
        "Bankrupt",
        d(2026, 4, 30),
    )
    out = StringIO()
    call_command("write_off_invoice", "INV-0001", "--reverse", stdout=out)
    assert out.getvalue() == f"reversed the write-off of 75.77 USD of INV-0001 ({memo})\n"
    before = snapshot()
    err = StringIO()
    with pytest.raises(CommandError, match="1 invoice\\(s\\) not done"):
        call_command("write_off_invoice", "INV-0001", "--reverse", stderr=err)
    assert "[invoice_not_written_off] Invoice INV-0001 is not written off" in err.getvalue()
    assert snapshot() == before


# --- payment ----------------------------------------------------------------------------------


def test_payment_receive_allocate_refund_reverse(lw):
    generate(lw, d(2026, 1, 15))  # INV-0001, 75.77
    generate(lw, d(2026, 2, 15))  # INV-0002, 75.77
    out = StringIO()
    call_command(
        "payment",
        "receive",
        str(lw.account.pk),
        "100.00",
        "--date",
        "2026-03-02",
        "--method",
        "bank_transfer",
        "--allocate",
        "INV-0001",
        stdout=out,
    )
    receipt = Receipt.objects.get()
    assert out.getvalue().splitlines() == [
        "  allocated 75.77 USD to INV-0001",
        f"{receipt} (received): unallocated 24.23 USD, refunded 0.00 USD",
    ]
    out = StringIO()
    call_command("payment", "allocate", str(receipt.pk), "INV-0002:4.23", stdout=out)
    assert out.getvalue().splitlines()[-1] == (
        f"{receipt} (received): unallocated 20.00 USD, refunded 0.00 USD"
    )
    out = StringIO()
    call_command("payment", "refund", str(receipt.pk), "20.00", "--date", "2026-03-03", stdout=out)
    assert out.getvalue().splitlines()[-1] == (
        f"{receipt} (received): unallocated 0.00 USD, refunded 20.00 USD"
    )
    before = snapshot()
    with pytest.raises(CommandError) as exc:
        call_command("payment", "refund", str(receipt.pk), "0.01", "--date", "2026-03-03")
    assert str(exc.value).startswith("[payment_exceeds_balance] ")
    with pytest.raises(CommandError) as exc:
        call_command("payment", "reverse", str(receipt.pk))
    assert "a payment with refunds is not reversed" in str(exc.value)
    assert snapshot() == before


def test_void_credit_memo(lw):
    memo = credit_memo_create(
        account_id=lw.account.pk, lines=[{"name": "Goodwill", "unit_price": "10.00"}]
    )
    credit_memo_post(credit_memo_id=memo.pk)
    out = StringIO()
    call_command("void_credit_memo", str(memo.pk), stdout=out)
    memo.refresh_from_db()
    debit = memo.account.debit_memos.get()
    assert out.getvalue() == f"voided {memo}; offsetting debit memo {debit}\n"
    assert (memo.status, debit.status) == ("voided", "offset")
    err = StringIO()
    with pytest.raises(CommandError, match="1 credit memo\\(s\\) not voided"):
        call_command("void_credit_memo", str(memo.pk), stderr=err)
    assert "[credit_memo_not_posted]" in err.getvalue()


def test_credit_memo_create_post_and_refuse(lw):
    out = StringIO()
    call_command(
        "credit_memo",
        str(lw.account.pk),
        "--line",
        "Goodwill credit=25.00",
        "--reason",
        "goodwill",
        "--note",
        "Outage",
        "--draft",
        stdout=out,
    )
    memo = CreditMemo.objects.get()
    assert out.getvalue() == f"{memo} (draft): 25.00 USD\n"
    assert (memo.reason_code, memo.reason, memo.source) == ("goodwill", "Outage", "standalone")
    out = StringIO()
    call_command("credit_memo", "--post", str(memo.pk), stdout=out)
    assert out.getvalue() == f"{memo} (posted): 25.00 USD\n"
    before = snapshot()
    with pytest.raises(CommandError) as exc:
        call_command("credit_memo", str(lw.account.pk), "--line", "Bad=-1")
    assert str(exc.value) == "[invalid] lines[0].unit_price: A credit is a positive unit price."
    with pytest.raises(CommandError, match="write NAME=AMOUNT"):
        call_command("credit_memo", str(lw.account.pk), "--line", "Goodwill")
    assert snapshot() == before
