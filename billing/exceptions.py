"""Billing domain errors."""

from core.exceptions import Conflict


class OrderNotDraft(Conflict):
    code = "order_not_draft"
