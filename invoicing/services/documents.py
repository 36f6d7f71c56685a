"""Invoice PDF documents: rendered by invoicing.pdf, stored as versioned InvoiceDocument rows.

Each rendering adds a version (1, 2, …) with the file (Django's default storage), its
SHA-256, size and page count. Posting schedules a rendering after commit (the
`on_invoices_posted` hook registered below, a Celery task per invoice); a void schedules a
new version (stamped VOID); staff can regenerate at any time (admin action, command).

`invoice_document_render` is idempotent unless asked to regenerate: it renders only when the
invoice has no ready document made since the invoice last changed (posted, voided, edited),
so a retried or duplicated task adds nothing. A failed rendering is kept as a `failed`
version with the error, and an ErrorLog row (category document) says what to do.

This module is imported by InvoicingConfig.ready() so the posting hook is registered in every
process (web, worker, commands).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from pypdf import PdfReader

from invoicing import hooks
from invoicing.dispatch import RENDER_INVOICE_PDF, task_queue
from invoicing.exceptions import DocumentRenderFailed, InvoiceNotFound
from invoicing.locks import invoice_lock
from invoicing.models import ErrorLog, Invoice, InvoiceDocument, InvoiceStatus
from invoicing.pdf import render_invoice_pdf
from invoicing.services.errors import error_log_record, error_logs_resolve

logger = logging.getLogger(__name__)

STORED_STATUSES = frozenset({InvoiceStatus.POSTED, InvoiceStatus.VOIDED})


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def invoice_document_current(invoice: Invoice) -> InvoiceDocument | None:
    """The latest ready document made since the invoice last changed, if any."""
    doc = invoice.documents.filter(status=InvoiceDocument.Status.READY).order_by("-version").first()
    if doc is None:
        return None
    changed = max(t for t in (invoice.updated_at, invoice.posted_at) if t is not None)
    return doc if doc.created_at >= changed else None


def invoice_document_render(*, invoice_id: int, regenerate: bool = False) -> InvoiceDocument:
    """Render the invoice's PDF and store it as a new version (see the module docstring).

    Without `regenerate`, the current document is returned when there is one. Raises
    DocumentRenderFailed (after recording a failed version and an ErrorLog row) when the
    renderer fails.
    """
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:
        raise InvoiceNotFound.for_id(invoice_id)
    if not regenerate:
        current = invoice_document_current(invoice)
        if current is not None:
            return current

    try:
        pdf = render_invoice_pdf(invoice)
        pages = page_count(pdf)
    except Exception as exc:  # noqa: BLE001 - any renderer failure is recorded, then raised
        logger.exception("PDF rendering failed for invoice %s", invoice_id)
        message = (
            f"The PDF of invoice {invoice} could not be rendered: {type(exc).__name__}: {exc}. "
            "Fix the cause (often a missing legal entity or address), then regenerate the PDF "
            "(admin action 'Regenerate PDF' or manage.py render_invoice_pdfs --regenerate)."
        )
        with transaction.atomic():
            locked = invoice_lock(invoice_id)
            InvoiceDocument.objects.create(
                invoice=locked,
                version=_next_version(locked),
                status=InvoiceDocument.Status.FAILED,
                error=message[:5000],
            )
            error_log_record(
                category=ErrorLog.Category.DOCUMENT,
                code=DocumentRenderFailed.code,
                message=message,
                primary=locked,
            )
        raise DocumentRenderFailed(message, details={"invoice": invoice_id})

    digest = hashlib.sha256(pdf).hexdigest()
    with transaction.atomic():
        locked = invoice_lock(invoice_id)
        version = _next_version(locked)
        label = locked.number or f"draft-{locked.pk}"
        doc = InvoiceDocument(
            invoice=locked,
            version=version,
            status=InvoiceDocument.Status.READY,
            sha256=digest,
            size=len(pdf),
            page_count=pages,
        )
        doc.file.save(f"{_safe(label)}-v{version}.pdf", ContentFile(pdf), save=False)
        try:
            doc.save()
        except Exception:
            doc.file.delete(save=False)  # no orphan file for a row that was never stored
            raise
        error_logs_resolve(primaries=[locked], category=ErrorLog.Category.DOCUMENT)
    return doc


def _next_version(invoice: Invoice) -> int:
    return (invoice.documents.aggregate(v=Max("version"))["v"] or 0) + 1


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in label)[:80]


def invoice_pdf_bytes(*, invoice_id: int) -> tuple[bytes, str]:
    """The PDF to serve and its file name. Posted and voided invoices serve their stored
    current document (rendered and stored first if needed); drafts are rendered on the fly
    and not stored (they still change)."""
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:
        raise InvoiceNotFound.for_id(invoice_id)
    if invoice.status not in STORED_STATUSES:
        return render_invoice_pdf(invoice), f"draft-invoice-{invoice.pk}.pdf"
    doc = invoice_document_render(invoice_id=invoice_id)
    with doc.file.open("rb") as fh:
        data = fh.read()
    return data, f"{_safe(invoice.number or str(invoice.pk))}.pdf"


def invoice_documents_enqueue(invoice_ids: Iterable[int], *, regenerate: bool = False) -> None:
    """Queue a rendering per invoice (Celery). Call after commit."""
    for invoice_id in invoice_ids:
        task_queue(RENDER_INVOICE_PDF, invoice_id, regenerate=regenerate)


@hooks.on_invoices_posted
def _render_after_posting(invoice_ids: list[int]) -> None:
    """Render each posted invoice's PDF, unless LEDGERLINE["RENDER_PDF_ON_POST"] is off
    (benchmarks; deployments that render on demand only)."""
    if settings.LEDGERLINE.get("RENDER_PDF_ON_POST", True):
        invoice_documents_enqueue(invoice_ids)
