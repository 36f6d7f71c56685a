"""Customer documents as PDF: the invoice, the credit memo and the debit memo, drawn by one
renderer.

Each `render_*` reads its record once through its collector (invoicing/pdf/collect.py: a
fixed number of queries whatever the number of lines) into a `Document` of plain, immutable
values (invoicing/pdf/document.py), which the one layout (invoicing/pdf/layout.py) draws:
seller and buyer, number and dates, the invoice a memo refers to, lines, tax summary, totals,
and a footer with page numbers. Formatting of text, dates and amounts is in
invoicing/pdf/text.py; addresses are ordered by core.addresses.
"""

from __future__ import annotations

from invoicing.models import CreditMemo, DebitMemo, Invoice
from invoicing.pdf.collect import credit_memo_document, debit_memo_document, invoice_document
from invoicing.pdf.layout import render

__all__ = [
    "credit_memo_pdf_filename",
    "debit_memo_pdf_filename",
    "render_credit_memo_pdf",
    "render_debit_memo_pdf",
    "render_invoice_pdf",
]


def render_invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF document (bytes). Reads the database in a fixed number of queries."""
    return render(invoice_document(invoice))


def render_credit_memo_pdf(memo: CreditMemo) -> bytes:
    """The credit memo as a PDF document (bytes): the invoice it credits, its lines and taxes,
    its total credit and where it was applied."""
    return render(credit_memo_document(memo))


def render_debit_memo_pdf(memo: DebitMemo) -> bytes:
    """The debit memo as a PDF document (bytes): its lines, and the invoice that bills them."""
    return render(debit_memo_document(memo))


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in label)[:80]


def credit_memo_pdf_filename(memo: CreditMemo) -> str:
    """'CM-0001.pdf', or 'credit-memo-7.pdf' for a memo without a number."""
    return f"{_safe(memo.number)}.pdf" if memo.number else f"credit-memo-{memo.pk}.pdf"


def debit_memo_pdf_filename(memo: DebitMemo) -> str:
    """'DM-0001.pdf', or 'debit-memo-7.pdf' for a memo without a number."""
    return f"{_safe(memo.number)}.pdf" if memo.number else f"debit-memo-{memo.pk}.pdf"
