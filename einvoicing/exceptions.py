"""E-invoicing's domain errors (the one error shape: code, message, details)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.exceptions import Conflict, DomainError


class EInvoiceNotPosted(Conflict):
    code = "einvoice_not_posted"


class EInvoiceInvalid(DomainError):
    """The document's e-invoice fails the rules: the message names the first rule and its
    fix; the details list every fatal finding."""

    code = "einvoice_invalid"
    status_code = 422

    @classmethod
    def of(cls, document: Any, fmt: str, findings: Sequence[Any]) -> EInvoiceInvalid:
        first = findings[0]
        fix = f" Fix: {first.fix}" if first.fix else ""
        more = (
            f" ({len(findings) - 1} more finding(s) in the details.)" if len(findings) > 1 else ""
        )
        return cls(
            f"{document} fails the e-invoice rules ({fmt}): {first.rule}: {first.message}{fix}"
            f"{more}",
            details={"format": fmt, "findings": [f.as_dict() for f in findings]},
        )
