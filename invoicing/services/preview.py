"""Invoice preview: the next N periods' invoices of an order or account, computed in memory
with the generation engine's own period, line and grouping rules. Nothing is stored and no
number is used. `invoices_generate_preview`: what an on-demand generation would make now
(its confirmation page). Their dates lie within the dates Ledgerline bills within
(billing.periods.billing_date_problem), or they are refused naming the field."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.choices import ChargeType, ScheduleStatus
from billing.models import BillingSchedule
from billing.periods import billing_date_problem
from core.exceptions import ValidationError
from invoicing.locks import usage_summaries_lock_billable
from invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from invoicing.services.generation import (
    plan_keys,
    plan_tax,
    references_check,
    schedules_eligible,
    schedules_suspended,
)
from invoicing.services.generation_plan import (
    GenerationOptions,
    PlanInvoice,
    invoice_key,
    memo_line,
    plan_invoices,
    plan_items,
    plan_totals,
)
from invoicing.services.generation_write import line_model
from invoicing.services.memos import debit_memo_lines_for_keys
from invoicing.totals import INVOICE_TOTAL_FIELDS

MAX_PREVIEW_PERIODS = 24


@dataclass
class PreviewInvoice:
    invoice: Invoice  # unsaved
    lines: list[InvoiceLine] = field(default_factory=list)  # unsaved, parents before children
    depth: dict[int, int] = field(default_factory=dict)  # id(line) -> bundle depth


def invoices_preview(
    *,
    order_id: int | None = None,
    account_id: int | None = None,
    periods: int = 2,
    preview_date: dt.date | None = None,
) -> list[PreviewInvoice]:
    """The invoices the next `periods` billing periods of each schedule would produce,
    grouped as generation groups them, with estimated tax. Usage is left out (it depends on
    usage not yet recorded)."""
    if order_id is None and account_id is None:
        raise ValidationError({"non_field_errors": "Name an order or an account to preview."})
    if not 1 <= periods <= MAX_PREVIEW_PERIODS:
        raise ValidationError({"periods": f"Preview 1 to {MAX_PREVIEW_PERIODS} periods."})
    _dates_check(preview_date=preview_date)
    references_check(order_id=order_id, account_id=account_id)
    preview_date = preview_date or timezone.localdate()
    scope = Q(order_id=order_id) if order_id is not None else Q(account_id=account_id)
    schedules = list(
        BillingSchedule.objects.filter(scope, status=ScheduleStatus.READY)
        .exclude(charge_type=ChargeType.USAGE)
        .exclude(next_billing_date__isnull=True)
        .select_related(
            "product",
            "unit",
            "original_schedule",
            "payment_term",
            "billing_address",
            "account",
            "parent_schedule__parent_schedule",
        )
        .order_by("id")
    )
    options = GenerationOptions(
        target_date=dt.date.max, invoice_date=preview_date, period_count=periods
    )
    key_of = {s.pk: invoice_key(s) for s in schedules}
    items_by_key, billed = plan_items(schedules, key_of, options=options)
    plan = plan_invoices(schedules, items_by_key, billed, options=options)
    plan_tax(plan, estimate=True)
    plan_totals(plan)
    return [_preview(invoice) for invoice in plan.invoices]


def _dates_check(**dates: dt.date | None) -> None:
    errors = {name: problem for name, d in dates.items() if (problem := billing_date_problem(d))}
    if errors:
        raise ValidationError(errors)


@dataclass
class GenerationPreview:
    """What invoices_generate would make now: its invoices (unsaved, tax estimated), the
    schedules it would bill, and the suspended ones that would make it invoice nothing."""

    invoices: list[PreviewInvoice]
    schedule_count: int
    suspended: list[BillingSchedule]


def invoices_generate_preview(
    *,
    target_date: dt.date,
    order_id: int | None = None,
    account_id: int | None = None,
    invoice_date: dt.date | None = None,
) -> GenerationPreview:
    """The invoices `invoices_generate` would make for an order (or else an account) with
    these dates, planned the way it plans them: the same eligible schedules, suspension
    check, grouping keys, usage and due debit memos (the rows it would lock are locked for the
    moment of the plan, in a transaction rolled back: nothing is written)."""
    if order_id is None and account_id is None:
        raise ValidationError({"non_field_errors": "Name an order or an account."})
    _dates_check(target_date=target_date, invoice_date=invoice_date)
    references_check(order_id=order_id, account_id=account_id)
    scope = Q(order_id=order_id) if order_id is not None else Q(account_id=account_id)
    options = GenerationOptions(
        target_date=target_date, invoice_date=invoice_date or target_date, post=True
    )
    with transaction.atomic():
        try:
            return _generation_plan(scope, options)
        finally:
            transaction.set_rollback(True)  # nothing the plan touched is kept


def _generation_plan(scope: Q, options: GenerationOptions) -> GenerationPreview:
    """invoices_generate_preview's plan, inside its transaction: the ORM writer's path of a
    generation chunk (generation.py _generate_chunk), written nowhere."""
    target_date = options.target_date
    eligible = list(schedules_eligible(target_date=target_date).filter(scope))
    suspended = schedules_suspended(eligible)
    if suspended or not eligible:
        return GenerationPreview(invoices=[], schedule_count=len(eligible), suspended=suspended)
    key_of = {sid: p.key for p in plan_keys(eligible) for sid in p.schedule_ids}
    schedules = list(
        BillingSchedule.objects.filter(pk__in=list(key_of))
        .select_related(
            "product",
            "unit",
            "original_schedule",
            "payment_term",
            "billing_address",
            "account",
            "parent_schedule__parent_schedule",
        )
        .order_by("id")
    )
    usage: dict[int, list] = {}
    usage_items = [s.order_item_id for s in schedules if s.charge_type == ChargeType.USAGE]
    if usage_items:
        for summary in usage_summaries_lock_billable(usage_items, target_date=target_date):
            usage.setdefault(summary.order_item_id, []).append(summary)
    items_by_key, billed = plan_items(schedules, key_of, options=options, usage=usage)
    memo_pairs = debit_memo_lines_for_keys(
        {key: key.debit_memo_scope for key in items_by_key}, target_date=target_date
    )
    plan = plan_invoices(
        schedules,
        items_by_key,
        billed,
        options=options,
        memo_lines={
            key: [memo_line(line) for _, line in pairs] for key, pairs in memo_pairs.items()
        },
    )
    plan_tax(plan, estimate=True)
    plan_totals(plan)
    return GenerationPreview(
        invoices=[_preview(invoice) for invoice in plan.invoices],
        schedule_count=len(plan.billed),
        suspended=[],
    )


def _preview(planned: PlanInvoice) -> PreviewInvoice:
    """A planned invoice as unsaved models, for the pages and the API that show it."""
    invoice = Invoice(
        status=InvoiceStatus.DRAFT,
        **planned.header,
        **{f: getattr(planned, f) for f in INVOICE_TOTAL_FIELDS},
    )
    preview = PreviewInvoice(invoice=invoice)
    models: dict[int, InvoiceLine] = {}
    for line in planned.lines:
        model = line_model(line)
        if line.items:  # (a debit memo's line bills no schedule)
            schedule = line.items[0].schedule
            model.product, model.unit = schedule.product, schedule.unit
        model.tax_amount, model.computed_taxes = line.tax_amount, line.computed_taxes
        model.parent_line = models[id(line.parent)] if line.parent is not None else None
        models[id(line)] = model
        preview.lines.append(model)
        preview.depth[id(model)] = line.depth
    return preview
