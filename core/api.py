"""The one API error shape: every /api/ error is {"code", "message", "details"}, whatever DEBUG
is. Views answer through `exception_handler` (the REST framework's handler); what never reaches
a view (no route matches, the int converter refuses the id) answers through `api_not_found`
(the catch-all route of /api/) and Django's handler404/handler500/handler403/handler400
(config/urls.py), which answer JSON under /api/ and Django's HTML pages elsewhere.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

from core.exceptions import DomainError, django_validation_details

logger = logging.getLogger(__name__)

SERVER_ERROR_MESSAGE = (
    "An unexpected error occurred. It has been logged; retry or contact "
    "the administrator with the time of the request."
)


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
        {"code": "server_error", "message": SERVER_ERROR_MESSAGE, "details": {}},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _first_message(details: dict[str, list[str]]) -> str:
    if not details:
        return "Invalid input."
    path, msgs = next(iter(details.items()))
    return f"{path}: {msgs[0]}" if path != "non_field_errors" else msgs[0]


# --- Errors that never reach a view ----------------------------------------------------------


def is_api_path(path: str) -> bool:
    """Whether a request path is under /api/ (the paths whose errors are JSON)."""
    return path == "/api" or path.startswith("/api/")


def api_error(status_code: int, code: str, message: str, details: dict | None = None):
    """The error shape as a plain Django response (for answers given outside a DRF view)."""
    body = {"code": code, "message": message, "details": details or {}}
    return JsonResponse(body, status=status_code)


def _route_not_found(request: HttpRequest) -> JsonResponse:
    return api_error(
        404,
        "not_found",
        f"No API route matches {request.path}. The routes are listed in the schema at "
        "/api/schema/ (collections end with a slash, e.g. invoices/; an id and an action "
        "do not, e.g. invoices/12 and invoices/12/post).",
        {"path": request.path},
    )


@csrf_exempt
def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """The last route under /api/: no route matched. A route (not handler404) so that the answer
    is JSON with DEBUG on too, where Django shows its HTML debug page instead of handler404."""
    return _route_not_found(request)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: JSON under /api/, Django's page elsewhere."""
    if is_api_path(request.path_info):
        if exception is None or isinstance(exception, Resolver404):
            return _route_not_found(request)
        return api_error(404, "not_found", "Not found.", {"path": request.path})
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: JSON under /api/, Django's page elsewhere."""
    if is_api_path(request.path_info):
        return api_error(500, "server_error", SERVER_ERROR_MESSAGE)
    return defaults.server_error(request)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403: JSON under /api/, Django's page elsewhere."""
    if is_api_path(request.path_info):
        message = str(exception) if exception and str(exception) else "Permission denied."
        return api_error(403, "permission_denied", message)
    return defaults.permission_denied(request, exception)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: JSON under /api/, Django's page elsewhere."""
    if is_api_path(request.path_info):
        return api_error(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


# --- The last net: whatever else answers an /api/ request with a page --------------------------

_STATUS_CODES = {
    400: ("bad_request", "The request could not be understood."),
    403: ("permission_denied", "Permission denied."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("request_too_large", "The request body is too large."),
    500: ("server_error", SERVER_ERROR_MESSAGE),
}


class ApiErrorShapeMiddleware:
    """The outermost middleware: an /api/ error answered by anything but the handlers above
    (Django's debug pages with DEBUG on for an exception raised in a middleware, a refused Host
    header, a CSRF failure page) becomes the error shape. The page's content is dropped: with
    DEBUG on it is a traceback, which an API client must never receive."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_path(request.path_info)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            code, message = _STATUS_CODES.get(
                response.status_code, ("error", "The request failed.")
            )
            return api_error(response.status_code, code, message)
        return response
