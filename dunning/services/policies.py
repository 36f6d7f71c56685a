"""Dunning policies and their steps: one policy per legal entity, written with all its steps
in one call (the admin's inline, the API's nested `steps`, the staff UI's step rows).

A step is `{"days_after_due": int, "email_template": EmailTemplate | id | None}`: days after
the due date (negative: before it, within ±365), at most one step a day, the template active
(none: the built-in reminder). Sending `steps` on an update replaces the policy's steps: a
step of a day kept is updated in place, a day no longer listed is removed (its reminders keep
their day, so a step removed and added again is not sent again to the same invoice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from accounts.models import LegalEntity
from core.crud import full_clean_or_raise, save_or_conflict
from core.exceptions import ValidationError
from dunning.locks import dunning_policy_lock
from dunning.models import STEP_DAYS_LIMIT, DunningPolicy, DunningStep, step_label
from invoicing.models import EmailTemplate

POLICY_FIELDS = ("legal_entity", "name", "is_active")


def dunning_policy_create(
    *,
    legal_entity: LegalEntity | None,
    name: str,
    steps: Sequence[Mapping[str, Any]],
    is_active: bool = True,
) -> DunningPolicy:
    """A policy for a legal entity that has none, with its steps."""
    policy = DunningPolicy(
        legal_entity=legal_entity, name=(name or "").strip(), is_active=is_active
    )
    with transaction.atomic(durable=True):
        rows = _policy_check(policy, steps)
        save_or_conflict(policy)
        _steps_write(policy, rows)
    return policy


def dunning_policy_update(
    *,
    policy_id: int,
    steps: Sequence[Mapping[str, Any]] | None = None,
    **fields: Any,
) -> DunningPolicy:
    """Change the fields given (legal_entity, name, is_active) and, when `steps` is given,
    replace the steps (see the module doc)."""
    unknown = sorted(set(fields) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Not a field of a dunning policy."))
    with transaction.atomic(durable=True):
        policy = dunning_policy_lock(policy_id)
        for name, value in fields.items():
            setattr(policy, name, value.strip() if name == "name" and value else value)
        current = [
            {"days_after_due": s.days_after_due, "email_template": s.email_template}
            for s in policy.steps.select_related("email_template")
        ]
        rows = _policy_check(policy, current if steps is None else steps)
        if fields:
            save_or_conflict(policy, update_fields=[*_attnames(fields), "updated_at"])
        if steps is not None:
            _steps_write(policy, rows)
    return policy


def dunning_policy_delete(*, policy_id: int) -> None:
    """Delete a policy and its steps; the reminders sent keep their invoice, day and email."""
    with transaction.atomic(durable=True):
        dunning_policy_lock(policy_id).delete()


# --- checks and writes ------------------------------------------------------------------------


def _attnames(fields: Mapping[str, Any]) -> list[str]:
    return [f"{name}_id" if name == "legal_entity" else name for name in fields]


def _policy_check(
    policy: DunningPolicy, steps: Sequence[Mapping[str, Any]]
) -> list[tuple[int, EmailTemplate | None]]:
    """Every error of the policy and its steps at once, by path (`steps[1].days_after_due`);
    returns the steps as (day, template), ordered by day."""
    errors: dict[str, list[str]] = {}
    if policy.legal_entity_id is None:
        errors["legal_entity"] = [
            "Choose the legal entity (seller) whose invoices this policy reminds of."
        ]
    else:
        other = (
            DunningPolicy.objects.filter(legal_entity_id=policy.legal_entity_id)
            .exclude(pk=policy.pk)
            .first()
        )
        if other is not None:
            errors["legal_entity"] = [
                f"Legal entity '{policy.legal_entity}' has a dunning policy already "
                f"('{other.name}'): edit that one."
            ]
    try:
        full_clean_or_raise(policy, exclude=["legal_entity"] if errors else None)
    except ValidationError as exc:
        for path, messages in exc.details.items():
            errors.setdefault(path, []).extend(messages)
    rows = _steps_check(steps, errors)
    if errors:
        raise ValidationError(errors)
    return rows


def _steps_check(
    steps: Sequence[Mapping[str, Any]], errors: dict[str, list[str]]
) -> list[tuple[int, EmailTemplate | None]]:
    if not steps:
        errors["steps"] = [
            "Add at least one step: days after the due date (negative: before it), "
            "e.g. -3, 7 and 21."
        ]
        return []
    rows: list[tuple[int, EmailTemplate | None]] = []
    seen: dict[int, int] = {}
    for i, step in enumerate(steps):
        day = _day(step.get("days_after_due"), f"steps[{i}].days_after_due", errors)
        template = _template(step.get("email_template"), f"steps[{i}].email_template", errors)
        if day is None:
            continue
        if day in seen:
            errors.setdefault(f"steps[{i}].days_after_due", []).append(
                f"Step {seen[day] + 1} is {step_label(day)} already: one step a day."
            )
            continue
        seen[day] = i
        rows.append((day, template))
    return sorted(rows, key=lambda row: row[0])


def _day(value: Any, path: str, errors: dict[str, list[str]]) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        errors.setdefault(path, []).append(
            "Give the days after the due date (negative: before it), e.g. -3 or 7."
        )
        return None
    try:
        day = int(value)
    except (TypeError, ValueError):
        errors.setdefault(path, []).append(f"'{value}' is not a whole number of days.")
        return None
    if day != value and str(day) != str(value).strip():
        errors.setdefault(path, []).append(f"'{value}' is not a whole number of days.")
        return None
    if not -STEP_DAYS_LIMIT <= day <= STEP_DAYS_LIMIT:
        errors.setdefault(path, []).append(
            f"{day} is out of range: a step is at most {STEP_DAYS_LIMIT} days before or "
            "after the due date."
        )
        return None
    return day


def _template(value: Any, path: str, errors: dict[str, list[str]]) -> EmailTemplate | None:
    if value is None or value == "":
        return None
    template = value
    if not isinstance(value, EmailTemplate):
        template = EmailTemplate.objects.filter(pk=value).first() if str(value).isdigit() else None
        if template is None:
            errors.setdefault(path, []).append(f"Email template {value} does not exist.")
            return None
    if not template.is_active:
        errors.setdefault(path, []).append(
            f"Email template '{template}' is inactive: activate it or choose another."
        )
        return None
    return template


def _steps_write(policy: DunningPolicy, rows: list[tuple[int, EmailTemplate | None]]) -> None:
    """Make the policy's steps exactly `rows` (day, template): same day, same step row."""
    existing = {s.days_after_due: s for s in policy.steps.all()}
    wanted = dict(rows)
    DunningStep.objects.filter(
        pk__in=[s.pk for day, s in existing.items() if day not in wanted]
    ).delete()
    for day, template in rows:
        step = existing.get(day)
        if step is None:
            DunningStep.objects.create(policy=policy, days_after_due=day, email_template=template)
        elif step.email_template_id != (template.pk if template else None):
            step.email_template = template
            step.save(update_fields=["email_template", "updated_at"])
