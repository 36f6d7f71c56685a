"""Idempotency keys for API POSTs.

A client that may retry a POST sends an `Idempotency-Key` header (any unique string up to 255
printable characters, e.g. a UUID). For one user and one key:

- the first request runs and its response (status, body, content type) is stored;
- the same key with the same method, path and body returns the stored response again, with
  the header `Idempotent-Replayed: true`, and runs nothing (so nothing is created twice);
- the same key with another method, path or body is refused: 409 `idempotency_key_reused`;
- while the first request is still running, a second one is refused: 409
  `idempotency_key_in_progress` (retry a moment later to receive the stored response).

Concurrency: the key's row is inserted *before* the request runs, under the unique
(user, key) constraint, in its own transaction. Of two simultaneous requests exactly one
insert succeeds; the other sees the row and never runs the view.

Responses that say the request did not run (401, 403, 429) or failed on the server (5xx)
are not stored: the row is deleted so that a retry with the same key runs. A key whose first
request died without answering (the process was killed) is taken over after LOCK_TIMEOUT.
Keys are kept for KEY_TTL (24 hours) and purged on write.

The middleware applies to POSTs under API_PREFIX; it authenticates the request with the REST
framework's authentication classes (token, session) only to know whose key it is, and lets
unauthenticated requests through to the view, which answers 401.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework import exceptions as drf_exceptions
from rest_framework.request import Request
from rest_framework.settings import api_settings

from core.models import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
API_PREFIX = "/api/v1/"
KEY_TTL = dt.timedelta(hours=24)
LOCK_TIMEOUT = dt.timedelta(minutes=15)
MAX_KEY_LENGTH = 255
# Statuses that mean the request did not run, or failed: never replayed.
_NOT_STORED = {401, 403, 429}

HEADER_DESCRIPTION = (
    "Any unique string (a UUID). A retry with the same key and body returns the first response "
    "and creates nothing; the same key with another body is refused with 409 "
    "idempotency_key_reused. Keys are kept 24 hours."
)


def schema_add_idempotency_header(result, generator, request, public):
    """drf-spectacular postprocessing hook: document the header on every API POST."""
    for path, item in result.get("paths", {}).items():
        post = item.get("post")
        if post is None or not path.startswith(API_PREFIX):
            continue
        parameters = post.setdefault("parameters", [])
        if not any(p.get("in") == "header" and p.get("name") == HEADER for p in parameters):
            parameters.append(
                {
                    "in": "header",
                    "name": HEADER,
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
                    "description": HEADER_DESCRIPTION,
                }
            )
    return result


def _error(status: int, code: str, message: str, details: dict | None = None) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "details": details or {}}, status=status)


def request_fingerprint(body: bytes, content_type: str) -> str:
    """SHA-256 of the body; JSON bodies are canonicalised first (key order, spacing)."""
    if content_type.startswith("application/json") and body:
        with contextlib.suppress(ValueError):
            body = json.dumps(
                json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
    return hashlib.sha256(body).hexdigest()


def idempotency_keys_purge(*, now: dt.datetime | None = None) -> int:
    """Delete keys older than KEY_TTL; returns how many."""
    cutoff = (now or timezone.now()) - KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _user_of(request: HttpRequest):
    """The API user of the request, or None (unauthenticated, or the credentials fail)."""
    drf_request = Request(
        request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
    )
    try:
        user = drf_request.user
    except drf_exceptions.APIException:
        return None
    return user if user is not None and user.is_authenticated else None


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return _error(
                400,
                "invalid",
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters, e.g. a UUID.",
                {HEADER: ["Use 1 to 255 printable characters."]},
            )
        try:
            body = request.body  # read (and cached) before anything parses the stream
        except RequestDataTooBig:
            return self.get_response(request)
        user = _user_of(request)
        if user is None:
            return self.get_response(request)

        fingerprint = request_fingerprint(body, request.content_type or "")
        path = request.get_full_path()[:500]
        row, answer = self._claim(user, key, request.method, path, fingerprint)
        if answer is not None:
            return answer
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyKey.objects.filter(pk=row.pk).delete()
            raise
        self._store(row, response)
        return response

    # --- claiming the key -----------------------------------------------------------------

    def _claim(self, user, key: str, method: str, path: str, fingerprint: str):
        """Insert the key's row (this request runs it), or answer from the existing row."""
        now = timezone.now()
        idempotency_keys_purge(now=now)
        for _ in range(3):
            try:
                with transaction.atomic():
                    row = IdempotencyKey.objects.create(
                        user=user,
                        key=key,
                        method=method,
                        path=path,
                        request_hash=fingerprint,
                        created_at=now,
                        locked_at=now,
                    )
                return row, None
            except IntegrityError:
                existing = IdempotencyKey.objects.filter(user=user, key=key).first()
            if existing is None:
                continue  # purged or released meanwhile: try the insert again
            if (existing.method, existing.path, existing.request_hash) != (
                method,
                path,
                fingerprint,
            ):
                return None, _error(
                    409,
                    "idempotency_key_reused",
                    f"The {HEADER} '{key}' was already used for another request "
                    f"({existing.method} {existing.path} with a different body). Use a new key "
                    "for a new request.",
                    {"key": key, "first_request": f"{existing.method} {existing.path}"},
                )
            if existing.response_status is not None:
                return None, self._replay(existing)
            # Still running, or abandoned by a process that died: take an abandoned key over
            # with a compare-and-set, so only one retry wins.
            stale = now - LOCK_TIMEOUT
            taken = IdempotencyKey.objects.filter(
                pk=existing.pk, response_status__isnull=True, locked_at__lt=stale
            ).update(locked_at=now)
            if taken:
                existing.locked_at = now
                return existing, None
            return None, _error(
                409,
                "idempotency_key_in_progress",
                f"A request with the {HEADER} '{key}' is still being processed. Retry in a "
                "moment to receive its response.",
                {"key": key},
            )
        return None, _error(
            409,
            "idempotency_key_in_progress",
            f"The {HEADER} '{key}' is contended; retry in a moment.",
            {"key": key},
        )

    @staticmethod
    def _replay(row: IdempotencyKey) -> HttpResponse:
        response = HttpResponse(
            bytes(row.response_body),
            status=row.response_status,
            content_type=row.response_content_type or "application/json",
        )
        response[REPLAYED_HEADER] = "true"
        return response

    @staticmethod
    def _store(row: IdempotencyKey, response: HttpResponse) -> None:
        status = response.status_code
        if response.streaming or status >= 500 or status in _NOT_STORED:
            IdempotencyKey.objects.filter(pk=row.pk).delete()
            return
        IdempotencyKey.objects.filter(pk=row.pk).update(
            response_status=status,
            response_body=response.content,
            response_content_type=response.get("Content-Type", ""),
        )
