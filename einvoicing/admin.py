"""The e-invoice actions of the invoice and credit memo admins:

- "Download e-invoice (account's format)": one document selected → its file; several → a zip
  of their files (a document that has none, a draft or one EN 16931 cannot express, is left
  out, named in `errors.txt` inside the zip and in a message);
- "Check e-invoice": a message per document with what the rules find (drafts included).

Both read only (the view permission suffices) and call the e-invoicing services. Invoicing's
admin knows nothing of e-invoicing (the layer above it): `admin_actions_attach()`, called by
EInvoicingConfig.ready() once the admin has registered its models, appends these actions to
the registered invoice and credit memo admins.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils.http import content_disposition_header

from core.exceptions import DomainError
from einvoicing.naming import unique_filename
from einvoicing.services import (
    Document,
    EInvoiceFile,
    credit_memos_for_einvoice,
    einvoice_check,
    einvoice_format,
    einvoice_render,
    invoices_for_einvoice,
)
from invoicing.models import CreditMemo, Invoice

CHUNK = 200  # documents read per query round
MAX_FINDINGS = 10  # findings spelled out per document in a message; the rest are counted


def _documents(modeladmin, queryset) -> Iterator[Document]:
    """The selected documents with what their e-invoice reads, in id order, a chunk at a time."""
    ids = list(queryset.order_by("id").values_list("pk", flat=True))
    load = credit_memos_for_einvoice if modeladmin.model is CreditMemo else invoices_for_einvoice
    for start in range(0, len(ids), CHUNK):
        yield from load(ids[start : start + CHUNK])


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _zip(files: list[EInvoiceFile], errors: list[str]) -> bytes:
    buffer = io.BytesIO()
    taken: set[str] = set()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.writestr(unique_filename(file.filename, taken), file.content)
        if errors:
            archive.writestr(unique_filename("errors.txt", taken), "\n".join(errors) + "\n")
    return buffer.getvalue()


@admin.action(description="Download e-invoice (account's format)", permissions=["view"])
def download_einvoices(modeladmin, request, queryset):
    selected = queryset.count()
    files: list[EInvoiceFile] = []
    errors: list[str] = []
    for document in _documents(modeladmin, queryset):
        try:
            files.append(einvoice_render(document, einvoice_format(document)))
        except DomainError as exc:
            errors.append(f"{document}: {exc.message}")
    for error in errors:
        modeladmin.message_user(request, error, messages.ERROR)
    if not files:
        return None
    if selected == 1:
        (file,) = files
        return _download(file.content, file.content_type, file.filename)
    kind = "credit-memo" if modeladmin.model is CreditMemo else "invoice"
    return _download(_zip(files, errors), "application/zip", f"{kind}-einvoices.zip")


def _findings_text(findings) -> str:
    shown = [
        f"{f.rule}: {f.message}" + (f" Fix: {f.fix}" if f.fix else "")
        for f in findings[:MAX_FINDINGS]
    ]
    more = len(findings) - len(shown)
    return "; ".join(shown) + (f"; and {more} more." if more else "")


@admin.action(description="Check e-invoice", permissions=["view"])
def check_einvoices(modeladmin, request, queryset):
    for document in _documents(modeladmin, queryset):
        try:
            fmt = einvoice_format(document)
            result = einvoice_check(document, fmt)
        except DomainError as exc:
            modeladmin.message_user(request, f"{document}: {exc.message}", messages.ERROR)
            continue
        warnings = [f for f in result.findings if not f.fatal]
        warned = (
            f" {len(warnings)} warning(s): {', '.join(sorted({f.rule for f in warnings}))}."
            if warnings
            else ""
        )
        if result.valid:
            modeladmin.message_user(
                request,
                f"{document} ({fmt.label}): passes the e-invoice rules.{warned}",
                messages.WARNING if warnings else messages.SUCCESS,
            )
        else:
            modeladmin.message_user(
                request,
                f"{document} ({fmt.label}): {len(result.fatal)} fatal finding(s): "
                f"{_findings_text(result.fatal)}{warned}",
                messages.ERROR,
            )


ACTIONS = (download_einvoices, check_einvoices)


def admin_actions_attach(site: admin.AdminSite | None = None) -> None:
    """Append the e-invoice actions to the registered invoice and credit memo admins (once)."""
    site = site or admin.site
    for model in (Invoice, CreditMemo):
        model_admin = site._registry.get(model)
        if model_admin is None:
            continue
        current = tuple(model_admin.actions or ())
        model_admin.actions = (*current, *(a for a in ACTIONS if a not in current))
