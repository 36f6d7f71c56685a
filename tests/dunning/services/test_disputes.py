"""Invoice disputes (dunning/services/disputes.py): open on a posted invoice, at most one open
at a time, resolve; every refusal says why and changes nothing."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from freezegun import freeze_time

from core.exceptions import ValidationError
from dunning import selectors
from dunning.exceptions import InvoiceDisputed, InvoiceNotDisputed
from dunning.models import InvoiceDispute
from dunning.services.disputes import invoice_dispute_open, invoice_dispute_resolve
from invoicing.exceptions import InvoiceNotFound, InvoiceNotPosted
from invoicing.services.generation import invoices_generate
from tests.support.dunning import invoice_for
from tests.support.invoicing import snapshot

pytestmark = pytest.mark.django_db
d = dt.date


def dispute_rows() -> list[tuple]:
    return list(
        InvoiceDispute.objects.order_by("id").values_list(
            "invoice_id", "reason", "opened_by", "resolved_at", "resolved_by", "resolution"
        )
    )


def test_open_and_resolve_with_who_and_when(dw):
    with freeze_time("2026-01-01 06:00"):
        invoice = invoice_for(dw.account, d(2026, 1, 1))
    with freeze_time("2026-02-03 10:30"):
        dispute = invoice_dispute_open(
            invoice_id=invoice.pk, reason="  Seats billed after cancellation ", opened_by="olga"
        )
    assert (dispute.reason, dispute.opened_by, dispute.is_open) == (
        "Seats billed after cancellation",
        "olga",
        True,
    )
    assert dispute.opened_at == dt.datetime(2026, 2, 3, 10, 30, tzinfo=dt.UTC)
    assert selectors.invoice_dunning_stop(invoice_id=invoice.pk) == selectors.DISPUTED

    with freeze_time("2026-02-10 16:00"):
        resolved = invoice_dispute_resolve(
            invoice_id=invoice.pk, resolution="Cancellation was after the period", resolved_by="al"
        )
    assert resolved.pk == dispute.pk and not resolved.is_open
    assert dispute_rows() == [
        (
            invoice.pk,
            "Seats billed after cancellation",
            "olga",
            dt.datetime(2026, 2, 10, 16, 0, tzinfo=dt.UTC),
            "al",
            "Cancellation was after the period",
        )
    ]
    assert selectors.invoice_dunning_stop(invoice_id=invoice.pk) == ""

    # A second dispute after the first was resolved.
    invoice_dispute_open(invoice_id=invoice.pk, reason="Tax rate")
    assert InvoiceDispute.objects.open().count() == 1
    assert InvoiceDispute.objects.count() == 2


def test_refusals_change_nothing(dw):
    with freeze_time("2026-01-01 06:00"):
        invoice = invoice_for(dw.account, d(2026, 1, 1))
    draft = invoices_generate(
        account_id=dw.globex.pk, target_date=d(2026, 1, 1), action="draft"
    ).invoices[0]
    with freeze_time("2026-02-03 10:30"):
        invoice_dispute_open(invoice_id=invoice.pk, reason="Seats", opened_by="olga")
    before = (dispute_rows(), snapshot())

    with pytest.raises(InvoiceDisputed) as refused:
        invoice_dispute_open(invoice_id=invoice.pk, reason="Again")
    assert refused.value.message == (
        "Invoice INV-0001 is already disputed (since 2026-02-03 by olga: Seats). Resolve that "
        "dispute first."
    )
    with pytest.raises(ValidationError) as refused:
        invoice_dispute_open(invoice_id=invoice.pk, reason="   ")
    assert list(refused.value.details) == ["reason"]
    with pytest.raises(InvoiceNotPosted) as refused:
        invoice_dispute_open(invoice_id=draft.pk, reason="Seats")
    assert refused.value.message == (
        f"Only a posted invoice takes disputes; draft invoice #{draft.pk} is not posted yet; "
        "post it first."
    )
    with pytest.raises(InvoiceNotFound):
        invoice_dispute_open(invoice_id=999999, reason="Seats")
    with pytest.raises(InvoiceNotDisputed) as refused:
        invoice_dispute_resolve(invoice_id=draft.pk)
    assert refused.value.message == f"Draft invoice #{draft.pk} has no open dispute to resolve."
    assert (dispute_rows(), snapshot()) == before


def test_the_database_allows_one_open_dispute_per_invoice(dw):
    with freeze_time("2026-01-01 06:00"):
        invoice = invoice_for(dw.account, d(2026, 1, 1))
    InvoiceDispute.objects.create(invoice=invoice, reason="a", opened_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceDispute.objects.create(invoice=invoice, reason="b", opened_at=timezone.now())
