"""What the invoicing commands share to read their arguments: a document named by its number
or its id, and a --date option."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError
from django.db.models import Model, Q

from core.exceptions import DomainError, ValidationError


def document_pk(model: type[Model], ref: str, label: str) -> int:
    """The id of the `model` row whose number or id is `ref`; a CommandError naming `label`
    when there is none."""
    match = Q(number=ref) | (Q(pk=int(ref)) if ref.isdigit() else Q(pk__in=[]))
    pk = model._default_manager.filter(match).values_list("pk", flat=True).first()
    if pk is None:
        raise CommandError(f"No {label} with number or id '{ref}'.")
    return pk


def date_option(text: str | None, option: str = "--date") -> dt.date | None:
    """A YYYY-MM-DD option's date (None when not given)."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date: use YYYY-MM-DD.") from None


def service_error(exc: DomainError) -> CommandError:
    """A service's refusal as a command error: `[invalid] path: message; …` for bad input
    (every problem, by its path), else `[code] message`."""
    if isinstance(exc, ValidationError):
        return CommandError(
            "[invalid] " + "; ".join(f"{path}: {' '.join(m)}" for path, m in exc.details.items())
        )
    return CommandError(f"[{exc.code}] {exc.message}")
