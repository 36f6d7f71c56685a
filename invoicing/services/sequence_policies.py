"""Sequence policies: create, update and delete (the API's `sequence-policies/` and the
admin both call these).

A policy's numbers are unique among the documents of its target (invoices, or credit
memos), for every seller and currency, and stay so (invoicing/services/numbering.py):

- A *used* policy (it has issued a number: `next_value` is set) may be renamed, deactivated
  or reactivated and have its effective dates changed. Its numbering settings (target,
  pattern, date_format, fiscal_year_start_month, min_width, start, increment, legal_entity,
  currency) are kept: changing one is refused naming the field, because its sequence would
  break or issue numbers again. To number differently, deactivate it and create a new policy.
- A used policy is never deleted (409 `sequence_policy_in_use`): deactivate it instead, so
  that no later policy with its pattern issues its numbers again.
- A new policy, or an unused policy's new settings, may not start where documents already
  hold its numbers (refused on `start`, naming the highest such number and the start that
  clears it): a policy that replaces another with its pattern starts after the old one's
  last number.
- Two active policies of one target with the same pattern and overlapping effective dates
  are refused (on `pattern`, or on what made them meet): they would hand out the same
  numbers. Give each its own pattern (e.g. the seller's prefix), or deactivate the other.
- A number must fit a document's number (64 characters) at the policy's min_width.

Lock order: the policy row alone (the last kind of invoicing/locks.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from core.crud import full_clean_or_raise, instance_delete, save_or_conflict
from core.exceptions import NotFound, ValidationError
from invoicing.exceptions import SequencePolicyInUse
from invoicing.locks import sequence_policy_lock
from invoicing.models import SEQUENCE_POLICY_EDITABLE_FIELDS, SequencePolicy
from invoicing.services.numbering import NUMBER_MAX_LENGTH, sequence_range_used

# What a used policy keeps: the settings its issued numbers were made with.
NUMBERING_FIELDS = (
    "target",
    "pattern",
    "date_format",
    "fiscal_year_start_month",
    "min_width",
    "start",
    "increment",
    "legal_entity",
    "currency",
)

# The longest {DATE} stamp (MM-DD-YYYY).
_STAMP_MAX_LENGTH = 10


def sequence_policy_create(**fields: Any) -> SequencePolicy:
    """Create a policy from its editable fields (SEQUENCE_POLICY_EDITABLE_FIELDS), validated
    by the model and by the rules of the module docstring."""
    _only_editable(fields)
    policy = SequencePolicy(**fields)
    full_clean_or_raise(policy)
    with transaction.atomic(durable=True):
        _check(policy, changed=set(fields) | {"pattern", "start", "is_active"})
        save_or_conflict(policy)
    return policy


def sequence_policy_update(*, policy_id: int, **fields: Any) -> SequencePolicy:
    """Set the given editable fields of a policy, under its row lock; a used policy keeps
    its numbering settings (see the module docstring). Fields sent with their current value
    are not changes."""
    _only_editable(fields)
    with transaction.atomic(durable=True):
        policy = _lock(policy_id)
        changed = {name for name, value in fields.items() if _differs(policy, name, value)}
        if policy.next_value is not None:
            kept = [name for name in NUMBERING_FIELDS if name in changed]
            if kept:
                raise ValidationError(
                    {name: _kept_message(policy, name) for name in kept},
                )
        for name, value in fields.items():
            setattr(policy, name, value)
        full_clean_or_raise(policy)
        _check(policy, changed=changed)
        # Field names: save(update_fields=...) takes "legal_entity" as well as its attname.
        save_or_conflict(policy, update_fields=[*fields, "updated_at"])
    return policy


def sequence_policy_delete(*, policy_id: int) -> None:
    """Delete a policy that has issued no number; a used one is refused (409): deactivate
    it instead."""
    with transaction.atomic(durable=True):
        policy = _lock(policy_id)
        if policy.next_value is not None:
            raise SequencePolicyInUse.for_policy(policy)
        instance_delete(policy)


# --- the rules ----------------------------------------------------------------------------------


def _only_editable(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(SEQUENCE_POLICY_EDITABLE_FIELDS))
    if unknown:
        # A programming error, not input: next_value is advanced by posting only.
        raise TypeError(f"Not editable fields of a sequence policy: {', '.join(unknown)}.")


def _lock(policy_id: int) -> SequencePolicy:
    try:
        return sequence_policy_lock(policy_id)
    except SequencePolicy.DoesNotExist:
        raise NotFound(
            f"Sequence policy {policy_id} does not exist.",
            code="sequence_policy_not_found",
            details={"policy": policy_id},
        )


def _differs(policy: SequencePolicy, name: str, value: Any) -> bool:
    current = getattr(policy, name)
    if name == "legal_entity":
        return getattr(current, "pk", None) != getattr(value, "pk", value)
    if name == "currency":
        return (current or "").upper() != (value or "").upper()
    return current != value


def _kept_message(policy: SequencePolicy, name: str) -> str:
    label = name.replace("_", " ")
    return (
        f"Sequence policy '{policy.name}' has issued numbers (next value "
        f"{policy.next_value}), so its {label} stays as it is: changing it would break its "
        "sequence or issue numbers again. To number differently, deactivate this policy and "
        "create a new one (a new policy with this pattern starts after its last number)."
    )


def _check(policy: SequencePolicy, *, changed: set[str]) -> None:
    """The rules a policy's new settings must meet (module docstring), each refused naming
    its field."""
    _check_length(policy)
    numbering = {"target", "pattern", "date_format", "min_width", "start", "increment"}
    if policy.next_value is None and changed & numbering:
        _check_range_free(policy)
    meeting = {"target", "pattern", "is_active", "effective_from", "effective_to"}
    if policy.is_active and changed & meeting:
        _check_no_twin(policy, changed=changed)


def _check_length(policy: SequencePolicy) -> None:
    stamp = "D" * _STAMP_MAX_LENGTH
    longest = policy.pattern.replace("{SEQ}", "9" * max(policy.min_width, 1)).replace(
        "{DATE}", stamp
    )
    if len(longest) > NUMBER_MAX_LENGTH:
        raise ValidationError(
            {
                "pattern": (
                    f"Numbers of this pattern are up to {len(longest)} characters long (with "
                    f"min_width {policy.min_width}); a document number holds at most "
                    f"{NUMBER_MAX_LENGTH}. Shorten the pattern or lower min_width."
                )
            }
        )


def _check_range_free(policy: SequencePolicy) -> None:
    used = sequence_range_used(
        target=policy.target,
        pattern=policy.pattern,
        date_format=policy.date_format,
        min_width=policy.min_width,
        start=policy.start,
        increment=policy.increment,
    )
    if used is None:
        return
    noun = "credit memo" if policy.target == SequencePolicy.Target.CREDIT_MEMO else "invoice"
    if used.count == 1:
        held = (
            f"{'A' if noun == 'credit memo' else 'An'} {noun} already holds {used.number}, a "
            f"number this policy would issue (from {policy.start} on)."
        )
    else:
        held = (
            f"{used.count} {noun}s already hold numbers this policy would issue (from "
            f"{policy.start} on), the highest {used.number}."
        )
    raise ValidationError(
        {"start": f"{held} Start at {used.value + 1} or above, or choose another pattern."}
    )


def _check_no_twin(policy: SequencePolicy, *, changed: set[str]) -> None:
    twins = (
        SequencePolicy.objects.filter(target=policy.target, pattern=policy.pattern, is_active=True)
        .exclude(pk=policy.pk)
        .order_by("name")
    )
    for other in twins:
        if _windows_overlap(policy, other):
            field = next(
                (
                    name
                    for name in ("pattern", "target", "is_active", "effective_from", "effective_to")
                    if name in changed
                ),
                "pattern",
            )
            raise ValidationError(
                {
                    field: (
                        f"Active sequence policy '{other.name}' already numbers with the pattern "
                        f"{policy.pattern} over these dates: two policies with one pattern "
                        "would hand out the same numbers (a number is unique across sellers "
                        "and currencies). Give this policy its own pattern (e.g. with the "
                        f"seller's prefix), deactivate '{other.name}' first, or make their "
                        "effective dates not overlap."
                    )
                }
            )


def _windows_overlap(a: SequencePolicy, b: SequencePolicy) -> bool:
    lo, hi = dt.date.min, dt.date.max
    return (a.effective_from or lo) <= (b.effective_to or hi) and (b.effective_from or lo) <= (
        a.effective_to or hi
    )
