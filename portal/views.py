"""The customer's hosted document pages: the page of the one document a signed link names,
and its PDF. No login, and nothing else is reachable from them: no navigation, no link but
the PDF download of the same document; any other address (an edited token) is a 404.

The pages are rendered without the request (no context processors), so they never read or
write the session or set a cookie; they are not cached (no-store), not indexed (noindex),
send no Referer onwards (no-referrer), and load nothing from anywhere (CSP). Links are made
and resolved by invoicing.services.hosted_links.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from core.exceptions import DomainError
from einvoicing.services import FORMATS, credit_memo_einvoice_render, invoice_einvoice_render
from invoicing.exceptions import HostedLinkExpired, HostedLinkInvalid
from invoicing.models import CreditMemo, Invoice
from invoicing.services.hosted_links import (
    HostedDocument,
    hosted_document_pdf,
    hosted_document_resolve,
    max_age,
)
from portal.pages import page_for

SECURITY_HEADERS = {
    "X-Robots-Tag": "noindex, nofollow, noarchive",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store, private",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
}


def hosted(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET and HEAD only (anything else is 405; no CSRF check, as nothing is ever written);
    the headers above on every answer, errors included."""
    safe_view = require_safe(view)

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = safe_view(request, *args, **kwargs)
        for name, value in SECURITY_HEADERS.items():
            response[name] = value
        return response

    return wrapped


def _page(template: str, context: dict, *, status: int = 200) -> HttpResponse:
    return HttpResponse(render_to_string(template, context), status=status)


def _resolve(token: str) -> HostedDocument | HttpResponse:
    """The document, or the page saying why the link opens nothing."""
    try:
        return hosted_document_resolve(token)
    except HostedLinkExpired as exc:
        context = {"max_age_days": exc.details.get("max_age_days"), **exc.details}
        context["document_label"] = exc.details.get("label", "")
        return _page("portal/expired.html", context, status=410)
    except HostedLinkInvalid:
        return _page("portal/not_found.html", {}, status=404)


@hosted
def document_page(request: HttpRequest, token: str) -> HttpResponse:
    document = _resolve(token)
    if isinstance(document, HttpResponse):
        return document
    return _page(
        "portal/document.html",
        {
            "page": page_for(document),
            "pdf_url": reverse("portal:document_pdf", args=[token]),
            "einvoice": _einvoice_format(document),
            "einvoice_url": reverse("portal:document_einvoice", args=[token]),
            "max_age_days": max_age().days,
        },
    )


def _einvoice_format(document: HostedDocument):
    """The customer's e-invoice format, for an invoice or a credit memo whose account has
    one (a debit memo has no e-invoice of its own: it is billed on an invoice)."""
    if isinstance(document, Invoice | CreditMemo) and document.account.einvoice_format:
        return FORMATS[document.account.einvoice_format]
    return None


@hosted
def document_einvoice(request: HttpRequest, token: str) -> HttpResponse:
    document = _resolve(token)
    if isinstance(document, HttpResponse):
        return document
    if _einvoice_format(document) is None:
        return _page("portal/not_found.html", {}, status=404)
    render = (
        invoice_einvoice_render if isinstance(document, Invoice) else (credit_memo_einvoice_render)
    )
    try:
        file = render(document.pk, None)
    except DomainError:
        message = (
            f"The e-invoice of {document} cannot be produced: please ask the seller for it. "
            "The PDF and this page show the document in full."
        )
        return _page("portal/unavailable.html", {"message": message}, status=503)
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = content_disposition_header(True, file.filename)
    return response


@hosted
def document_pdf(request: HttpRequest, token: str) -> HttpResponse:
    document = _resolve(token)
    if isinstance(document, HttpResponse):
        return document
    try:
        data, filename = hosted_document_pdf(document)
    except DomainError:
        # The rendering service recorded the failure (an ErrorLog row staff see); the
        # customer gets no internal detail.
        message = (
            f"The PDF of {document} could not be produced just now. The seller has been "
            "notified; the page itself shows the document in full."
        )
        return _page("portal/unavailable.html", {"message": message}, status=503)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
