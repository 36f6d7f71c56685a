"""Document numbering from sequence policies (DESIGN.md §3 step 7).

A posting transaction picks the single matching active policy with sequence_policy_select()
and takes the next number with sequence_number_take(). The take locks the policy row until
the posting transaction ends, so numbers are unique and gapless: concurrent posters queue on
the lock, and a posting that rolls back also rolls back its increment, so the next poster
gets the same number.

Numbers never collide. A number is unique among its documents (invoices, or credit memos),
whichever policy or import gave it, so:

- the take never hands out a number a document already holds: it skips it and takes the
  next value (such a number came from an import made before imports were checked, or from a
  policy with the same pattern; the document holding it fills that place, so no gap
  arises in the pattern's numbers);
- an import may not bring a number that a policy would issue later
  (sequence_policies_issuing(), called by invoicing/services/ingestion.py);
- a policy that has issued numbers keeps its pattern and settings and is never deleted, and
  a new or changed policy may not start where documents already hold its numbers
  (invoicing/services/sequence_policies.py).

A unique violation that still reaches the database (two writers racing on one number
outside these paths) is reported by number_taken_error() as SequenceNumberTaken, never as a
server error.
"""

import datetime as dt
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.db.transaction import TransactionManagementError

from accounts.models import LegalEntity
from invoicing.exceptions import AmbiguousSequencePolicy, NoSequencePolicy, SequenceNumberTaken
from invoicing.locks import sequence_policy_lock
from invoicing.models import CreditMemo, Invoice, SequencePolicy

logger = logging.getLogger(__name__)

# The longest number a document holds (Invoice.number, CreditMemo.number).
NUMBER_MAX_LENGTH = 64


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
    is formatted with the n-th date. Same transaction rules as sequence_number_take().

    A formatted number that a document of the policy's target (an invoice; a credit memo for
    a credit-memo policy) already holds is skipped, never handed out: the next value is
    taken instead, and the skip is logged. The holder (an import, or a policy with the same
    pattern) fills that place, so the pattern's numbers stay gapless, and posting never
    retries into the same taken number. One query checks the whole batch; only a batch that
    meets a taken number checks its following numbers one by one.
    """
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

    def render(value: int, on_date: dt.date) -> str:
        return sequence_number_format(
            pattern=policy.pattern,
            date_format=policy.date_format,
            fiscal_year_start_month=policy.fiscal_year_start_month,
            min_width=policy.min_width,
            value=value,
            on_date=on_date,
        )

    documents = _documents(policy.target)
    first_try = [render(value + k * policy.increment, d) for k, d in enumerate(on_dates)]
    taken = set(documents.objects.filter(number__in=first_try).values_list("number", flat=True))
    if not taken:
        numbers = first_try
        value += len(on_dates) * policy.increment
    else:
        known = {number: number in taken for number in first_try}
        numbers = []
        for on_date in on_dates:
            while True:
                number = render(value, on_date)
                value += policy.increment
                held = known.get(number)
                if held is None:
                    held = documents.objects.filter(number=number).exists()
                if not held and number not in numbers:
                    break
                logger.warning(
                    "Sequence policy %s (%s) skipped %s: a %s already holds it.",
                    policy.pk,
                    policy.name,
                    number,
                    documents._meta.verbose_name,
                )
            numbers.append(number)
    policy.next_value = value
    # Only next_value changes, computed from the locked row; full_clean() would run its FK,
    # unique and constraint queries while every other poster waits on this lock. The
    # database's column and check constraints still guard the row.
    policy.save(update_fields=["next_value", "updated_at"])
    return numbers


def _documents(target: str) -> type[Invoice] | type[CreditMemo]:
    """The documents a policy of `target` numbers (their numbers are unique among them)."""
    return CreditMemo if target == SequencePolicy.Target.CREDIT_MEMO else Invoice


# --- which numbers a policy issues -----------------------------------------------------------

_STAMP_REGEX: dict[str, str] = {
    SequencePolicy.DateFormat.YEAR: r"\d{4}",
    SequencePolicy.DateFormat.MONTH_YEAR: r"\d{2}-\d{4}",
    SequencePolicy.DateFormat.MONTH_DAY_YEAR: r"\d{2}-\d{2}-\d{4}",
    SequencePolicy.DateFormat.FISCAL_YEAR: r"\d{4}-\d{2}",
}


def sequence_number_regex(*, pattern: str, date_format: str, min_width: int) -> str:
    """An anchored regular expression matching every number the pattern renders, for any
    value and any date; its one group is the {SEQ} digits (its first occurrence). It reads
    the same in Python and in PostgreSQL (the `number__regex` lookup).

    {SEQ} renders as the value zero-padded to min_width: exactly min_width digits, or more
    without a leading zero. {DATE} is any stamp of the date format's shape. A later {SEQ} or
    {DATE} is matched by shape only, so the expression may match slightly more than the
    policy renders, never less: the checks that use it err on the side of refusing.
    """
    width = min(min_width, NUMBER_MAX_LENGTH)
    seq = r"(0|[1-9]\d*)" if width <= 1 else rf"(\d{{{width}}}|[1-9]\d{{{width},}})"
    seq_again = seq.replace("(", "(?:", 1)
    stamp = f"(?:{_STAMP_REGEX.get(date_format, '.+')})"
    parts = []
    seen_seq = False
    for piece in re.split(r"(\{SEQ\}|\{DATE\})", pattern):
        if piece == "{SEQ}":
            parts.append(seq_again if seen_seq else seq)
            seen_seq = True
        elif piece == "{DATE}":
            parts.append(stamp)
        else:
            parts.append(re.escape(piece))
    return "^" + "".join(parts) + "$"


@dataclass(frozen=True)
class IssuedNumber:
    """A number that `policy` issues, at `value`."""

    policy: SequencePolicy
    value: int


def sequence_number_value(policy: SequencePolicy, number: str) -> int | None:
    """The {SEQ} value of `number` when it has the policy's pattern, else None."""
    found = re.fullmatch(
        sequence_number_regex(
            pattern=policy.pattern, date_format=policy.date_format, min_width=policy.min_width
        ),
        number,
    )
    return int(found.group(1)) if found else None


