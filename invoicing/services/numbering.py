"""Document numbering from sequence policies (DESIGN.md §3 step 7).

A posting transaction picks the single matching active policy with sequence_policy_select()
and takes the next number with sequence_number_take(). The take locks the policy row until
the posting transaction ends, so numbers are unique and gapless: concurrent posters queue on
the lock, and a posting that rolls back also rolls back its increment, so the next poster
gets the same number.
"""

import datetime as dt
from collections.abc import Sequence
from typing import TypedDict

from django.db import transaction
from django.db.models import Q
from django.db.transaction import TransactionManagementError

from accounts.models import LegalEntity
from invoicing.exceptions import AmbiguousSequencePolicy, NoSequencePolicy
from invoicing.locks import sequence_policy_lock
from invoicing.models import SequencePolicy


class _PolicyConditions(TypedDict):
    """What a document to be numbered asks of a policy (the arguments of the errors)."""

    target: str
    legal_entity_id: int | None
    legal_entity_name: str | None
    currency: str
    on_date: dt.date


def sequence_policy_select(
    *, target: str, legal_entity_id: int | None, currency: str, on_date: dt.date
) -> SequencePolicy:
    """The one active policy for `target` whose conditions match; exactly one must.

    A policy matches when it is active, its legal entity is empty or equals legal_entity_id,
    its currency is empty or equals currency, and its effective window (either end may be
    empty; both ends inclusive) contains on_date. There is no precedence between a specific
    and a catch-all policy: zero matches raise NoSequencePolicy, several raise
    AmbiguousSequencePolicy naming them.
    """
    currency = (currency or "").upper()
    entity = Q(legal_entity__isnull=True)
    if legal_entity_id is not None:
        entity |= Q(legal_entity_id=legal_entity_id)
    currency_q = Q(currency="")
    if currency:
        currency_q |= Q(currency=currency)
    policies = list(
        SequencePolicy.objects.filter(
            entity,
            currency_q,
            Q(effective_from__isnull=True) | Q(effective_from__lte=on_date),
            Q(effective_to__isnull=True) | Q(effective_to__gte=on_date),
            target=target,
            is_active=True,
        ).order_by("name", "id")
    )
    if len(policies) == 1:
        return policies[0]

    legal_entity_name = (
        LegalEntity.objects.filter(pk=legal_entity_id).values_list("name", flat=True).first()
        if legal_entity_id is not None
        else None
    )
    conditions: _PolicyConditions = {
        "target": target,
        "legal_entity_id": legal_entity_id,
        "legal_entity_name": legal_entity_name,
        "currency": currency,
        "on_date": on_date,
    }
    if not policies:
        raise NoSequencePolicy.for_conditions(**conditions)
    raise AmbiguousSequencePolicy.for_policies(**conditions, policies=policies)


def sequence_number_take(*, policy_id: int, on_date: dt.date) -> str:
    """Take the policy's next number, formatted, and advance the policy.

    Must run inside the caller's (posting) transaction: the policy row stays locked until
    that transaction commits or rolls back, which is what makes the numbers gapless. Lock
    order: the policy is locked last (see invoicing/locks.py).

    "{SEQ}" in the pattern becomes the value zero-padded to min_width and "{DATE}" becomes
    on_date stamped in the policy's date_format (see date_stamp()). The first value is
    `start`; each take adds `increment`.
    """
    return sequence_numbers_take(policy_id=policy_id, on_dates=[on_date])[0]


def sequence_numbers_take(*, policy_id: int, on_dates: Sequence[dt.date]) -> list[str]:
    """Take len(on_dates) consecutive numbers under one lock (bulk posting): the n-th number
    is formatted with the n-th date. Same transaction rules as sequence_number_take()."""
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            "sequence_number_take() must run inside the posting transaction "
            "(transaction.atomic()): the sequence policy stays locked until that transaction "
            "ends, which keeps numbers gapless."
        )
    try:
        policy = sequence_policy_lock(policy_id)
    except SequencePolicy.DoesNotExist:
        raise NoSequencePolicy.for_missing_policy(policy_id=policy_id)

    value = policy.start if policy.next_value is None else policy.next_value
    numbers = []
    for on_date in on_dates:
        numbers.append(
            sequence_number_format(
                pattern=policy.pattern,
                date_format=policy.date_format,
                fiscal_year_start_month=policy.fiscal_year_start_month,
                min_width=policy.min_width,
                value=value,
                on_date=on_date,
            )
        )
        value += policy.increment
    policy.next_value = value
    # Only next_value changes, computed from the locked row; full_clean() would run its FK,
    # unique and constraint queries while every other poster waits on this lock. The
    # database's column and check constraints still guard the row.
    policy.save(update_fields=["next_value", "updated_at"])
    return numbers


def sequence_number_format(
    *,
    pattern: str,
    date_format: str,
    min_width: int,
    value: int,
    on_date: dt.date,
    fiscal_year_start_month: int = 1,
) -> str:
    """Render a number. Plain replacement, so other braces in the pattern stay literal."""
    number = pattern.replace("{SEQ}", str(value).zfill(min_width))
    if "{DATE}" not in number:
        return number
    stamp = date_stamp(
        date_format=date_format,
        on_date=on_date,
        fiscal_year_start_month=fiscal_year_start_month,
    )
    return number.replace("{DATE}", stamp)


def date_stamp(*, date_format: str, on_date: dt.date, fiscal_year_start_month: int = 1) -> str:
    """on_date (the document's date) in one of the reference's date stamp formats (ADR 0006).

    YYYY → "2026", MM-YYYY → "04-2026", MM-DD-YYYY → "04-15-2026". YYYY-YY is the fiscal
    year holding on_date, the fiscal year starting on the first of fiscal_year_start_month:
    its first calendar year, then the last two digits of the calendar year it ends in. With
    April: 2026-03-31 → "2025-26", 2026-04-01 → "2026-27"; with January the fiscal year is the
    calendar year, so 2026 → "2026-26". Any other format is refused (ValueError): a policy
    row cannot hold one (choices and a check constraint), so this guards direct callers.
    """
    formats = SequencePolicy.DateFormat
    if date_format == formats.YEAR:
        return f"{on_date.year:04d}"
    if date_format == formats.MONTH_YEAR:
        return f"{on_date.month:02d}-{on_date.year:04d}"
    if date_format == formats.MONTH_DAY_YEAR:
        return f"{on_date.month:02d}-{on_date.day:02d}-{on_date.year:04d}"
    if date_format == formats.FISCAL_YEAR:
        if not 1 <= fiscal_year_start_month <= 12:
            raise ValueError(
                f"fiscal_year_start_month must be 1-12, not {fiscal_year_start_month!r}."
            )
        first = on_date.year if on_date.month >= fiscal_year_start_month else on_date.year - 1
        last = first if fiscal_year_start_month == 1 else first + 1
        return f"{first:04d}-{last % 100:02d}"
    raise ValueError(
        f"date_format {date_format!r} is not a date stamp format. "
        f"Accepted: {', '.join(formats.values)}."
    )
