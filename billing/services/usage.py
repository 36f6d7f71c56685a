"""Usage summaries: the consumed quantity of a usage item over a period, billed by the next
generation whose target date reaches the period's end."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from accounts.models import Account
from billing.choices import ChargeType, ScheduleCategory
from billing.models import BillingSchedule, OrderItem, UsageSummary
from billing.pricing import PERIOD_AMOUNT_LIMIT
from core.crud import full_clean_or_raise, save_or_conflict
from core.exceptions import ValidationError
from core.money import plain


def usage_summary_create(
    *,
    order_item: OrderItem,
    period_start: dt.date,
    period_end: dt.date,
    quantity: Decimal,
    account: Account | None = None,
    status: str = UsageSummary.Status.READY,
) -> UsageSummary:
    """Record usage of a usage item. The quantity is rounded by the product's unit; the
    summary is linked to the item's usage schedule when the order is activated."""
    errors: dict[str, str] = {}
    product = order_item.product
    order = order_item.order
    if product.charge_type != ChargeType.USAGE:
        errors["order_item"] = (
            f"Order item {order_item.pk} sells {product.sku}, a {product.charge_type} product; "
            "usage is recorded for usage products only."
        )
    if account is not None and account.pk != order.account_id:
        errors["account"] = "The order item belongs to another account."
    if status == UsageSummary.Status.INVOICED:
        errors["status"] = "Usage becomes invoiced when its invoice is posted; record it ready."
    if period_end < period_start:
        errors["period_end"] = "The period ends before it starts."
    if period_start < order_item.start_date:
        errors["period_start"] = f"The item starts on {order_item.start_date}."
    if order_item.end_date and period_end > order_item.end_date:
        errors["period_end"] = f"The item ends on {order_item.end_date}."
    if quantity is not None and quantity < 0:
        errors["quantity"] = "The quantity cannot be negative."
    elif quantity is not None and order_item.overage_unit_price:
        overage = abs(quantity * order_item.overage_unit_price)
        if overage >= PERIOD_AMOUNT_LIMIT:
            errors["quantity"] = (
                f"{plain(quantity)} × the overage price {plain(order_item.overage_unit_price)} "
                f"would bill {plain(overage)}, more than one period may bill (under "
                f"{plain(PERIOD_AMOUNT_LIMIT)}). Check the quantity's unit."
            )
    if errors:
        raise ValidationError(errors)

    schedule = (
        BillingSchedule.objects.filter(order_item=order_item, category=ScheduleCategory.ORIGINAL)
        .order_by("id")
        .first()
    )
    summary = UsageSummary(
        account_id=order.account_id,
        order_item=order_item,
        schedule=schedule,
        period_start=period_start,
        period_end=period_end,
        quantity=product.unit.round(quantity),
        status=status,
    )
    with transaction.atomic():
        full_clean_or_raise(summary)
        save_or_conflict(summary)
    return summary
