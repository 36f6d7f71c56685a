"""Row locks for billing. The complete lock order of Ledgerline is written at the top of
invoicing/locks.py: account → order → … → schedule group → billing schedule → …"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from billing.models import BillingSchedule, BillingScheduleGroup, Order


def order_lock(order_id: int, *, related: Sequence[str] = ()) -> Order:
    """Lock one order and return it freshly read (Order.DoesNotExist when gone)."""
    return Order.objects.select_for_update(of=("self",)).select_related(*related).get(pk=order_id)


def schedule_groups_lock(group_ids: Iterable[int]) -> dict[int, BillingScheduleGroup]:
    """Lock schedule groups and then every schedule in them, each kind in id order (an
    amendment, cancellation or renewal changes a group's schedules)."""
    ids = sorted(set(group_ids))
    groups = {
        g.pk: g
        for g in BillingScheduleGroup.objects.select_for_update().filter(pk__in=ids).order_by("id")
    }
    list(
        BillingSchedule.objects.select_for_update()
        .filter(group_id__in=ids)
        .order_by("id")
        .values_list("id", flat=True)
    )
    return groups
