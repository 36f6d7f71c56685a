"""Recovery of interrupted batch runs and of stuck schedules (docs/batch-runs.md, Recovery).

- `batch_run_recover` starts a recovery sub-run of a run; `batch_run_recover_execute` (its
  task) cancels the run's invoices stuck in draft_in_progress, resets its schedules left
  processing or error, bills what the run left billable (its keys no worker holds, and the
  keys that failed for a reason outside the billing rules) and summarises the run.
- `billing_schedules_recover` repairs the latest invoice of given schedules and its sibling
  schedules.

Locks follow the global order: schedules (in id order) before the invoice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max, Min, Model, Q, QuerySet, Sum
from django.utils import timezone

from billing.choices import ChargeType, ScheduleStatus
from billing.models import BillingSchedule
from billing.schedules import schedule_advance
from core.exceptions import ValidationError
from core.money import ZERO
from invoicing.locks import batch_run_keys_lock, billing_schedules_lock, invoice_lock_or_none
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceStatus,
)
from invoicing.services.errors import error_log_record, error_logs_resolve
from invoicing.services.runs import (
    RETRYABLE,
    ChunkOutcome,
    batch_run_get,
    batch_run_plan,
    batch_run_schedule_ids,
    batch_run_summarise,
    batch_sub_run_start,
    batched,
    counters_add,
    keys_claim,
    keys_free,
    keys_generate,
    keys_give_up,
    lease_owner,
    lease_settings,
    run_event,
    schedules_unbilled,
    sub_run_execute,
    sub_run_holds,
    sub_run_lock_own,
    sub_run_release,
)

logger = logging.getLogger(__name__)

Run = InvoiceBatchRun
Key = InvoiceBatchRunKey
ONE_DAY = dt.timedelta(days=1)
RECOVER_BATCH = 1000  # schedules reset per transaction by recovery
LEASE_POLL_SECONDS = 0.5  # how often recovery looks whether a leased key was given up
_LIVE = [BillingPeriodItem.InvoiceStatus.DRAFT, BillingPeriodItem.InvoiceStatus.POSTED]
_STUCK_SCHEDULE = [ScheduleStatus.PROCESSING, ScheduleStatus.ERROR]


# --------------------------------------------------------------------------------------------
# Runs


def batch_run_recover(*, run_id: int, requested_by: str = "") -> Run:
    """Start the recovery of a run as a recovery sub-run (see batch_run_recover_execute)."""
    return batch_sub_run_start(run_id=run_id, kind=Run.Kind.RECOVERY, requested_by=requested_by)


def batch_run_stuck_invoices(*, run_id: int) -> QuerySet[Invoice]:
    """The run's invoices its recovery cancels: stuck in draft_in_progress."""
    return Invoice.objects.filter(batch_run_id=run_id, status=InvoiceStatus.DRAFT_IN_PROGRESS)


def batch_run_stuck_schedules(*, run_id: int) -> QuerySet[BillingSchedule]:
    """The schedules of the run's keys that its recovery resets: left processing or error."""
    return BillingSchedule.objects.filter(
        pk__in=batch_run_schedule_ids(run_id=run_id), status__in=_STUCK_SCHEDULE
    )


def batch_run_recover_execute(*, sub_run_id: int, owner: str | None = None) -> Run:
    """Recover the parent run:

    1. its invoices stuck in draft_in_progress are canceled, their period items canceled and
       their schedules rolled back;
    2. its schedules left processing or error are resynchronised with their live period items
       and reset to ready_for_invoicing (their open generation errors resolved);
    3. what it left billable is billed now, by this task, through the run's own chunk code
       (invoices and counters on the run): a run never planned is planned; the keys that
       failed for a reason outside the billing rules (a crash around the engine, a worker
       lost again and again, schedules held by another transaction) are reopened; then every
       pending key no live worker holds is claimed and generated. Keys a live worker holds
       are left to it. A key that failed in the engine (tax, numbering …) stays failed: its
       schedules are reset (2) and a new run bills them once the cause is fixed;
    4. the parent run is summarised (anew if it had finished).

    What it did is recorded in the sub-run's summary and counters (matching: schedules found
    stuck; processed: recovered; failed: not recovered; invoices_generated: billed now) and
    as an event on the parent.

    The sub-run is claimed with a lease (`owner`: its task, see runs.sub_run_claim), renewed
    while it works. Every step goes on with what is left when it runs again (its worker was
    lost): stuck invoices and schedules are looked up afresh, keys are claimed with leases of
    their own (a recovery run again takes back the keys it held at once), so nothing is
    billed twice; the summary then tells what the last task did.
    """
    return sub_run_execute(
        sub_run_id=sub_run_id, kind=Run.Kind.RECOVERY, owner=owner, work=_recover
    )


