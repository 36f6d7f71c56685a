"""Dunning domain errors, each with a stable `code` (core.exceptions.DomainError). An invoice
that is not posted is refused with invoicing's own `InvoiceNotPosted`."""

from typing import Any

from core.exceptions import Conflict, NotFound


def _invoice_name(invoice: Any) -> str:
    """'Invoice INV-0002', or 'Draft invoice #7' for one without a number."""
    return f"Invoice {invoice.number}" if invoice.number else f"Draft invoice #{invoice.pk}"


class DunningPolicyNotFound(NotFound):
    code = "dunning_policy_not_found"

    @classmethod
    def for_id(cls, policy_id: int) -> "DunningPolicyNotFound":
        return cls(
            f"Dunning policy {policy_id} does not exist.", details={"dunning_policy": policy_id}
        )


class InvoiceDisputed(Conflict):
    """The invoice has an open dispute already."""

    code = "invoice_disputed"

    @classmethod
    def for_invoice(cls, invoice: Any, dispute: Any) -> "InvoiceDisputed":
        return cls(
            f"{_invoice_name(invoice)} is already disputed (since "
            f"{dispute.opened_at:%Y-%m-%d}{f' by {dispute.opened_by}' if dispute.opened_by else ''}"
            f": {dispute.reason}). Resolve that dispute first.",
            details={"invoice": invoice.pk, "dispute": dispute.pk},
        )


class InvoiceNotDisputed(Conflict):
    """There is no open dispute to resolve."""

    code = "invoice_not_disputed"

    @classmethod
    def for_invoice(cls, invoice: Any) -> "InvoiceNotDisputed":
        return cls(
            f"{_invoice_name(invoice)} has no open dispute to resolve.",
            details={"invoice": invoice.pk},
        )
