"""Reads for dunning shared by the doors: policies, the reminders due on a date (what a run
sends, what its confirmation shows), an invoice's dunning (history, dispute, why it stopped,
what comes next) and the reminder lists.

What stops dunning is one rule, `_stop_rules` (annotated onto invoices by
`invoice_list_with_dunning_stop`): an invoice is dunned only while it is posted, has a due
date, no write-off in force, an open balance (not settled: paid or credited in full), no open
dispute, and its seller has an active policy with steps.

Which step is due: on date D, an invoice's step is the latest one whose day has come
(due date + days_after_due ≤ D), if it is later than every step reminded before. So a run
sends an invoice at most one reminder, a missed day is caught up by the next run, and a step
that was overtaken by a later one (a paused dispute, a new policy) is not sent late.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Combinable

from dunning.models import DunningPolicy, DunningReminder, DunningStep, InvoiceDispute
from invoicing.models import CreditMemoApplication, CreditSource, Invoice, InvoiceStatus
from invoicing.services.email import recipient_resolve

# --- what stops dunning ------------------------------------------------------------------------

NOT_POSTED = "not_posted"
NO_DUE_DATE = "no_due_date"
PAID = "paid"
WRITTEN_OFF = "written_off"
DISPUTED = "disputed"
NO_POLICY = "no_policy"

STOP_MESSAGES = {
    NOT_POSTED: "Only posted invoices are dunned.",
    NO_DUE_DATE: "The invoice has no due date.",
    PAID: "The invoice is paid or credited in full: nothing is left to remind of.",
    WRITTEN_OFF: "The invoice is written off: reverse the write-off to remind of it again.",
    DISPUTED: "The invoice is disputed: dunning is paused until the dispute is resolved.",
    NO_POLICY: "The invoice's seller has no active dunning policy with steps.",
}


def _stop_rules() -> list[tuple[str, Q | Combinable]]:
    """(code, condition on an invoice row), first match wins: the one home of the rule."""
    # Written off: a write-off's credit applied and in force (as payments.py
    # `write_off_application_of` reads it for one invoice).
    write_off = CreditMemoApplication.objects.active().filter(
        invoice=OuterRef("pk"), credit_memo__source=CreditSource.WRITE_OFF
    )
    open_dispute = InvoiceDispute.objects.filter(invoice=OuterRef("pk"), resolved_at__isnull=True)
    policy = DunningPolicy.objects.filter(
        legal_entity=OuterRef("legal_entity"), is_active=True, steps__isnull=False
    )
    return [
        (NOT_POSTED, ~Q(status=InvoiceStatus.POSTED)),
        (NO_DUE_DATE, Q(due_date__isnull=True)),
        (WRITTEN_OFF, Exists(write_off)),
        (PAID, Q(balance__lte=0) | Q(settlement_status=Invoice.Settlement.SETTLED)),
        (DISPUTED, Exists(open_dispute)),
        (NO_POLICY, ~Exists(policy)),
    ]


STOP = "dunning_stop"  # the annotation (a name, so that the type checker takes it as one)


def invoice_list_with_dunning_stop(queryset: QuerySet[Invoice] | None = None) -> QuerySet[Invoice]:
    """Invoices annotated with `dunning_stop` (STOP): the code of what stops their dunning, or
    "" while they are dunned."""
    queryset = Invoice.objects.all() if queryset is None else queryset
    return queryset.annotate(
        **{
            STOP: Case(
                *(When(condition, then=Value(code)) for code, condition in _stop_rules()),
                default=Value(""),
                output_field=CharField(),
            )
        }
    )


def invoice_dunning_stop(*, invoice_id: int) -> str:
    """The code of what stops the invoice's dunning now ("" while it is dunned)."""
    stop = (
        invoice_list_with_dunning_stop(Invoice.objects.filter(pk=invoice_id))
        .values_list(STOP, flat=True)
        .first()
    )
    return NOT_POSTED if stop is None else stop


# --- policies ----------------------------------------------------------------------------------


def dunning_policy_list() -> QuerySet[DunningPolicy]:
    return DunningPolicy.objects.select_related("legal_entity").prefetch_related(
        Prefetch("steps", queryset=DunningStep.objects.select_related("email_template"))
    )


def dunning_policy_get(*, policy_id: int) -> DunningPolicy:
    """One policy with its steps (DunningPolicy.DoesNotExist when unknown)."""
    return dunning_policy_list().get(pk=policy_id)


def dunning_policy_for_invoice(*, invoice: Invoice) -> DunningPolicy | None:
    if invoice.legal_entity_id is None:
        return None
    return dunning_policy_list().filter(legal_entity_id=invoice.legal_entity_id).first()


# --- what is due --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueReminder:
    """A reminder a run on `on` sends: the invoice, its step, the step's date, to whom."""

    invoice: Invoice
    step: DunningStep
    step_date: dt.date
    recipient: str
    opted_out: bool


def step_due(steps: list[DunningStep], *, due_date: dt.date, on: dt.date) -> DunningStep | None:
    """The latest of `steps` (ordered by day) whose date has come on `on`."""
    came = [s for s in steps if due_date + dt.timedelta(days=s.days_after_due) <= on]
    return came[-1] if came else None


