"""The generation benchmark (`manage.py bench_generation`): a small smoke run, its guards,
its clean-up, and that its bulk-built schedules equal what order activation builds."""

import datetime as dt
import re

import pytest
from django.core.management import CommandError
from django.db import connection

from accounts.models import Account, Address, LegalEntity
from benchmarks import generation as bench
from billing.models import BillingSchedule, Order, OrderItem
from billing.services.orders import order_activate, order_create
from invoicing import hooks
from invoicing.models import (
    BillingPeriodItem,
    Invoice,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
    SequencePolicy,
)
from tests.benchmarks.output import command_output, figure

FIGURE_LINES = (
    "engine wall time (s)",
    "schedules/s",
    "lines/s",
    "SQL statements / 1,000 lines",
    "tracemalloc peak (MiB)",
    "RSS peak during run (MiB)",
    "maxrss, getrusage (MiB)",
    "floor, TEMP tables (s)",
    "floor, logged tables (s)",
    "ratio engine/floor (TEMP)",
    "ratio engine/floor (logged)",
    "database bound, real tables (s)",
    "ratio engine/database bound",
)


def run(*args: str) -> str:
    return command_output("bench_generation", *args)


@pytest.mark.django_db(transaction=True)
def test_smoke_run_posts_one_invoice_per_account_and_prints_the_figures():
    called = []
    receiver = hooks.on_invoices_posted(called.append)
    try:
        text = run("--schedules", "200", "--keep")
        assert receiver in hooks._posted_receivers  # switched off during the runs only
    finally:
        hooks._posted_receivers.remove(receiver)

    for label in FIGURE_LINES:
        figure(text, label)
    assert figure(text, "schedules") == "200"
    assert figure(text, "invoices posted") == "20"
    assert figure(text, "invoice lines") == "200"
    assert figure(text, "line tax rows") == "400"
    assert float(figure(text, "engine wall time (s)")) > 0
    assert float(figure(text, "floor, TEMP tables (s)")) > 0
    # The bound re-inserts the rows into the real tables in a transaction it rolls back:
    # the kept data below is intact.
    assert float(figure(text, "database bound, real tables (s)")) > 0
    assert "Target engine/floor ≤ 3 at N=200" in text

    # --keep: the data of the (second, traced) run is there to look at.
    assert Invoice.objects.filter(status=InvoiceStatus.POSTED).count() == 20
    assert Invoice.objects.exclude(status=InvoiceStatus.POSTED).count() == 0
    assert InvoiceLine.objects.count() == 200
    assert InvoiceLineTax.objects.filter(status=InvoiceLineTax.Status.POSTED).count() == 400
    posted_items = BillingPeriodItem.objects.filter(
        invoice_status=BillingPeriodItem.InvoiceStatus.POSTED,
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 1, 31),
    )
    assert posted_items.count() == 200
    assert set(BillingSchedule.objects.values_list("next_billing_date", flat=True)) == {
        dt.date(2026, 2, 1)
    }
    assert Invoice.objects.filter(total_charges=500, total_tax="41.30").count() == 20
    assert called == []  # the after-commit receivers were off

    assert run("--delete-kept").strip() == "Deleted 1 kept benchmark data set(s)."
    assert not LegalEntity.objects.exists()
    assert not Invoice.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_without_keep_nothing_is_left_and_several_sizes_print_the_memory_ratio():
    text = run("--schedules", "40", "20", "--accounts", "4")

    assert re.search(r"^schedules\s+20\s+40$", text, re.M)
    assert re.search(r"^invoices posted\s+4\s+4$", text, re.M)
    assert "Memory ratio N=40 / N=20: tracemalloc peak" in text
    for model in (Invoice, InvoiceLine, BillingSchedule, Order, OrderItem, Account, Address):
        assert not model.objects.exists(), model
    assert not LegalEntity.objects.exists()
    assert not SequencePolicy.objects.exists()


def test_refuses_a_database_with_invoices(world):
    Invoice.objects.create(account=world.account, currency="USD", invoice_date=dt.date.today())

    with pytest.raises(CommandError, match="already holds 1 invoice"):
        run("--schedules", "10")


def test_refuses_sqlite(db, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")

    with pytest.raises(CommandError, match="needs PostgreSQL"):
        run("--schedules", "10")


@pytest.mark.django_db
def test_bulk_built_schedule_equals_what_order_activation_builds():
    world = bench.world_build(schedules=1, accounts=1)
    built = BillingSchedule.objects.get(legal_entity_id=world.entity_id)
    order = order_create(
        account=Account.objects.get(pk=built.account_id),
        items=[
            {
                "product": built.product,
                "quantity": bench.QUANTITY,
                "unit_price": bench.UNIT_PRICE,
                "pricing_term": "month",
                "start_date": bench.START,
                "end_date": bench.END,
                "billing_frequency": "monthly",
                "billing_type": "advance",
                "period_boundary": "anniversary",
            }
        ],
    )
    order_activate(order_id=order.pk)
    activated = BillingSchedule.objects.get(order=order)

    compared = [
        f.attname
        for f in BillingSchedule._meta.concrete_fields
        if f.attname
        not in {"id", "created_at", "updated_at", "group_id", "order_id", "order_item_id"}
    ]
    assert {f: getattr(built, f) for f in compared} == {f: getattr(activated, f) for f in compared}