def _recover(sub: Run, *, owner: str) -> Run:
    sub_run_id = sub.pk
    parent_id = sub.parent_run_id
    assert parent_id is not None  # sub_run_claim checked it
    Run.objects.filter(pk=sub.pk).update(stage=Run.Stage.UPDATING_SCHEDULES, progress=5)

    # 1. Cancel invoices stuck in draft_in_progress.
    stuck = list(
        batch_run_stuck_invoices(run_id=parent_id).order_by("id").values_list("pk", flat=True)
    )
    canceled: list[int] = []
    unrecovered: list[int] = []
    rolled_back: set[int] = set()
    for invoice_id in stuck:
        try:
            with transaction.atomic(durable=True):
                schedule_ids = _invoice_cancel_stuck(invoice_id)
                if schedule_ids is not None:
                    canceled.append(invoice_id)
                    rolled_back.update(schedule_ids)
        except Exception as exc:  # noqa: BLE001 - one invoice's failure does not stop recovery
            logger.exception("Recovery could not cancel invoice %s", invoice_id)
            _record_unrecovered(sub, Invoice(pk=invoice_id), exc)
            unrecovered.append(invoice_id)

    # 2. Reset the run's schedules left processing or error.
    run_schedule_ids = sorted(
        {
            sid
            for ids in Key.objects.filter(run_id=parent_id).values_list("schedule_ids", flat=True)
            for sid in ids
        }
        | set(
            BillingPeriodItem.objects.filter(invoice_id__in=canceled).values_list(
                "schedule_id", flat=True
            )
        )
    )
    recovered: list[int] = []
    failed: list[int] = []
    for batch in batched(run_schedule_ids, RECOVER_BATCH):
        try:
            with transaction.atomic(durable=True):
                recovered += _schedules_reset(batch)
        except Exception:  # noqa: BLE001 - retry one by one to isolate the broken schedule
            for sid in batch:
                try:
                    with transaction.atomic(durable=True):
                        recovered += _schedules_reset([sid])
                except Exception as exc:  # noqa: BLE001
                    logger.exception("Recovery could not reset schedule %s", sid)
                    _record_unrecovered(sub, BillingSchedule(pk=sid), exc)
                    failed.append(sid)

    recovered = sorted(set(recovered) | rolled_back)

    # 3. Bill what is still billable (unless the supervisor gave the sub-run to another task).
    if not sub_run_holds(sub.pk, owner):
        return batch_run_get(run_id=sub.pk)
    Run.objects.filter(pk=sub.pk).update(stage=Run.Stage.GENERATING, progress=50)
    billing = _run_bill_remaining(parent_id, sub_run_id=sub.pk)

    # 4. Finish the parent and the sub-run.
    parent = batch_run_get(run_id=parent_id)
    if parent.status == Run.Status.STARTED:
        batch_run_summarise(run_id=parent_id, force=parent.stage == Run.Stage.QUEUED)
    elif billing.reopened or billing.outcome.keys:
        batch_run_summarise(run_id=parent_id, again=True)
    with transaction.atomic(durable=True):
        locked = sub_run_lock_own(sub_run_id, owner)
        if locked is None:
            return batch_run_get(run_id=sub_run_id)
        sub = locked
        sub.matching_schedules = len(recovered) + len(failed)
        sub.schedules_processed = len(recovered)
        sub.schedules_failed = len(failed)
        sub.invoices_failed = len(unrecovered)
        sub.invoices_generated = billing.outcome.invoices
        sub.summary = {
            "keys_reopened": billing.reopened,
            "keys_billed": billing.outcome.keys,
            "schedules_billed": billing.outcome.schedules,
            "keys_reported": billing.reported,
            "keys_left_to_workers": billing.left,
            "invoices_canceled": canceled,
            "schedules_recovered": recovered,
            "schedules_unrecovered": failed,
            "invoices_unrecovered": unrecovered,
        }
        did_something = recovered or canceled or billing.outcome.keys
        if (failed or unrecovered) and not did_something:
            sub.status = Run.Status.FAILED
        elif failed or unrecovered or billing.reported:
            sub.status = Run.Status.COMPLETED_WITH_ERRORS
        else:
            sub.status = Run.Status.COMPLETED
        sub.stage, sub.progress, sub.completed_at = Run.Stage.DONE, 100, timezone.now()
        sub_run_release(sub)
        sub.save()
        parent = batch_run_get(run_id=parent_id, lock=True)
        parent.summary = {
            **parent.summary,
            "recovery": {
                "sub_run": sub.pk,
                "status": sub.status,
                "schedules_recovered": len(recovered),
                "schedules_unrecovered": len(failed),
                "invoices_canceled": len(canceled),
                "schedules_billed": billing.outcome.schedules,
                "invoices_generated": billing.outcome.invoices,
            },
        }
        run_event(
            parent,
            "recovered",
            sub_run=sub.pk,
            detail=f"{billing.outcome.schedules} schedules billed, {len(recovered)} reset, "
            f"{len(canceled)} invoices canceled",
        )
        parent.save(update_fields=["summary", "events", "updated_at"])
    return sub


