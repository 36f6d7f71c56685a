"""Fixtures of the role tests (the role groups and token clients are in tests/conftest.py)."""

import pytest


@pytest.fixture
def billed(api_world):
    """The shared world plus numbering, a Texas tax and an activated seat order."""
    return api_world
