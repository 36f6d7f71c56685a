"""Reads behind the staff UI's pages: filtered lists with their joins, and the dashboard's
figures. Every query is bounded: lists are paginated by the views, related rows are joined
(select_related) or fetched in one query per relation (prefetch_related)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from accounts.models import Account
from billing.models import BillingSchedule, Order
from invoicing.models import ErrorLog, Invoice, InvoiceBatchRun, InvoiceScheduler, InvoiceStatus


def _account_q(value: str, prefix: str = "account") -> Q:
    """An account filter from a search box: an id, or part of a name or external id."""
    value = value.strip()
    if value.isdigit():
        return Q(**{f"{prefix}_id": int(value)}) | Q(**{f"{prefix}__external_id": value})
    return Q(**{f"{prefix}__name__icontains": value}) | Q(
        **{f"{prefix}__external_id__iexact": value}
    )


# --- lists ------------------------------------------------------------------------------------


def account_list(*, q: str = "") -> QuerySet[Account]:
    qs = Account.objects.select_related("legal_entity").annotate(
        schedules_in_error=Count("schedules", filter=Q(schedules__status="error"), distinct=True)
    )
    if q:
        q = q.strip()
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(external_id__icontains=q)
            | Q(email__icontains=q)
            | Q(contacts__email__iexact=q)
        ).distinct()
    return qs.order_by("name", "id")


def order_list(*, q: str = "", status: str = "") -> QuerySet[Order]:
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


def schedule_list(
    *,
    status: str = "",
    account: str = "",
    next_from: dt.date | None = None,
    next_to: dt.date | None = None,
    charge_type: str = "",
    order_id: int | None = None,
) -> QuerySet[BillingSchedule]:
    qs = BillingSchedule.objects.select_related("account", "product", "order")
    if status:
        qs = qs.filter(status=status)
    if account:
        qs = qs.filter(_account_q(account))
    if next_from:
        qs = qs.filter(next_billing_date__gte=next_from)
    if next_to:
        qs = qs.filter(next_billing_date__lte=next_to)
    if charge_type:
        qs = qs.filter(charge_type=charge_type)
    if order_id:
        qs = qs.filter(order_id=order_id)
    return qs.order_by("next_billing_date", "id")


def invoice_list(
    *,
    number: str = "",
    status: str = "",
    account: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    run: int | None = None,
    currency: str = "",
) -> QuerySet[Invoice]:
    qs = Invoice.objects.select_related("account")
    if number:
        qs = qs.filter(number__icontains=number.strip())
    if status:
        qs = qs.filter(status=status)
    if account:
        qs = qs.filter(_account_q(account))
    if date_from:
        qs = qs.filter(invoice_date__gte=date_from)
    if date_to:
        qs = qs.filter(invoice_date__lte=date_to)
    if run:
        qs = qs.filter(batch_run_id=run)
    if currency:
        qs = qs.filter(currency=currency.strip().upper())
    return qs.order_by("-id")


def error_log_list(
    *,
    category: str = "",
    state: str = "open",
    code: str = "",
    run: int | None = None,
    q: str = "",
) -> QuerySet[ErrorLog]:
    qs = ErrorLog.objects.select_related("primary_type", "related_type", "batch_run")
    if category:
        qs = qs.filter(category=category)
    if state == "open":
        qs = qs.filter(is_resolved=False)
    elif state == "resolved":
        qs = qs.filter(is_resolved=True)
    if code:
        qs = qs.filter(code=code.strip())
    if run:
        qs = qs.filter(batch_run_id=run)
    if q:
        qs = qs.filter(message__icontains=q.strip())
    return qs.order_by("-updated_at", "-id")


def error_logs_for(records: list) -> QuerySet[ErrorLog]:
    """Open errors whose primary record is one of these (same model)."""
    from django.contrib.contenttypes.models import ContentType

    if not records:
        return ErrorLog.objects.none()
    ct = ContentType.objects.get_for_model(records[0])
    return (
        ErrorLog.objects.filter(
            primary_type=ct, primary_id__in=[r.pk for r in records], is_resolved=False
        )
        .select_related("primary_type", "related_type")
        .order_by("-updated_at", "-id")
    )


# --- dashboard --------------------------------------------------------------------------------


@dataclass
class CurrencyBars:
    currency: str
    months: list[tuple[dt.date, Decimal]]  # 12 (first day of month, amount)
    maximum: Decimal
    total: Decimal


@dataclass
class Dashboard:
    today: dt.date
    month_start: dt.date
    month_end: dt.date
    invoices_this_month: int
    posted_this_month: list[tuple[str, Decimal]]  # (currency, total)
    drafts: int
    draft_amounts: list[tuple[str, Decimal]]
    runs_completed: int
    runs_with_errors: int
    runs_failed: int
    runs_started: int
    open_errors: int
    errors_by_category: list[tuple[str, int]]
    recent_runs: list[InvoiceBatchRun]
    schedulers: list[InvoiceScheduler]
    chart: list[CurrencyBars] = field(default_factory=list)


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


RUN_WINDOW_DAYS = 30


def dashboard_get(*, today: dt.date) -> Dashboard:
    """The dashboard's figures as of `today` (the runs: the last 30 days)."""
    month_start = _month_start(today)
    next_month = _month_start(today, back=-1)
    this_month = Invoice.objects.filter(invoice_date__gte=month_start, invoice_date__lt=next_month)
    counted = this_month.exclude(status__in=[InvoiceStatus.CANCELED, InvoiceStatus.ERROR])
    posted = (
        this_month.filter(status=InvoiceStatus.POSTED)
        .values("currency")
        .annotate(total=Sum("total"))
        .order_by("currency")
    )
    drafts = Invoice.objects.filter(status=InvoiceStatus.DRAFT)
    draft_amounts = drafts.values("currency").annotate(total=Sum("total")).order_by("currency")
    since = today - dt.timedelta(days=RUN_WINDOW_DAYS)
    runs = (
        InvoiceBatchRun.objects.filter(parent_run__isnull=True, created_at__date__gte=since)
        .values("status")
        .annotate(n=Count("id"))
    )
    by_status = {r["status"]: r["n"] for r in runs}
    errors = (
        ErrorLog.objects.filter(is_resolved=False)
        .values("category")
        .annotate(n=Count("id"))
        .order_by("-n", "category")
    )
    categories = dict(ErrorLog.Category.choices)
    S = InvoiceBatchRun.Status
    return Dashboard(
        today=today,
        month_start=month_start,
        month_end=next_month - dt.timedelta(days=1),
        invoices_this_month=counted.count(),
        posted_this_month=[(r["currency"], r["total"]) for r in posted],
        drafts=drafts.count(),
        draft_amounts=[(r["currency"], r["total"]) for r in draft_amounts],
        runs_completed=by_status.get(S.COMPLETED, 0),
        runs_with_errors=by_status.get(S.COMPLETED_WITH_ERRORS, 0),
        runs_failed=by_status.get(S.FAILED, 0),
        runs_started=by_status.get(S.STARTED, 0),
        open_errors=sum(r["n"] for r in errors),
        errors_by_category=[(categories.get(r["category"], r["category"]), r["n"]) for r in errors],
        recent_runs=list(
            InvoiceBatchRun.objects.filter(parent_run__isnull=True)
            .select_related("scheduler")
            .order_by("-id")[:5]
        ),
        schedulers=list(
            InvoiceScheduler.objects.filter(status=InvoiceScheduler.Status.ACTIVE).order_by("name")
        ),
        chart=monthly_invoiced(today=today),
    )


