"""After-commit hook points of the invoice lifecycle.

Posting calls `invoices_posted(ids)` through `transaction.on_commit`, so receivers run only
once the posting transaction has committed (never for a rolled-back posting). Receivers are
plain callables registered by the features that need them (PDF rendering, email), each
taking a list of invoice ids; they must be quick (enqueue a Celery task) and idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

_posted_receivers: list[Callable[[list[int]], None]] = []


def on_invoices_posted(receiver: Callable[[list[int]], None]) -> Callable[[list[int]], None]:
    """Register a receiver (usable as a decorator)."""
    if receiver not in _posted_receivers:
        _posted_receivers.append(receiver)
    return receiver


def invoices_posted(invoice_ids: list[int]) -> None:
    for receiver in list(_posted_receivers):
        try:
            receiver(invoice_ids)
        except Exception:  # a failing side effect never undoes a committed posting
            logger.exception("invoices_posted receiver %r failed", receiver)


# --- fields added to the invoice's API representation ----------------------------------------
#
# API.md's invoice resource carries fields computed elsewhere: the receivable figures
# (invoicing.receivables) and `dunning` and `disputed`, which the dunning app (a layer above
# invoicing) owns. Each registers at start-up a reader giving {invoice id: {field: value}}
# for a batch of invoices (one query per batch, not per invoice); a writable field (PATCH
# `disputed`) also registers its writer, which calls a service.

InvoiceFieldsReader = Callable[[list[Any]], dict[int, dict[str, Any]]]
InvoiceFieldWriter = Callable[..., None]

_invoice_field_readers: list[InvoiceFieldsReader] = []
_invoice_field_writers: dict[str, InvoiceFieldWriter] = {}


def invoice_api_fields(
    reader: InvoiceFieldsReader, writers: dict[str, InvoiceFieldWriter] | None = None
) -> None:
    """Register a reader of some invoice API fields, and the writers
    (`writer(invoice_id=…, value=…, reason=…, actor=…)`) of those PATCH may change."""
    if reader not in _invoice_field_readers:
        _invoice_field_readers.append(reader)
    _invoice_field_writers.update(writers or {})


def invoice_api_values(invoices: list[Any]) -> dict[int, dict[str, Any]]:
    """{invoice id: {field: value}} of every registered field, for these invoices."""
    out: dict[int, dict[str, Any]] = {invoice.pk: {} for invoice in invoices}
    for reader in _invoice_field_readers:
        values = reader(invoices)
        for invoice in invoices:
            out[invoice.pk].update(values.get(invoice.pk, {}))
    return out


def invoice_api_writable() -> dict[str, InvoiceFieldWriter]:
    return dict(_invoice_field_writers)
