"""Posting: actual tax, a gapless number from the one matching sequence policy, posted date,
period items and usage marked posted/invoiced; PDF and email hooks after commit."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils import timezone

from billing.models import UsageSummary
from core.db import rows_update
from core.exceptions import DomainError
from invoicing import hooks
from invoicing.exceptions import InvoiceNotDraft
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
    SequencePolicy,
)
from invoicing.services.errors import error_log_record, error_logs_resolve
from invoicing.services.numbering import sequence_numbers_take, sequence_policy_select
from invoicing.services.taxing import invoice_lines_tax


@dataclass(frozen=True)
class PostingFailure:
    invoice_id: int
    code: str
    message: str


def invoice_post(*, invoice_id: int, posted_by: str = "", posted_date: dt.date | None = None):
    """Post one draft invoice. On a numbering or tax error the invoice stays draft, the
    error is logged against it, and the error is raised."""
    try:
        with transaction.atomic(durable=True):
            invoice = Invoice.objects.select_for_update(of=("self",)).get(pk=invoice_id)
            if invoice.status != InvoiceStatus.DRAFT:
                raise InvoiceNotDraft(
                    f"Invoice {invoice} is {invoice.get_status_display().lower()}; only a draft "
                    "invoice can be posted.",
                    details={"invoice": invoice.pk, "status": invoice.status},
                )
            invoices_post_locked([invoice], posted_date=posted_date, posted_by=posted_by)
    except DomainError as exc:
        if not isinstance(exc, InvoiceNotDraft) and Invoice.objects.filter(pk=invoice_id).exists():
            with transaction.atomic():
                error_log_record(
                    category=ErrorLog.Category.POSTING,
                    code=exc.code,
                    message=exc.message,
                    primary=Invoice.objects.get(pk=invoice_id),
                )
        raise
    invoice.refresh_from_db()
    return invoice


def invoices_post(
    *, invoice_ids: Sequence[int], posted_by: str = "", posted_date: dt.date | None = None
) -> tuple[list[int], list[PostingFailure]]:
    """Post many drafts (ids that are not drafts are skipped). Numbering failures leave their
    invoices draft and are returned, logged; the rest are posted."""
    with transaction.atomic(durable=True):
        invoices = list(
            Invoice.objects.select_for_update(of=("self",))
            .filter(pk__in=list(invoice_ids), status=InvoiceStatus.DRAFT)
            .order_by("id")
        )
        failures = invoices_post_locked(
            invoices, posted_date=posted_date, posted_by=posted_by, keep_drafts_on_error=True
        )
    failed = {f.invoice_id for f in failures}
    return [i.pk for i in invoices if i.pk not in failed], failures


def invoices_post_locked(
    invoices: Sequence[Invoice],
    *,
    posted_by: str = "",
    posted_date: dt.date | None = None,
    tax_done: bool = False,
    keep_drafts_on_error: bool = False,
) -> list[PostingFailure]:
    """Post invoices the caller has locked (or just created) inside its transaction.

    `tax_done`: the lines already carry actual tax (generation with posted output).
    Invoices are numbered per (legal entity, currency) group, each group under its policy's
    row lock, in invoice id order. With keep_drafts_on_error, a group whose numbering fails
    stays draft (its work rolled back to a savepoint) and is reported; otherwise it raises.
    """
    if not invoices:
        return []
    posted_date = posted_date or timezone.localdate()
    if not tax_done:
        _actual_tax(invoices)
    groups: dict[tuple, list[Invoice]] = defaultdict(list)
    for invoice in sorted(invoices, key=lambda i: i.pk):
        groups[(invoice.legal_entity_id, invoice.currency)].append(invoice)

    # Lock order: policies last, and in id order across groups.
    selected: list[tuple[SequencePolicy | None, list[Invoice], DomainError | None]] = []
    for (legal_entity_id, currency), group in groups.items():
        try:
            policy = sequence_policy_select(
                target=SequencePolicy.Target.INVOICE,
                legal_entity_id=legal_entity_id,
                currency=currency,
                on_date=posted_date,
            )
            selected.append((policy, group, None))
        except DomainError as exc:
            if not keep_drafts_on_error:
                raise
            selected.append((None, group, exc))

    failures: list[PostingFailure] = []
    posted: list[Invoice] = []
    now = timezone.now()
    for policy, group, error in sorted(selected, key=lambda g: g[0].pk if g[0] else 0):
        if error is not None:
            failures += [PostingFailure(i.pk, error.code, error.message) for i in group]
            continue
        numbers = sequence_numbers_take(
            policy_id=policy.pk, on_dates=[i.invoice_date for i in group]
        )
        for invoice, number in zip(group, numbers, strict=True):
            invoice.number = number
            invoice.status = InvoiceStatus.POSTED
            invoice.posted_date = posted_date
            invoice.posted_at = now
            invoice.posted_by = posted_by
            posted.append(invoice)

    if failures:
        # Their lines carry actual tax rows (from generation, or from _actual_tax above): on a
        # draft they are estimates.
        InvoiceLineTax.objects.filter(line__invoice_id__in=[f.invoice_id for f in failures]).update(
            status=InvoiceLineTax.Status.ESTIMATED
        )
    if failures:
        for failure in failures:
            error_log_record(
                category=ErrorLog.Category.POSTING,
                code=failure.code,
                message=failure.message,
                primary=Invoice(pk=failure.invoice_id),
            )
    if not posted:
        return failures
    rows_update(posted, ["number", "status", "posted_date", "posted_at", "posted_by"])
    ids = [i.pk for i in posted]
    BillingPeriodItem.objects.filter(invoice_id__in=ids).update(
        invoice_status=BillingPeriodItem.InvoiceStatus.POSTED
    )
    UsageSummary.objects.filter(
        period_items__invoice_id__in=ids, status=UsageSummary.Status.READY
    ).update(status=UsageSummary.Status.INVOICED)
    error_logs_resolve(primaries=posted, category=ErrorLog.Category.POSTING)
    transaction.on_commit(partial(hooks.invoices_posted, ids))
    return failures


def _actual_tax(invoices: Sequence[Invoice]) -> None:
    """Replace the drafts' estimated tax with the actual tax, and refresh the totals."""
    from invoicing.services.generation import invoice_totals_set

    ids = [i.pk for i in invoices]
    InvoiceLineTax.objects.filter(line__invoice_id__in=ids).delete()
    lines_by_invoice: dict[int, list[InvoiceLine]] = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=ids).order_by("invoice_id", "sort_order"):
        lines_by_invoice[line.invoice_id].append(line)
    pairs = [(i, lines_by_invoice[i.pk]) for i in invoices]
    for _, lines in pairs:
        for line in lines:
            line.tax_amount = 0
    invoice_lines_tax(pairs, estimate=False)
    rows_update([line for _, lines in pairs for line in lines], ["tax_amount"])
    for invoice, lines in pairs:
        paid = invoice.total - invoice.balance
        invoice_totals_set(invoice, lines)
        invoice.balance = invoice.total - paid
    rows_update(invoices, ["total_charges", "total_adjustments", "total_tax", "total", "balance"])
