"""Two dunning runs for the same day at the same time, on real connections (threads, each with
its own database connection, released together): every reminder is sent once. The invoice's
row lock serialises the claims; the unique constraint (invoice, step day) is the last word
even without that lock."""

import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connections
from freezegun import freeze_time

from dunning.models import DunningReminder
from dunning.services import reminders
from dunning.services.reminders import dunning_run
from invoicing.models import Invoice, InvoiceEmail
from tests.factories import make_account
from tests.support.dunning import invoice_for
from tests.support.invoicing import subscribe

pytestmark = pytest.mark.django_db(transaction=True)
d = dt.date
RUN_DAY = d(2026, 2, 7)  # 7 days after the due date of invoices dated Jan 1


def run_together(calls: list) -> tuple[list, list[BaseException]]:
    """Run each callable in its own thread (own connection), all released at once."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def worker(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors


def overdue_invoices(dw, n: int) -> list[Invoice]:
    """n accounts, each with a posted invoice dated Jan 1 2026 (due Jan 31)."""
    invoices = []
    for i in range(n):
        account = make_account(f"Customer {i:02d}", seller=dw.seller)
        subscribe(dw, account)
        with freeze_time("2026-01-01 06:00"):
            invoices.append(invoice_for(account, d(2026, 1, 1)))
    return invoices


def run_for_the_day():
    return dunning_run(on=RUN_DAY, requested_by="worker")


def test_two_concurrent_runs_send_each_reminder_once(dw, monkeypatch):
    """Both runs plan the day's six reminders before either claims one, then race for
    every claim."""
    invoices = overdue_invoices(dw, 6)
    both_planned = threading.Barrier(2)
    due_of = reminders.dunning_due

    def planned_together(**kwargs):
        due = due_of(**kwargs)
        both_planned.wait(timeout=30)
        return due

    monkeypatch.setattr(reminders, "dunning_due", planned_together)

    with freeze_time("2026-02-07 06:00", tick=True):
        results, errors = run_together([run_for_the_day, run_for_the_day])

    assert errors == []
    assert [len(r.due) for r in results] == [6, 6]  # both saw every reminder due
    assert sum(r.counts["sent"] for r in results) == 6
    assert sum(r.counts["not_due"] for r in results) == 6  # …and each was sent by one
    assert len(mail.outbox) == 6
    assert sorted(m.subject for m in mail.outbox) == sorted(
        f"Overdue: invoice {i.number} was due on 2026-01-31" for i in invoices
    )
    assert sorted(
        DunningReminder.objects.values_list("invoice_id", "days_after_due", "sent_on", "status")
    ) == [(i.pk, 7, RUN_DAY, "sent") for i in invoices]
    assert InvoiceEmail.objects.count() == 6


def test_the_unique_constraint_alone_refuses_the_second_claim(dw, monkeypatch):
    """Without the invoice's row lock, both runs pass every check for the one invoice at the
    same moment and insert: the unique constraint lets one in, the other is told it is not
    due any more, and one email goes."""
    (invoice,) = overdue_invoices(dw, 1)
    both_checked = threading.Barrier(2)
    stop_of = reminders.invoice_dunning_stop

    def read_without_lock(invoice_id, **kwargs):
        return Invoice.objects.get(pk=invoice_id)

    def checked_together(*, invoice_id):
        stop = stop_of(invoice_id=invoice_id)
        both_checked.wait(timeout=30)
        return stop

    monkeypatch.setattr(reminders, "invoice_lock", read_without_lock)
    monkeypatch.setattr(reminders, "invoice_dunning_stop", checked_together)

    with freeze_time("2026-02-07 06:00", tick=True):
        results, errors = run_together([run_for_the_day, run_for_the_day])

    assert errors == []
    assert sorted((r.counts["sent"], r.counts["not_due"]) for r in results) == [(0, 1), (1, 0)]
    assert len(mail.outbox) == 1
    assert list(DunningReminder.objects.values_list("invoice_id", "status")) == [
        (invoice.pk, "sent")
    ]
