"""The e-invoice benchmark (`manage.py bench_einvoices`): a small smoke run posts, exports and
validates its invoices, prints the figures and the checkpoints, and leaves nothing behind."""

import re
from decimal import Decimal

import pytest
from django.core.management import CommandError

from accounts.models import Account, Address, LegalEntity
from benchmarks import einvoices
from benchmarks.generation import END, START
from billing.models import BillingSchedule, Order, Product, UnitOfMeasure
from billing.services.orders import order_activate, order_create
from invoicing import hooks
from invoicing.models import Invoice, InvoiceLine, SequencePolicy, TaxRate
from tests.benchmarks.output import command_output, figure

FIGURES = (
    "export: wall time (s)",
    "export: documents/s",
    "validation: wall time (s)",
    "validation: documents/s",
    "maxrss, getrusage (MiB)",
)


def run(*args: str) -> str:
    return command_output("bench_einvoices", *args)


@pytest.mark.django_db(transaction=True)
def test_smoke_run_exports_and_validates_every_invoice_and_leaves_nothing():
    called = []
    receiver = hooks.on_invoices_posted(called.append)
    try:
        text = run("--invoices", "20")
    finally:
        hooks._posted_receivers.remove(receiver)

    assert figure(text, "posted invoices") == "20"
    assert figure(text, "lines per invoice") == "3"
    assert figure(text, "export: documents") == "20"
    assert figure(text, "validation: documents") == "20"
    # Every invoice, German (S 19 %) and French (reverse charge), passes every rule.
    assert figure(text, "validation: valid") == "20"
    assert figure(text, "validation: with fatal findings") == "0"
    for label in FIGURES:
        assert float(figure(text, label).replace(",", "")) > 0, label
    assert int(figure(text, "export: bytes").replace(",", "")) > 20 * 3000
    # Checkpoints at 10, 50 and 100 % of each pass, timed and under tracemalloc.
    for name in ("export", "validation", "export (tracemalloc)", "validation (tracemalloc)"):
        for percent, done in ((10, 2), (50, 10), (100, 20)):
            assert re.search(rf"^{re.escape(name)} {percent} %\s+{done}\s", text, re.M), (
                name,
                percent,
            )
    assert re.search(
        r"^Memory, export: RSS peak [\d.]+ / [\d.]+ / [\d.]+ MiB at 2 / 10 / 20 documents: "
        r"[\d.]+× from 10 to 20 \(target ≤ 1\.5×: (flat|GROWS)\)\.$",
        text,
        re.M,
    )
    assert re.search(
        r"^Memory, validation \(tracemalloc\): tracemalloc peak [\d.]+ / [\d.]+ / [\d.]+ MiB at "
        r"2 / 10 / 20 documents: ",
        text,
        re.M,
    )
    assert called == []  # the after-commit receivers were off

    for model in (Invoice, InvoiceLine, BillingSchedule, Order, Account, TaxRate, Product):
        assert not model.objects.exists(), model
    for model in (LegalEntity, SequencePolicy, UnitOfMeasure, Address):
        assert not model.objects.exists(), model


@pytest.mark.django_db(transaction=True)
def test_without_tracemalloc_in_cii():
    text = run("--invoices", "4", "--lines", "1", "--format", "cii", "--no-tracemalloc")

    assert figure(text, "format") == "cii"
    assert figure(text, "validation: valid") == "4"
    assert "(tracemalloc)" not in text
    assert not Invoice.objects.exists()


def test_bad_options_are_refused(db):
    with pytest.raises(CommandError, match="--format: 'xml' is not an e-invoice format"):
        run("--invoices", "2", "--format", "xml")
    with pytest.raises(CommandError, match="Expected a whole number of at least 1, not '0'"):
        run("--invoices", "0")


@pytest.mark.django_db
def test_bulk_built_schedules_equal_what_order_activation_builds():
    """The world is built by benchmarks.generation's builder with the e-invoice spec: EUR, the
    buyers' addresses, no saved payment method. A German and a French buyer."""
    world = einvoices.world_build(invoices=2, lines=1)
    compared = [
        f.attname
        for f in BillingSchedule._meta.concrete_fields
        if f.attname
        not in {"id", "created_at", "updated_at", "group_id", "order_id", "order_item_id"}
    ]
    built = BillingSchedule.objects.filter(legal_entity_id=world.entity_id).order_by("id")
    assert [(s.currency, s.saved_payment_method_id, s.total_amount) for s in built] == [
        ("EUR", None, Decimal("1796.40")),
        ("EUR", None, Decimal("1796.40")),
    ]
    assert [s.billing_address.country for s in built] == ["DE", "FR"]
    for schedule in built:
        order = order_create(
            account=Account.objects.get(pk=schedule.account_id),
            items=[
                {
                    "product": schedule.product,
                    "quantity": einvoices.SPEC.quantity,
                    "unit_price": einvoices.SPEC.unit_price,
                    "pricing_term": "month",
                    "start_date": START,
                    "end_date": END,
                    "billing_frequency": "monthly",
                    "billing_type": "advance",
                    "period_boundary": "anniversary",
                }
            ],
        )
        order_activate(order_id=order.pk)
        activated = BillingSchedule.objects.get(order=order)

        assert {f: getattr(schedule, f) for f in compared} == {
            f: getattr(activated, f) for f in compared
        }
