"""Payment card numbers are never stored: the one detector of a card number (PAN) pasted into
free text, used by every model and service whose text a customer's card could reach (account,
contact, address, billing profile and saved payment method fields, payment references, order
texts).

A card number is found whatever separates its digits: spaces, dashes, dots, slashes,
underscores, commas, colons or letters (`4111_1111_1111_1111`, `4111,1111,…`,
`4111x1111x1111x1111`). The text's digit groups that follow each other with at most
MAX_SEPARATOR other characters between them form a run; any consecutive groups of a run that
together hold 14 to 19 digits are a card number when they

- pass the Luhn check, and
- start and are as long as a card network's numbers are (ISSUERS: Visa, Mastercard, American
  Express, Discover, JCB, Diners Club, UnionPay, Maestro).

The issuer rule keeps ordinary numbers out: a phone number has at most 15 digits (E.164), where
only American Express (15) and Diners Club (14, 15) numbers are as short, and a tax id or an
invoice number seldom has a network's prefix and length as well as a valid Luhn digit.
A valid IBAN in the text is left out before the search (its bank code can look like a Diners
number). A CVV next to its label (`CVV 123`) is refused too (`card_data_errors`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

__all__ = [
    "CARD_NUMBER_MESSAGE",
    "CVV_MESSAGE",
    "card_data_errors",
    "card_number_found",
    "cvv_found",
    "free_text_fields",
    "luhn_valid",
]

MAX_SEPARATOR = 3  # characters between two digit groups of one number ("4111 - 1111")
MIN_DIGITS, MAX_DIGITS = 14, 19

# (first digits, lengths): the numbers a card network issues.
_SIXTEEN_TO_NINETEEN = frozenset(range(16, 20))
ISSUERS: tuple[tuple[tuple[str, ...], frozenset[int]], ...] = (
    (("4",), frozenset({16, 19})),  # Visa (13-digit Visa numbers are no longer issued)
    (
        ("51", "52", "53", "54", "55", *(str(n) for n in range(2221, 2721))),
        frozenset({16}),
    ),  # Mastercard
    (("34", "37"), frozenset({15})),  # American Express
    (("6011", "644", "645", "646", "647", "648", "649", "65"), _SIXTEEN_TO_NINETEEN),  # Discover
    (tuple(str(n) for n in range(3528, 3590)), _SIXTEEN_TO_NINETEEN),  # JCB
    (("300", "301", "302", "303", "304", "305", "36", "38", "39"), frozenset(range(14, 20))),
    (("62",), _SIXTEEN_TO_NINETEEN),  # UnionPay
    (("50", "56", "57", "58", "63", "67"), _SIXTEEN_TO_NINETEEN),  # Maestro
)

CARD_NUMBER_MESSAGE = (
    "This looks like a payment card number. Ledgerline never stores card numbers: remove it "
    "(keep at most the last four digits, e.g. 'Visa •••• 4242')."
)
SAVED_CARD_MESSAGE = (
    "This looks like a card number. Store the payment processor's token and a label such as "
    "'Visa •••• 4242' instead; Ledgerline never keeps card numbers."
)
CVV_MESSAGE = "This looks like a card security code (CVV). Never store it; remove it."

_DIGITS = re.compile(r"\d+")
_IBAN_LIKE = re.compile(r"(?i)(?<![A-Z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,32}")
_CVV_LIKE = re.compile(r"(?i)(cvv2?|cvc2?|cid|security\s*code)\W*\d{3,4}(?!\d)")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _issued(digits: str) -> bool:
    return any(
        len(digits) in lengths and digits.startswith(prefixes) for prefixes, lengths in ISSUERS
    )


def _without_ibans(text: str) -> str:
    """The text with every valid IBAN blanked out (by a run of letters longer than
    MAX_SEPARATOR, so the digits around it never join)."""
    out, last = [], 0
    for match in _IBAN_LIKE.finditer(text):
        candidate = match.group()
        compact = candidate.replace(" ", "").upper()
        # The pattern may run on into the next word: try the longest valid prefix.
        for size in range(len(compact), 14, -1):
            try:
                IBAN(compact[:size])
            except (SchwiftyException, ValueError):
                continue
            end = match.start()
            taken = 0
            while taken < size:  # map `size` compact characters back onto the text
                if text[end] != " ":
                    taken += 1
                end += 1
            out.append(text[last : match.start()])
            out.append("I" * (end - match.start()))
            last = end
            break
    out.append(text[last:])
    return "".join(out)


def card_number_found(text: str | None) -> bool:
    """Whether `text` holds a payment card number, whatever separates its digits."""
    if not text or sum(ch.isdigit() for ch in text) < MIN_DIGITS:
        return False
    groups = [(m.start(), m.end(), m.group()) for m in _DIGITS.finditer(_without_ibans(text))]
    runs: list[list[str]] = []
    previous_end = None
    for start, end, digits in groups:
        if previous_end is None or start - previous_end > MAX_SEPARATOR:
            runs.append([])
        runs[-1].append(digits)
        previous_end = end
    for run in runs:
        for first in range(len(run)):
            digits = ""
            for group in run[first:]:
                digits += group
                if len(digits) > MAX_DIGITS:
                    break
                if len(digits) >= MIN_DIGITS and _issued(digits) and luhn_valid(digits):
                    return True
    return False


def cvv_found(text: str | None) -> bool:
    """Whether `text` holds a card security code next to its label (`CVV 123`)."""
    return bool(text) and _CVV_LIKE.search(text) is not None


def free_text_fields(instance: Any) -> list[str]:
    """The names of a model instance's free-text fields: its CharFields and TextFields
    without choices (so a field added later is checked too)."""
    from django.db import models  # core.cards stays importable without Django settings

    return [
        f.attname
        for f in instance._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField) and not f.choices
    ]


def card_data_errors(
    instance: Any, fields: Iterable[str] | None = None, *, message: str = CARD_NUMBER_MESSAGE
) -> dict[str, list[str]]:
    """{field: [message]} for each of `fields` (default: every free-text field of the model
    instance) that holds a card number or a labelled CVV; empty when none does. Models call it
    from clean(), services for the texts they take outside a model."""
    errors: dict[str, list[str]] = {}
    for name in free_text_fields(instance) if fields is None else fields:
        value = getattr(instance, name, None)
        if not isinstance(value, str):
            continue
        if card_number_found(value):
            errors[name] = [message]
        elif cvv_found(value):
            errors[name] = [CVV_MESSAGE]
    return errors
