"""E-invoices in the staff UI: download an invoice's or a credit memo's e-invoice (the
account's format, or the one chosen), and check it against the EN 16931 rules (drafts
included) on a page that lists every finding with the data to fix. Any signed-in user may
read them; both call einvoicing.services."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from core.exceptions import DomainError
from einvoicing.services import (
    FORMATS,
    credit_memo_einvoice_check,
    credit_memo_einvoice_render,
    einvoice_format,
    invoice_einvoice_check,
    invoice_einvoice_render,
)
from invoicing.models import CreditMemo, Invoice
from web.views.base import PageView


def file_response(file) -> HttpResponse:
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    return response


class _EInvoiceDownload(PageView):
    model: type = Invoice
    render = staticmethod(invoice_einvoice_render)
    back = "web:invoice_detail"

    def back_url(self, document) -> str:
        return reverse(self.back, args=[document.pk])

    def get(self, request, *args, **kwargs):
        document = get_object_or_404(self.model, pk=kwargs["pk"])
        try:
            file = type(self).render(document.pk, request.GET.get("format") or None)
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(self.back_url(document))
        return file_response(file)


class InvoiceEInvoiceView(_EInvoiceDownload):
    """A posted invoice's e-invoice file."""


class CreditMemoEInvoiceView(_EInvoiceDownload):
    """A posted credit memo's e-invoice (an EN 16931 credit note)."""

    model = CreditMemo
    render = staticmethod(credit_memo_einvoice_render)

    def back_url(self, document) -> str:
        if document.invoice_id:
            return reverse("web:invoice_detail", args=[document.invoice_id])
        return reverse("web:account_detail", args=[document.account_id])


class _EInvoiceCheck(PageView):
    template_name = "web/einvoices/check.html"
    nav = "invoices"
    model: type = Invoice
    check = staticmethod(invoice_einvoice_check)
    download = "web:invoice_einvoice"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        document = get_object_or_404(self.model, pk=kwargs["pk"])
        requested = self.request.GET.get("format") or None
        result = error = None
        try:
            fmt = einvoice_format(document, requested)
            result = type(self).check(document.pk, fmt.key)
        except DomainError as exc:
            fmt, error = None, exc.message
        invoice = document if isinstance(document, Invoice) else document.invoice
        context.update(
            document=document,
            invoice=invoice,
            kind="credit note" if isinstance(document, CreditMemo) else "invoice",
            formats=FORMATS.values(),
            chosen=fmt.key if fmt else requested,
            result=result,
            error=error,
            download=self.download,
            title=f"E-invoice check of {document}",
        )
        return context


class InvoiceEInvoiceCheckView(_EInvoiceCheck):
    """The findings of an invoice's e-invoice (a draft is checked with a provisional number)."""


class CreditMemoEInvoiceCheckView(_EInvoiceCheck):
    model = CreditMemo
    check = staticmethod(credit_memo_einvoice_check)
    download = "web:credit_memo_einvoice"
