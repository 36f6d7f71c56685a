"""Emailing posted invoices through Django's mail API (any backend: django-anymail's
providers in production, the console backend by default, the locmem outbox in tests).

Template: the first active EmailTemplate of the invoice's billing profile (the order's
profile, then the account's default profile), else of its legal entity, else the system
default template (is_default), else a built-in one. Subject and body take the merge fields
{number}, {account}, {total}, {balance}, {due_date} and {link}; other braces stay as typed.
{link} is the customer's hosted page of the invoice (status, balance, PDF download; no login):
a signed link that expires, made afresh for each email (invoicing/services/hosted_links.py).

Attachment: the PDF is attached when the resolved attach_pdf says so: the billing profile's
setting, else the legal entity's, else yes. The stored current document is used (rendered
first when there is none). Features above invoicing add files of their own through
`invoicing.hooks.email_attachments` (e-invoicing: the e-invoice, when the account asks for
it) to the invoice's own emails, not to reminders (an automated receiver would book the same
e-invoice again); one named like the PDF takes the PDF's place. A provider that fails does
not stop the email: it goes out without that file, and once sent an ErrorLog row (category
email, code email_attachment_failed) says what is missing and why.

Recipient: the `to` override, else the invoice's bill-to contact, else the profile's bill-to
contact, else the account email.

A single send (staff, API) ignores Account.bulk_email_opt_out; a bulk send (a run's send)
honours it and records the email as skipped. Every attempt is an InvoiceEmail row (the
dispatch history) and sets Invoice.email_status. A dunning reminder (dunning/services/) goes
through this outbox too, with its step's template (`template`), leaving Invoice.email_status
as it is (`track_status=False`): a reminder is not the invoice's own delivery. A failure (no
recipient, PDF or provider error) is recorded, not raised: InvoiceEmail failed with the error,
and an ErrorLog row (category email) against the invoice; the next successful send resolves
it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from anymail.message import AnymailMessage
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone

from accounts.models import BillingProfile
from core.exceptions import DomainError, ValidationError
from core.money import money_display
from core.progress import ProgressCallback
from invoicing.exceptions import InvoiceNotFound, InvoiceNotPosted
from invoicing.hooks import EmailAttachment, EmailAttachmentFailure, invoice_email_attachments
from invoicing.models import EmailTemplate, ErrorLog, Invoice, InvoiceEmail, InvoiceStatus
from invoicing.services.documents import invoice_pdf_bytes
from invoicing.services.errors import error_log_record, error_logs_resolve
from invoicing.services.hosted_links import hosted_link_url

logger = logging.getLogger(__name__)

MERGE_FIELDS = ("number", "account", "total", "balance", "due_date", "link")

BUILTIN_SUBJECT = "Invoice {number}"
BUILTIN_BODY = (
    "Dear {account},\n\n"
    "Please find invoice {number} for {total}, due on {due_date}.\n"
    "Open balance: {balance}.\n\n"
    "View the invoice and download its PDF: {link}\n\n"
    "Thank you for your business."
)


def builtin_template() -> EmailTemplate:
    """Used when no template is stored at all (never saved)."""
    return EmailTemplate(name="Built-in invoice email", subject=BUILTIN_SUBJECT, body=BUILTIN_BODY)


@dataclass(frozen=True)
class ResolvedEmail:
    template: EmailTemplate
    source: str  # billing_profile, legal_entity, system_default, builtin; given (`template`)
    attach_pdf: bool
    recipient: str


def _profiles(invoice: Invoice) -> list[BillingProfile]:
    chain: list[BillingProfile] = []
    order = invoice.reference_order
    if order is not None and order.billing_profile is not None:
        chain.append(order.billing_profile)
    default = invoice.account.default_profile
    if default is not None and all(p.pk != default.pk for p in chain):
        chain.append(default)
    return chain


def email_template_resolve(invoice: Invoice) -> tuple[EmailTemplate, str]:
    """The template and where it came from (billing_profile, legal_entity, system_default,
    builtin)."""
    active = EmailTemplate.objects.filter(is_active=True).order_by("name", "id")
    for profile in _profiles(invoice):
        template = active.filter(billing_profile=profile).first()
        if template is not None:
            return template, "billing_profile"
    if invoice.legal_entity_id:
        template = active.filter(legal_entity_id=invoice.legal_entity_id).first()
        if template is not None:
            return template, "legal_entity"
    template = active.filter(is_default=True).first()
    if template is not None:
        return template, "system_default"
    return builtin_template(), "builtin"


def attach_pdf_resolve(invoice: Invoice) -> bool:
    for profile in _profiles(invoice):
        if profile.attach_pdf is not None:
            return profile.attach_pdf
    entity = invoice.legal_entity
    if entity is not None and entity.attach_pdf is not None:
        return entity.attach_pdf
    return True


def recipient_resolve(invoice: Invoice) -> str:
    if invoice.bill_to is not None:
        return invoice.bill_to.email
    for profile in _profiles(invoice):
        if profile.bill_to is not None:
            return profile.bill_to.email
    return invoice.account.email or ""


def email_resolve(invoice: Invoice, *, to: str | None = None) -> ResolvedEmail:
    template, source = email_template_resolve(invoice)
    return ResolvedEmail(
        template=template,
        source=source,
        attach_pdf=attach_pdf_resolve(invoice),
        recipient=to or recipient_resolve(invoice),
    )


def merge_fields(invoice: Invoice) -> dict[str, str]:
    return {
        "number": invoice.number or f"#{invoice.pk}",
        "account": invoice.account.name,
        "total": money_display(invoice.total, invoice.currency),
        "balance": money_display(invoice.balance, invoice.currency),
        "due_date": invoice.due_date.isoformat() if invoice.due_date else "",
        "link": hosted_link_url(invoice),
    }


def render_merge(text: str, values: dict[str, str]) -> str:
    """Replace the known {field}s only, so any other braces in a template stay literal."""
    for name in MERGE_FIELDS:
        text = text.replace("{" + name + "}", values[name])
    return text


def _invoice_for_email(invoice_id: int) -> Invoice:
    invoice = (
        Invoice.objects.select_related(
            "account", "bill_to", "legal_entity", "reference_order__billing_profile__bill_to"
        )
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise InvoiceNotFound.for_id(invoice_id)
    return invoice


def invoice_email_send(
    *,
    invoice_id: int,
    to: str | None = None,
    bulk: bool = False,
    batch_run_id: int | None = None,
    template: EmailTemplate | None = None,
    track_status: bool = True,
) -> InvoiceEmail:
    """Email one posted invoice (see the module docstring). Returns the InvoiceEmail row;
    its status is sent, skipped (bulk, opted out) or failed (with the error). `template`:
    this template instead of the resolved one; `track_status=False`: Invoice.email_status is
    left as it is."""
    if to:
        try:
            validate_email(to)
        except DjangoValidationError:
            raise ValidationError({"to": f"'{to}' is not an email address."})
    invoice = _invoice_for_email(invoice_id)
    if invoice.status != InvoiceStatus.POSTED:
        raise InvoiceNotPosted(
            f"Only a posted invoice can be emailed; invoice {invoice} is "
            f"{invoice.get_status_display().lower()}.",
            details={"invoice": invoice.pk, "status": invoice.status},
        )
    resolved = email_resolve(invoice, to=to)
    if template is not None:
        resolved = replace(resolved, template=template, source="given")
    values = merge_fields(invoice)

    def status_set(status: str) -> None:
        if track_status:
            _email_status_set(invoice, status)

    subject = render_merge(resolved.template.subject, values)[:255]
    record = InvoiceEmail(
        invoice=invoice,
        to=resolved.recipient[:500],
        subject=subject,
        template=resolved.template if resolved.template.pk else None,
        attached_pdf=False,
        bulk=bulk,
        batch_run_id=batch_run_id,
    )
    if bulk and invoice.account.bulk_email_opt_out:
        record.status = InvoiceEmail.Status.SKIPPED
        record.error = f"Account {invoice.account} opted out of bulk email."
        record.save()
        status_set(Invoice.EmailStatus.SKIPPED)
        return record

    record.status = InvoiceEmail.Status.QUEUED
    record.save()
    status_set(Invoice.EmailStatus.QUEUED)
    try:
        if not resolved.recipient:
            raise _EmailFailure(
                "email_no_recipient",
                f"Invoice {invoice} has no recipient: set a bill-to contact with an email on "
                "the invoice or the account's billing profile, or an account email, or send "
                "it with an explicit 'to' address.",
            )
        entity = invoice.legal_entity
        # django-anymail's message: its metadata and tags reach the provider; other
        # backends ignore them.
        message = AnymailMessage(
            subject=subject,
            body=render_merge(resolved.template.body, values),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[resolved.recipient],
            reply_to=[entity.email] if entity is not None and entity.email else None,
            metadata={"invoice_id": invoice.pk, "invoice_number": invoice.number},
            tags=["invoice", "bulk" if bulk else "single"],
        )
        attachments: dict[str, EmailAttachment] = {}
        if resolved.attach_pdf:
            pdf, filename = _pdf_for(invoice)
            attachments[filename] = EmailAttachment(filename, pdf, "application/pdf")
            record.attached_pdf = True
        # Not with a reminder: an automated receiver would book the same e-invoice again.
        extra, attachment_failures = (
            invoice_email_attachments(invoice) if track_status else ([], [])
        )
        for attachment in extra:
            attachments[attachment.filename] = attachment  # same name as the PDF: replaces it
        for attachment in attachments.values():
            message.attach(*attachment)
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - a provider or PDF failure is recorded
        if isinstance(exc, _EmailFailure | DomainError):
            code, text = exc.code, exc.message
        else:
            logger.warning("Email of invoice %s failed", invoice.pk, exc_info=True)
            code = "email_failed"
            text = (
                f"The email of invoice {invoice} to {resolved.recipient} failed: "
                f"{type(exc).__name__}: {exc}. Check the email settings (EMAIL_BACKEND, "
                "ANYMAIL) and the address, then send it again."
            )
        record.status = InvoiceEmail.Status.FAILED
        record.error = text[:5000]
        record.save(update_fields=["status", "error", "attached_pdf", "updated_at"])
        status_set(Invoice.EmailStatus.FAILED)
        # Without a run, a repeat of the error keeps the run the row already names.
        run_link: dict[str, Any] = {"batch_run_id": batch_run_id} if batch_run_id else {}
        error_log_record(
            category=ErrorLog.Category.EMAIL, code=code, message=text, primary=invoice, **run_link
        )
        return record

    record.status = InvoiceEmail.Status.SENT
    record.sent_at = timezone.now()
    record.save(update_fields=["status", "sent_at", "attached_pdf", "updated_at"])
    status_set(Invoice.EmailStatus.SENT)
    error_logs_resolve(primaries=[invoice], category=ErrorLog.Category.EMAIL)
    for failure in attachment_failures:
        _attachment_failure_record(invoice, resolved.recipient, failure, batch_run_id)
    return record


def _attachment_failure_record(
    invoice: Invoice,
    recipient: str,
    failure: EmailAttachmentFailure,
    batch_run_id: int | None,
) -> None:
    exc = failure.error
    reason = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
    run_link: dict[str, Any] = {"batch_run_id": batch_run_id} if batch_run_id else {}
    error_log_record(
        category=ErrorLog.Category.EMAIL,
        code="email_attachment_failed",
        message=(
            f"Invoice {invoice} was emailed to {recipient} without an attachment "
            f"({failure.provider}): {reason} Fix the cause, then send the email again."
        ),
        primary=invoice,
        **run_link,
    )


class _EmailFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _pdf_for(invoice: Invoice) -> tuple[bytes, str]:
    return invoice_pdf_bytes(invoice_id=invoice.pk)


def _email_status_set(invoice: Invoice, status: str) -> None:
    # A plain update, not save(): the dispatch status is not a change of the document, so
    # updated_at (which dates the stored PDF's freshness) stays.
    Invoice.objects.filter(pk=invoice.pk).update(email_status=status)
    invoice.email_status = status


def invoices_email_send_bulk(
    *,
    invoice_ids: Iterable[int],
    batch_run_id: int | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, int]:
    """A run's bulk send: honours opt-outs and skips invoices already emailed (status sent),
    so a repeated run sends nothing twice. Returns counts per outcome. `progress(done,
    total)` is called after each invoice."""
    counts = {"sent": 0, "skipped": 0, "failed": 0, "already_sent": 0, "not_posted": 0}
    ids = sorted(set(invoice_ids))
    for done, invoice_id in enumerate(ids, start=1):
        counts[_bulk_send_one(invoice_id, batch_run_id)] += 1
        if progress is not None:
            progress(done, len(ids))
    return counts


def _bulk_send_one(invoice_id: int, batch_run_id: int | None) -> str:
    status = Invoice.objects.filter(pk=invoice_id).values_list("status", "email_status").first()
    if status is None or status[0] != InvoiceStatus.POSTED:
        return "not_posted"
    if status[1] == Invoice.EmailStatus.SENT:
        return "already_sent"
    return invoice_email_send(invoice_id=invoice_id, bulk=True, batch_run_id=batch_run_id).status


def invoice_email_interrupted(email: InvoiceEmail, *, batch_run_id: int) -> None:
    """An email still queued when the task sending it was lost (its worker killed): it is
    not known whether it went out, so it is not sent again. Its row and the invoice's email
    status become failed, with an ErrorLog saying what to check. Called by the email sub-run
    that takes over, inside its own transaction; a row no longer queued is left as it is."""
    message = (
        f"The email of invoice {email.invoice_id} to {email.to} was being sent by email "
        f"sub-run {batch_run_id} when its worker was lost, so it is not known whether it went "
        "out; it was not sent again. Check the email provider's log and send it again from "
        "the invoice if it did not go."
    )
    marked = InvoiceEmail.objects.filter(pk=email.pk, status=InvoiceEmail.Status.QUEUED).update(
        status=InvoiceEmail.Status.FAILED, error=message, updated_at=timezone.now()
    )
    if not marked:
        return
    Invoice.objects.filter(pk=email.invoice_id, email_status=Invoice.EmailStatus.QUEUED).update(
        email_status=Invoice.EmailStatus.FAILED
    )
    error_log_record(
        category=ErrorLog.Category.EMAIL,
        code="email_interrupted",
        message=message,
        primary=Invoice(pk=email.invoice_id),
        batch_run_id=batch_run_id,
    )
