"""Editing and deleting draft orders (creation and activation: billing.services.orders).

Only a draft order changes. Giving `items` replaces all of the order's items; each item is
validated like at creation and its problems are reported as `items[i].field`. A bundle
child's `parent_item` is the index of an earlier item in the list.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from billing.exceptions import OrderNotDraft
from billing.locks import order_lock
from billing.models import Order, OrderItem
from billing.services.orders import ITEM_FIELDS, ORDER_FIELDS, order_record_clean
from core.crud import InUse
from core.exceptions import ValidationError


def _draft_locked(order_id: int) -> Order:
    order = order_lock(order_id)
    if order.status != Order.Status.DRAFT:
        raise OrderNotDraft(
            f"Order {order} is {order.get_status_display().lower()}; only a draft order can be "
            "changed or deleted. Create an amendment order to change it.",
            details={"order": order.pk, "status": order.status},
        )
    return order


def order_update(
    *, order_id: int, items: list[dict[str, Any]] | None = None, **fields: Any
) -> Order:
    """Change a draft order's fields (and `account`); with `items`, replace its items."""
    unknown = set(fields) - set(ORDER_FIELDS) - {"account"}
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown order field."))
    with transaction.atomic(durable=True):
        order = _draft_locked(order_id)
        for name, value in fields.items():
            setattr(order, name, value)
        order_record_clean(order, prefix="")
        order.save()
        if items is not None:
            _items_replace(order, items)
    return order


def _items_replace(order: Order, items: list[dict[str, Any]]) -> None:
    old = list(order.items.order_by("-line_number"))  # children (later lines) first
    try:
        with transaction.atomic():
            for item in old:
                item.delete()
    except models.ProtectedError:
        raise InUse(
            f"An item of order {order} is named as amended by another order; change that "
            "order first.",
            details={"order": order.pk},
        )
    created: list[OrderItem] = []
    for index, data in enumerate(items):
        data = dict(data)
        unknown = set(data) - set(ITEM_FIELDS)
        if unknown:
            raise ValidationError(
                {f"items[{index}].{f}": "Unknown order item field." for f in sorted(unknown)}
            )
        parent = data.get("parent_item")
        if isinstance(parent, int):
            if not 0 <= parent < len(created):
                raise ValidationError(
                    {f"items[{index}].parent_item": "Refer to an earlier item of this order."}
                )
            data["parent_item"] = created[parent]
        item = OrderItem(order=order, line_number=index + 1, **data)
        order_record_clean(item, prefix=f"items[{index}].")
        item.save()
        created.append(item)


def order_delete(*, order_id: int) -> None:
    with transaction.atomic(durable=True):
        order = _draft_locked(order_id)
        try:
            with transaction.atomic():
                for item in order.items.order_by("-line_number"):
                    item.delete()
                order.delete()
        except models.ProtectedError:
            raise InUse(
                f"Order {order} is referred to by other records (an amendment order or an "
                "invoice); it cannot be deleted.",
                details={"order": order.pk},
            )
