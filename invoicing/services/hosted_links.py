"""Customer links: the signed, expiring address at which a customer opens a posted document
(an invoice, a credit memo, a debit memo) without a staff login. The pages are portal/'s;
the invoice email's {link} and the API's `hosted_url` are made here.

The token is `django.core.signing.dumps([kind, id, number])` with the salt `SALT`: a
TimestampSigner signature (HMAC-SHA256 of SECRET_KEY) over the payload and the moment the
link was made. The salt keeps the project's other signed values from ever passing for a
link, and a link from passing for anything else. The payload is readable base64 JSON, not a
secret: it names a document its recipient already has. What makes a link unguessable is the
signature, so a link whose id (or any character) is edited opens nothing. Keys: a link made
under a key in SECRET_KEY_FALLBACKS still opens; removing the key invalidates its links.

- kind: "invoice", "credit_memo" or "debit_memo"; the number pins the link to its document
  (an unnumbered memo signs ""), so after a database restore or re-seed a link never opens
  another document that took the same id.
- Which documents get a link: posted ones. Invoices once posted (posted, void in progress,
  voided), credit memos once posted, debit memos posted or invoiced. A draft or a canceled
  debit memo is refused (HostedLinkUnavailable); a link to a document that has since left
  those statuses opens nothing (HostedLinkInvalid).
- A void does not invalidate the links of an invoice, on purpose: the customer holding the
  email must learn that the invoice is voided and which credit memo credited it, and the
  page says so. A link always shows the document as it is now (payments, credits, void).
- Expiry: a link opens its page for LEDGERLINE["HOSTED_LINK_MAX_AGE_DAYS"] days (default
  90) after it was made; every email, API read and staff page view makes a fresh one. An
  expired link is HostedLinkExpired (the page answers 410 and asks the customer to request
  a new link from the seller), a bad one HostedLinkInvalid (404).
- Absolute links start with LEDGERLINE["PUBLIC_BASE_URL"] (default: the site's own URL).

Making and resolving a link write nothing. The PDF of an invoice is its stored current
document (invoicing.services.documents), rendered and stored first when missing; a memo's is
rendered on request (invoicing.pdf).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from invoicing.exceptions import HostedLinkExpired, HostedLinkInvalid, HostedLinkUnavailable
from invoicing.models import CreditMemo, DebitMemo, Invoice, InvoiceStatus
from invoicing.pdf import (
    credit_memo_pdf_filename,
    debit_memo_pdf_filename,
    render_credit_memo_pdf,
    render_debit_memo_pdf,
)
from invoicing.services.documents import invoice_pdf_bytes

SALT = "ledgerline.hosted-document-link"

HostedDocument = Invoice | CreditMemo | DebitMemo

INVOICE = "invoice"
CREDIT_MEMO = "credit_memo"
DEBIT_MEMO = "debit_memo"

# The statuses in which a document has a customer link.
LINKED_STATUSES: dict[str, frozenset[str]] = {
    INVOICE: frozenset(
        {InvoiceStatus.POSTED, InvoiceStatus.VOID_IN_PROGRESS, InvoiceStatus.VOIDED}
    ),
    CREDIT_MEMO: frozenset(
        s for s in CreditMemo.Status.values if s != CreditMemo.Status.DRAFT
    ),  # posted, and any later state of a posted memo
    DEBIT_MEMO: frozenset({DebitMemo.Status.POSTED, DebitMemo.Status.INVOICED}),
}

_LABELS = {INVOICE: "invoice", CREDIT_MEMO: "credit memo", DEBIT_MEMO: "debit memo"}


@dataclass(frozen=True)
class HostedLink:
    token: str
    url: str  # absolute, under PUBLIC_BASE_URL
    expires_at: dt.datetime


def document_kind(document: HostedDocument) -> str:
    if isinstance(document, Invoice):
        return INVOICE
    if isinstance(document, CreditMemo):
        return CREDIT_MEMO
    if isinstance(document, DebitMemo):
        return DEBIT_MEMO
    raise TypeError(f"No customer link for a {type(document).__name__}.")


def max_age() -> dt.timedelta:
    days = settings.LEDGERLINE.get("HOSTED_LINK_MAX_AGE_DAYS", 90)
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise ImproperlyConfigured(
            f'LEDGERLINE["HOSTED_LINK_MAX_AGE_DAYS"] is {days!r}: give a whole number of days, '
            "1 or more (environment variable LEDGERLINE_HOSTED_LINK_MAX_AGE_DAYS)."
        )
    return dt.timedelta(days=days)


def public_base_url() -> str:
    return str(settings.LEDGERLINE.get("PUBLIC_BASE_URL") or settings.LEDGERLINE["SITE_URL"])


def hosted_link_available(document: HostedDocument) -> bool:
    """Whether the document has a customer link (it is posted)."""
    return document.status in LINKED_STATUSES[document_kind(document)]


def hosted_link_token(document: HostedDocument) -> str:
    """A fresh signed token for a posted document; HostedLinkUnavailable for a draft."""
    kind = document_kind(document)
    if not hosted_link_available(document):
        label = _LABELS[kind]
        status = document.get_status_display().lower()
        raise HostedLinkUnavailable(
            f"{document} is {status}: only a posted {label} has a customer link. "
            f"Post the {label} first.",
            details={"document": kind, "id": document.pk, "status": document.status},
        )
    return signing.dumps([kind, document.pk, document.number or ""], salt=SALT)


def hosted_link_path(token: str) -> str:
    return reverse("portal:document", args=[token])


def hosted_link(document: HostedDocument) -> HostedLink:
    """The document's customer link: token, absolute URL and when it stops opening."""
    token = hosted_link_token(document)
    return HostedLink(
        token=token,
        url=public_base_url().rstrip("/") + hosted_link_path(token),
        expires_at=timezone.now() + max_age(),
    )


