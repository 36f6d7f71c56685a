"""After-commit hook points of the invoice lifecycle.

Posting calls `invoices_posted(ids)` through `transaction.on_commit`, so receivers run only
once the posting transaction has committed (never for a rolled-back posting). Receivers are
plain callables registered by the features that need them (PDF rendering, email), each
taking a list of invoice ids; they must be quick (enqueue a Celery task) and idempotent.

The other hook points below let features above invoicing add to it without invoicing
importing them: fields of the invoice's API representation, checks before posting, and
attachments of the invoice email.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

_posted_receivers: list[Callable[[list[int]], None]] = []


def on_invoices_posted(receiver: Callable[[list[int]], None]) -> Callable[[list[int]], None]:
    """Register a receiver (usable as a decorator)."""
    if receiver not in _posted_receivers:
        _posted_receivers.append(receiver)
    return receiver


def invoices_posted(invoice_ids: list[int]) -> None:
    for receiver in list(_posted_receivers):
        try:
            receiver(invoice_ids)
        except Exception:  # a failing side effect never undoes a committed posting
            logger.exception("invoices_posted receiver %r failed", receiver)


# --- fields added to the invoice's API representation ----------------------------------------
#
# API.md's invoice resource carries fields computed elsewhere: the receivable figures
# (invoicing.receivables) and `dunning` and `disputed`, which the dunning app (a layer above
# invoicing) owns. Each registers at start-up a reader giving {invoice id: {field: value}}
# for a batch of invoices (one query per batch, not per invoice); a writable field (PATCH
# `disputed`) also registers its writer, which calls a service.

InvoiceFieldsReader = Callable[[list[Any]], dict[int, dict[str, Any]]]
InvoiceFieldWriter = Callable[..., None]

_invoice_field_readers: list[InvoiceFieldsReader] = []
_invoice_field_writers: dict[str, InvoiceFieldWriter] = {}


def invoice_api_fields(
    reader: InvoiceFieldsReader, writers: dict[str, InvoiceFieldWriter] | None = None
) -> None:
    """Register a reader of some invoice API fields, and the writers
    (`writer(invoice_id=…, value=…, reason=…, actor=…)`) of those PATCH may change."""
    if reader not in _invoice_field_readers:
        _invoice_field_readers.append(reader)
    _invoice_field_writers.update(writers or {})


def invoice_api_values(invoices: list[Any]) -> dict[int, dict[str, Any]]:
    """{invoice id: {field: value}} of every registered field, for these invoices."""
    out: dict[int, dict[str, Any]] = {invoice.pk: {} for invoice in invoices}
    for reader in _invoice_field_readers:
        values = reader(invoices)
        for invoice in invoices:
            out[invoice.pk].update(values.get(invoice.pk, {}))
    return out


def invoice_api_writable() -> dict[str, InvoiceFieldWriter]:
    return dict(_invoice_field_writers)


# --- checks before posting -------------------------------------------------------------------
#
# A feature above invoicing may refuse to let an invoice be posted (e-invoicing: an account
# that requires e-invoices gets none that fails the EN 16931 rules). Posting asks every
# registered check once the actual tax is computed and before any number is taken; a
# refused invoice stays draft with the check's error, and no number is used up.

PostingCheck = Callable[[list[Any]], dict[int, Any]]

_posting_checks: list[PostingCheck] = []


def posting_check(check: PostingCheck) -> PostingCheck:
    """Register a check: given invoices about to be posted, it returns {invoice id: a
    core.exceptions.DomainError} for those it refuses (usable as a decorator)."""
    if check not in _posting_checks:
        _posting_checks.append(check)
    return check


def posting_refusals(invoices: list[Any]) -> dict[int, Any]:
    """{invoice id: DomainError} of every registered check (the first refusal per invoice)."""
    refusals: dict[int, Any] = {}
    for check in list(_posting_checks):
        for invoice_id, error in check(invoices).items():
            refusals.setdefault(invoice_id, error)
    return refusals


def posting_checked_accounts(account_ids: set[int]) -> set[int]:
    """The accounts whose invoices some check may refuse: generation posts their invoices
    through the model writer, where the checks run."""
    out: set[int] = set()
    for check in list(_posting_checks):
        accounts = getattr(check, "accounts", None)
        if accounts is not None:
            out |= accounts(account_ids)
    return out


# --- attachments of the invoice email ----------------------------------------------------------
#
# A feature above invoicing may attach files of its own to the invoice email (e-invoicing: the
# e-invoice, when the account asks for it). Each registers a provider giving, for an invoice,
# the attachments to add (none when it has nothing to say). The email service asks every
# provider when it builds the message; a provider that fails is logged and reported back, and
# the email goes out without its files. An attachment named like the invoice PDF takes the
# PDF's place (a Factur-X PDF is the invoice PDF with its XML embedded).


class EmailAttachment(NamedTuple):
    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class EmailAttachmentFailure:
    provider: str  # the provider's qualified name
    error: Exception


EmailAttachmentProvider = Callable[[Any], list[EmailAttachment]]

_email_attachment_providers: list[EmailAttachmentProvider] = []


def email_attachments(provider: EmailAttachmentProvider) -> EmailAttachmentProvider:
    """Register a provider: given an invoice (its account loaded), the attachments (filename,
    bytes, content type) to add to its email (usable as a decorator)."""
    if provider not in _email_attachment_providers:
        _email_attachment_providers.append(provider)
    return provider


def invoice_email_attachments(
    invoice: Any,
) -> tuple[list[EmailAttachment], list[EmailAttachmentFailure]]:
    """Every registered provider's attachments for the invoice, and the providers that failed
    (logged here; the caller records them and sends without their files)."""
    attachments: list[EmailAttachment] = []
    failures: list[EmailAttachmentFailure] = []
    for provider in list(_email_attachment_providers):
        name = f"{provider.__module__}.{provider.__qualname__}"
        try:
            attachments += [EmailAttachment(*a) for a in provider(invoice)]
        except Exception as exc:  # an attachment never stops the email
            logger.warning(
                "Email attachment provider %s failed for invoice %s",
                name,
                invoice.pk,
                exc_info=True,
            )
            failures.append(EmailAttachmentFailure(provider=name, error=exc))
    return attachments, failures
