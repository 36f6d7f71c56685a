"""Builders and readers of dunning tests (plain functions).

The dunning world is the invoicing lifecycle world (`lw`: a month bills 75.77 USD, Net 30,
bill-to ap@example.com) with the seller's policy built by `standard_policy`: 3 days before
the due date, 7 and 21 days after it.
"""

import datetime as dt
import smtplib

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from freezegun import freeze_time

from dunning.models import DunningPolicy, DunningReminder
from dunning.services.policies import dunning_policy_create
from dunning.services.reminders import DunningRunResult, dunning_run
from invoicing.models import Invoice
from invoicing.services.generation import invoices_generate

STANDARD_DAYS = (-3, 7, 21)


def standard_policy(world, *, days=STANDARD_DAYS, templates=None, **fields) -> DunningPolicy:
    """The seller's policy: a step for each of `days` (`templates`: {day: EmailTemplate})."""
    templates = templates or {}
    return dunning_policy_create(
        legal_entity=fields.pop("legal_entity", world.seller),
        name=fields.pop("name", "Standard reminders"),
        steps=[{"days_after_due": day, "email_template": templates.get(day)} for day in days],
        **fields,
    )


def invoice_for(account, target: dt.date) -> Invoice:
    """The account's posted invoice of the periods due by `target`, dated `target` (Net 30:
    due 30 days later)."""
    result = invoices_generate(account_id=account.pk, target_date=target, action="posted")
    assert result.errors == [] and result.posting_errors == [], result.errors
    (invoice,) = result.invoices
    return invoice


def run_on(day: dt.date, **kwargs) -> DunningRunResult:
    """A run for `day`, with the clock on that day (07:00 UTC)."""
    with freeze_time(dt.datetime(day.year, day.month, day.day, 7, 0, tzinfo=dt.UTC)):
        return dunning_run(on=day, **kwargs)


def days(start: dt.date, end: dt.date):
    """Every date from start to end, both included."""
    for n in range((end - start).days + 1):
        yield start + dt.timedelta(days=n)


def reminder_rows() -> list[tuple]:
    """(invoice number, days after due, run date, status) of every reminder, in order."""
    return list(
        DunningReminder.objects.order_by("sent_on", "invoice_id", "days_after_due").values_list(
            "invoice__number", "days_after_due", "sent_on", "status"
        )
    )


def outbox_subjects() -> list[str]:
    return [message.subject for message in mail.outbox]


class FailingBackend(BaseEmailBackend):
    """An email provider that is down (settings.EMAIL_BACKEND = FAILING_BACKEND)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


FAILING_BACKEND = "tests.support.dunning.FailingBackend"
