"""The European world (tests/support/einvoice.py) for every e-invoice test."""

from tests.support.einvoice import eu  # noqa: F401
