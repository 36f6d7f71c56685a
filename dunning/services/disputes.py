"""Invoice disputes: a customer disputes a posted invoice (dunning pauses while the dispute
is open) and staff resolve it (dunning resumes with the latest step whose day has come; see
dunning/selectors.py). At most one open dispute per invoice, under the invoice's row lock and
a partial unique constraint; resolved disputes are kept with who, when and how."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.crud import full_clean_or_raise
from core.exceptions import ValidationError
from dunning.exceptions import InvoiceDisputed, InvoiceNotDisputed
from dunning.locks import invoice_dispute_lock_open
from dunning.models import InvoiceDispute
from invoicing.exceptions import InvoiceNotPosted
from invoicing.locks import invoice_lock
from invoicing.models import InvoiceStatus


def invoice_dispute_open(*, invoice_id: int, reason: str, opened_by: str = "") -> InvoiceDispute:
    """Open a dispute of a posted invoice: its dunning pauses until it is resolved."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": "Say what the customer disputes, e.g. 'Seats billed after cancellation'."}
        )
    with transaction.atomic(durable=True):
        invoice = invoice_lock(invoice_id)
        if invoice.status != InvoiceStatus.POSTED:
            raise InvoiceNotPosted.for_invoice(invoice, "disputes")
        current = invoice_dispute_lock_open(invoice.pk)
        if current is not None:
            raise InvoiceDisputed.for_invoice(invoice, current)
        dispute = InvoiceDispute(
            invoice=invoice, reason=reason, opened_at=timezone.now(), opened_by=opened_by
        )
        full_clean_or_raise(dispute)
        dispute.save()
    return dispute


def invoice_dispute_resolve(
    *, invoice_id: int, resolution: str = "", resolved_by: str = ""
) -> InvoiceDispute:
    """Resolve the invoice's open dispute (a note of how is optional): dunning resumes."""
    with transaction.atomic(durable=True):
        invoice = invoice_lock(invoice_id)
        dispute = invoice_dispute_lock_open(invoice.pk)
        if dispute is None:
            raise InvoiceNotDisputed.for_invoice(invoice)
        dispute.resolved_at = timezone.now()
        dispute.resolved_by = resolved_by
        dispute.resolution = (resolution or "").strip()
        dispute.save(update_fields=["resolved_at", "resolved_by", "resolution", "updated_at"])
    return dispute
