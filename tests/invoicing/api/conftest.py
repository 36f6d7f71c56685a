"""Fixtures of the invoicing API tests."""

import datetime as dt

import pytest

from invoicing.models import Invoice
from invoicing.services.generation import invoices_generate


@pytest.fixture
def invoiced(api_world):
    """Jan and Feb posted (INV-0001, INV-0002), March a draft."""
    for month, action in ((1, "posted"), (2, "posted"), (3, "draft")):
        invoices_generate(
            account_id=api_world.account.pk,
            target_date=dt.date(2026, month, 1),
            action=action,
        )
    api_world.invoices = list(Invoice.objects.order_by("id"))
    return api_world
