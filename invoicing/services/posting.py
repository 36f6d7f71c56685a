"""Posting: actual tax, a gapless number from the one matching sequence policy, posted date,
period items and usage marked posted/invoiced; PDF and email hooks after commit."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import UsageSummary
from core.db import rows_update
from core.exceptions import DomainError
from invoicing import hooks
from invoicing.exceptions import InvoiceNotDraft
from invoicing.locks import invoice_lock, invoices_lock_drafts
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
from invoicing.services.numbering import (
    number_taken_error,
    sequence_numbers_take,
    sequence_policy_select,
)
from invoicing.services.taxing import invoice_lines_tax
from invoicing.totals import INVOICE_TOTAL_FIELDS, invoice_totals_set


@contextmanager
def _number_races_reported() -> Iterator[None]:
    """A number a racing writer took between the check and the insert (the unique index
    refused it) is reported as SequenceNumberTaken naming the number, never a 500."""
    try:
        yield
    except IntegrityError as exc:
        error = number_taken_error(exc)
        if error is None:
            raise
        raise error from exc


@dataclass(frozen=True)
class PostingFailure:
    invoice_id: int
    code: str
    message: str


def invoice_post(
    *, invoice_id: int, posted_by: str = "", posted_date: dt.date | None = None
) -> Invoice:
    """Post one draft invoice. On a numbering or tax error the invoice stays draft, the
    error is logged against it, and the error is raised."""
    try:
        with _number_races_reported(), transaction.atomic(durable=True):
            invoice = invoice_lock(invoice_id)
            if invoice.status != InvoiceStatus.DRAFT:
                raise InvoiceNotDraft(
                    f"Invoice {invoice} is {invoice.get_status_display().lower()}; only a "
                    "draft invoice can be posted.",
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
    with _number_races_reported(), transaction.atomic(durable=True):
        invoices = invoices_lock_drafts(invoice_ids)
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

    `tax_done`: the lines already carry actual tax (generation with posted output, a posted
    import). The posting checks (invoicing.hooks.posting_refusals: e-invoice rules) run
    before any number is taken: a refused invoice raises, or with keep_drafts_on_error stays
    draft as a failure. Numbering and its failures as in invoices_number(); the posted
    invoices' rows are then updated and the posting recorded (invoices_posting_record)."""
    if not invoices:
        return []
    if not tax_done:
        _actual_tax(invoices)
    refused: list[PostingFailure] = []
    refusals = hooks.posting_refusals(list(invoices))
    if refusals:
        if not keep_drafts_on_error:
            raise next(iter(refusals.values()))
        refused = [
            PostingFailure(pk, error.code, error.message) for pk, error in sorted(refusals.items())
        ]
        invoices = [i for i in invoices if i.pk not in refusals]
    posted, failures = invoices_number(
        invoices,
        posted_by=posted_by,
        posted_date=posted_date,
        keep_drafts_on_error=keep_drafts_on_error,
    )
    failures = refused + failures
    rows_update(posted, POSTED_FIELDS)
    invoices_posting_record([i.pk for i in posted], failures)
    return failures


POSTED_FIELDS = ("number", "status", "posted_date", "posted_at", "posted_by")


