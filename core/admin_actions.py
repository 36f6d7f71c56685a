"""Helpers for admin actions that call a service and report its domain errors as messages."""

from collections.abc import Callable

from django.contrib import messages

from core.exceptions import DomainError


def run_service(modeladmin, request, label: str, call: Callable[[], object]):
    """Call a service; a DomainError becomes an error message with the service's own text."""
    try:
        return call()
    except DomainError as exc:
        modeladmin.message_user(request, f"{label}: {exc.message}", level=messages.ERROR)
        return None
