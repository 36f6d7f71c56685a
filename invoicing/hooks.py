"""After-commit hook points of the invoice lifecycle.

Posting calls `invoices_posted(ids)` through `transaction.on_commit`, so receivers run only
once the posting transaction has committed (never for a rolled-back posting). Receivers are
plain callables registered by the features that need them (PDF rendering, email), each
taking a list of invoice ids; they must be quick (enqueue a Celery task) and idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

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
