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


# --- fields other apps add to the invoice's API representation ---------------------------------
#
# API.md's invoice resource carries `dunning` and `disputed`, which the dunning app (a layer
# above invoicing) owns. It registers them here at start-up: a reader that gives each
# invoice's value for a batch of invoices (one query per batch, not per invoice), and for
# `disputed` a writer that PATCH calls (the dunning services open or resolve the dispute).

InvoiceFieldReader = Callable[[list[Any]], dict[int, Any]]
InvoiceFieldWriter = Callable[..., None]

_invoice_fields: dict[str, tuple[InvoiceFieldReader, InvoiceFieldWriter | None]] = {}


def invoice_api_field(
    name: str, reader: InvoiceFieldReader, writer: InvoiceFieldWriter | None = None
) -> None:
    """Register an invoice API field: `reader(invoices)` → {invoice id: value};
    `writer(invoice_id=…, value=…, actor=…)` makes PATCH change it (through a service)."""
    _invoice_fields[name] = (reader, writer)


_invoice_field_groups: list[Callable[[list[Any]], dict[int, dict[str, Any]]]] = []


def invoice_api_field_group(reader: Callable[[list[Any]], dict[int, dict[str, Any]]]) -> None:
    """Register a reader of several read-only fields at once: {invoice id: {field: value}}."""
    if reader not in _invoice_field_groups:
        _invoice_field_groups.append(reader)


def invoice_api_values(invoices: list[Any]) -> dict[int, dict[str, Any]]:
    """{invoice id: {field: value}} of every registered field, for these invoices."""
    out: dict[int, dict[str, Any]] = {invoice.pk: {} for invoice in invoices}
    for group in _invoice_field_groups:
        values = group(invoices)
        for invoice in invoices:
            out[invoice.pk].update(values.get(invoice.pk, {}))
    for name, (reader, _) in _invoice_fields.items():
        single = reader(invoices)
        for invoice in invoices:
            out[invoice.pk][name] = single.get(invoice.pk)
    return out


def invoice_api_writable() -> dict[str, InvoiceFieldWriter]:
    return {name: writer for name, (_, writer) in _invoice_fields.items() if writer is not None}
