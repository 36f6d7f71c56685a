"""`manage.py send_dunning_reminders [--date YYYY-MM-DD] [--dry-run]`: the run service from the
command line; one summary line, a line per reminder on a dry run (or with -v 2), failures on
standard error with exit status 1."""

import datetime as dt
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from freezegun import freeze_time

from dunning.models import DunningReminder
from tests.support.dunning import FAILING_BACKEND, invoice_for, reminder_rows

pytestmark = pytest.mark.django_db
d = dt.date


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("send_dunning_reminders", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def due(dw):
    """Acme's INV-0001 and Globex's INV-0002 (opted out), both due Jan 31."""
    dw.globex.bulk_email_opt_out = True
    dw.globex.save()
    with freeze_time("2026-01-01 06:00"):
        invoice_for(dw.account, d(2026, 1, 1))
        invoice_for(dw.globex, d(2026, 1, 1))
    return dw


def test_dry_run_lists_what_would_go_and_sends_nothing(due):
    with freeze_time("2026-02-07 07:00"):
        out, err = run("--dry-run")
    assert out == (
        "INV-0001: 7 days after due (2026-02-07), to ap@example.com\n"
        "INV-0002: 7 days after due (2026-02-07), skipped (opted out of bulk email)\n"
        "Dry run for 2026-02-07: 1 reminder(s) would be emailed, 1 skipped (opted out of bulk "
        "email); nothing sent.\n"
    )
    assert err == ""
    assert DunningReminder.objects.count() == 0 and mail.outbox == []


def test_run_for_today_and_again(due):
    with freeze_time("2026-02-07 07:00"):
        out, _ = run()
        again, _ = run()
    assert out == "Reminders for 2026-02-07: 1 sent, 1 skipped (opted out), 0 failed.\n"
    assert again == "Reminders for 2026-02-07: 0 sent, 0 skipped (opted out), 0 failed.\n"
    assert reminder_rows() == [
        ("INV-0001", 7, d(2026, 2, 7), "sent"),
        ("INV-0002", 7, d(2026, 2, 7), "skipped"),
    ]
    assert set(DunningReminder.objects.values_list("requested_by", flat=True)) == {"manage.py"}
    assert len(mail.outbox) == 1


def test_run_for_a_date_with_a_line_per_reminder(due):
    with freeze_time("2026-03-01 07:00"):
        out, _ = run("--date", "2026-01-28", "-v", "2")
    assert out == (
        "INV-0001: 3 days before due: sent to ap@example.com\n"
        "INV-0002: 3 days before due: skipped to ap@example.com\n"
        "Reminders for 2026-01-28: 1 sent, 1 skipped (opted out), 0 failed.\n"
    )


def test_bad_dates_are_refused_and_nothing_is_sent(due):
    with pytest.raises(CommandError, match="--date '28/01' is not a date: use YYYY-MM-DD"):
        run("--date", "28/01")
    with (
        freeze_time("2026-02-07 07:00"),
        pytest.raises(CommandError, match=r"2026-02-08 is after today \(2026-02-07\)"),
    ):
        run("--date", "2026-02-08")
    assert DunningReminder.objects.count() == 0 and mail.outbox == []


def test_failures_go_to_stderr_and_exit_1(due, settings):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    with freeze_time("2026-02-07 07:00"), pytest.raises(CommandError, match="1 reminder"):
        out, err = StringIO(), StringIO()
        try:
            call_command("send_dunning_reminders", stdout=out, stderr=err)
        finally:
            assert (
                "INV-0001: 7 days after due: failed to ap@example.com: The email of invoice "
                in (err.getvalue())
            )
            assert out.getvalue() == (
                "Reminders for 2026-02-07: 0 sent, 1 skipped (opted out), 1 failed.\n"
            )