@dataclass
class _Billing:
    outcome: ChunkOutcome = field(default_factory=ChunkOutcome)
    reopened: int = 0  # failed keys reopened
    reported: int = 0  # keys still held after recovery's try: failed and logged
    left: int = 0  # keys a live worker holds, left to it


def _run_bill_remaining(run_id: int, *, sub_run_id: int) -> _Billing:
    """Step 3 of recovery: plan a run never planned, reopen its retryable failed keys, then
    claim and generate every pending key no live worker holds, chunk by chunk (a lease
    owned by this recovery). Keys still held by another transaction after the chunk's own
    retries are reported (failed, ErrorLog): a human decided, so recovery does not wait."""
    billing = _Billing()
    run = batch_run_get(run_id=run_id)
    if run.kind != Run.Kind.GENERATION or run.status == Run.Status.CANCELED:
        return billing
    if run.status == Run.Status.STARTED and run.stage == Run.Stage.QUEUED:
        run = batch_run_plan(run_id=run_id)
        if run.status != Run.Status.STARTED:
            return billing
    billing.reopened = _keys_reopen(run_id)
    _leases_wait(run_id)
    owner = lease_owner(f"recovery-{sub_run_id}")
    chunks = sorted(
        set(
            Key.objects.filter(keys_free(run_id, now=timezone.now())).values_list(
                "chunk", flat=True
            )
        )
    )
    for chunk in chunks:
        keys = keys_claim(run_id, owner=owner, chunk=chunk)
        if keys:
            billing.outcome.add(keys_generate(run, keys, owner=owner))
    with transaction.atomic(durable=True):
        run = batch_run_get(run_id=run_id, lock=True)
        now = timezone.now()
        held = batch_run_keys_lock(keys_free(run_id, now=now), skip_locked=True)
        if held:
            billing.reported = keys_give_up(run, held)
            run.save(update_fields=["events", "updated_at"])
        billing.left = Key.objects.filter(run_id=run_id, status=Key.Status.PENDING).count()
    return billing


def _leases_wait(run_id: int) -> None:
    """Wait (at most a lease and 5 s) while keys of the run are leased: a worker that died a
    moment ago still holds its keys until its lease expires; a live worker renews its lease
    and keeps them (recovery then leaves them to it)."""
    limit = time.monotonic() + lease_settings().lease.total_seconds() + 5
    while time.monotonic() < limit:
        leased = Key.objects.filter(
            run_id=run_id,
            status=Key.Status.PENDING,
            lease_expires_at__gte=timezone.now(),
        ).exclude(lease_owner="")
        if not leased.exists():
            return
        time.sleep(LEASE_POLL_SECONDS)