def hosted_link_url(document: HostedDocument) -> str:
    """The absolute customer link of a posted document (see the module docstring)."""
    return hosted_link(document).url


def hosted_document_resolve(token: str) -> HostedDocument:
    """The document a link names. HostedLinkExpired for a genuine link past its age,
    HostedLinkInvalid for anything else that does not open a document (a bad signature, a
    changed number, a document gone or back to a status without a link)."""
    try:
        payload: Any = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise _expired(token)
    except signing.BadSignature:
        raise HostedLinkInvalid("This link is not valid.")
    if not (
        isinstance(payload, list)
        and len(payload) == 3
        and payload[0] in LINKED_STATUSES
        and isinstance(payload[1], int)
        and isinstance(payload[2], str)
    ):
        raise HostedLinkInvalid("This link is not valid.")
    kind, pk, number = payload
    document = _document_get(kind, pk)
    if (
        document is None
        or (document.number or "") != number
        or document.status not in LINKED_STATUSES[kind]
    ):
        raise HostedLinkInvalid("This link is not valid.")
    return document


def hosted_document_pdf(document: HostedDocument) -> tuple[bytes, str]:
    """The PDF a hosted page offers and its file name (the document's number). An invoice
    serves its stored current document (rendered and stored first when there is none); a
    memo is rendered on request (invoicing.pdf), as the staff doors do."""
    if isinstance(document, Invoice):
        return invoice_pdf_bytes(invoice_id=document.pk)
    if isinstance(document, CreditMemo):
        return render_credit_memo_pdf(document), credit_memo_pdf_filename(document)
    return render_debit_memo_pdf(document), debit_memo_pdf_filename(document)


def _document_get(kind: str, pk: int) -> HostedDocument | None:
    if kind == INVOICE:
        return Invoice.objects.filter(pk=pk).first()
    if kind == CREDIT_MEMO:
        return CreditMemo.objects.filter(pk=pk).first()
    return DebitMemo.objects.filter(pk=pk).first()


def _expired(token: str) -> HostedLinkExpired:
    """The error of a genuine but expired link, naming what it opened and who to ask for a
    new one (the signature is genuine: the holder was given this document)."""
    days = max_age().days
    details: dict[str, Any] = {"max_age_days": days}
    payload = signing.loads(token, salt=SALT)
    document = (
        _document_get(payload[0], payload[1])
        if isinstance(payload, list) and len(payload) == 3 and payload[0] in LINKED_STATUSES
        else None
    )
    if document is not None and (document.number or "") == payload[2]:
        seller = document.legal_entity or document.account.legal_entity
        details.update(
            document=payload[0],
            label=_LABELS[payload[0]],
            number=document.number or "",
            seller=seller.name if seller is not None else "",
            seller_email=seller.email if seller is not None else "",
        )
    return HostedLinkExpired(
        f"This link has expired: links to documents open for {days} days. "
        "Ask the seller for a new link.",
        details=details,
    )
