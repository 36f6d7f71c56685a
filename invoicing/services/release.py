"""Releasing what an invoice billed, shared by void (invoicing/services/void.py) and draft
deletion (invoicing/services/drafts.py): the refusals that protect the schedules (a later
period billed elsewhere, a batch run at work), the period items voided or deleted with their
schedules rolled back over them and their usage ready again, and merged debit memos due
again. The caller holds the locks (invoicing/locks.py invoice_lock_with_schedules)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.utils import timezone

from billing.choices import ScheduleStatus
from billing.models import BillingSchedule, UsageSummary
from billing.schedules import schedule_billed
from core.money import ZERO
from invoicing.exceptions import InvoiceNotLatest, ScheduleProcessing
from invoicing.models import BillingPeriodItem, DebitMemo, DebitMemoLine, Invoice

ONE_DAY = dt.timedelta(days=1)
_LIVE = (BillingPeriodItem.InvoiceStatus.DRAFT, BillingPeriodItem.InvoiceStatus.POSTED)


def later_live_periods_check(invoice: Invoice, items: list[BillingPeriodItem]) -> None:
    """Refuse (invoice_not_latest) when a schedule of these items has a live period item on
    another invoice that starts on or after the earliest released period: rolling the
    schedule back would bill that period twice."""
    earliest: dict[int, dt.date] = {}
    for item in items:
        if item.schedule_id not in earliest or item.period_start < earliest[item.schedule_id]:
            earliest[item.schedule_id] = item.period_start
    if not earliest:
        return
    later = (
        BillingPeriodItem.objects.filter(
            schedule_id__in=list(earliest),
            invoice_status__in=_LIVE,
            period_start__gte=min(earliest.values()),
        )
        .exclude(invoice_id=invoice.pk)
        .select_related("invoice")
        .order_by("schedule_id", "period_start")
    )
    blocking = [i for i in later if i.period_start >= earliest[i.schedule_id]]
    if not blocking:
        return
    newer = sorted(
        {str(i.invoice) if i.invoice_id else "(no invoice)" for i in blocking},
    )
    schedules = sorted({i.schedule_id for i in blocking})
    raise InvoiceNotLatest(
        f"Invoice {invoice} is not the latest invoice of every billing schedule on it: "
        f"{', '.join(newer)} bill later periods of the same schedules. Void or delete "
        "those first (newest first), then this one.",
        details={
            "invoice": invoice.pk,
            "newer_invoices": sorted({i.invoice_id for i in blocking if i.invoice_id}),
            "billing_schedules": schedules,
        },
    )


def period_items_release(
    items: list[BillingPeriodItem],
    schedules: dict[int, BillingSchedule],
    *,
    voided: bool,
) -> None:
    """Release billed periods and roll their (locked) schedules back over them.

    voided=True marks the items voided (a posted invoice keeps its history); otherwise the
    items are deleted (a draft that never was a document). Each schedule goes back to the
    earliest released period: next charge-from date, next billing date and status come from
    the period engine (billing/schedules.py schedule_billed), billed and pending amounts drop by the
    released amounts. Usage summaries billed by the items become ready for invoicing again.
    """
    if not items:
        return
    released: dict[int, list[BillingPeriodItem]] = defaultdict(list)
    for item in items:
        released[item.schedule_id].append(item)
    ids = [i.pk for i in items]
    summary_ids = [i.usage_summary_id for i in items if i.usage_summary_id]
    if voided:
        BillingPeriodItem.objects.filter(pk__in=ids).update(
            invoice_status=BillingPeriodItem.InvoiceStatus.VOIDED, updated_at=timezone.now()
        )
    else:
        BillingPeriodItem.objects.filter(pk__in=ids).delete()
    if summary_ids:
        UsageSummary.objects.filter(pk__in=summary_ids).update(
            status=UsageSummary.Status.READY, updated_at=timezone.now()
        )

    changed = []
    for schedule_id, schedule_items in sorted(released.items()):
        s = schedules[schedule_id]
        start = min(i.period_start for i in schedule_items)
        schedule_billed(
            s,
            billed_through=start - ONE_DAY,
            amount=-sum((i.amount for i in schedule_items), ZERO),
        )
        changed.append(s)
    BillingSchedule.objects.bulk_update(
        changed,
        [
            "next_charge_from_date",
            "next_billing_date",
            "billed_amount",
            "pending_amount",
            "status",
            "updated_at",
        ],
    )


def processing_schedules_check(invoice: Invoice, schedules: Iterable[BillingSchedule]) -> None:
    busy = sorted(s.pk for s in schedules if s.status == ScheduleStatus.PROCESSING)
    if busy:
        raise ScheduleProcessing(
            f"A batch run is invoicing billing schedule(s) {', '.join(map(str, busy))} of "
            f"invoice {invoice} right now. Wait for it to finish, then try again.",
            details={"invoice": invoice.pk, "billing_schedules": busy},
        )


def debit_memos_release(invoice: Invoice) -> None:
    """Debit memos merged into the invoice are due again (the next generation bills them)."""
    memo_ids = list(invoice.debit_memos.values_list("pk", flat=True))
    if not memo_ids:
        return
    DebitMemoLine.objects.filter(debit_memo_id__in=memo_ids).update(invoice_line=None)
    DebitMemo.objects.filter(pk__in=memo_ids).update(
        status=DebitMemo.Status.POSTED, invoice=None, updated_at=timezone.now()
    )