def dunning_due(
    *, on: dt.date, legal_entity_ids: Collection[int] | None = None
) -> list[DueReminder]:
    """Every reminder a run on `on` sends (of these sellers' invoices only, when given), by
    due date then invoice (see the module doc)."""
    active = dunning_policy_list().filter(is_active=True)
    if legal_entity_ids is not None:
        active = active.filter(legal_entity_id__in=list(legal_entity_ids))
    policies = {p.legal_entity_id: p for p in active if p.steps.all()}  # prefetched
    if not policies:
        return []
    earliest = min(s.days_after_due for p in policies.values() for s in p.steps.all())
    candidates = Invoice.objects.filter(
        status=InvoiceStatus.POSTED,
        legal_entity_id__in=list(policies),
        due_date__lte=on - dt.timedelta(days=earliest),
        balance__gt=0,
    )
    invoices = list(
        invoice_list_with_dunning_stop(candidates)
        .filter(**{STOP: ""})
        .select_related(
            "account", "bill_to", "legal_entity", "reference_order__billing_profile__bill_to"
        )
        .prefetch_related("account__billing_profiles__bill_to")
        .order_by("due_date", "id")
    )
    reminded = dict(
        DunningReminder.objects.filter(invoice_id__in=[i.pk for i in invoices])
        .values("invoice_id")
        .annotate(last=Max("days_after_due"))
        .values_list("invoice_id", "last")
    )
    due = []
    for invoice in invoices:
        if invoice.due_date is None or invoice.legal_entity_id is None:
            continue  # not dunned (the stop rule): for the type checker
        steps = list(policies[invoice.legal_entity_id].steps.all())
        step = step_due(steps, due_date=invoice.due_date, on=on)
        last = reminded.get(invoice.pk)
        if step is None or (last is not None and step.days_after_due <= last):
            continue
        due.append(
            DueReminder(
                invoice=invoice,
                step=step,
                step_date=invoice.due_date + dt.timedelta(days=step.days_after_due),
                recipient=recipient_resolve(invoice),
                opted_out=invoice.account.bulk_email_opt_out,
            )
        )
    return due


# --- one invoice -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NextReminder:
    step: DunningStep
    on: dt.date  # today when it is due now: the next run sends it


@dataclass
class InvoiceDunning:
    """An invoice's dunning: its history, its disputes, why it is not dunned (if so) and the
    next reminder if nothing changes."""

    invoice: Invoice
    policy: DunningPolicy | None
    stop: str
    reminders: list[DunningReminder] = field(default_factory=list)
    disputes: list[InvoiceDispute] = field(default_factory=list)
    next: NextReminder | None = None

    @property
    def stop_or_none(self) -> str | None:
        return self.stop or None

    @property
    def stop_message(self) -> str:
        return STOP_MESSAGES.get(self.stop, "")

    @property
    def open_dispute(self) -> InvoiceDispute | None:
        return next((d for d in self.disputes if d.is_open), None)

    @property
    def disputed(self) -> bool:
        return self.open_dispute is not None


def dunning_for_invoice(*, invoice: Invoice, today: dt.date) -> InvoiceDunning:
    reminders = list(
        DunningReminder.objects.filter(invoice=invoice)
        .select_related("email", "step")
        .order_by("days_after_due", "id")
    )
    state = InvoiceDunning(
        invoice=invoice,
        policy=dunning_policy_for_invoice(invoice=invoice),
        stop=invoice_dunning_stop(invoice_id=invoice.pk),
        reminders=reminders,
        disputes=list(InvoiceDispute.objects.filter(invoice=invoice)),
    )
    if state.stop or state.policy is None or invoice.due_date is None:
        return state
    last = max((r.days_after_due for r in reminders), default=None)
    ahead = [
        s for s in state.policy.steps.all() if last is None or s.days_after_due > last
    ]  # ordered by day
    now = step_due(ahead, due_date=invoice.due_date, on=today)
    if now is not None:
        state.next = NextReminder(step=now, on=today)
    elif ahead:
        state.next = NextReminder(
            step=ahead[0], on=invoice.due_date + dt.timedelta(days=ahead[0].days_after_due)
        )
    return state


# --- reminders ---------------------------------------------------------------------------------


def dunning_reminder_list(
    *, sent_on: dt.date | None = None, invoice_id: int | None = None, status: str = ""
) -> QuerySet[DunningReminder]:
    reminders = DunningReminder.objects.select_related(
        "invoice__account", "email", "step__policy"
    ).order_by("-sent_on", "invoice__due_date", "invoice_id", "id")
    if sent_on is not None:
        reminders = reminders.filter(sent_on=sent_on)
    if invoice_id is not None:
        reminders = reminders.filter(invoice_id=invoice_id)
    if status:
        reminders = reminders.filter(status=status)
    return reminders


def dunning_reminder_counts(*, sent_on: dt.date) -> dict[str, int]:
    """How many reminders of each status were written for the run date."""
    counts = dict.fromkeys(DunningReminder.Status.values, 0)
    rows = (
        DunningReminder.objects.filter(sent_on=sent_on)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    counts.update(dict(rows))
    return counts
