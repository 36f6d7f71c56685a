"""Plain create / update / delete services for records with no rules beyond their model's.

Every write is validated with `full_clean()` (field, unique and constraint checks) and refused
with the fields named; deleting a record that others still use answers 409 `in_use` naming
them. Records with rules of their own (accounts, orders, invoices) have their own services.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction

from core.exceptions import Conflict, ValidationError, django_validation_details

M = TypeVar("M", bound=models.Model)


class InUse(Conflict):
    code = "in_use"


def full_clean_or_raise(obj: models.Model, *, prefix: str = "", exclude=None) -> None:
    """full_clean(), its errors re-raised as a domain ValidationError (`prefix` + field)."""
    try:
        obj.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        details = django_validation_details(exc)
        raise ValidationError({f"{prefix}{k}": v for k, v in details.items()})


def save_or_conflict(obj: models.Model, **save_kwargs: Any) -> None:
    """save(); a unique value taken by a concurrent writer since full_clean() is a 409."""
    try:
        with transaction.atomic():
            obj.save(**save_kwargs)
    except IntegrityError as exc:
        raise Conflict(
            f"The {obj._meta.verbose_name} conflicts with another record written at the same "
            "time (a unique value was taken). Reload and retry.",
            details={"error": str(exc).splitlines()[0]},
        )


def instance_create(model: type[M], /, **fields: Any) -> M:
    obj = model(**fields)
    full_clean_or_raise(obj)
    save_or_conflict(obj)
    return obj


def instance_update(instance: M, /, **fields: Any) -> M:
    """Set the given fields, validate, and save only them."""
    for name, value in fields.items():
        setattr(instance, name, value)
    full_clean_or_raise(instance)
    update_fields = [instance._meta.get_field(name).attname for name in fields]
    if any(f.name == "updated_at" for f in instance._meta.concrete_fields):
        update_fields.append("updated_at")
    if update_fields:
        save_or_conflict(instance, update_fields=update_fields)
    return instance


def instance_delete(instance: models.Model, /) -> None:
    """Delete, or refuse with 409 `in_use` naming what still refers to the record."""
    try:
        with transaction.atomic():
            instance.delete()
    except (models.ProtectedError, models.RestrictedError) as exc:
        blockers = list(exc.protected_objects if hasattr(exc, "protected_objects") else [])
        blockers = blockers or list(getattr(exc, "restricted_objects", []))
        kinds = sorted({str(b._meta.verbose_name_plural) for b in blockers})
        raise InUse(
            f"{instance._meta.verbose_name.capitalize()} '{instance}' is still used by "
            f"{', '.join(kinds) or 'other records'}; it cannot be deleted. Deactivate it "
            "instead, or delete those records first.",
            details={"used_by": kinds},
        )
