"""Stored PDF documents: versions, hashes, the after-posting hook, failures."""

import datetime as dt
import hashlib
import io
import re

import pytest
from pypdf import PdfReader

from invoicing.exceptions import DocumentRenderFailed
from invoicing.models import ErrorLog, InvoiceDocument
from invoicing.services import documents
from invoicing.services.documents import invoice_document_render
from invoicing.services.generation import invoices_generate
from invoicing.services.posting import invoice_post
from invoicing.services.void import invoice_void
from tests.support.invoicing import generate

pytestmark = pytest.mark.django_db
d = dt.date


def text_of(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def stored(doc: InvoiceDocument) -> bytes:
    with doc.file.open("rb") as fh:
        return fh.read()


def test_document_versions_with_hash_size_and_pages(lw):
    invoice = generate(lw, d(2026, 2, 15))

    doc = invoice_document_render(invoice_id=invoice.pk)

    data = stored(doc)
    assert (doc.version, doc.status, doc.page_count) == (1, "ready", 1)
    assert (doc.size, doc.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert doc.file.name.startswith("invoices/") and doc.file.name.endswith("INV-0001-v1.pdf")
    text = text_of(data)
    for expected in (
        "INV-0001",
        "Ledgerline Demo Inc.",
        "US-12-3456789",
        "Seat",
        "Premium support",
    ):
        assert expected in text
    assert "139.98" in text and "11.56" in text and "151.54" in text

    # Current: asking again renders nothing new.
    assert invoice_document_render(invoice_id=invoice.pk).pk == doc.pk
    assert InvoiceDocument.objects.count() == 1

    again = invoice_document_render(invoice_id=invoice.pk, regenerate=True)
    assert again.version == 2
    assert InvoiceDocument.objects.filter(invoice=invoice).count() == 2

    # A void makes the stored document stale: the next rendering is a VOID version.
    invoice_void(invoice_id=invoice.pk, void_date=d(2026, 2, 20))
    voided = invoice_document_render(invoice_id=invoice.pk)
    assert voided.version == 3
    assert "VOID" in text_of(stored(voided))


def test_posting_renders_the_pdf_after_commit(lw, django_capture_on_commit_callbacks):
    draft = generate(lw, d(2026, 1, 15), action="draft")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invoice_post(invoice_id=draft.pk)
        assert InvoiceDocument.objects.count() == 0  # nothing before the commit
    assert len(callbacks) == 1
    doc = InvoiceDocument.objects.get(invoice=draft)
    assert (doc.version, doc.status, doc.page_count) == (1, "ready", 1)
    assert "INV-0001" in text_of(stored(doc))


def test_generation_with_posted_output_renders_each_invoice(lw, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = invoices_generate(
            account_id=lw.account.pk, target_date=d(2026, 1, 15), action="posted"
        )
    (invoice,) = result.invoices
    assert list(InvoiceDocument.objects.values_list("invoice_id", "version", "status")) == [
        (invoice.pk, 1, "ready")
    ]


def test_a_rendering_failure_is_recorded_then_fixed_by_regenerating(lw, monkeypatch):
    invoice = generate(lw, d(2026, 1, 15))

    def broken(_invoice):
        raise RuntimeError("font cache corrupted")

    monkeypatch.setattr(documents, "render_invoice_pdf", broken)
    with pytest.raises(DocumentRenderFailed) as exc:
        invoice_document_render(invoice_id=invoice.pk)
    assert "font cache corrupted" in exc.value.message
    failed = InvoiceDocument.objects.get()
    assert (failed.version, failed.status, failed.file.name) == (1, "failed", "")
    log = ErrorLog.objects.get(category="document")
    assert (log.code, log.primary_id, log.is_resolved) == ("pdf_render_failed", invoice.pk, False)

    monkeypatch.undo()
    doc = invoice_document_render(invoice_id=invoice.pk)
    assert (doc.version, doc.status) == (2, "ready")
    log.refresh_from_db()
    assert log.is_resolved is True