def _keys_reopen(run_id: int) -> int:
    """Set the run's keys that failed for a retryable reason (RETRYABLE) pending again: the
    counters their failure added are taken back and their batch-run errors resolved."""
    with transaction.atomic(durable=True):
        run = batch_run_get(run_id=run_id, lock=True)
        keys = batch_run_keys_lock(
            Q(run_id=run_id, status=Key.Status.FAILED, error_code__in=RETRYABLE),
            skip_locked=True,
        )
        if not keys:
            return 0
        unbilled = schedules_unbilled(run_id, keys)
        Key.objects.filter(pk__in=[k.pk for k in keys]).update(
            status=Key.Status.PENDING,
            error="",
            error_code="",
            lease_owner="",
            lease_expires_at=None,
            attempts=0,
        )
        counters_add(run_id, schedules_failed=-len(unbilled), invoices_failed=-len(keys))
        ErrorLog.objects.filter(
            batch_run_id=run_id,
            category=ErrorLog.Category.BATCH_RUN,
            code__in=RETRYABLE,
            is_resolved=False,
        ).update(is_resolved=True)
        run_event(run, "keys_reopened", keys=len(keys), detail="recovery bills them")
        run.save(update_fields=["events", "updated_at"])
    return len(keys)


def _record_unrecovered(sub: Run, primary: Model, exc: Exception) -> None:
    with transaction.atomic(durable=True):
        error_log_record(
            category=ErrorLog.Category.BATCH_RUN,
            code="recovery_failed",
            message=f"Recovery could not repair {primary._meta.verbose_name} {primary.pk}: "
            f"{type(exc).__name__}: {exc}. Fix the record by hand, then recover again.",
            primary=primary,
            batch_run_id=sub.pk,
        )


def _invoice_cancel_stuck(invoice_id: int) -> list[int] | None:
    """Cancel an invoice stuck in draft_in_progress: its period items canceled (so their
    periods can be billed again), its schedules rolled back (their ids are returned; None
    when the invoice is not stuck any more). Inside the caller's transaction."""
    schedule_ids = set(
        BillingPeriodItem.objects.filter(invoice_id=invoice_id).values_list(
            "schedule_id", flat=True
        )
    )
    schedules = billing_schedules_lock(schedule_ids)
    invoice = invoice_lock_or_none(invoice_id)
    if invoice is None or invoice.status != InvoiceStatus.DRAFT_IN_PROGRESS:
        return None
    return _invoice_cancel(invoice, schedules)


def _invoice_cancel(invoice: Invoice, schedules: list[BillingSchedule]) -> list[int]:
    """Cancel a locked, unnumbered invoice and roll its (locked) schedules back; returns
    their ids."""
    released = dict(
        BillingPeriodItem.objects.filter(invoice_id=invoice.pk, invoice_status__in=_LIVE)
        .values("schedule_id")
        .annotate(first=Min("period_start"))
        .values_list("schedule_id", "first")
    )
    BillingPeriodItem.objects.filter(invoice_id=invoice.pk).update(
        invoice_status=BillingPeriodItem.InvoiceStatus.CANCELED
    )
    invoice.status = InvoiceStatus.CANCELED
    invoice.save(update_fields=["status", "updated_at"])
    changed = []
    for s in schedules:
        if s.pk in released:
            _schedule_resync(s, released_from=released[s.pk])
            changed.append(s)
    _schedules_save(changed)
    error_logs_resolve(primaries=changed, category=ErrorLog.Category.GENERATION)
    return [s.pk for s in changed]


def _schedules_reset(ids: Sequence[int]) -> list[int]:
    """Reset the schedules among `ids` that are processing or error. Returns their ids."""
    stuck = [s for s in billing_schedules_lock(ids) if s.status in _STUCK_SCHEDULE]
    for s in stuck:
        _schedule_resync(s)
    _schedules_save(stuck)
    error_logs_resolve(primaries=stuck, category=ErrorLog.Category.GENERATION)
    return [s.pk for s in stuck]


def _schedule_resync(s: BillingSchedule, *, released_from: dt.date | None = None) -> None:
    """Bring a schedule in line with its live period items: it is billed through the last
    live period (or, with none, from the first period just released), its billed and pending
    amounts are the sums of its live items, and it is ready for invoicing again (completely
    billed when nothing is left)."""
    agg = BillingPeriodItem.objects.filter(schedule_id=s.pk, invoice_status__in=_LIVE).aggregate(
        last=Max("period_end"), billed=Sum("amount")
    )
    resume_from = agg["last"] + ONE_DAY if agg["last"] is not None else released_from
    if resume_from is not None and resume_from != s.next_charge_from_date:
        schedule_advance(s, billed_through=resume_from - ONE_DAY)
    if s.charge_type == ChargeType.USAGE or s.next_billing_date is not None:
        s.status = ScheduleStatus.READY
    else:
        s.status = ScheduleStatus.COMPLETELY_BILLED
    s.billed_amount = agg["billed"] or ZERO
    if s.total_amount is not None:
        s.pending_amount = s.total_amount - s.billed_amount