def sequence_value_ahead(policy: SequencePolicy, value: int) -> bool:
    """Whether the policy issues `value` from now on: at or above its next value (its start
    while it has issued nothing), in its steps from its start."""
    first = policy.start if policy.next_value is None else policy.next_value
    return value >= first and (value - policy.start) % policy.increment == 0


def sequence_policies_issuing(
    number: str, *, target: str = SequencePolicy.Target.INVOICE
) -> list[IssuedNumber]:
    """The policies of `target`, active or not, for any seller and currency (a number is
    unique among all documents of the target), that would issue `number` later: it has their
    pattern and its value is at or above their next value, in their steps."""
    issuing = []
    for policy in SequencePolicy.objects.filter(target=target).order_by("id"):
        value = sequence_number_value(policy, number)
        if value is not None and sequence_value_ahead(policy, value):
            issuing.append(IssuedNumber(policy, value))
    return issuing


@dataclass(frozen=True)
class UsedNumber:
    """The highest number documents already hold in a policy's range, and how many."""

    number: str
    value: int
    count: int


def sequence_range_used(
    *,
    target: str,
    pattern: str,
    date_format: str,
    min_width: int,
    start: int,
    increment: int,
) -> UsedNumber | None:
    """The numbers documents of `target` already hold that a policy with these settings,
    starting at `start`, would issue: the highest of them (and their count), or None."""
    regex = sequence_number_regex(pattern=pattern, date_format=date_format, min_width=min_width)
    compiled = re.compile(regex)
    highest: UsedNumber | None = None
    count = 0
    numbers: Iterable[str | None] = (
        _documents(target)
        .objects.filter(number__regex=regex)
        .values_list("number", flat=True)
        .iterator(chunk_size=5000)
    )
    for number in numbers:
        found = compiled.fullmatch(number) if number else None
        if number is None or found is None:
            continue
        value = int(found.group(1))
        if value < start or (value - start) % increment:
            continue
        count += 1
        if highest is None or value > highest.value:
            highest = UsedNumber(number, value, 0)
    if highest is None:
        return None
    return UsedNumber(highest.number, highest.value, count)


def number_taken_error(
    exc: IntegrityError, *, document: type[models.Model] = Invoice
) -> SequenceNumberTaken | None:
    """The domain error for a unique violation on `document`'s number (a racing writer took
    it), naming the number; None when `exc` is about something else."""
    table = document._meta.db_table
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""
    text = str(exc)
    if not (constraint.startswith(f"{table}_number") or f"{table}_number" in text):
        return None
    found = re.search(r"Key \(number\)=\((.*)\) already exists", text)
    number = found.group(1) if found else "(unknown)"
    return SequenceNumberTaken.for_number(
        number=number, document=str(document._meta.verbose_name or "document")
    )


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
