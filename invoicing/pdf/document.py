"""What one renderer draws, whatever the document (invoice, credit memo, debit memo): plain,
immutable values, every wording decided by the collectors (invoicing/pdf/collect.py), so the
layout (invoicing/pdf/layout.py) has nothing left to decide."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar


@dataclass(frozen=True)
class Line:
    name: str
    description: str
    is_adjustment: bool
    depth: int
    has_children: bool
    period_start: dt.date | None
    period_end: dt.date | None
    quantity: Decimal
    unit_code: str
    unit_scale: int | None
    unit_price: Decimal
    amount: Decimal
    is_usage: bool = False
    consumed: Decimal | None = None
    included: Decimal | None = None
    overage: Decimal | None = None


@dataclass(frozen=True)
class Tax:
    name: str
    rate: Decimal | None  # None: typed in as an amount, the rate is not known
    kind: str
    taxable_amount: Decimal
    amount: Decimal
    category: str = ""  # the EN 16931 VAT category (S, Z, E, AE, K, G, O, L, M); "" unknown
    reason: str = ""  # the exemption reason the document states (reverse charge, ...)


@dataclass(frozen=True)
class Party:
    """Who issues, or who receives, the document. `address` is already in its country's order
    (core.addresses)."""

    name: str
    address: tuple[str, ...] = ()
    country: str = ""
    tax_id: str = ""
    email: str = ""
    contact: str = ""
    vat_id: str = ""
    registration_id: str = ""


@dataclass(frozen=True)
class Row:
    """A row of the totals table: `style` is "" (plain), "total" (ruled, bold) or "due" (the
    closing, highlighted row); `currency` writes the code before the amount."""

    label: str
    amount: Decimal
    style: str = ""
    currency: bool = False


@dataclass(frozen=True)
class Highlight:
    """The box at the top right: what the reader looks for first (balance due, total credit)."""

    label: str
    amount: Decimal
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A titled block of short paragraphs after the totals (payment, void, reason, notes)."""

    title: str
    rows: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    kind: str  # "Invoice", "Credit memo", "Debit memo"
    number: str | None  # the final number; None while a draft (or unnumbered)
    marks: tuple[str, ...]  # under the title: "DRAFT", "VOID", "CANCELED"
    watermark: str
    facts: tuple[tuple[str, str], ...]  # the header's label/value pairs
    currency: str
    seller: Party
    buyer_label: str  # "BILL TO", "CREDIT TO"
    buyer: Party
    lines: tuple[Line, ...]
    taxes: tuple[Tax, ...]
    tax_note: str
    totals: tuple[Row, ...]
    highlight: Highlight
    sections: tuple[Section, ...]
    created_at: dt.datetime
    modified_at: dt.datetime

    @property
    def title(self) -> str:
        return self.kind.upper()

    @property
    def label(self) -> str:
        """'Invoice INV-0042', 'Credit memo CM-7', 'Draft debit memo'."""
        if self.number:
            return f"{self.kind} {self.number}"
        if "DRAFT" in self.marks:
            return f"Draft {self.kind.lower()}"
        return f"{self.kind} (unnumbered)"


_T = TypeVar("_T")


def tree_order(
    items: Sequence[_T],
    key: Callable[[_T], Hashable],
    parent: Callable[[_T], Hashable | None],
) -> list[tuple[_T, int, bool]]:
    """Items in display order: each bundle parent followed by its children, depth first, as
    (item, depth, has_children).

    `items` is already in display order. An item whose parent is not among them is shown at
    the top level; a cycle (which the data should never contain) cannot loop.
    """
    keys = {key(item) for item in items}
    children: dict[Hashable, list[_T]] = defaultdict(list)
    roots = []
    for item in items:
        parent_key = parent(item)
        if parent_key is not None and parent_key in keys and parent_key != key(item):
            children[parent_key].append(item)
        else:
            roots.append(item)

    ordered: list[tuple[_T, int, bool]] = []
    seen: set[Hashable] = set()

    def walk(start: _T) -> None:
        stack = [(start, 0)]
        while stack:
            item, depth = stack.pop()
            if key(item) in seen:
                continue
            seen.add(key(item))
            kids = children.get(key(item), [])
            ordered.append((item, depth, bool(kids)))
            stack.extend((kid, depth + 1) for kid in reversed(kids))

    for root in roots:
        walk(root)
    for item in items:  # only items caught in a parent cycle remain
        if key(item) not in seen:
            walk(item)
    return ordered