def invoices_number(
    invoices: Sequence[Any],
    *,
    posted_by: str = "",
    posted_date: dt.date | None = None,
    keep_drafts_on_error: bool = False,
) -> tuple[list[Any], list[PostingFailure]]:
    """The one place where documents are numbered and marked posted; writes only the
    sequence policies. `invoices` are Invoice models or generation's planned invoices
    (anything with pk, legal_entity_id, currency, invoice_date and the POSTED_FIELDS).

    Invoices are numbered per (legal entity, currency) group, each group under its policy's
    row lock (policies last and in id order: invoicing/locks.py), in invoice id order. An
    invoice that already carries a number (an import that brings its own) keeps it. With
    keep_drafts_on_error, a group whose policy cannot be chosen stays draft and is returned
    as failures; otherwise the error is raised. Returns (posted, failures)."""
    posted_date = posted_date or timezone.localdate()
    groups: dict[tuple, list[Any]] = defaultdict(list)
    numbered: list[Any] = []
    for invoice in sorted(invoices, key=lambda i: i.pk):
        if invoice.number:
            numbered.append(invoice)
        else:
            groups[(invoice.legal_entity_id, invoice.currency)].append(invoice)

    selected: list[tuple[SequencePolicy, list[Any]]] = []
    failures: list[PostingFailure] = []
    for (legal_entity_id, currency), group in groups.items():
        try:
            policy = sequence_policy_select(
                target=SequencePolicy.Target.INVOICE,
                legal_entity_id=legal_entity_id,
                currency=currency,
                on_date=posted_date,
            )
        except DomainError as exc:
            if not keep_drafts_on_error:
                raise
            failures += [PostingFailure(i.pk, exc.code, exc.message) for i in group]
            continue
        selected.append((policy, group))

    for policy, group in sorted(selected, key=lambda g: g[0].pk):
        numbers = sequence_numbers_take(
            policy_id=policy.pk, on_dates=[i.invoice_date for i in group]
        )
        for invoice, number in zip(group, numbers, strict=True):
            invoice.number = number
            numbered.append(invoice)
    now = timezone.now()
    for invoice in numbered:
        invoice.status = InvoiceStatus.POSTED
        invoice.posted_date = posted_date
        invoice.posted_at = now
        invoice.posted_by = posted_by
    return sorted(numbered, key=lambda i: i.pk), failures


def invoices_posting_record(
    posted_ids: Sequence[int],
    failures: Sequence[PostingFailure],
    *,
    items_posted: bool = False,
    fresh: bool = False,
) -> None:
    """What posting records once the invoices' rows carry their numbers (or failed to get
    one): failed invoices stay drafts with estimated tax and an error log; posted invoices'
    period items are posted (unless written so: `items_posted`), their usage invoiced, their
    posting errors resolved, and the after-commit hooks (PDF, email) queued."""
    if failures:
        failed = [f.invoice_id for f in failures]
        # Their lines carry actual tax rows: on a draft they are estimates.
        InvoiceLineTax.objects.filter(line__invoice_id__in=failed).update(
            status=InvoiceLineTax.Status.ESTIMATED
        )
        if items_posted:
            BillingPeriodItem.objects.filter(invoice_id__in=failed).update(
                invoice_status=BillingPeriodItem.InvoiceStatus.DRAFT
            )
        for failure in failures:
            error_log_record(
                category=ErrorLog.Category.POSTING,
                code=failure.code,
                message=failure.message,
                primary=Invoice(pk=failure.invoice_id),
            )
    if not posted_ids:
        return
    ids = list(posted_ids)
    if not items_posted:
        BillingPeriodItem.objects.filter(invoice_id__in=ids).update(
            invoice_status=BillingPeriodItem.InvoiceStatus.POSTED
        )
        UsageSummary.objects.filter(
            period_items__invoice_id__in=ids, status=UsageSummary.Status.READY
        ).update(status=UsageSummary.Status.INVOICED)
    if not fresh:  # invoices written in this transaction have no posting errors to resolve
        error_logs_resolve(
            primaries=[Invoice(pk=pk) for pk in ids], category=ErrorLog.Category.POSTING
        )
    transaction.on_commit(partial(hooks.invoices_posted, ids))


def _actual_tax(invoices: Sequence[Invoice]) -> None:
    """Replace the drafts' estimated tax with the actual tax, and refresh the totals."""
    ids = [i.pk for i in invoices]
    InvoiceLineTax.objects.filter(line__invoice_id__in=ids).delete()
    lines_by_invoice: dict[int, list[InvoiceLine]] = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=ids).order_by("invoice_id", "sort_order"):
        lines_by_invoice[line.invoice_id].append(line)
    pairs = [(i, lines_by_invoice[i.pk]) for i in invoices]
    invoice_lines_tax(pairs, estimate=False)
    rows_update([line for _, lines in pairs for line in lines], ["tax_amount"])
    for invoice, lines in pairs:
        invoice_totals_set(invoice, lines, paid=invoice.total - invoice.balance)
    rows_update(invoices, INVOICE_TOTAL_FIELDS)
