"""Billing domain errors."""

from core.exceptions import Conflict, DomainError


class OrderNotDraft(Conflict):
    code = "order_not_draft"


class OrderInvalid(DomainError):
    code = "order_invalid"
