"""The dunning run (dunning/services/reminders.py): the steps of a policy across a month, at
most once per invoice and step (re-runs send nothing), opt-outs, disputes pausing and resuming,
paid, credited, written-off and voided invoices dropping out, a missed day caught up with the
latest step, templates and merge fields, dry runs, refusals that change nothing."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core import mail
from freezegun import freeze_time

from accounts.models import LegalEntity
from core.exceptions import ValidationError
from dunning import selectors
from dunning.models import DunningReminder
from dunning.services.disputes import invoice_dispute_open, invoice_dispute_resolve
from dunning.services.policies import dunning_policy_update
from dunning.services.reminders import dunning_run
from invoicing.models import EmailTemplate, Invoice, InvoiceEmail
from invoicing.services.payments import payment_record
from invoicing.services.void import invoice_void
from invoicing.services.writeoffs import invoice_write_off, invoice_write_off_reverse
from tests.factories import make_account
from tests.support.dunning import (
    FAILING_BACKEND,
    days,
    invoice_for,
    outbox_subjects,
    reminder_rows,
    run_on,
)
from tests.support.invoicing import credit_applied, subscribe

pytestmark = pytest.mark.django_db
d = dt.date


def run_days(start: dt.date, end: dt.date, before_run=None) -> dict[dt.date, dict]:
    """A run on every day from start to end (as the daily task does); `before_run(day)` is
    called first each day. Returns {day: counts} for the days that wrote a reminder."""
    wrote = {}
    for day in days(start, end):
        if before_run is not None:
            before_run(day)
        result = run_on(day)
        if result.reminders:
            wrote[day] = result.counts
    return wrote


def test_steps_across_a_month_a_paid_invoice_drops_out_and_a_rerun_sends_nothing(dw):
    """Acme's January invoice (due Jan 31) gets every step: Jan 28, Feb 7, Feb 21. Globex's
    (dated Jan 5, due Feb 4) gets its first reminder on Feb 1, is paid on Feb 9 and gets no
    other. Running the whole stretch again sends nothing."""
    second = EmailTemplate.objects.create(
        name="Second notice", subject="Second notice: {number}, {balance} open", body="{link}"
    )
    dunning_policy_update(
        policy_id=dw.policy.pk,
        steps=[
            {"days_after_due": -3},
            {"days_after_due": 7, "email_template": second},
            {"days_after_due": 21},
        ],
    )
    with freeze_time("2026-01-01 06:00"):
        acme = invoice_for(dw.account, d(2026, 1, 1))
    with freeze_time("2026-01-05 06:00"):
        globex = invoice_for(dw.globex, d(2026, 1, 5))
    assert (acme.number, acme.due_date, acme.total) == ("INV-0001", d(2026, 1, 31), D("53.13"))
    assert (globex.number, globex.due_date) == ("INV-0002", d(2026, 2, 4))

    def pay_globex(day):
        if day == d(2026, 2, 9):
            payment_record(invoice_id=globex.pk, amount="53.13", payment_date=day)

    wrote = run_days(d(2026, 1, 1), d(2026, 2, 28), before_run=pay_globex)

    one_sent = {"sent": 1, "skipped": 0, "failed": 0, "not_due": 0}
    assert wrote == {
        d(2026, 1, 28): one_sent,
        d(2026, 2, 1): one_sent,
        d(2026, 2, 7): one_sent,
        d(2026, 2, 21): one_sent,
    }
    assert reminder_rows() == [
        ("INV-0001", -3, d(2026, 1, 28), "sent"),
        ("INV-0002", -3, d(2026, 2, 1), "sent"),
        ("INV-0001", 7, d(2026, 2, 7), "sent"),
        ("INV-0001", 21, d(2026, 2, 21), "sent"),
    ]
    assert outbox_subjects() == [
        "Reminder: invoice INV-0001 is due on 2026-01-31",
        "Reminder: invoice INV-0002 is due on 2026-02-04",
        "Second notice: INV-0001, 53.13 USD open",
        "Overdue: invoice INV-0001 was due on 2026-01-31",
    ]
    assert {tuple(m.to) for m in mail.outbox} == {("ap@example.com",)}
    assert "invoice INV-0001 for 53.13 USD, due on 2026-01-31, is not paid yet" in (
        mail.outbox[3].body
    )
    # Through the invoice email outbox: one bulk row per reminder, linked both ways; the
    # invoices' own email status is left alone (they were never emailed themselves).
    emails = InvoiceEmail.objects.order_by("id")
    assert [(e.invoice_id, e.status, e.bulk) for e in emails] == [
        (acme.pk, "sent", True),
        (globex.pk, "sent", True),
        (acme.pk, "sent", True),
        (acme.pk, "sent", True),
    ]
    assert [r.email_id for r in DunningReminder.objects.order_by("id")] == [e.pk for e in emails]
    assert emails[2].template_id == second.pk
    assert set(Invoice.objects.values_list("email_status", flat=True)) == {"not_sent"}

    # The same stretch again: nothing is due, nothing sent, nothing written.
    assert run_days(d(2026, 1, 1), d(2026, 2, 28)) == {}
    assert len(mail.outbox) == 4
    assert DunningReminder.objects.count() == 4
    assert InvoiceEmail.objects.count() == 4


def test_a_missed_day_is_caught_up_with_the_latest_step_only(dw):
    """No run between Feb 1 and Feb 22: the run of Feb 23 sends the 21-day step of Acme's
    invoice, not the 7-day step it overtook, and the 7-day step is never sent later."""
    with freeze_time("2026-01-01 06:00"):
        invoice_for(dw.account, d(2026, 1, 1))

    assert run_on(d(2026, 1, 29)).counts["sent"] == 1  # 3 days before, one day late
    assert run_on(d(2026, 2, 23)).counts["sent"] == 1
    assert run_days(d(2026, 2, 1), d(2026, 3, 31)) == {}
    assert reminder_rows() == [
        ("INV-0001", -3, d(2026, 1, 29), "sent"),
        ("INV-0001", 21, d(2026, 2, 23), "sent"),
    ]


def test_an_account_that_opted_out_gets_no_reminder_and_each_step_is_recorded_once(dw):
    dw.globex.bulk_email_opt_out = True
    dw.globex.save()
    with freeze_time("2026-01-05 06:00"):
        invoice_for(dw.globex, d(2026, 1, 5))

    wrote = run_days(d(2026, 1, 25), d(2026, 3, 5))

    skipped = {"sent": 0, "skipped": 1, "failed": 0, "not_due": 0}
    assert wrote == {d(2026, 2, 1): skipped, d(2026, 2, 11): skipped, d(2026, 2, 25): skipped}
    assert mail.outbox == []
    assert reminder_rows() == [
        ("INV-0001", -3, d(2026, 2, 1), "skipped"),
        ("INV-0001", 7, d(2026, 2, 11), "skipped"),
        ("INV-0001", 21, d(2026, 2, 25), "skipped"),
    ]
    outbox_rows = InvoiceEmail.objects.values_list("status", "error")
    assert (
        list(outbox_rows)
        == [
            ("skipped", "Account Globex Ltd opted out of bulk email."),
        ]
        * 3
    )
    assert DunningReminder.objects.filter(error__contains="opted out").count() == 3
    # Opting in again does not send the steps it skipped.
    dw.globex.bulk_email_opt_out = False
    dw.globex.save()
    assert run_on(d(2026, 3, 6)).due == []


def test_a_dispute_pauses_dunning_and_resolving_it_resumes_with_the_latest_step(dw):
    with freeze_time("2026-01-01 06:00"):
        acme = invoice_for(dw.account, d(2026, 1, 1))

    def dispute(day):
        if day == d(2026, 2, 5):
            invoice_dispute_open(invoice_id=acme.pk, reason="Seats billed twice", opened_by="olga")
        if day == d(2026, 2, 15):
            invoice_dispute_resolve(
                invoice_id=acme.pk, resolution="Checked: billed once", resolved_by="olga"
            )

    with freeze_time("2026-02-10 09:00"):
        assert run_days(d(2026, 1, 25), d(2026, 2, 4)) == {d(2026, 1, 28): _sent(1)}
    wrote = run_days(d(2026, 2, 5), d(2026, 3, 5), before_run=dispute)

    # Feb 7 (the 7-day step) passed during the dispute: sent on the day it was resolved.
    assert wrote == {d(2026, 2, 15): _sent(1), d(2026, 2, 21): _sent(1)}
    assert reminder_rows() == [
        ("INV-0001", -3, d(2026, 1, 28), "sent"),
        ("INV-0001", 7, d(2026, 2, 15), "sent"),
        ("INV-0001", 21, d(2026, 2, 21), "sent"),
    ]


def test_a_dispute_resolved_after_the_last_step_sends_only_the_last_one(dw):
    with freeze_time("2026-01-01 06:00"):
        acme = invoice_for(dw.account, d(2026, 1, 1))
    invoice_dispute_open(invoice_id=acme.pk, reason="Wrong seat count")
    assert run_days(d(2026, 1, 25), d(2026, 3, 1)) == {}
    assert selectors.invoice_dunning_stop(invoice_id=acme.pk) == selectors.DISPUTED
    invoice_dispute_resolve(invoice_id=acme.pk)
    assert run_on(d(2026, 3, 2)).counts == _sent(1)
    assert reminder_rows() == [("INV-0001", 21, d(2026, 3, 2), "sent")]


@pytest.mark.parametrize("how", ["paid", "credited", "written_off", "settled", "voided"])
def test_paid_credited_written_off_and_voided_invoices_drop_out(dw, how):
    """The 3-days-before reminder goes; then the invoice is settled one way or another and
    gets no other, and says why."""
    with freeze_time("2026-01-01 06:00"):
        acme = invoice_for(dw.account, d(2026, 1, 1))
    assert run_on(d(2026, 1, 28)).counts == _sent(1)

    on = d(2026, 2, 2)
    with freeze_time("2026-02-02 08:00"):
        if how == "paid":
            payment_record(invoice_id=acme.pk, amount="53.13", payment_date=on)
        elif how == "credited":
            credit_applied(acme, "53.13", on)
        elif how == "written_off":
            invoice_write_off(invoice_id=acme.pk, write_off_date=on, written_off_by="olga")
        elif how == "settled":
            Invoice.objects.filter(pk=acme.pk).update(settlement_status="settled")
        else:
            invoice_void(invoice_id=acme.pk, voided_by="olga")

    assert run_days(d(2026, 2, 2), d(2026, 3, 31)) == {}
    assert len(mail.outbox) == 1
    assert reminder_rows() == [("INV-0001", -3, d(2026, 1, 28), "sent")]
    expected = {
        "paid": selectors.PAID,
        "credited": selectors.PAID,
        "written_off": selectors.WRITTEN_OFF,
        "settled": selectors.PAID,
        "voided": selectors.NOT_POSTED,
    }[how]
    acme.refresh_from_db()
    assert selectors.invoice_dunning_stop(invoice_id=acme.pk) == expected
    if how == "written_off":
        assert (acme.balance, acme.settlement_status) == (D("0.00"), "settled")


def test_a_reversed_write_off_resumes_dunning_with_the_latest_step(dw):
    with freeze_time("2026-01-01 06:00"):
        acme = invoice_for(dw.account, d(2026, 1, 1))
    with freeze_time("2026-02-02 08:00"):
        invoice_write_off(invoice_id=acme.pk, write_off_date=d(2026, 2, 2))
    assert run_days(d(2026, 1, 25), d(2026, 2, 20)) == {}
    with freeze_time("2026-02-20 08:00"):
        invoice_write_off_reverse(invoice_id=acme.pk)
    assert selectors.invoice_dunning_stop(invoice_id=acme.pk) == ""
    assert run_days(d(2026, 2, 20), d(2026, 3, 31)) == {
        d(2026, 2, 20): _sent(1),
        d(2026, 2, 21): _sent(1),
    }
    assert reminder_rows() == [
        ("INV-0001", 7, d(2026, 2, 20), "sent"),
        ("INV-0001", 21, d(2026, 2, 21), "sent"),
    ]


def test_a_partly_paid_invoice_is_still_dunned_for_its_balance(dw):
    with freeze_time("2026-01-01 06:00"):
        acme = invoice_for(dw.account, d(2026, 1, 1))
    payment_record(invoice_id=acme.pk, amount="20.00", payment_date=d(2026, 1, 20))
    template = EmailTemplate.objects.create(
        name="Balance", subject="{number}: {balance} of {total} open", body="{account}"
    )
    dunning_policy_update(
        policy_id=dw.policy.pk, steps=[{"days_after_due": 7, "email_template": template}]
    )
    assert run_on(d(2026, 2, 7)).counts == _sent(1)
    assert outbox_subjects() == ["INV-0001: 33.13 USD of 53.13 USD open"]
    assert mail.outbox[0].body == "Acme Corp"


def test_an_inactive_policy_or_template(dw):
    with freeze_time("2026-01-01 06:00"):
        invoice_for(dw.account, d(2026, 1, 1))
    template = EmailTemplate.objects.create(name="Soon", subject="Soon: {number}", body="-")
    dunning_policy_update(
        policy_id=dw.policy.pk,
        is_active=False,
        steps=[{"days_after_due": -3, "email_template": template}],
    )
    assert run_on(d(2026, 1, 28)).due == []
    dunning_policy_update(policy_id=dw.policy.pk, is_active=True)
    EmailTemplate.objects.filter(pk=template.pk).update(is_active=False)
    # An inactive template falls back to the built-in reminder.
    assert run_on(d(2026, 1, 28)).counts == _sent(1)
    assert outbox_subjects() == ["Reminder: invoice INV-0001 is due on 2026-01-31"]


def test_a_failed_send_is_recorded_and_not_retried(dw, settings):
    with freeze_time("2026-01-01 06:00"):
        acme = invoice_for(dw.account, d(2026, 1, 1))
    settings.EMAIL_BACKEND = FAILING_BACKEND

    result = run_on(d(2026, 1, 28))

    assert result.counts == {"sent": 0, "skipped": 0, "failed": 1, "not_due": 0}
    reminder = DunningReminder.objects.get()
    assert reminder.status == "failed" and reminder.email.status == "failed"
    assert "Connection unexpectedly closed" in reminder.error
    acme.refresh_from_db()
    assert acme.email_status == "not_sent"  # a reminder is not the invoice's own delivery
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert run_on(d(2026, 1, 29)).due == []


def test_a_dry_run_says_what_would_go_and_writes_nothing(dw):
    dw.globex.bulk_email_opt_out = True
    dw.globex.save()
    with freeze_time("2026-01-01 06:00"):
        invoice_for(dw.account, d(2026, 1, 1))
        invoice_for(dw.globex, d(2026, 1, 1))

    result = run_on(d(2026, 2, 8), dry_run=True)

    assert [
        (r.invoice.number, r.step.days_after_due, r.step_date, r.recipient, r.opted_out)
        for r in result.due
    ] == [
        ("INV-0001", 7, d(2026, 2, 7), "ap@example.com", False),
        ("INV-0002", 7, d(2026, 2, 7), "ap@example.com", True),
    ]
    assert result.summary == (
        "Dry run for 2026-02-08: 1 reminder(s) would be emailed, 1 skipped (opted out of bulk "
        "email); nothing sent."
    )
    assert DunningReminder.objects.count() == InvoiceEmail.objects.count() == 0
    assert mail.outbox == []


def test_a_run_for_a_date_after_today_is_refused_and_changes_nothing(dw):
    with freeze_time("2026-01-01 06:00"):
        invoice_for(dw.account, d(2026, 1, 1))
    with freeze_time("2026-01-27 23:00"), pytest.raises(ValidationError) as refused:
        dunning_run(on=d(2026, 1, 28))
    assert refused.value.details == {
        "date": [
            "2026-01-28 is after today (2026-01-27): reminders go on their day, never ahead of it."
        ]
    }
    assert DunningReminder.objects.count() == 0 and mail.outbox == []


def test_an_invoice_of_another_seller_is_not_dunned(dw):
    other = LegalEntity.objects.create(name="Other Seller LLC")
    initech = make_account("Initech", seller=other)
    subscribe(dw, initech)
    with freeze_time("2026-01-01 06:00"):
        invoice = invoice_for(initech, d(2026, 1, 1))
    assert invoice.legal_entity_id == other.pk
    assert run_on(d(2026, 2, 7)).due == []
    assert selectors.invoice_dunning_stop(invoice_id=invoice.pk) == selectors.NO_POLICY


def _sent(n: int) -> dict:
    return {"sent": n, "skipped": 0, "failed": 0, "not_due": 0}
