"""Reads of billing: orders with their items, schedule groups and billing schedules, products.
The staff UI (web/views) and the API (billing/api) both read through these.

Naming: `<entity>_list` (a queryset, filtered), `<entity>_get` (one row, raising the model's
DoesNotExist), `<entity>_list_for_<x>` (the rows of one parent record).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.models import Account
from accounts.selectors import account_search_q
from billing.models import BillingSchedule, BillingScheduleGroup, Order, OrderItem, Product

# --- orders -----------------------------------------------------------------------------------


def order_list(*, q: str = "", status: str = "") -> QuerySet[Order]:
    """Orders with their account and item count, newest first; `q` matches the number,
    description, account name or external id, or the id."""
    qs = Order.objects.select_related("account").annotate(item_count=Count("items"))
    if q:
        q = q.strip()
        cond = (
            Q(number__icontains=q)
            | Q(description__icontains=q)
            | Q(account__name__icontains=q)
            | Q(account__external_id__iexact=q)
        )
        if q.isdigit():
            cond |= Q(pk=int(q))
        qs = qs.filter(cond)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def order_list_with_items() -> QuerySet[Order]:
    """Orders with their items in line order (the model's order)."""
    return Order.objects.prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("line_number", "id"))
    )


def order_list_for_account(*, account: Account) -> QuerySet[Order]:
    return Order.objects.filter(account=account).order_by("-id")


def order_get(*, order_id: int) -> Order:
    """One order with every record its header names."""
    return Order.objects.select_related(
        "account",
        "billing_profile",
        "legal_entity",
        "payment_term",
        "bill_to",
        "saved_payment_method",
    ).get(pk=order_id)


def order_item_list_for_order(*, order: Order) -> list[OrderItem]:
    return list(order.items.select_related("product", "amends_item").order_by("line_number", "id"))


# --- schedule groups and schedules ------------------------------------------------------------


def schedule_group_list_for_account(*, account: Account) -> QuerySet[BillingScheduleGroup]:
    """The account's schedule groups by order, each with its schedules and their product."""
    return (
        BillingScheduleGroup.objects.filter(account=account)
        .select_related("product", "order", "bundle_group")
        .prefetch_related(
            Prefetch(
                "schedules",
                queryset=BillingSchedule.objects.select_related("product").order_by("id"),
            )
        )
        .order_by("order_id", "id")
    )


def schedule_group_list_for_order(*, order: Order) -> QuerySet[BillingScheduleGroup]:
    """The groups of the order's schedules, with their schedules."""
    return (
        BillingScheduleGroup.objects.filter(schedules__order=order)
        .distinct()
        .prefetch_related("schedules")
        .order_by("id")
    )


def billing_schedule_list(
    *,
    status: str = "",
    account: str = "",
    next_from: dt.date | None = None,
    next_to: dt.date | None = None,
    charge_type: str = "",
    order_id: int | None = None,
) -> QuerySet[BillingSchedule]:
    """Schedules with account, product and order, by next billing date; `account` is a search
    (id, name or external id)."""
    qs = BillingSchedule.objects.select_related("account", "product", "order")
    if status:
        qs = qs.filter(status=status)
    if account:
        qs = qs.filter(account_search_q(account))
    if next_from:
        qs = qs.filter(next_billing_date__gte=next_from)
    if next_to:
        qs = qs.filter(next_billing_date__lte=next_to)
    if charge_type:
        qs = qs.filter(charge_type=charge_type)
    if order_id:
        qs = qs.filter(order_id=order_id)
    return qs.order_by("next_billing_date", "id")


def billing_schedule_list_for_order(*, order: Order) -> QuerySet[BillingSchedule]:
    return (
        BillingSchedule.objects.filter(order=order)
        .select_related("product", "order_item")
        .order_by("id")
    )


def billing_schedule_list_for_ids(*, ids: Iterable[int]) -> QuerySet[BillingSchedule]:
    return BillingSchedule.objects.filter(pk__in=list(ids)).select_related("product")


def billing_schedule_list_derived_from(*, schedule: BillingSchedule) -> QuerySet[BillingSchedule]:
    """The schedules (amendments, cancellations) whose original schedule is this one."""
    return schedule.derived_schedules.order_by("id")


def billing_schedule_get(*, schedule_id: int) -> BillingSchedule:
    """One schedule with every record it names."""
    return BillingSchedule.objects.select_related(
        "account",
        "order",
        "order_item",
        "product",
        "unit",
        "group",
        "original_schedule",
        "parent_schedule",
        "legal_entity",
        "payment_term",
        "bill_to",
        "saved_payment_method",
    ).get(pk=schedule_id)


# --- catalog ----------------------------------------------------------------------------------


def product_list() -> QuerySet[Product]:
    """Products with their unit (the model's order)."""
    return Product.objects.select_related("unit")
