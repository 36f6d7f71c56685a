"""Generation and posting under real concurrency: threads with their own database
connections, started together by a barrier (DESIGN.md §3: nothing billed twice; gapless
numbers with many concurrent posters)."""

import datetime as dt
import threading
from collections import Counter
from decimal import Decimal as D

import pytest
from django.db import connections

from billing.models import BillingSchedule
from billing.services.orders import order_activate, order_create
from invoicing.models import BillingPeriodItem, Invoice, SequencePolicy
from invoicing.services.generation import invoices_generate
from invoicing.services.posting import invoice_post

pytestmark = pytest.mark.django_db(transaction=True)

d = dt.date


def activate(account, items, **fields):
    order = order_create(account=account, items=items, **fields)
    return order_activate(order_id=order.pk)


def seats(world, **kw) -> dict:
    item = {
        "product": world.seat,
        "quantity": D("10"),
        "unit_price": D("5.00"),
        "pricing_term": "month",
        "start_date": d(2026, 1, 1),
        "end_date": d(2026, 12, 31),
        "billing_frequency": "monthly",
        "billing_type": "advance",
        "period_boundary": "anniversary",
    }
    item.update(kw)
    return item


def run_together(calls: list) -> tuple[list, list[BaseException]]:
    """Run each callable in its own thread (own connection), all released at once."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def worker(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors


def test_two_generators_on_one_account_bill_every_period_once(world):
    activate(world.account, [seats(world)])  # 50.00 a month
    activate(
        world.account,
        [
            seats(
                world,
                product=world.support,
                quantity=D("1"),
                unit_price=D("300.00"),
                pricing_term="quarter",
                billing_frequency="quarterly",
            )
        ],
    )  # 300.00 a quarter, advance
    activate(world.account, [seats(world, quantity=D("2"))], invoice_group_type="per_schedule")
    schedules = list(BillingSchedule.objects.order_by("id"))

    expected_totals = {
        # Seat 50 + support 300 (Q1) + own invoice of 2 × 5.00 = 10.00.
        d(2026, 1, 1): D("360.00"),
        # February and March: 2 × (50 + 10); Q2 starts in April.
        d(2026, 3, 1): D("120.00"),
        # April: 50 + 300 + 10.
        d(2026, 4, 1): D("360.00"),
    }
    for target, expected in expected_totals.items():
        before = set(Invoice.objects.values_list("id", flat=True))

        def generate(target=target):
            return invoices_generate(account_id=world.account.pk, target_date=target)

        results, errors = run_together([generate, generate])

        assert errors == []
        assert all(r.errors == [] and r.failed_keys == 0 for r in results)
        new = Invoice.objects.exclude(id__in=before)
        assert sum(i.total for i in new) == expected
        assert sorted(i for r in results for i in r.invoice_ids) == sorted(
            new.values_list("id", flat=True)
        )
        # Each key invoiced once: the default key and the per-schedule key.
        assert new.count() == 2

    per_period = Counter(BillingPeriodItem.objects.values_list("schedule_id", "period_start"))
    assert set(per_period.values()) == {1}
    # Seat and its own-invoice twin: January–April; support: Q1 and Q2.
    assert len(per_period) == 4 + 2 + 4
    for s in schedules:
        s.refresh_from_db()
    assert [s.billed_amount for s in schedules] == [D("200.00"), D("600.00"), D("40.00")]
    assert sum(Invoice.objects.values_list("total", flat=True)) == D("840.00")


def test_eight_posters_take_forty_gapless_numbers(world):
    SequencePolicy.objects.create(
        name="US invoices",
        pattern="INV-{DATE}-{SEQ}",
        date_format="YYYY",
        min_width=6,
        legal_entity=world.seller,
        currency="USD",
    )
    activate(
        world.account,
        [seats(world, quantity=D(n)) for n in range(1, 41)],
        invoice_group_type="per_schedule",
    )
    result = invoices_generate(account_id=world.account.pk, target_date=d(2026, 1, 1))
    ids = list(result.invoices.values_list("id", flat=True))
    assert len(ids) == 40 and result.errors == []

    def poster(chunk):
        def post():
            return [invoice_post(invoice_id=i, posted_date=d(2026, 1, 2)).number for i in chunk]

        return post

    results, errors = run_together([poster(ids[n::8]) for n in range(8)])

    assert errors == []
    numbers = sorted(n for chunk in results for n in chunk)
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 41)]
    assert sorted(Invoice.objects.values_list("number", flat=True)) == numbers
    assert set(Invoice.objects.values_list("status", flat=True)) == {"posted"}
    assert SequencePolicy.objects.get().next_value == 41
    assert set(BillingPeriodItem.objects.values_list("invoice_status", flat=True)) == {"posted"}


def test_concurrent_posted_generations_share_one_gapless_sequence(world):
    from tests.conftest import make_account

    SequencePolicy.objects.create(
        name="US invoices",
        pattern="INV-{DATE}-{SEQ}",
        date_format="YYYY",
        min_width=6,
        legal_entity=world.seller,
        currency="USD",
    )
    accounts = [make_account(f"Customer {n}", seller=world.seller) for n in range(6)]
    for account in accounts:
        # Two invoices per account: a default key and a per-schedule key.
        activate(account, [seats(world)])
        activate(account, [seats(world, quantity=D("1"))], invoice_group_type="per_schedule")

    def generator(account):
        def generate():
            return invoices_generate(
                account_id=account.pk, target_date=d(2026, 1, 1), action="posted"
            )

        return generate

    results, errors = run_together([generator(a) for a in accounts])

    assert errors == []
    assert all(r.errors == [] and r.posting_errors == [] for r in results)
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 13)]
    # Within one generation the numbers follow the invoice ids.
    for r in results:
        own = [i.number for i in r.invoices]
        assert len(own) == 2 and int(own[1][-6:]) == int(own[0][-6:]) + 1
    assert SequencePolicy.objects.get().next_value == 13
