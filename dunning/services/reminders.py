"""The dunning run: send the reminders due on a date (dunning/selectors.py `dunning_due`)
through the invoice email outbox (invoicing/services/email.py), at most once per invoice and
step, from every door: the daily beat task, `manage.py send_dunning_reminders`, the staff
UI's "Run reminders" page and `POST dunning/run`.

Each reminder is sent in two steps:

1. The claim, one short transaction: the invoice's row is locked (so a payment, credit,
   write-off or dispute of it waits, and so does a concurrent run), the stop rule is checked
   again on the row as it is now, and a `pending` DunningReminder row is inserted; the unique
   constraint (invoice, step day) refuses a second one. A step no later than one reminded
   before is not claimed.
2. The send, outside any transaction (no lock is held while the provider answers): the
   invoice email with the step's template (none or inactive: the built-in reminder), as a
   bulk send (an account that opted out of bulk email gets none: the reminder and its outbox
   row are `skipped`), leaving the invoice's own email status alone. The reminder takes the
   email's outcome (sent, skipped, failed) and the outbox row.

A run that dies between the two leaves a `pending` reminder, never sent again (at most once:
docs/adr/0008-dunning.md). Failures are recorded per reminder (and in the error log, by the
email service); the run goes on with the next invoice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import DomainError, ValidationError
from core.progress import ProgressCallback
from dunning.models import DunningReminder, DunningStep
from dunning.selectors import DueReminder, dunning_due, invoice_dunning_stop
from invoicing.locks import invoice_lock
from invoicing.models import EmailTemplate, InvoiceEmail
from invoicing.services.email import invoice_email_send

BEFORE_SUBJECT = "Reminder: invoice {number} is due on {due_date}"
BEFORE_BODY = (
    "Dear {account},\n\n"
    "This is a friendly reminder that invoice {number} for {total} is due on {due_date}.\n"
    "Open balance: {balance}.\n\n"
    "View the invoice and download its PDF: {link}\n\n"
    "If you have paid already, thank you, and please disregard this reminder."
)
OVERDUE_SUBJECT = "Overdue: invoice {number} was due on {due_date}"
OVERDUE_BODY = (
    "Dear {account},\n\n"
    "Our records show that invoice {number} for {total}, due on {due_date}, is not paid yet.\n"
    "Open balance: {balance}.\n\n"
    "View the invoice and download its PDF: {link}\n\n"
    "Please arrange payment, or tell us if you dispute the invoice. If you have paid "
    "already, thank you, and please disregard this reminder."
)


def builtin_reminder_template(days_after_due: int) -> EmailTemplate:
    """The reminder of a step without a template (never saved): before the due date (and on
    it) a reminder, after it an overdue notice. Same merge fields as every invoice email."""
    if days_after_due <= 0:
        return EmailTemplate(name="Built-in reminder", subject=BEFORE_SUBJECT, body=BEFORE_BODY)
    return EmailTemplate(name="Built-in overdue notice", subject=OVERDUE_SUBJECT, body=OVERDUE_BODY)


def step_template(step: DunningStep) -> EmailTemplate:
    template = step.email_template
    if template is not None and template.is_active:
        return template
    return builtin_reminder_template(step.days_after_due)


@dataclass
class DunningRunResult:
    """What a run did: the reminders due when it started (`due`), the reminders it wrote
    (`reminders`; none on a dry run) and counts: sent, skipped (opted out), failed, and
    not_due (claimed by another run meanwhile, or stopped since: paid, disputed, …)."""

    on: dt.date
    dry_run: bool
    due: list[DueReminder]
    reminders: list[DunningReminder] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def counts_or_none(self) -> dict[str, int] | None:
        return None if self.dry_run else self.counts

    @property
    def summary(self) -> str:
        if self.dry_run:
            going = sum(not d.opted_out for d in self.due)
            skipped = len(self.due) - going
            return (
                f"Dry run for {self.on}: {going} reminder(s) would be emailed"
                + (f", {skipped} skipped (opted out of bulk email)" if skipped else "")
                + "; nothing sent."
            )
        c = self.counts
        return (
            f"Reminders for {self.on}: {c['sent']} sent, {c['skipped']} skipped (opted out), "
            f"{c['failed']} failed"
            + (f", {c['not_due']} no longer due" if c["not_due"] else "")
            + "."
        )


def dunning_run(
    *,
    on: dt.date,
    dry_run: bool = False,
    legal_entity_ids: Collection[int] | None = None,
    requested_by: str = "",
    progress: ProgressCallback | None = None,
) -> DunningRunResult:
    """Send every reminder due on `on` (not after today), of these sellers' invoices only when
    `legal_entity_ids` is given; `dry_run`: say what would go and write nothing.
    `progress(done, total)` after each reminder."""
    today = timezone.localdate()
    if on > today:
        raise ValidationError(
            {
                "date": f"{on} is after today ({today}): reminders go on their day, never "
                "ahead of it."
            }
        )
    due = dunning_due(on=on, legal_entity_ids=legal_entity_ids)
    result = DunningRunResult(on=on, dry_run=dry_run, due=due)
    if dry_run:
        return result
    result.counts = {"sent": 0, "skipped": 0, "failed": 0, "not_due": 0}
    for done, item in enumerate(due, start=1):
        reminder = _claim(item, on=on, requested_by=requested_by)
        if reminder is None:
            result.counts["not_due"] += 1
        else:
            _send(reminder, item)
            result.counts[reminder.status] += 1
            result.reminders.append(reminder)
        if progress is not None:
            progress(done, len(due))
    return result


def _claim(item: DueReminder, *, on: dt.date, requested_by: str) -> DunningReminder | None:
    """The pending reminder of the item, or None when it is no longer due (see the module
    doc). The unique constraint is the last word when two runs race."""
    day = item.step.days_after_due
    try:
        with transaction.atomic(durable=True):
            invoice = invoice_lock(item.invoice.pk)
            if invoice_dunning_stop(invoice_id=invoice.pk):
                return None
            if DunningReminder.objects.filter(
                invoice_id=invoice.pk, days_after_due__gte=day
            ).exists():
                return None
            if not DunningStep.objects.filter(
                pk=item.step.pk, policy__is_active=True, days_after_due=day
            ).exists():
                return None  # the policy was changed meanwhile
            return DunningReminder.objects.create(
                invoice=invoice,
                step_id=item.step.pk,
                days_after_due=day,
                sent_on=on,
                status=DunningReminder.Status.PENDING,
                requested_by=requested_by[:150],
            )
    except IntegrityError:
        return None  # another run claimed it first (or the step is gone)


_OUTCOMES: dict[str, str] = {
    InvoiceEmail.Status.SENT: DunningReminder.Status.SENT,
    InvoiceEmail.Status.SKIPPED: DunningReminder.Status.SKIPPED,
    InvoiceEmail.Status.FAILED: DunningReminder.Status.FAILED,
}


def _send(reminder: DunningReminder, item: DueReminder) -> None:
    try:
        email = invoice_email_send(
            invoice_id=item.invoice.pk,
            bulk=True,
            template=step_template(item.step),
            track_status=False,
        )
    except DomainError as exc:  # e.g. voided between the claim and the send
        reminder.status = DunningReminder.Status.FAILED
        reminder.error = exc.message
    else:
        reminder.email = email
        reminder.status = _OUTCOMES.get(email.status, DunningReminder.Status.FAILED)
        reminder.error = email.error
    reminder.save(update_fields=["status", "email", "error", "updated_at"])
