"""Shared output of the receivables commands (`aging_report`, `account_statement`): an aligned
text table for the terminal, the CSV file, and the parsing of dates and accounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from django.core.management.base import CommandError
from django.db.models import Q

from accounts.models import Account
from invoicing.receivables import csv_text


def text_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()
) -> list[str]:
    """Lines of a table with aligned columns (the `right` ones flush right), a rule under the
    header."""
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def csv_write(path: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """Write the CSV file (UTF-8); a path that cannot be written is a CommandError."""
    target = Path(path)
    try:
        target.write_text(csv_text(header, rows), encoding="utf-8", newline="")
    except OSError as exc:
        raise CommandError(f"Cannot write {path}: {exc.strerror or exc}.")
    return target


def date_option(value: str | None, option: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r} is not a date: use YYYY-MM-DD, e.g. 2026-03-31.")


def account_of(ref: str) -> Account:
    """An account by id, external id or exact name."""
    match = Q(external_id=ref) | Q(name=ref)
    if ref.isdigit():
        match |= Q(pk=int(ref))
    accounts = list(Account.objects.filter(match).order_by("id")[:2])
    if not accounts:
        raise CommandError(f"No account with id, external id or name '{ref}'.")
    if len(accounts) > 1:
        raise CommandError(
            f"Several accounts match '{ref}' (ids {accounts[0].pk}, {accounts[1].pk}, …); "
            "give the id."
        )
    return accounts[0]
