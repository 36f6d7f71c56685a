"""E-invoicing's hooks into the invoice lifecycle (registered at start-up by apps.py):
the posting gate (invoicing.hooks.posting_check) and the e-invoice attached to the invoice
email (invoicing.hooks.email_attachments)."""

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


def _email_attachment(invoice: Any) -> list[hooks.EmailAttachment]:
    """The invoice's e-invoice, in the account's format, when the account asks for it
    (einvoice_attach with an einvoice_format); nothing otherwise. A failure (a document EN
    16931 cannot express) is raised: the email service sends without it and logs it."""
    account = invoice.account
    if not (account.einvoice_attach and account.einvoice_format):
        return []
    from einvoicing.services import invoice_einvoice_render

    file = invoice_einvoice_render(invoice.pk)
    return [hooks.EmailAttachment(file.filename, file.content, file.content_type)]


def register() -> None:
    hooks.posting_check(_gate)
    hooks.email_attachments(_email_attachment)
