"""Customer documents other than the invoice's own PDF (web/views/invoices.py): the PDFs of
credit memos and debit memos, listed on their invoice's page. Shown in the browser, or
downloaded with ?download=1; drawn by invoicing.pdf, the invoice's renderer."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from invoicing.models import CreditMemo, DebitMemo
from invoicing.pdf import (
    credit_memo_pdf_filename,
    debit_memo_pdf_filename,
    render_credit_memo_pdf,
    render_debit_memo_pdf,
)
from web.views.base import PageView


def pdf_response(request, data: bytes, filename: str) -> HttpResponse:
    """The PDF inline, or as an attachment when the request asks ?download=1."""
    response = HttpResponse(data, content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


class CreditMemoPdfView(PageView):
    """A credit memo's PDF (any signed-in user may read it)."""

    def get(self, request, *args, **kwargs):
        memo = get_object_or_404(CreditMemo, pk=kwargs["pk"])
        return pdf_response(request, render_credit_memo_pdf(memo), credit_memo_pdf_filename(memo))


class DebitMemoPdfView(PageView):
    """A debit memo's PDF (any signed-in user may read it)."""

    def get(self, request, *args, **kwargs):
        memo = get_object_or_404(DebitMemo, pk=kwargs["pk"])
        return pdf_response(request, render_debit_memo_pdf(memo), debit_memo_pdf_filename(memo))
