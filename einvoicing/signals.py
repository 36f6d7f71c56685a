"""E-invoicing's hooks into the invoice lifecycle (registered at start-up by apps.py):
the posting gate (invoicing.hooks.posting_check)."""

from __future__ import annotations

from typing import Any

from core.exceptions import DomainError
from invoicing import hooks


def _gate(invoices: list[Any]) -> dict[int, DomainError]:
    from einvoicing.services import invoices_einvoice_refusals

    return invoices_einvoice_refusals(invoices)


def _accounts(account_ids: set[int]) -> set[int]:
    from einvoicing.services import accounts_requiring_einvoice

    return accounts_requiring_einvoice(account_ids)


_gate.accounts = _accounts  # type: ignore[attr-defined]


def register() -> None:
    hooks.posting_check(_gate)
