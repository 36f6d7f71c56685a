"""Invoicing domain errors.

Each error has a stable `code` (the API, ErrorLog rows and the UI key on it) and a message
that says what is wrong and how to fix it. Errors whose message is built from domain values
offer a `for_...` class method; the plain `Error(message, details=...)` constructor of
core.exceptions.DomainError still works, so the errors pickle and re-raise cleanly (Celery).
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from core.exceptions import Conflict, DomainError, NotFound


def _conditions(*, legal_entity_name: str | None, currency: str, on_date: dt.date) -> str:
    entity = f"legal entity '{legal_entity_name}'" if legal_entity_name else "no legal entity"
    return f"{entity}, currency {currency or '(none)'} and date {on_date.isoformat()}"


# --- Numbering -----------------------------------------------------------------------------


class NoSequencePolicy(Conflict):
    """No active sequence policy matches the document to be numbered."""

    code = "no_sequence_policy"

    @classmethod
    def for_conditions(
        cls,
        *,
        target: str,
        legal_entity_id: int | None,
        legal_entity_name: str | None,
        currency: str,
        on_date: dt.date,
    ) -> "NoSequencePolicy":
        target_label = target.replace("_", " ")
        where = _conditions(legal_entity_name=legal_entity_name, currency=currency, on_date=on_date)
        message = (
            f"No active {target_label} sequence policy matches {where}."
            " Create one under Sequence policies, or widen an existing policy's conditions "
            "(legal entity, currency, effective dates)."
        )
        return cls(
            message,
            details={
                "target": target,
                "legal_entity_id": legal_entity_id,
                "currency": currency,
                "on_date": on_date.isoformat(),
            },
        )

    @classmethod
    def for_missing_policy(cls, *, policy_id: int) -> "NoSequencePolicy":
        return cls(
            f"Sequence policy #{policy_id} was deleted while a document was being numbered. "
            "Post the document again; a matching policy is then chosen afresh.",
            details={"policy_id": policy_id},
        )


class SequenceNumberTaken(Conflict):
    """A document number was taken by another document written at the same time (the
    database's unique constraint refused it). Nothing was written: posting again takes the
    next free number."""

    code = "sequence_number_taken"

    @classmethod
    def for_number(cls, *, number: str, document: str = "invoice") -> "SequenceNumberTaken":
        return cls(
            f"Number {number} was taken by another {document.replace('_', ' ')} written at the "
            "same time; nothing was posted. Post again: the document then takes the next free "
            "number.",
            details={"number": number, "document": document},
        )


class SequencePolicyInUse(Conflict):
    """A sequence policy that has issued numbers cannot be deleted (a later policy with its
    pattern would issue them again): deactivate it instead."""

    code = "sequence_policy_in_use"

    @classmethod
    def for_policy(cls, policy: Any) -> "SequencePolicyInUse":
        return cls(
            f"Sequence policy '{policy.name}' has issued numbers (its next value is "
            f"{policy.next_value}), so it cannot be deleted: a policy created later with its "
            "pattern could issue those numbers again. Deactivate it instead (is_active false); "
            "its history stays.",
            details={"policy": policy.pk, "next_value": policy.next_value},
        )


class AmbiguousSequencePolicy(Conflict):
    """Several active sequence policies match; exactly one must."""

    code = "ambiguous_sequence_policy"

    @classmethod
    def for_policies(
        cls,
        *,
        target: str,
        legal_entity_id: int | None,
        legal_entity_name: str | None,
        currency: str,
        on_date: dt.date,
        policies: Sequence[Any],
    ) -> "AmbiguousSequencePolicy":
        target_label = target.replace("_", " ")
        names = ", ".join(f"'{p.name}'" for p in policies)
        where = _conditions(legal_entity_name=legal_entity_name, currency=currency, on_date=on_date)
        message = (
            f"{len(policies)} active {target_label} sequence policies match {where}: {names}."
            " Exactly one must match: deactivate all but one, or narrow their "
            "conditions (legal entity, currency, effective dates) so they do not overlap."
        )
        return cls(
            message,
            details={
                "target": target,
                "legal_entity_id": legal_entity_id,
                "currency": currency,
                "on_date": on_date.isoformat(),
                "policies": [{"id": p.pk, "name": p.name} for p in policies],
            },
        )


# --- Tax -----------------------------------------------------------------------------------


class TaxEngineError(DomainError):
    """The tax engine could not compute tax: it failed, or it cannot be loaded."""

    code = "tax_engine_error"
    status_code = 502

    @classmethod
    def for_unloadable_engine(cls, *, path: str, reason: str) -> "TaxEngineError":
        return cls(
            f"The tax engine '{path}' (setting LEDGERLINE['TAX_ENGINE']) cannot be used: {reason}."
            " Set it to the dotted path of a subclass of invoicing.tax.TaxEngine, for example "
            "'invoicing.tax.BuiltinTaxEngine'.",
            details={"setting": "LEDGERLINE.TAX_ENGINE", "path": path},
        )


# --- Invoices and void ---------------------------------------------------------------------


class InvoiceNotFound(NotFound):
    code = "invoice_not_found"

    @classmethod
    def for_id(cls, invoice_id: int) -> "InvoiceNotFound":
        return cls(f"Invoice {invoice_id} does not exist.", details={"invoice": invoice_id})


class InvoiceNotPosted(Conflict):
    code = "invoice_not_posted"

    @classmethod
    def for_invoice(cls, invoice: Any, what: str) -> "InvoiceNotPosted":
        """Only a posted invoice takes `what` (payments, credits): this one is a draft or
        voided, said as people know it ('draft invoice #7', 'invoice INV-0002')."""
        state = (
            f"draft invoice #{invoice.pk} is not posted yet; post it first."
            if invoice.status == "draft"
            else f"invoice {invoice} is {invoice.get_status_display().lower()}."
        )
        return cls(
            f"Only a posted invoice takes {what}; {state}",
            details={"invoice": invoice.pk, "status": invoice.status},
        )


class InvoicePaid(Conflict):
    code = "invoice_paid"


class InvoiceCredited(Conflict):
    code = "invoice_credited"


class InvoiceNotLatest(Conflict):
    code = "invoice_not_latest"


class InvoiceTotalNegative(Conflict):
    code = "invoice_total_negative"


class ScheduleProcessing(Conflict):
    code = "schedule_processing"


# --- Documents -----------------------------------------------------------------------------


class DocumentRenderFailed(DomainError):
    code = "pdf_render_failed"
    status_code = 500


# --- Batch runs and schedulers -------------------------------------------------------------


class BatchRunInProgress(Conflict):
    code = "batch_run_in_progress"


class BatchRunWrongKind(Conflict):
    code = "batch_run_wrong_kind"


class BatchRunFinished(Conflict):
    code = "batch_run_finished"


class SchedulerCanceled(Conflict):
    code = "scheduler_canceled"


class SchedulerNotEditable(Conflict):
    code = "scheduler_not_editable"


class SchedulerStatusConflict(Conflict):
    code = "scheduler_status_conflict"


# --- Credit and debit memos ----------------------------------------------------------------


class CreditMemoNotFound(NotFound):
    code = "credit_memo_not_found"


class CreditMemoNotDraft(Conflict):
    code = "credit_memo_not_draft"


class CreditMemoNotPosted(Conflict):
    code = "credit_memo_not_posted"


class CreditExceedsBalance(Conflict):
    """An application above the credit memo's unapplied balance or the invoice's open one."""

    code = "credit_exceeds_balance"


class CreditApplicationMismatch(Conflict):
    """A credit memo applied across accounts, currencies or legal entities."""

    code = "credit_application_mismatch"


class InvoiceWrittenOff(Conflict):
    """A written-off invoice takes no payment and cannot be voided: reverse the write-off."""

    code = "invoice_written_off"


class InvoiceNotWrittenOff(Conflict):
    code = "invoice_not_written_off"


class NothingToWriteOff(Conflict):
    code = "nothing_to_write_off"


class NoNegativeLines(Conflict):
    code = "no_negative_lines"


class CreditApplicationNotFound(NotFound):
    code = "credit_application_not_found"


class CreditApplicationNotActive(Conflict):
    """Unapplying an application that is already unapplied, or one a void made."""

    code = "credit_application_not_active"


class DebitMemoNotFound(NotFound):
    code = "debit_memo_not_found"


class DebitMemoNotDraft(Conflict):
    code = "debit_memo_not_draft"


class DebitMemoNotPosted(Conflict):
    code = "debit_memo_not_posted"


# --- Payments ------------------------------------------------------------------------------


class PaymentExceedsBalance(Conflict):
    code = "payment_exceeds_balance"


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class PaymentReversed(Conflict):
    code = "payment_reversed"


class PaymentRefunded(Conflict):
    """A payment with refunds is not reversed: the refunded money really left."""

    code = "payment_refunded"


# --- Posting -------------------------------------------------------------------------------


class InvoiceNotDraft(Conflict):
    code = "invoice_not_draft"


# --- Draft editing -------------------------------------------------------------------------


class InvoiceImmutable(Conflict):
    code = "invoice_immutable"


class LineNotAdjustment(Conflict):
    code = "line_not_adjustment"


class InvoiceLineNotFound(NotFound):
    code = "invoice_line_not_found"


# --- Hosted document links (invoicing/services/hosted_links.py) ---------------------------


class HostedLinkUnavailable(Conflict):
    """The document has no customer link: it is not posted (a draft, a canceled memo)."""

    code = "hosted_link_unavailable"


class HostedLinkInvalid(NotFound):
    """The link's signature is wrong (edited, truncated, another site's) or its document is
    gone: the page answers 404, as for any address that does not exist."""

    code = "hosted_link_invalid"


class HostedLinkExpired(DomainError):
    """A genuine link older than LEDGERLINE["HOSTED_LINK_MAX_AGE_DAYS"]: 410 Gone."""

    code = "hosted_link_expired"
    status_code = 410
