"""Reads of invoicing: invoices, memos, payments, billing schedules with their periods, batch
runs, schedulers, error logs and the dashboard's figures. The staff UI (web/views) and the API
(invoicing/api) both read through these. Every query is bounded: lists are paginated by their
callers, related rows are joined (select_related) or fetched in one query per relation
(prefetch_related).

Naming: `<entity>_list` (a queryset, filtered), `<entity>_get` (one row, raising the model's
DoesNotExist), `<entity>_list_for_<x>` (the rows of one parent record).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Model, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from accounts.models import Account
from accounts.selectors import account_search_q
from billing.models import BillingSchedule, Order
from core.exceptions import DomainError
from invoicing.models import (
    BillingPeriodItem,
    CreditMemo,
    CreditMemoApplication,
    DebitMemo,
    ErrorLog,
    Invoice,
    InvoiceAddress,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceDocument,
    InvoiceEmail,
    InvoiceLine,
    InvoiceScheduler,
    InvoiceStatus,
    Payment,
    Receipt,
    SequencePolicy,
)
from invoicing.services.credits import (
    NegativeLinesConversion,
    credited_so_far,
    invoice_negative_lines_preview,
    negative_lines_open,
)
from invoicing.services.numbering import sequence_policy_select
from invoicing.services.payments import write_off_application_of
from invoicing.services.recovery import batch_run_stuck_invoices, batch_run_stuck_schedules
from invoicing.services.runs import (
    batch_run_drafts,
    batch_run_invoice_ids,
    batch_run_posted,
    schedules_matching,
)
from invoicing.services.schedulers import (
    scheduler_dates,
    scheduler_local_date,
    scheduler_next_run_at,
)

# --- invoices ---------------------------------------------------------------------------------

# What an invoice's full representation reads (the API's): lines, their taxes and units, and
# the addresses, in a fixed number of queries however many invoices.
_INVOICE_WITH_LINES = ("lines__taxes__line__invoice", "lines__unit", "lines__invoice", "addresses")


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
    """Invoices with their account, newest first; `account` is a search (id, name or external
    id), `number` a part of the number."""
    qs = Invoice.objects.select_related("account")
    if number:
        qs = qs.filter(number__icontains=number.strip())
    if status:
        qs = qs.filter(status=status)
    if account:
        qs = qs.filter(account_search_q(account))
    if date_from:
        qs = qs.filter(invoice_date__gte=date_from)
    if date_to:
        qs = qs.filter(invoice_date__lte=date_to)
    if run:
        qs = qs.filter(batch_run_id=run)
    if currency:
        qs = qs.filter(currency=currency.strip().upper())
    return qs.order_by("-id")


def invoice_list_with_lines() -> QuerySet[Invoice]:
    """Invoices with their lines, taxes, units and addresses (the model's order)."""
    return Invoice.objects.prefetch_related(*_INVOICE_WITH_LINES)


def invoice_list_for_ids(*, ids: Iterable[int]) -> QuerySet[Invoice]:
    """These invoices with their lines, taxes, units and addresses, in id order."""
    return invoice_list_with_lines().filter(pk__in=list(ids)).order_by("id")


def invoice_list_for_generation(*, ids: Iterable[int]) -> QuerySet[Invoice]:
    """The invoices one generation request made, with their account, in id order."""
    return Invoice.objects.filter(pk__in=list(ids)).select_related("account").order_by("id")


def invoice_list_for_account(*, account: Account) -> QuerySet[Invoice]:
    return Invoice.objects.filter(account=account).order_by("-id")


def invoice_list_for_order(*, order: Order) -> QuerySet[Invoice]:
    """Invoices billing a period of one of the order's schedules, newest first."""
    return (
        Invoice.objects.filter(
            pk__in=BillingPeriodItem.objects.filter(schedule__order=order).values("invoice_id")
        )
        .select_related("account")
        .order_by("-id")
    )


def invoice_list_for_run(*, run: InvoiceBatchRun) -> QuerySet[Invoice]:
    """The invoices a run dealt with: a generation run's invoices; the invoices a
    draft-to-posted sub-run posted (or failed to post: still draft); those an email sub-run
    went through; those a recovery canceled or could not repair."""
    Kind = InvoiceBatchRun.Kind
    if run.kind == Kind.DRAFT_TO_POSTED:
        qs = Invoice.objects.filter(pk__in=batch_run_invoice_ids(run_id=run.pk))
    elif run.kind == Kind.EMAIL:
        qs = Invoice.objects.filter(
            pk__in=InvoiceEmail.objects.filter(batch_run=run).values("invoice_id")
        )
    elif run.kind == Kind.RECOVERY:
        summary = run.summary or {}
        ids = [*summary.get("invoices_canceled", []), *summary.get("invoices_unrecovered", [])]
        qs = Invoice.objects.filter(pk__in=ids)
    else:
        qs = Invoice.objects.filter(batch_run=run)
    return qs.select_related("account").order_by("id")


def invoice_email_list_for_run(*, run: InvoiceBatchRun) -> QuerySet[InvoiceEmail]:
    """The emails an email sub-run sent, skipped or failed, with their invoice."""
    return InvoiceEmail.objects.filter(batch_run=run).select_related("invoice").order_by("id")


def invoice_get(*, invoice_id: int) -> Invoice:
    """One invoice with every record its header names."""
    return Invoice.objects.select_related(
        "account",
        "legal_entity",
        "bill_to",
        "payment_term",
        "saved_payment_method",
        "reference_order",
        "batch_run",
    ).get(pk=invoice_id)


def invoice_line_list_for_invoice(*, invoice: Invoice) -> list[InvoiceLine]:
    """The invoice's lines in sort order, with their unit, product and taxes."""
    return list(invoice.lines.select_related("unit", "product").prefetch_related("taxes"))


def invoice_address_list_for_invoice(*, invoice: Invoice) -> list[InvoiceAddress]:
    return list(invoice.addresses.order_by("kind"))


@dataclass(frozen=True)
class InvoiceRecords:
    """What happened to an invoice after it was made: its payments, credits, documents,
    emails and open errors."""

    payments: QuerySet[Payment]
    credit_memos: QuerySet[CreditMemo]
    credit_applications: QuerySet[CreditMemoApplication]
    documents: QuerySet[InvoiceDocument]
    emails: QuerySet[InvoiceEmail]
    errors: QuerySet[ErrorLog]


def invoice_records_for_invoice(*, invoice: Invoice) -> InvoiceRecords:
    return InvoiceRecords(
        payments=Payment.objects.active()
        .filter(invoice=invoice)
        .select_related("saved_payment_method")
        .order_by("payment_date", "id"),
        credit_memos=CreditMemo.objects.filter(invoice=invoice).order_by("id"),
        credit_applications=invoice.credit_applications.select_related("credit_memo").order_by(
            "applied_date", "id"
        ),
        documents=InvoiceDocument.objects.filter(invoice=invoice).order_by("-version"),
        emails=InvoiceEmail.objects.filter(invoice=invoice).order_by("-id"),
        errors=error_log_list_for_records(records=[invoice]),
    )


@dataclass(frozen=True)
class VoidReach:
    """What voiding an invoice releases: its posted periods, over how many schedules."""

    period_count: int
    schedule_count: int


def invoice_void_reach(*, invoice: Invoice) -> VoidReach:
    return VoidReach(
        period_count=invoice.period_items.filter(invoice_status="posted").count(),
        schedule_count=invoice.period_items.values("schedule_id").distinct().count(),
    )


@dataclass(frozen=True)
class PostReach:
    """What posting a draft invoice does: its total (tax estimated; posting computes the
    actual tax) and the sequence policy that will number it, or why none can."""

    total: Decimal
    currency: str
    policy: SequencePolicy | None
    refusal: str  # the numbering's own error when no single policy matches


def invoice_post_reach(*, invoice: Invoice, posted_date: dt.date) -> PostReach:
    """The policy is chosen as posting chooses it (sequence_policy_select on the posting
    date); its number is only taken at posting, under the policy's lock."""
    policy, refusal = None, ""
    try:
        policy = sequence_policy_select(
            target=SequencePolicy.Target.INVOICE,
            legal_entity_id=invoice.legal_entity_id,
            currency=invoice.currency,
            on_date=posted_date,
        )
    except DomainError as exc:
        refusal = exc.message
    return PostReach(total=invoice.total, currency=invoice.currency, policy=policy, refusal=refusal)


@dataclass(frozen=True)
class DraftDeleteReach:
    """What deleting a draft releases: its billed periods, over how many schedules, and the
    debit memos merged into it (due again)."""

    period_count: int
    schedule_count: int
    debit_memo_count: int


def invoice_draft_delete_reach(*, invoice: Invoice) -> DraftDeleteReach:
    items = invoice.period_items.all()
    return DraftDeleteReach(
        period_count=items.count(),
        schedule_count=items.values("schedule_id").distinct().count(),
        debit_memo_count=invoice.debit_memos.count(),
    )


# --- memos ------------------------------------------------------------------------------------


def credit_memo_list() -> QuerySet[CreditMemo]:
    """Credit memos with their account, lines, taxes and applications (the model's order)."""
    return CreditMemo.objects.select_related("account").prefetch_related(
        "lines__taxes__line__credit_memo", "lines__credit_memo", "applications__credit_memo"
    )


def credit_memo_get(*, credit_memo_id: int) -> CreditMemo:
    return credit_memo_list().get(pk=credit_memo_id)


@dataclass(frozen=True)
class CreditableLine:
    line: InvoiceLine
    credited: Decimal  # by live (draft or posted) credit memos
    left: Decimal


def invoice_line_list_creditable(*, invoice: Invoice) -> list[CreditableLine]:
    """The invoice's charge lines (positive amounts) with what earlier credit memos credit of
    each and what is left to credit, in line order."""
    lines = list(invoice.lines.filter(amount__gt=0).order_by("sort_order", "id"))
    credited, _ = credited_so_far([line.pk for line in lines])
    out = []
    for line in lines:
        done = credited.get(line.pk, (Decimal(0), Decimal(0)))[0]
        out.append(CreditableLine(line=line, credited=done, left=line.amount - done))
    return out


def invoice_list_open_for_account(*, account: Account, currency: str) -> QuerySet[Invoice]:
    """The account's posted invoices in `currency` with a balance open, oldest due first (to
    allocate a payment to)."""
    return Invoice.objects.filter(
        account=account, currency=currency, status=InvoiceStatus.POSTED, balance__gt=0
    ).order_by("due_date", "id")


def credit_memo_list_for_account(*, account: Account) -> QuerySet[CreditMemo]:
    """The account's credit memos, newest first (drafts to post, credit left to apply)."""
    return (
        CreditMemo.objects.filter(account=account)
        .select_related("invoice")
        .order_by("-memo_date", "-id")
    )


def receipt_list_for_account(*, account: Account) -> QuerySet[Receipt]:
    return Receipt.objects.filter(account=account).order_by("-payment_date", "-id")


def receipt_list() -> QuerySet[Receipt]:
    """Payments received with their allocations and refunds (newest first)."""
    return Receipt.objects.prefetch_related("allocations", "refunds").order_by(
        "-payment_date", "-id"
    )


def receipt_get(*, receipt_id: int) -> Receipt:
    return receipt_list().get(pk=receipt_id)


def invoice_negative_lines(*, invoice: Invoice) -> list[InvoiceLine]:
    """The invoice's negative charge lines not yet converted to a credit memo."""
    return negative_lines_open(invoice)


def invoice_negative_lines_conversion(*, invoice: Invoice) -> NegativeLinesConversion:
    """What converting the invoice's negative lines would do, in figures."""
    return invoice_negative_lines_preview(invoice=invoice)


def invoice_write_off_get(*, invoice: Invoice) -> CreditMemoApplication | None:
    """The write-off in force on the invoice (its write-off memo's application), or None."""
    return write_off_application_of(invoice)


def credit_memo_list_applicable(*, invoice: Invoice) -> QuerySet[CreditMemo]:
    """The posted credit memos with credit left that could go to `invoice`: its account's, in
    its currency, of its legal entity (or of none), oldest first."""
    return (
        CreditMemo.objects.filter(
            account_id=invoice.account_id,
            currency=invoice.currency,
            status=CreditMemo.Status.POSTED,
            balance__gt=0,
        )
        .filter(Q(legal_entity_id=invoice.legal_entity_id) | Q(legal_entity__isnull=True))
        .order_by("memo_date", "id")
    )


def debit_memo_list() -> QuerySet[DebitMemo]:
    """Debit memos with their lines (the model's order)."""
    return DebitMemo.objects.prefetch_related("lines__debit_memo")


def debit_memo_get(*, debit_memo_id: int) -> DebitMemo:
    return debit_memo_list().get(pk=debit_memo_id)


# --- billing schedules and their periods ------------------------------------------------------


def billing_schedule_list_with_periods() -> QuerySet[BillingSchedule]:
    """Schedules with their period items in period order (the model's order)."""
    return BillingSchedule.objects.prefetch_related(
        Prefetch(
            "period_items",
            queryset=BillingPeriodItem.objects.order_by("period_start", "id"),
        )
    )


def billing_period_item_list_for_schedule(
    *, schedule: BillingSchedule
) -> QuerySet[BillingPeriodItem]:
    """The schedule's periods, latest first, with their invoice, usage and run."""
    return (
        BillingPeriodItem.objects.filter(schedule=schedule)
        .select_related("invoice", "usage_summary", "batch_run")
        .order_by("-period_start", "-id")
    )


# --- batch runs and schedulers ----------------------------------------------------------------


def batch_run_list(*, status: str = "", kind: str = "") -> QuerySet[InvoiceBatchRun]:
    """Runs with their scheduler, newest first. Unfiltered: the top-level runs, each with its
    follow-up runs (`sub_runs`, oldest first: draft to posted, email, recovery) prefetched.
    Filtered by status or kind: every run that matches, follow-up runs included."""
    qs = InvoiceBatchRun.objects.select_related("scheduler").order_by("-id")
    if status or kind:
        if status:
            qs = qs.filter(status=status)
        if kind:
            qs = qs.filter(kind=kind)
        return qs
    return qs.filter(parent_run__isnull=True).prefetch_related(
        Prefetch(
            "sub_runs", queryset=InvoiceBatchRun.objects.select_related("scheduler").order_by("id")
        )
    )


def batch_run_list_with_sub_runs() -> QuerySet[InvoiceBatchRun]:
    """Runs and sub-runs with their sub-runs' ids (the model's order)."""
    return InvoiceBatchRun.objects.prefetch_related("sub_runs")


def batch_run_list_for_parent(*, run: InvoiceBatchRun) -> QuerySet[InvoiceBatchRun]:
    """The run's sub-runs (recovery, draft to posted, email), newest first."""
    return run.sub_runs.order_by("-id")


def batch_run_list_for_scheduler(*, scheduler: InvoiceScheduler) -> QuerySet[InvoiceBatchRun]:
    return scheduler.runs.order_by("-id")


def batch_run_get(*, run_id: int) -> InvoiceBatchRun:
    return InvoiceBatchRun.objects.select_related("scheduler", "parent_run").get(pk=run_id)


@dataclass(frozen=True)
class RunPostReach:
    """What a run's draft-to-posted would post: its drafts, and their totals per currency."""

    count: int
    totals: list[tuple[str, Decimal]]


def batch_run_post_reach(*, run: InvoiceBatchRun) -> RunPostReach:
    drafts = batch_run_drafts(run_id=run.pk)
    return RunPostReach(count=drafts.count(), totals=_totals_by_currency(drafts))


@dataclass(frozen=True)
class RunEmailReach:
    """What a run's email sub-run would do with its posted invoices: send, skip (accounts
    opted out of bulk email), leave (already emailed)."""

    posted: int
    to_send: int
    opted_out: int
    already_sent: int
    to_send_totals: list[tuple[str, Decimal]]


def batch_run_email_reach(*, run: InvoiceBatchRun) -> RunEmailReach:
    posted = batch_run_posted(run_id=run.pk)
    already = Q(email_status=Invoice.EmailStatus.SENT)
    opted_out = Q(account__bulk_email_opt_out=True)
    counts = posted.aggregate(
        posted=Count("id"),
        already_sent=Count("id", filter=already),
        opted_out=Count("id", filter=opted_out & ~already),
    )
    to_send = posted.exclude(already).exclude(opted_out)
    return RunEmailReach(
        posted=counts["posted"],
        to_send=counts["posted"] - counts["already_sent"] - counts["opted_out"],
        opted_out=counts["opted_out"],
        already_sent=counts["already_sent"],
        to_send_totals=_totals_by_currency(to_send),
    )


@dataclass(frozen=True)
class RunRecoverReach:
    """What recovering a run would do as things stand: its keys no worker finished (and
    their schedules), its invoices stuck in progress, its schedules left processing or in
    error."""

    pending_keys: int
    pending_schedules: int
    stuck_invoices: int
    stuck_schedules: int


def batch_run_recover_reach(*, run: InvoiceBatchRun) -> RunRecoverReach:
    pending = run.keys.filter(status=InvoiceBatchRunKey.Status.PENDING)
    return RunRecoverReach(
        pending_keys=pending.count(),
        pending_schedules=sum(len(ids) for ids in pending.values_list("schedule_ids", flat=True)),
        stuck_invoices=batch_run_stuck_invoices(run_id=run.pk).count(),
        stuck_schedules=batch_run_stuck_schedules(run_id=run.pk).count(),
    )


@dataclass(frozen=True)
class RunNowReach:
    """What "Run now" would start: the run's dates (today in the scheduler's time zone) and
    how many schedules are due by its target date and match its filters."""

    run_date: dt.date
    target_date: dt.date
    invoice_date: dt.date
    schedule_count: int


def scheduler_run_now_reach(*, scheduler: InvoiceScheduler) -> RunNowReach:
    dates = scheduler_dates(scheduler, run_date=scheduler_local_date(scheduler))
    matching = schedules_matching(target_date=dates.target_date, filters=scheduler.filters)
    return RunNowReach(
        run_date=dates.run_date,
        target_date=dates.target_date,
        invoice_date=dates.invoice_date,
        schedule_count=matching.count(),
    )


def _totals_by_currency(invoices: QuerySet[Invoice]) -> list[tuple[str, Decimal]]:
    rows = invoices.order_by().values("currency").annotate(total=Sum("total")).order_by("currency")
    return [(r["currency"], r["total"] or Decimal(0)) for r in rows]


def scheduler_list() -> QuerySet[InvoiceScheduler]:
    return InvoiceScheduler.objects.order_by("name", "id")


def scheduler_next_runs(
    *, scheduler: InvoiceScheduler, count: int, after: dt.datetime
) -> list[dt.datetime]:
    """The scheduler's next `count` run instants after `after` (aware, in its timezone);
    fewer when it ends before."""
    out: list[dt.datetime] = []
    at = after
    while len(out) < count:
        nxt = scheduler_next_run_at(scheduler, after=at)
        if nxt is None:
            break
        out.append(nxt)
        at = nxt
    return out


# --- error logs -------------------------------------------------------------------------------


def error_log_list(
    *,
    category: str = "",
    state: str = "open",
    code: str = "",
    run: int | None = None,
    q: str = "",
) -> QuerySet[ErrorLog]:
    """Errors, last updated first; `state` is open, resolved or anything else for both."""
    qs = ErrorLog.objects.select_related(
        "primary_type", "related_type", "batch_run"
    ).prefetch_related("primary", "related")  # their current labels (an invoice's number)
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


def error_log_list_for_primary(
    queryset: QuerySet[ErrorLog], *, model: str, record_id: int
) -> QuerySet[ErrorLog]:
    """The errors of `queryset` about one record, named by its model's name (`invoice`,
    `billingschedule`; an `app_label.` prefix is ignored) and id."""
    model = model.rsplit(".", 1)[-1].lower()
    types = ContentType.objects.filter(model=model)
    return queryset.filter(primary_type__in=types, primary_id=record_id)


def error_log_list_for_records(*, records: list[Model]) -> QuerySet[ErrorLog]:
    """Open errors whose primary record is one of these (same model)."""
    if not records:
        return ErrorLog.objects.none()
    ct = ContentType.objects.get_for_model(records[0])
    return (
        ErrorLog.objects.filter(
            primary_type=ct, primary_id__in=[r.pk for r in records], is_resolved=False
        )
        .select_related("primary_type", "related_type")
        .prefetch_related("primary", "related")
        .order_by("-updated_at", "-id")
    )


def error_log_list_for_account(*, account: Account) -> QuerySet[ErrorLog]:
    """Open errors about the account, or its schedules, invoices and orders."""
    ct = ContentType.objects.get_for_models(Account, BillingSchedule, Invoice, Order)
    return (
        ErrorLog.objects.filter(is_resolved=False)
        .filter(
            Q(primary_type=ct[Account], primary_id=account.pk)
            | Q(
                primary_type=ct[BillingSchedule],
                primary_id__in=BillingSchedule.objects.filter(account=account).values("pk"),
            )
            | Q(
                primary_type=ct[Invoice],
                primary_id__in=Invoice.objects.filter(account=account).values("pk"),
            )
            | Q(
                primary_type=ct[Order],
                primary_id__in=Order.objects.filter(account=account).values("pk"),
            )
        )
        .select_related("primary_type", "related_type")
        .prefetch_related("primary", "related")
        .order_by("-updated_at", "-id")
    )


def error_log_list_for_run(*, run: InvoiceBatchRun) -> QuerySet[ErrorLog]:
    return (
        ErrorLog.objects.filter(batch_run=run)
        .select_related("primary_type", "related_type")
        .prefetch_related("primary", "related")
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
    # This month: invoices dated (invoice date) in the month of `today`, by status now.
    posted_this_month: int
    posted_amounts_this_month: list[tuple[str, Decimal]]  # (currency, total)
    drafts_this_month: int
    voided_this_month: int
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
    """The dashboard's figures as of `today` (the caller's date in the site's time zone).
    This month: the invoices whose invoice date falls in today's month, counted by their
    status now (posted, with totals per currency; draft; voided). The runs: the last 30
    days."""
    month_start = _month_start(today)
    next_month = _month_start(today, back=-1)
    this_month = Invoice.objects.filter(invoice_date__gte=month_start, invoice_date__lt=next_month)
    by_status_this_month = dict(
        this_month.order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    posted = _totals_by_currency(this_month.filter(status=InvoiceStatus.POSTED))
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
        posted_this_month=by_status_this_month.get(InvoiceStatus.POSTED, 0),
        posted_amounts_this_month=posted,
        drafts_this_month=by_status_this_month.get(InvoiceStatus.DRAFT, 0),
        voided_this_month=by_status_this_month.get(InvoiceStatus.VOIDED, 0),
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
        chart=invoice_totals_by_month(today=today),
    )


def invoice_totals_by_month(*, today: dt.date, months: int = 12) -> list[CurrencyBars]:
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
