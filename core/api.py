"""The one API exception handler: every error is {"code", "message", "details"}."""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

from core.exceptions import DomainError, django_validation_details

logger = logging.getLogger(__name__)


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            # A list serializer's errors are a dict keyed by item index (DRF 3.15+).
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, path))
    elif isinstance(detail, list) and detail and not all(isinstance(d, str) for d in detail):
        for i, value in enumerate(detail):
            if value:
                out.update(_flatten(value, f"{prefix}[{i}]"))
    else:
        items = detail if isinstance(detail, list) else [detail]
        out[prefix or "non_field_errors"] = [str(d) for d in items]
    return out


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = {"code": exc.code, "message": exc.message, "details": exc.details}
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        details = django_validation_details(exc)
        return Response(
            {"code": "invalid", "message": _first_message(details), "details": details},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if isinstance(exc, drf_exceptions.ValidationError):
        details = _flatten(exc.detail)
        return Response(
            {"code": "invalid", "message": _first_message(details), "details": details},
            status=exc.status_code,
        )
    if isinstance(exc, drf_exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else exc.default_detail
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(
            {"code": code, "message": message, "details": {}},
            status=exc.status_code,
            headers=headers,
        )
    logger.exception("Unhandled API error", exc_info=exc)
    return Response(
        {
            "code": "server_error",
            "message": "An unexpected error occurred. It has been logged; retry or contact "
            "the administrator with the time of the request.",
            "details": {},
        },
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _first_message(details: dict[str, list[str]]) -> str:
    if not details:
        return "Invalid input."
    path, msgs = next(iter(details.items()))
    return f"{path}: {msgs[0]}" if path != "non_field_errors" else msgs[0]
