"""Builders the generation tests share: orders activated in one call, amendments, a bundle,
Texas tax rates (plain functions; the `world` fixture is in tests/conftest.py)."""

import datetime as dt
from decimal import Decimal as D

from billing.models import BillingSchedule, Order
from billing.services.orders import order_activate, order_create
from invoicing.models import TaxRate
from tests.conftest import seats


def activate(account, items, **fields) -> Order:
    order = order_create(account=account, items=items, **fields)
    return order_activate(order_id=order.pk)


def schedule_of(order) -> BillingSchedule:
    (schedule,) = BillingSchedule.objects.filter(order=order)
    return schedule


def amend(
    world, original: BillingSchedule, quantity: str, effective: dt.date, **kw
) -> BillingSchedule:
    """A quantity change of `original` (a seat item unless `product` says) from `effective`."""
    return schedule_of(
        activate(
            world.account,
            [
                seats(
                    world,
                    action="change_quantity",
                    amends_item=original.order_item,
                    quantity=D(quantity),
                    effective_date=effective,
                    start_date=effective,
                    **kw,
                )
            ],
        )
    )


def bundle(world, **child_kw) -> list[dict]:
    """Suite 100.00/month; 10 seats included (price 0); support 60.00/quarter, billed
    quarterly, not included."""
    return [
        seats(world, product=world.suite, quantity=D("1"), unit_price=D("100.00")),
        seats(world, parent_item=0, bundle_pricing="included", unit_price=D("0"), **child_kw),
        seats(
            world,
            product=world.support,
            parent_item=0,
            bundle_pricing="not_included",
            quantity=D("1"),
            unit_price=D("60.00"),
            pricing_term="quarter",
            billing_frequency="quarterly",
        ),
    ]


def texas_rates(world) -> tuple[TaxRate, TaxRate]:
    """A compound city tax (priority 2) created before the state's percentage (priority 1),
    so priority, not id, decides the order; a California rate that must never apply."""
    city = TaxRate.objects.create(
        legal_entity=world.seller,
        country="US",
        region="TX",
        name="Austin city",
        rate=D("5"),
        kind="compound",
        priority=2,
    )
    state = TaxRate.objects.create(
        legal_entity=world.seller,
        country="US",
        region="TX",
        name="Texas state",
        rate=D("10"),
        kind="percentage",
        priority=1,
    )
    TaxRate.objects.create(
        legal_entity=world.seller, country="US", region="CA", name="California", rate=D("7.25")
    )
    return state, city
