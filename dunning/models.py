"""Dunning: a reminder policy per legal entity (its steps: days from the due date, each with
an email template), the reminders sent (the dunning history of an invoice) and invoice
disputes, which pause dunning. docs/adr/0008-dunning.md explains the choices."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from accounts.models import LegalEntity
from core.models import TimeStampedModel
from invoicing.models import EmailTemplate, Invoice, InvoiceEmail

# A step is at most a year before or after the due date.
STEP_DAYS_LIMIT = 365


class DunningPolicy(TimeStampedModel):
    """The reminders of one seller's posted invoices: one policy per legal entity."""

    legal_entity = models.OneToOneField(
        LegalEntity, on_delete=models.PROTECT, related_name="dunning_policy"
    )
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(
        default=True, help_text="An inactive policy sends nothing; its history stays."
    )

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "dunning policies"

    def __str__(self) -> str:
        return self.name


class DunningStep(TimeStampedModel):
    """One reminder of a policy: sent `days_after_due` days after the due date (negative:
    before it), with its email template (none: the built-in reminder). A policy's steps are
    ordered by their day, one step a day."""

    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="steps")
    days_after_due = models.IntegerField(
        validators=[MinValueValidator(-STEP_DAYS_LIMIT), MaxValueValidator(STEP_DAYS_LIMIT)],
        help_text="Days after the due date (negative: before it), e.g. -3, 7, 21.",
    )
    email_template = models.ForeignKey(
        EmailTemplate,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dunning_steps",
        help_text="Subject and body with the invoice email's merge fields (empty: the "
        "built-in reminder).",
    )

    class Meta:
        ordering = ["policy_id", "days_after_due"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "days_after_due"], name="dunning_step_one_per_day"
            ),
            models.CheckConstraint(
                condition=Q(days_after_due__gte=-STEP_DAYS_LIMIT)
                & Q(days_after_due__lte=STEP_DAYS_LIMIT),
                name="dunning_step_days_range",
            ),
        ]

    def __str__(self) -> str:
        return step_label(self.days_after_due)


def step_label(days_after_due: int) -> str:
    """'3 days before due', 'on the due date', '7 days after due'."""
    if days_after_due == 0:
        return "on the due date"
    n = abs(days_after_due)
    return f"{n} day{'s' if n != 1 else ''} {'before' if days_after_due < 0 else 'after'} due"


class DunningReminder(TimeStampedModel):
    """One reminder of one invoice: its step (by day, which outlives an edit of the policy),
    the run date it was sent for, and the outbox email (InvoiceEmail) that carried it.

    At most one per invoice and step day (the unique constraint): a reminder is claimed
    (`pending`) before its email goes, so a re-run or a concurrent run never sends it again;
    a run that dies between the claim and the send leaves it `pending` (at most once)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped (opted out)"
        FAILED = "failed", "Failed"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="dunning_reminders")
    step = models.ForeignKey(
        DunningStep,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reminders",
        help_text="Empty when the step was removed from its policy since.",
    )
    days_after_due = models.IntegerField(help_text="The step's day when it was sent.")
    sent_on = models.DateField(help_text="The run date it was sent for.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    email = models.OneToOneField(
        InvoiceEmail,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dunning_reminder",
    )
    error = models.TextField(blank=True)
    requested_by = models.CharField(
        max_length=150, blank=True, help_text="Who ran it: a user, manage.py or the daily task."
    )

    class Meta:
        ordering = ["-sent_on", "-id"]
        indexes = [models.Index(fields=["sent_on"], name="dunning_reminder_sent_on")]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "days_after_due"], name="dunning_reminder_once_per_step"
            )
        ]

    def __str__(self) -> str:
        return f"Reminder of {self.invoice} {step_label(self.days_after_due)} ({self.status})"

    @property
    def step_label(self) -> str:
        return step_label(self.days_after_due)


class InvoiceDisputeQuerySet(models.QuerySet):
    def open(self):
        return self.filter(resolved_at__isnull=True)


class InvoiceDispute(TimeStampedModel):
    """A customer disputes a posted invoice: while open, dunning of the invoice pauses. At
    most one open dispute per invoice; a resolved one is kept (who, when, how)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="disputes")
    reason = models.TextField()
    opened_at = models.DateTimeField()
    opened_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolution = models.TextField(blank=True)

    objects = InvoiceDisputeQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(resolved_at__isnull=True),
                name="invoice_one_open_dispute",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("opened_at")),
                name="invoice_dispute_resolved_after_opened",
            ),
        ]

    def __str__(self) -> str:
        state = "open" if self.is_open else "resolved"
        return f"Dispute of {self.invoice} ({state})"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
