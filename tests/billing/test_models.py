"""The constraints the database keeps on orders, schedules, usage, billed periods and invoices.

Billed periods and invoices are invoicing models; their constraints are tested here with the
schedules they protect.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.choices import InvoiceGroupType, ItemAction, ScheduleCategory
from invoicing.models import BillingPeriodItem, InvoiceStatus
from tests.factories import (
    BillingPeriodItemFactory,
    BillingScheduleFactory,
    InvoiceFactory,
    OrderFactory,
    OrderItemFactory,
    UsageSummaryFactory,
)

pytestmark = pytest.mark.django_db


def violates(constraint: str):
    return pytest.raises(IntegrityError, match=f'"{constraint}"')


# --- order items ---------------------------------------------------------------------------


def test_item_end_before_start():
    with violates("item_end_after_start"), transaction.atomic():
        OrderItemFactory(start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 2, 28))


def test_item_may_end_on_its_start_day_or_never():
    OrderItemFactory(start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 1))
    OrderItemFactory(end_date=None)


@pytest.mark.parametrize("quantity", ["0", "-1", "-0.5"])
def test_original_item_quantity_must_be_positive(quantity):
    with violates("item_original_quantity_positive"), transaction.atomic():
        OrderItemFactory(action=ItemAction.ADD, quantity=Decimal(quantity))


def test_amendment_may_decrease_the_quantity():
    item = OrderItemFactory(amendment=True, quantity=Decimal("-3"))

    assert item.amends_item.order_id == item.order_id
    assert item.line_number == item.amends_item.line_number + 1


@pytest.mark.parametrize(
    "action", [ItemAction.CHANGE_QUANTITY, ItemAction.CANCEL, ItemAction.RENEW]
)
def test_amendment_item_needs_the_item_it_amends(action):
    with violates("item_amendment_has_target"), transaction.atomic():
        OrderItemFactory(action=action, amends_item=None, effective_date=dt.date(2026, 7, 1))


def test_amendment_item_needs_an_effective_date():
    original = OrderItemFactory()

    with violates("item_amendment_has_effective_date"), transaction.atomic():
        OrderItemFactory(
            order=original.order,
            action=ItemAction.CHANGE_QUANTITY,
            amends_item=original,
            effective_date=None,
        )


def test_item_price_is_not_negative():
    with violates("item_unit_price_nonneg"), transaction.atomic():
        OrderItemFactory(unit_price=Decimal("-0.01"))


def test_item_line_numbers_are_unique_per_order():
    item = OrderItemFactory()

    with violates("item_line_unique"), transaction.atomic():
        OrderItemFactory(order=item.order, line_number=item.line_number)


def test_custom_group_order_needs_a_key():
    with violates("order_custom_group_needs_key"), transaction.atomic():
        OrderFactory(invoice_group_type=InvoiceGroupType.CUSTOM, custom_group_key="")

    OrderFactory(invoice_group_type=InvoiceGroupType.CUSTOM, custom_group_key="PO-4711")


# --- schedules -----------------------------------------------------------------------------


def test_schedule_factory_is_consistent_with_its_group():
    schedule = BillingScheduleFactory()

    group = schedule.group
    assert (schedule.account, schedule.order, schedule.order_item, schedule.product) == (
        group.account,
        group.order,
        group.source_item,
        group.product,
    )
    assert schedule.period_amount == Decimal("100.00")
    assert schedule.total_amount == Decimal("1200.00")


@pytest.mark.parametrize("quantity", ["0", "-2"])
def test_original_schedule_quantity_must_be_positive(quantity):
    with violates("schedule_original_quantity_positive"), transaction.atomic():
        BillingScheduleFactory(category=ScheduleCategory.ORIGINAL, quantity=Decimal(quantity))


def test_derived_schedule_may_decrease_the_quantity():
    original = BillingScheduleFactory()

    BillingScheduleFactory(
        group=original.group,
        category=ScheduleCategory.AMENDMENT,
        original_schedule=original,
        quantity=Decimal("-1"),
    )


def test_derived_schedule_needs_its_original():
    with violates("schedule_derived_has_original"), transaction.atomic():
        BillingScheduleFactory(category=ScheduleCategory.CANCELLATION, original_schedule=None)


def test_schedule_end_before_start():
    with violates("schedule_end_after_start"), transaction.atomic():
        BillingScheduleFactory(start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 1, 31))


def test_custom_group_schedule_needs_a_key():
    with violates("schedule_custom_group_needs_key"), transaction.atomic():
        BillingScheduleFactory(invoice_group_type=InvoiceGroupType.CUSTOM, custom_group_key="")


# --- usage ---------------------------------------------------------------------------------


def test_one_usage_summary_per_item_and_period():
    usage = UsageSummaryFactory()

    with violates("usage_one_summary_per_period"), transaction.atomic():
        UsageSummaryFactory(order_item=usage.order_item, period_start=usage.period_start)

    UsageSummaryFactory(
        order_item=usage.order_item,
        period_start=dt.date(2026, 2, 1),
        period_end=dt.date(2026, 2, 28),
    )


def test_usage_quantity_is_not_negative():
    with violates("usage_quantity_nonneg"), transaction.atomic():
        UsageSummaryFactory(quantity=Decimal("-1"))


# --- billed periods: a period is billed once -----------------------------------------------

LIVE = [BillingPeriodItem.InvoiceStatus.DRAFT, BillingPeriodItem.InvoiceStatus.POSTED]
RELEASED = [BillingPeriodItem.InvoiceStatus.VOIDED, BillingPeriodItem.InvoiceStatus.CANCELED]


@pytest.mark.parametrize("first", LIVE)
@pytest.mark.parametrize("second", LIVE)
def test_a_period_is_billed_once(first, second):
    item = BillingPeriodItemFactory(invoice_status=first)

    with violates("period_billed_once"), transaction.atomic():
        BillingPeriodItemFactory(
            schedule=item.schedule, period_start=item.period_start, invoice_status=second
        )

    assert BillingPeriodItem.objects.filter(schedule=item.schedule).count() == 1


@pytest.mark.parametrize("first", RELEASED)
def test_a_released_period_can_be_billed_again(first):
    item = BillingPeriodItemFactory(invoice_status=first)

    again = BillingPeriodItemFactory(schedule=item.schedule, period_start=item.period_start)

    assert again.invoice_status == BillingPeriodItem.InvoiceStatus.DRAFT
    assert BillingPeriodItem.objects.filter(schedule=item.schedule).count() == 2


def test_the_next_period_of_the_same_schedule_is_allowed():
    item = BillingPeriodItemFactory()

    BillingPeriodItemFactory(schedule=item.schedule, period_start=dt.date(2026, 2, 1))


def test_period_end_before_start():
    with violates("period_item_end_after_start"), transaction.atomic():
        BillingPeriodItemFactory(period_start=dt.date(2026, 2, 1), period_end=dt.date(2026, 1, 31))


# --- invoices ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [InvoiceStatus.POSTED, InvoiceStatus.VOID_IN_PROGRESS, InvoiceStatus.VOIDED]
)
def test_posted_invoice_needs_a_number(status):
    with violates("invoice_posted_has_number_and_date"), transaction.atomic():
        InvoiceFactory(status=status, number=None, posted_date=dt.date(2026, 1, 1))


def test_posted_invoice_needs_a_posted_date():
    with violates("invoice_posted_has_number_and_date"), transaction.atomic():
        InvoiceFactory(status=InvoiceStatus.POSTED, number="INV-000001", posted_date=None)


@pytest.mark.parametrize(
    "status", [InvoiceStatus.DRAFT, InvoiceStatus.POSTING_IN_PROGRESS, InvoiceStatus.CANCELED]
)
def test_only_a_posted_invoice_has_a_number(status):
    with violates("invoice_number_only_when_posted"), transaction.atomic():
        InvoiceFactory(status=status, number="INV-000001")


def test_invoice_due_before_its_date():
    with violates("invoice_due_on_or_after_invoice_date"), transaction.atomic():
        InvoiceFactory(invoice_date=dt.date(2026, 2, 1), due_date=dt.date(2026, 1, 31))


def test_invoice_numbers_are_unique():
    invoice = InvoiceFactory(posted=True)

    with pytest.raises(IntegrityError, match="number"), transaction.atomic():
        InvoiceFactory(posted=True, number=invoice.number)


def test_posted_and_voided_factories_satisfy_the_constraints():
    posted = InvoiceFactory(posted=True)
    voided = InvoiceFactory(voided=True)

    assert posted.number and posted.posted_date == posted.invoice_date
    assert voided.status == InvoiceStatus.VOIDED and voided.number