def _schedules_save(schedules: list[BillingSchedule]) -> None:
    BillingSchedule.objects.bulk_update(
        schedules,
        ["status", "next_charge_from_date", "next_billing_date", "billed_amount", "pending_amount"],
        batch_size=1000,
    )


# --------------------------------------------------------------------------------------------
# Schedules


def billing_schedules_recover(*, schedule_ids: Sequence[int]) -> list[dict]:
    """Recover the latest generated invoice of each schedule and its sibling schedules (the
    other schedules billed on that invoice).

    The invoice: draft_in_progress (or error, unnumbered) → canceled, its periods released;
    void_in_progress → posted; posting_in_progress → posted when it has its number, else
    draft. The schedules left processing or error (and those whose periods were released) are
    resynchronised and reset to ready_for_invoicing. One result per requested id, in order:
    {"invoice", "invoice_status", "billing_schedules": [{"id", "status"}], "errors"}.
    """
    if not schedule_ids:
        raise ValidationError({"billing_schedule_ids": "Give at least one billing schedule id."})
    if len(schedule_ids) > 200:
        raise ValidationError({"billing_schedule_ids": "At most 200 schedules per request."})
    results = []
    for sid in dict.fromkeys(schedule_ids):
        with transaction.atomic(durable=True):
            results.append(_schedule_recover(int(sid)))
    return results


def _latest_invoice_id(schedule_id: int) -> int | None:
    return (
        BillingPeriodItem.objects.filter(schedule_id=schedule_id, invoice__isnull=False)
        .order_by("-invoice_id")
        .values_list("invoice_id", flat=True)
        .first()
    )


def _schedule_recover(schedule_id: int) -> dict:
    if not BillingSchedule.objects.filter(pk=schedule_id).exists():
        return {
            "invoice": None,
            "invoice_status": None,
            "billing_schedules": [],
            "errors": [
                {"code": "not_found", "message": f"Billing schedule {schedule_id} does not exist."}
            ],
        }
    invoice_id = _latest_invoice_id(schedule_id)
    family = {schedule_id}
    if invoice_id is not None:
        family |= set(
            BillingPeriodItem.objects.filter(invoice_id=invoice_id).values_list(
                "schedule_id", flat=True
            )
        )
    schedules = billing_schedules_lock(family)
    invoice = invoice_lock_or_none(invoice_id) if invoice_id else None
    before = {s.pk: s.status for s in schedules}
    repaired = False
    if invoice is not None:
        stuck_unnumbered = invoice.status == InvoiceStatus.DRAFT_IN_PROGRESS or (
            invoice.status == InvoiceStatus.ERROR and not invoice.number
        )
        if stuck_unnumbered:
            _invoice_cancel(invoice, schedules)
            repaired = True
        elif invoice.status == InvoiceStatus.VOID_IN_PROGRESS:
            invoice.status = InvoiceStatus.POSTED
            invoice.save(update_fields=["status", "updated_at"])
            repaired = True
        elif invoice.status == InvoiceStatus.POSTING_IN_PROGRESS:
            invoice.status = InvoiceStatus.POSTED if invoice.number else InvoiceStatus.DRAFT
            invoice.save(update_fields=["status", "updated_at"])
            repaired = True
    stuck = [s for s in schedules if before[s.pk] in _STUCK_SCHEDULE]
    for s in stuck:
        _schedule_resync(s)
    _schedules_save(stuck)
    error_logs_resolve(primaries=stuck, category=ErrorLog.Category.GENERATION)
    errors = []
    if not stuck and not repaired:
        status = next(s.status for s in schedules if s.pk == schedule_id)
        errors.append(
            {
                "code": "nothing_to_recover",
                "message": f"Billing schedule {schedule_id} is {status.replace('_', ' ')} and its "
                "latest invoice needs no repair: nothing was changed.",
            }
        )
    return {
        "invoice": invoice.pk if invoice else None,
        "invoice_status": invoice.status if invoice else None,
        "billing_schedules": [{"id": s.pk, "status": s.status} for s in schedules],
        "errors": errors,
    }
