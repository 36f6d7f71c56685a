"""Domain errors. Each carries a stable code, a message that says how to fix it, and details.

The API's exception handler, the admin and the web UI all show the same message.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError


class DomainError(Exception):
    code = "domain_error"
    status_code = 400

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details if details is not None else {}

    def __str__(self) -> str:
        return self.message


class ValidationError(DomainError):
    """Bad input. `details` maps a field or record path (`items[2].quantity`) to messages."""

    code = "invalid"

    def __init__(
        self, errors: Mapping[str, Sequence[str] | str], message: str | None = None
    ) -> None:
        details = {k: [v] if isinstance(v, str) else list(v) for k, v in errors.items()}
        if message is None:
            first_path, first_msgs = next(iter(details.items()))
            message = f"{first_path}: {first_msgs[0]}"
            if len(details) > 1:
                message += f" (and {len(details) - 1} more)"
        super().__init__(message, details=details)


class NotFound(DomainError):
    code = "not_found"
    status_code = 404


class Conflict(DomainError):
    code = "conflict"
    status_code = 409


def django_validation_details(exc: DjangoValidationError) -> dict[str, list[str]]:
    """Flatten a django.core.exceptions.ValidationError into {path: [messages]}."""
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if k == "__all__" else k): [m for e in v for m in e.messages]
            for k, v in exc.error_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}