def monthly_invoiced(*, today: dt.date, months: int = 12) -> list[CurrencyBars]:
    """Posted invoice totals (tax included) per currency per month, by invoice date, for the
    last `months` months including the current one. Voided invoices are left out (their
    credit memo cancels them)."""
    first = _month_start(today, back=months - 1)
    end = _month_start(today, back=-1)
    rows = (
        Invoice.objects.filter(
            status=InvoiceStatus.POSTED, invoice_date__gte=first, invoice_date__lt=end
        )
        .annotate(month=TruncMonth("invoice_date"))
        .values("currency", "month")
        .annotate(total=Sum("total"))
        .order_by("currency", "month")
    )
    per: dict[str, dict[dt.date, Decimal]] = defaultdict(dict)
    for r in rows:
        month = r["month"]
        if isinstance(month, dt.datetime):
            month = month.date()
        per[r["currency"]][month] = r["total"]
    out = []
    axis = [_month_start(today, back=b) for b in range(months - 1, -1, -1)]
    for currency in sorted(per):
        values = [(m, per[currency].get(m, Decimal(0))) for m in axis]
        out.append(
            CurrencyBars(
                currency=currency,
                months=values,
                maximum=max((v for _, v in values), default=Decimal(0)),
                total=sum((v for _, v in values), Decimal(0)),
            )
        )
    return out


def chart_svg_bars(
    bars: CurrencyBars, *, width: int = 600, height: int = 160
) -> list[dict[str, Any]]:
    """Bar geometry for the inline SVG chart of one currency (12 bars, scaled to the max)."""
    n = len(bars.months)
    slot = width / n
    bar_w = slot * 0.64
    top, bottom = 18, height - 22
    span = bottom - top
    out = []
    for i, (month, amount) in enumerate(bars.months):
        h = float(amount / bars.maximum) * span if bars.maximum > 0 and amount > 0 else 0.0
        x = i * slot + (slot - bar_w) / 2
        out.append(
            {
                "month": month,
                "amount": amount,
                "x": round(x, 1),
                "y": round(bottom - h, 1),
                "w": round(bar_w, 1),
                "h": round(h, 1),
                "cx": round(i * slot + slot / 2, 1),
                "label_y": bottom + 15,
                "value_y": round(bottom - h - 4, 1),
            }
        )
    return out


def scheduler_next_runs(
    scheduler: InvoiceScheduler, *, count: int, after: dt.datetime
) -> list[dt.datetime] | None:
    """The scheduler's next `count` run instants after `after` (aware, in its timezone), or
    None where the scheduling service is not installed."""
    from web.optional import service

    next_run_at = service("scheduler_next_run_at")
    if next_run_at is None:
        return None
    out: list[dt.datetime] = []
    at = after
    while len(out) < count:
        nxt = next_run_at(scheduler, after=at)
        if nxt is None:
            break
        out.append(nxt)
        at = nxt
    return out
