"""File names of e-invoices written side by side (a zip, an export directory)."""

from __future__ import annotations


def unique_filename(name: str, taken: set[str]) -> str:
    """`name`, or `name` with -2, -3… before its extension when `taken` already holds it (two
    sellers may number alike); the result is added to `taken`."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}-{n}{dot}{extension}"
    taken.add(candidate)
    return candidate
