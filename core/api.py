"""The one API error shape: every /api/ error is {"code", "message", "details"}, whatever DEBUG
is. Views answer through `exception_handler` (the REST framework's handler); what never reaches
a view (no route matches, the int converter refuses the id) answers through `api_not_found`
(the catch-all route of /api/) and Django's handler404/handler500/handler403/handler400
(config/urls.py), which answer JSON under /api/ and Django's HTML pages elsewhere.

The limits every /api/ request meets:

- before any view or parser reads it (`ApiRequestLimitsMiddleware`): a body over
  DATA_UPLOAD_MAX_MEMORY_SIZE is 413 `request_too_large`; a JSON body nested deeper than
  LEDGERLINE["API_MAX_JSON_DEPTH"] is 400 `invalid` (Python's JSON parser would otherwise
  recurse until RecursionError);
- the parsers (`JSONParser`, `FormParser`, `MultiPartParser`, the REST framework's defaults):
  a string anywhere in the body
  holding a control character (U+0000 to U+001F but tab, newline and carriage return; U+007F)
  or a non-character (a lone surrogate, U+FFFE, U+FFFF) is 400 `invalid` naming its path, so
  no stored text carries one into a PDF, a CSV or an e-invoice's XML (which cannot hold it).
  The rule and its message are core/text.py's, which every form shares.
"""

import logging
import re
from itertools import accumulate

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework import parsers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.exceptions import DomainError, django_validation_details
from core.text import CONTROL_CHARACTER_MESSAGE, control_character_paths

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
    """The REST framework's exception handler: every error in the one shape, as JSON whatever
    the view renders on success (the schema's YAML, the docs page's HTML)."""
    response = _exception_response(exc, context)
    request = (context or {}).get("request")
    if request is not None and not isinstance(
        getattr(request, "accepted_renderer", None), JSONRenderer
    ):
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


def _exception_response(exc, context) -> Response:
    if isinstance(exc, RequestDataTooBig):  # the body was read past the limit after all
        return Response(_too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, RecursionError):  # any input nested deeper than Python goes
        return Response(
            {"code": "invalid", "message": _too_deep_message(), "details": {}},
            status=status.HTTP_400_BAD_REQUEST,
        )
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


# --- Limits of every /api/ request -----------------------------------------------------------

DEFAULT_MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = [0] * 256
for _open in b"[{":
    _DEPTH_STEP[_open] = 1
for _close in b"]}":
    _DEPTH_STEP[_close] = -1


def max_request_bytes() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def max_json_depth() -> int:
    return settings.LEDGERLINE.get("API_MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH)


def json_depth(body: bytes) -> int:
    """How deep a JSON text nests arrays and objects, counted without parsing it (so without
    recursion): the brackets outside strings, in C-speed passes."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _too_large_body() -> dict:
    limit = max_request_bytes()
    return {
        "code": "request_too_large",
        "message": f"The request body is larger than the {limit:,} bytes an API request may "
        "carry; send less at once (e.g. one invoice per ingest request).",
        "details": {"max_bytes": limit},
    }


def _too_deep_message() -> str:
    return (
        f"The JSON body nests arrays and objects more than {max_json_depth()} levels deep; no "
        "API input is nested that deep."
    )


class ApiRequestLimitsMiddleware:
    """Refuses an /api/ request whose body is too large (413, by its Content-Length, before
    the body is read) or whose JSON nests too deep (400), in the error shape. Placed before the
    idempotency middleware, which reads and parses the body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_path(request.path_info):
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return api_error(400, "bad_request", "The Content-Length header is not a number.")
        if length > max_request_bytes():
            body = _too_large_body()
            return api_error(413, body["code"], body["message"], body["details"])
        if length and "json" in (request.content_type or ""):
            depth = json_depth(request.body)
            if depth > max_json_depth():
                return api_error(
                    400,
                    "invalid",
                    _too_deep_message(),
                    {"non_field_errors": [f"Nested {depth} levels deep."]},
                )
        return self.get_response(request)


# --- The JSON parser ---------------------------------------------------------------------------


class _RefuseControlCharacters:
    """A parser whose parsed strings may hold no control character (module docstring)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)  # type: ignore[misc]
        data = getattr(parsed, "data", parsed)  # multipart: data and files
        if hasattr(data, "lists"):  # a QueryDict: every value of every key
            data = dict(data.lists())
        paths = control_character_paths(data)
        if paths:
            raise drf_exceptions.ValidationError({p: [CONTROL_CHARACTER_MESSAGE] for p in paths})
        return parsed


class JSONParser(_RefuseControlCharacters, parsers.JSONParser):
    pass


class FormParser(_RefuseControlCharacters, parsers.FormParser):
    pass


class MultiPartParser(_RefuseControlCharacters, parsers.MultiPartParser):
    pass
