"""Invoice preview: the next N periods' invoices of an order or account, computed in memory
with the generation engine's own period, line and grouping rules. Nothing is stored and no
number is used."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from billing.choices import ChargeType, ScheduleStatus
from billing.models import BillingSchedule
from core.exceptions import ValidationError
from invoicing.models import Invoice, InvoiceLine
from invoicing.services.generation import (
    GenerationOptions,
    _build_lines,
    _invoice_header,
    _Line,
    _period_items,
    _split,
    invoice_key,
    invoice_totals_set,
)
from invoicing.services.taxing import invoice_lines_tax

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
    by_key = defaultdict(list)
    for s in schedules:
        by_key[invoice_key(s)].extend(_period_items(s, options=options, usage=[]))

    previews: list[PreviewInvoice] = []
    for key, items in by_key.items():
        if not items:
            continue
        for part in _split(_build_lines(items), options.line_limit()):
            if not part:
                continue
            invoice = _invoice_header(key, part, options=options)
            preview = PreviewInvoice(invoice=invoice)
            for family in part:
                _flatten(family, None, preview)
            address = part[0].items[0].schedule.billing_address
            invoice._tax_location = (address.country, address.region) if address else ("", "")
            previews.append(preview)
    invoice_lines_tax([(p.invoice, p.lines) for p in previews], estimate=True, save=False)
    for p in previews:
        invoice_totals_set(p.invoice, p.lines)
    return previews


def _flatten(line: _Line, parent: _Line | None, preview: PreviewInvoice, depth: int = 0) -> None:
    line.obj.parent_line = parent.obj if parent else None
    preview.lines.append(line.obj)
    preview.depth[id(line.obj)] = depth
    for child in line.children:
        _flatten(child, line, preview, depth + 1)
