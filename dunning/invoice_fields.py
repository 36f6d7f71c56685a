"""The invoice API fields API.md gives to dunning: `dunning` [{"step", "sent_at"}] (the
reminders sent, `step` being the step's day from the due date) and `disputed` (PATCH-able:
true opens a dispute, false resolves it). Registered with invoicing.hooks at start-up, since
invoicing (a layer below) cannot import this app."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from dunning.models import DunningReminder, InvoiceDispute
from dunning.services.disputes import invoice_dispute_open, invoice_dispute_resolve
from invoicing.hooks import invoice_api_fields


def dunning_fields(invoices: list[Any]) -> dict[int, dict[str, Any]]:
    """`dunning` (the reminders sent) and `disputed` of each invoice: two queries."""
    ids = [i.pk for i in invoices]
    sent: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        DunningReminder.objects.filter(invoice_id__in=ids, status=DunningReminder.Status.SENT)
        .select_related("email")
        .order_by("days_after_due", "id")
    )
    for reminder in rows:
        sent_at = (reminder.email.sent_at if reminder.email else None) or reminder.created_at
        sent[reminder.invoice_id].append(
            {"step": reminder.days_after_due, "sent_at": sent_at.isoformat()}
        )
    open_ids = set(
        InvoiceDispute.objects.filter(invoice_id__in=ids, resolved_at__isnull=True).values_list(
            "invoice_id", flat=True
        )
    )
    return {pk: {"dunning": sent.get(pk, []), "disputed": pk in open_ids} for pk in ids}


def disputed_write(*, invoice_id: int, value: bool, reason: str = "", actor: str = "") -> None:
    if value:
        invoice_dispute_open(
            invoice_id=invoice_id,
            reason=reason or "Disputed (through the API)",
            opened_by=actor,
        )
    else:
        invoice_dispute_resolve(invoice_id=invoice_id, resolved_by=actor)


def register() -> None:
    invoice_api_fields(dunning_fields, {"disputed": disputed_write})
