"""Thin Celery tasks of the invoice lifecycle: ids in, one service call, idempotent.

- render_invoice_pdf_task: renders only when the invoice has no current document (unless
  regenerate), so a duplicate or retried task adds nothing.
- send_invoice_email_task: a bulk send skips invoices already emailed; a single send is an
  explicit (re)send.

Only transient database errors are retried; a rendering or email failure is recorded by the
service (ErrorLog) and not retried.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from invoicing.exceptions import DocumentRenderFailed, InvoiceNotFound, InvoiceNotPosted
from invoicing.services.documents import invoice_document_render
from invoicing.services.email import invoice_email_send, invoices_email_send_bulk

logger = logging.getLogger(__name__)

_TRANSIENT = (OperationalError, InterfaceError)
_RETRY = {
    "autoretry_for": _TRANSIENT,
    "retry_backoff": True,
    "max_retries": 5,
    "acks_late": True,
}


@shared_task(name="invoicing.render_invoice_pdf", time_limit=600, soft_time_limit=540, **_RETRY)
def render_invoice_pdf_task(invoice_id: int, regenerate: bool = False) -> int | None:
    """Render (or re-render) one invoice's PDF; returns the document id."""
    try:
        return invoice_document_render(invoice_id=invoice_id, regenerate=regenerate).pk
    except InvoiceNotFound:
        logger.info("Invoice %s is gone; no PDF rendered", invoice_id)
    except DocumentRenderFailed as exc:
        logger.warning("%s", exc.message)
    return None


@shared_task(name="invoicing.send_invoice_email", time_limit=300, soft_time_limit=270, **_RETRY)
def send_invoice_email_task(
    invoice_id: int,
    to: str | None = None,
    bulk: bool = False,
    batch_run_id: int | None = None,
) -> str | None:
    """Email one invoice; returns the dispatch status (sent, skipped, failed)."""
    try:
        if bulk:
            counts = invoices_email_send_bulk(invoice_ids=[invoice_id], batch_run_id=batch_run_id)
            return next((k for k, v in counts.items() if v), None)
        return invoice_email_send(invoice_id=invoice_id, to=to).status
    except (InvoiceNotFound, InvoiceNotPosted) as exc:
        logger.info("Invoice %s not emailed: %s", invoice_id, exc)
        return None
