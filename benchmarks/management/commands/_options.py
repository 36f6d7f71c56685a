"""Option parsing shared by the benchmark commands."""

from django.core.management.base import CommandError


def positive(value: str) -> int:
    """A whole number of at least 1; "100_000" and "100,000" are accepted."""
    try:
        number = int(value.replace("_", "").replace(",", ""))
    except ValueError:
        number = 0
    if number < 1:
        raise CommandError(f"Expected a whole number of at least 1, not {value!r}.")
    return number
