"""The error log: one current row per (category, primary record, related record)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F

from invoicing.models import ErrorLog


def error_log_record(
    *,
    category: str,
    code: str,
    message: str,
    primary: models.Model,
    related: models.Model | None = None,
    request_id: str = "",
    **extra: Any,
) -> ErrorLog:
    """Record an error; a repeat of the same (category, primary, related) updates the row."""
    ct = ContentType.objects.get_for_model
    key = {
        "category": category,
        "primary_type": ct(primary),
        "primary_id": primary.pk,
        "related_type": ct(related) if related is not None else None,
        "related_id": related.pk if related is not None else None,
    }
    values = {"code": code, "message": message, "request_id": request_id, "is_resolved": False}
    values.update(extra)
    row, created = ErrorLog.objects.get_or_create(**key, defaults=values)
    if not created:
        ErrorLog.objects.filter(pk=row.pk).update(occurrences=F("occurrences") + 1, **values)
        row.refresh_from_db()
    return row


def error_logs_resolve(*, primaries: Sequence[models.Model], category: str | None = None) -> int:
    """Mark the open errors of these records resolved (after a successful retry)."""
    if not primaries:
        return 0
    ct = ContentType.objects.get_for_model(primaries[0])
    qs = ErrorLog.objects.filter(
        primary_type=ct, primary_id__in=[p.pk for p in primaries], is_resolved=False
    )
    if category:
        qs = qs.filter(category=category)
    return qs.update(is_resolved=True)
