"""Invoice batch runs: many generation requests through the one engine, fanned out over
Celery workers (DESIGN.md §4, docs/batch-runs.md).

A run goes through these steps, each a service called by a thin Celery task:

1. `batch_run_start` records the run (dates resolved, filters checked) and, after commit,
   queues the planning task.
2. `batch_run_plan` selects the eligible schedules that match the run's filters (suspended
   ones are left out), plans their grouping keys with the engine's `plan_keys`, stores one
   InvoiceBatchRunKey row per key, numbered by chunk (up to `chunk_size` schedules each),
   and queues one chunk task per chunk (a Celery group).
3. `batch_run_chunk_process` claims the pending keys of its chunk with
   `SELECT … FOR UPDATE SKIP LOCKED` and, in the same transaction, runs the engine's
   `generate_for_keys` over them (the engine locks the schedules with SKIP LOCKED too, and
   re-checks their eligibility), marks the keys done or failed and adds to the run's counters
   with F() expressions. A worker killed mid-chunk therefore leaves nothing behind: the
   transaction rolls back and the keys stay pending.
4. The chunk that commits last queues `batch_run_summarise`, which sets the final status,
   the stage `done`, progress 100 and the draft/posted amounts per currency. (A Celery chord
   would need a result backend and loses its callback when a worker dies in the header; the
   summary is idempotent instead and recovery can always run it.)

Two runs whose filters overlap never bill a period twice: the engine's row locks with SKIP
LOCKED, its eligibility re-check on the locked rows and the unique constraint on
BillingPeriodItem (schedule, period_start) among live items.

Sub-runs (`parent_run`): draft-to-posted posts a run's drafts; recovery finishes an
interrupted run, resets its schedules left processing or error and cancels its invoices stuck
in draft_in_progress. `billing_schedules_recover` repairs the latest invoice of given
schedules and its sibling schedules.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import partial
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Count, F, Max, Min, Q, Sum, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from billing.choices import ChargeType, ScheduleStatus
from billing.models import BillingSchedule
from core.exceptions import DomainError, NotFound, ValidationError
from core.money import ZERO, money_str
from invoicing.exceptions import (
    BatchRunFinished,
    BatchRunInProgress,
    BatchRunWrongKind,
    SchedulerCanceled,
)
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceScheduler,
    InvoiceStatus,
)
from invoicing.services.errors import error_log_record, error_logs_resolve
from invoicing.services.generation import (
    GenerationOptions,
    PlannedKey,
    chunk_keys,
    generate_for_keys,
    plan_keys,
    schedule_advance,
    schedules_eligible,
    schedules_suspended,
)
from invoicing.services.posting import invoices_post
from invoicing.services.scheduling import (
    run_filters_clean,
    scheduler_dates,
    scheduler_is_run_date,
    scheduler_local_date,
)

logger = logging.getLogger(__name__)

Run = InvoiceBatchRun
Key = InvoiceBatchRunKey
ONE_DAY = dt.timedelta(days=1)
PLAN_BATCH = 2000  # schedules read per round while planning (memory stays flat)
POST_BATCH = 500  # drafts posted per transaction by draft-to-posted
RECOVER_BATCH = 1000  # schedules reset per transaction by recovery
_LIVE = [BillingPeriodItem.InvoiceStatus.DRAFT, BillingPeriodItem.InvoiceStatus.POSTED]
_STUCK_SCHEDULE = [ScheduleStatus.PROCESSING, ScheduleStatus.ERROR]
_FINAL = [
    Run.Status.COMPLETED,
    Run.Status.COMPLETED_WITH_ERRORS,
    Run.Status.FAILED,
    Run.Status.CANCELED,
]


def default_chunk_size() -> int:
    return int(settings.LEDGERLINE.get("BATCH_CHUNK_SCHEDULES", 1000))


def _tasks():
    from invoicing import tasks  # the tasks call these services: import at call time

    return tasks


def _get_run(run_id: int, *, lock: bool = False) -> Run:
    qs = Run.objects.select_for_update(of=("self",)) if lock else Run.objects
    run = qs.filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"Invoice batch run {run_id} does not exist.")
    return run


# --------------------------------------------------------------------------------------------
# Starting a run


def batch_run_start(
    *,
    target_date: dt.date,
    invoice_date: dt.date | None = None,
    invoice_status: str = "draft",
    filters: dict | None = None,
    billing_period_count: int | None = None,
    scheduler_id: int | None = None,
    run_date: dt.date | None = None,
    requested_by: str = "",
    chunk_size: int | None = None,
) -> Run:
    """Record a generation run and queue its planning after commit. Returns the run at once
    (status started, stage queued); workers do the rest."""
    errors: dict[str, str] = {}
    if invoice_status not in ("draft", "posted"):
        errors["invoice_status"] = "Use draft or posted."
    if billing_period_count is not None and not 1 <= billing_period_count <= 12:
        errors["billing_period_count"] = "Between 1 and 12."
    if chunk_size is not None and chunk_size < 1:
        errors["chunk_size"] = "At least 1."
    if target_date is None:
        errors["target_date"] = "Required."
    if errors:
        raise ValidationError(errors)
    filters = run_filters_clean(filters)
    with transaction.atomic(durable=True):
        return _run_create(
            target_date=target_date,
            invoice_date=invoice_date,
            invoice_status=invoice_status,
            filters=filters,
            billing_period_count=billing_period_count,
            scheduler_id=scheduler_id,
            run_date=run_date,
            requested_by=requested_by,
            chunk_size=chunk_size,
        )


def _run_create(
    *,
    target_date: dt.date,
    invoice_date: dt.date | None,
    invoice_status: str,
    filters: dict,
    billing_period_count: int | None,
    scheduler_id: int | None,
    run_date: dt.date | None,
    requested_by: str,
    chunk_size: int | None,
) -> Run:
    """Inside the caller's transaction: the run row, and its planning queued after commit."""
    run = Run.objects.create(
        kind=Run.Kind.GENERATION,
        scheduler_id=scheduler_id,
        status=Run.Status.STARTED,
        stage=Run.Stage.QUEUED,
        run_date=run_date or timezone.localdate(),
        target_date=target_date,
        invoice_date=invoice_date or target_date,
        invoice_status=invoice_status,
        billing_period_count=billing_period_count,
        filters=filters,
        started_at=timezone.now(),
        requested_by=requested_by,
    )
    if scheduler_id is not None:
        InvoiceScheduler.objects.filter(pk=scheduler_id).update(last_run_at=run.started_at)
    transaction.on_commit(partial(_queue_plan, run.pk, chunk_size))
    return run


def _queue_plan(run_id: int, chunk_size: int | None) -> None:
    result = _tasks().batch_run_plan_task.delay(run_id, chunk_size)
    Run.objects.filter(pk=run_id, task_id="").update(task_id=result.id or "")


def _scheduler_run_fields(
    scheduler: InvoiceScheduler, *, run_date: dt.date, requested_by: str, chunk_size=None
) -> dict:
    dates = scheduler_dates(scheduler, run_date=run_date)
    return {
        "target_date": dates.target_date,
        "invoice_date": dates.invoice_date,
        "invoice_status": scheduler.invoice_status,
        "filters": scheduler.filters,
        "billing_period_count": scheduler.billing_period_count,
        "scheduler_id": scheduler.pk,
        "run_date": dates.run_date,
        "requested_by": requested_by,
        "chunk_size": chunk_size,
    }


def scheduler_run_now(
    *, scheduler_id: int, requested_by: str = "", chunk_size: int | None = None
) -> Run:
    """Start a run of a scheduler at once (any status but canceled), for today in its
    timezone."""
    scheduler = InvoiceScheduler.objects.filter(pk=scheduler_id).first()
    if scheduler is None:
        raise NotFound(f"Invoice scheduler {scheduler_id} does not exist.")
    if scheduler.status == InvoiceScheduler.Status.CANCELED:
        raise SchedulerCanceled(
            f"Scheduler '{scheduler.name}' is canceled; create a new scheduler to run it.",
            details={"scheduler": scheduler.pk},
        )
    return batch_run_start(
        **_scheduler_run_fields(
            scheduler,
            run_date=scheduler_local_date(scheduler),
            requested_by=requested_by,
            chunk_size=chunk_size,
        )
    )


def scheduler_fire(*, scheduler_id: int, now: dt.datetime | None = None) -> Run | None:
    """Beat's entry point: start today's run (in the scheduler's timezone) when the scheduler
    is active, today is one of its run dates and no run of it exists for today."""
    with transaction.atomic(durable=True):
        scheduler = (
            InvoiceScheduler.objects.select_for_update(of=("self",)).filter(pk=scheduler_id).first()
        )
        if scheduler is None or scheduler.status != InvoiceScheduler.Status.ACTIVE:
            return None
        today = scheduler_local_date(scheduler, now)
        if not scheduler_is_run_date(scheduler, today):
            return None
        if scheduler.runs.filter(kind=Run.Kind.GENERATION, run_date=today).exists():
            return None  # beat fired twice, or the task was redelivered
        # The run is recorded under the scheduler's lock: "one run per date" holds between
        # concurrent firings.
        fields = _scheduler_run_fields(scheduler, run_date=today, requested_by="scheduler")
        fields["filters"] = run_filters_clean(fields["filters"])
        return _run_create(**fields)


# --------------------------------------------------------------------------------------------
# Planning


def schedules_for_run(run: Run):
    """The eligible schedules that match the run's filters."""
    f = run.filters or {}
    q = Q()
    if f.get("currencies"):
        q &= Q(currency__in=f["currencies"])
    if f.get("legal_entity"):
        q &= Q(legal_entity_id=f["legal_entity"])
    if f.get("accounts"):
        q &= Q(account_id__in=f["accounts"])
    if f.get("matching_values"):
        q &= Q(matching_value__in=f["matching_values"])
    if f.get("charge_types"):
        q &= Q(charge_type__in=f["charge_types"])
    return schedules_eligible(target_date=run.target_date).filter(q)


def _batched(items: Iterable, size: int):
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def batch_run_plan(*, run_id: int, chunk_size: int | None = None) -> Run:
    """Select, plan and store the run's keys by chunk, then queue the chunks. Idempotent: a
    run already planned only has its pending chunks queued again."""
    chunk_size = chunk_size or default_chunk_size()
    try:
        with transaction.atomic(durable=True):
            run = _get_run(run_id, lock=True)
            if run.status != Run.Status.STARTED or run.kind != Run.Kind.GENERATION:
                return run
            if run.stage != Run.Stage.QUEUED:  # planned before (a redelivered task)
                transaction.on_commit(partial(_queue_chunks, run.pk))
                return run
            Run.objects.filter(pk=run.pk).update(stage=Run.Stage.FILTERING, progress=1)
            keys: dict[tuple, list[int]] = defaultdict(list)
            suspended = 0
            for batch in _batched(
                schedules_for_run(run).iterator(chunk_size=PLAN_BATCH), PLAN_BATCH
            ):
                left_out = {s.pk for s in schedules_suspended(batch)}
                suspended += len(left_out)
                for planned in plan_keys(s for s in batch if s.pk not in left_out):
                    keys[planned.key].extend(planned.schedule_ids)
            planned_keys = sorted(
                (PlannedKey(key, tuple(sorted(ids))) for key, ids in keys.items()),
                key=lambda k: k.schedule_ids[0],
            )
            chunks = chunk_keys(planned_keys, chunk_size)
            Key.objects.bulk_create(
                (
                    Key(
                        run=run,
                        chunk=number,
                        key=_key_store(planned.key),
                        schedule_ids=list(planned.schedule_ids),
                    )
                    for number, chunk in enumerate(chunks)
                    for planned in chunk
                ),
                batch_size=2000,
            )
            matching = sum(len(k.schedule_ids) for k in planned_keys)
            summary = {**run.summary, "keys": len(planned_keys), "chunk_size": chunk_size}
            if suspended:
                summary["schedules_suspended"] = suspended
            Run.objects.filter(pk=run.pk).update(
                stage=Run.Stage.GENERATING,
                progress=5,
                matching_schedules=matching,
                chunks_total=len(chunks),
                summary=summary,
            )
            if chunks:
                transaction.on_commit(partial(_queue_chunks, run.pk))
            else:
                transaction.on_commit(partial(_queue_summary, run.pk))
    except DomainError as exc:
        _run_fail(run_id, code=exc.code, message=exc.message)
    except (OperationalError, InterfaceError):
        raise  # transient: the task retries
    except Exception as exc:  # noqa: BLE001 - recorded on the run, not lost in a worker log
        logger.exception("Planning batch run %s failed", run_id)
        _run_fail(run_id, code="planning_failed", message=f"{type(exc).__name__}: {exc}")
    return Run.objects.get(pk=run_id)


def _key_store(key: tuple) -> str:
    """The engine's key tuple (ints, strings, None) as JSON: the chunk gives the engine back
    the very tuple it planned (the engine reads its parts, e.g. account and currency)."""
    text = json.dumps(list(key), separators=(",", ":"))
    if len(text) > 500:
        raise ValidationError({"key": f"A grouping key is longer than 500 characters: {text}"})
    return text


def _key_load(text: str) -> tuple:
    return tuple(json.loads(text))


def _key_text(key: tuple) -> str:
    """The key as the engine writes it on the invoice (Invoice.group_key)."""
    return "|".join("" if v is None else str(v) for v in key)[:500]


def _queue_chunks(run_id: int) -> None:
    from celery import group

    tasks = _tasks()
    chunks = sorted(
        set(
            Key.objects.filter(run_id=run_id, status=Key.Status.PENDING).values_list(
                "chunk", flat=True
            )
        )
    )
    if chunks:
        group(tasks.batch_run_chunk_task.si(run_id, chunk) for chunk in chunks).apply_async()
    else:
        _queue_summary(run_id)


def _queue_summary(run_id: int) -> None:
    _tasks().batch_run_summarise_task.delay(run_id)


def _run_fail(run_id: int, *, code: str, message: str) -> None:
    """A run that cannot go on: failed, with an ErrorLog row on the run."""
    with transaction.atomic(durable=True):
        run = _get_run(run_id, lock=True)
        if run.status != Run.Status.STARTED:
            return
        error_log_record(
            category=ErrorLog.Category.BATCH_RUN,
            code=code,
            message=f"Batch run {run.pk} failed: {message} Fix the cause and start a new run.",
            primary=run,
            batch_run_id=run.pk,
        )
        run.status = Run.Status.FAILED
        run.stage = Run.Stage.DONE
        run.completed_at = timezone.now()
        run.summary = {**run.summary, "error": {"code": code, "message": message}}
        run.save(update_fields=["status", "stage", "completed_at", "summary", "updated_at"])


# --------------------------------------------------------------------------------------------
# Chunks


def batch_run_chunk_process(*, run_id: int, chunk: int) -> int:
    """Claim the chunk's pending keys (SKIP LOCKED) and generate them, all in one transaction.
    Returns the number of keys this call processed (0: nothing left to claim)."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None or run.status != Run.Status.STARTED or run.kind != Run.Kind.GENERATION:
        return 0
    options = GenerationOptions(
        target_date=run.target_date,
        invoice_date=run.invoice_date,
        post=run.invoice_status == "posted",
        request_id=f"batch-{run.pk}-{chunk}",
        posted_by=run.requested_by or f"batch run {run.pk}",
        period_count=run.billing_period_count,
        skip_locked=True,
        batch_run_id=run.pk,
    )
    try:
        with transaction.atomic(durable=True):
            keys = list(
                Key.objects.select_for_update(skip_locked=True)
                .filter(run_id=run_id, chunk=chunk, status=Key.Status.PENDING)
                .order_by("id")
            )
            if not keys:
                return 0
            planned = [PlannedKey(_key_load(k.key), tuple(k.schedule_ids)) for k in keys]
            result = generate_for_keys(planned, options=options)
            failed_ids = {e.schedule_id for e in result.errors}
            messages = {e.schedule_id: e.message for e in result.errors}
            invoices_by_key: dict[str, list[int]] = defaultdict(list)
            for pk, group_key in Invoice.objects.filter(pk__in=result.invoice_ids).values_list(
                "pk", "group_key"
            ):
                invoices_by_key[group_key].append(pk)
            for k in keys:
                broken = [sid for sid in k.schedule_ids if sid in failed_ids]
                k.status = Key.Status.FAILED if broken else Key.Status.DONE
                k.error = messages[broken[0]] if broken else ""
                k.invoice_ids = sorted(invoices_by_key.get(_key_text(_key_load(k.key)), []))
            Key.objects.bulk_update(keys, ["status", "error", "invoice_ids", "updated_at"])
            _counters_add(
                run_id,
                schedules_processed=len(result.schedule_ids),
                schedules_failed=len(failed_ids),
                invoices_generated=len(result.invoice_ids),
                invoices_failed=result.failed_keys + len(result.posting_errors),
                chunks_done=1,
            )
            transaction.on_commit(partial(_chunk_committed, run_id))
            return len(keys)
    except (OperationalError, InterfaceError):
        raise  # transient (connection lost, serialisation): the task retries the chunk
    except Exception as exc:  # noqa: BLE001 - the engine isolates keys; this is a crash around it
        logger.exception("Batch run %s chunk %s failed", run_id, chunk)
        _chunk_fail(run_id, chunk, exc)
        return 0


def _counters_add(run_id: int, **deltas: int) -> None:
    """Add to the run's counters (F() expressions: concurrent chunks never lose an update),
    then refresh its draft/posted figures. The UPDATE takes the run's row lock, so the figures
    read after it include every chunk committed before."""
    updates: dict[str, Any] = {f: F(f) + n for f, n in deltas.items() if n}
    if deltas.get("chunks_done"):
        updates["progress"] = _progress(deltas["chunks_done"])
    if updates:
        Run.objects.filter(pk=run_id).update(**updates, updated_at=timezone.now())
    _figures_refresh(run_id)


def _progress(more_chunks: int):
    """5 % for planning, 90 % spread over the chunks, the last 5 % for the summary."""
    done = F("chunks_done") + more_chunks
    return Least(Value(95), Value(5) + done * 90 / Greatest(F("chunks_total"), Value(1)))


def _figures_refresh(run_id: int) -> None:
    """draft_invoices, posted_invoices and amounts per currency, from the run's invoices."""
    rows = (
        Invoice.objects.filter(
            batch_run_id=run_id, status__in=[InvoiceStatus.DRAFT, InvoiceStatus.POSTED]
        )
        .values("currency", "status")
        .annotate(n=Count("id"), total=Sum("total"))
    )
    counts = {InvoiceStatus.DRAFT: 0, InvoiceStatus.POSTED: 0}
    amounts: dict[str, dict[str, Decimal]] = defaultdict(_zero_amounts)
    for row in rows:
        counts[row["status"]] += row["n"]
        amounts[row["currency"]][row["status"]] += row["total"] or ZERO
    Run.objects.filter(pk=run_id).update(
        draft_invoices=counts[InvoiceStatus.DRAFT],
        posted_invoices=counts[InvoiceStatus.POSTED],
        amounts=_amounts_json(amounts),
    )


def _zero_amounts() -> dict[str, Decimal]:
    return {"draft": ZERO, "posted": ZERO}


def _amounts_json(amounts: dict[str, dict[str, Decimal]]) -> list[dict[str, str]]:
    return [
        {
            "currency": currency,
            "draft": money_str(values["draft"], currency),
            "posted": money_str(values["posted"], currency),
        }
        for currency, values in sorted(amounts.items())
    ]


def _chunk_fail(run_id: int, chunk: int, exc: Exception) -> None:
    """Record a chunk that crashed outside the engine's per-key isolation: its unclaimed
    pending keys fail, their schedules count as failed, and the run carries an ErrorLog."""
    message = (
        f"Chunk {chunk} of batch run {run_id} failed: {type(exc).__name__}: {exc}. Its "
        "schedules were not invoiced. Fix the cause, recover the run and start a new run."
    )
    with transaction.atomic(durable=True):
        keys = list(
            Key.objects.select_for_update(skip_locked=True).filter(
                run_id=run_id, chunk=chunk, status=Key.Status.PENDING
            )
        )
        if not keys:
            return
        Key.objects.filter(pk__in=[k.pk for k in keys]).update(
            status=Key.Status.FAILED, error=message
        )
        run = Run.objects.get(pk=run_id)
        error_log_record(
            category=ErrorLog.Category.BATCH_RUN,
            code="chunk_failed",
            message=message,
            primary=run,
            batch_run_id=run_id,
        )
        _counters_add(
            run_id,
            schedules_failed=sum(len(k.schedule_ids) for k in keys),
            invoices_failed=len(keys),
            chunks_done=1,
        )
        transaction.on_commit(partial(_chunk_committed, run_id))


def _chunk_committed(run_id: int) -> None:
    """After a chunk commits: when no key is pending any more, queue the summary (several
    chunks finishing together may queue it twice; it is idempotent)."""
    if not Key.objects.filter(run_id=run_id, status=Key.Status.PENDING).exists():
        _queue_summary(run_id)


# --------------------------------------------------------------------------------------------
# Summary


def batch_run_summarise(*, run_id: int, force: bool = False) -> Run:
    """Finish a run whose keys are all processed (or, with `force`, whatever is left
    pending stays pending): status, stage done, progress 100, figures. Idempotent."""
    with transaction.atomic(durable=True):
        run = _get_run(run_id, lock=True)
        if run.status != Run.Status.STARTED or run.kind != Run.Kind.GENERATION:
            return run
        by_status = dict(
            Key.objects.filter(run_id=run_id)
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        pending = by_status.get(Key.Status.PENDING, 0)
        if pending and not force:
            return run
        if run.stage == Run.Stage.QUEUED:
            if not force:
                return run  # not planned yet
            run.status, run.stage, run.completed_at = (
                Run.Status.FAILED,
                Run.Stage.DONE,
                timezone.now(),
            )
            run.summary = {
                **run.summary,
                "error": {
                    "code": "never_planned",
                    "message": "The run was recovered before any worker planned it.",
                },
            }
            run.save(update_fields=["status", "stage", "completed_at", "summary", "updated_at"])
            return run
        Run.objects.filter(pk=run_id).update(stage=Run.Stage.SUMMARIZING)
        _figures_refresh(run_id)
        run.refresh_from_db()
        done, failed = by_status.get(Key.Status.DONE, 0), by_status.get(Key.Status.FAILED, 0)
        chunk_states = (
            Key.objects.filter(run_id=run_id)
            .values("chunk")
            .annotate(open=Count("id", filter=Q(status=Key.Status.PENDING)))
        )
        run.chunks_done = sum(1 for c in chunk_states if c["open"] == 0)
        if failed and not done:
            run.status = Run.Status.FAILED
        elif failed or pending or run.schedules_failed or run.invoices_failed:
            run.status = Run.Status.COMPLETED_WITH_ERRORS
        else:
            run.status = Run.Status.COMPLETED
        abandoned = run.summary.get("schedules_abandoned", 0)
        run.summary = {
            **run.summary,
            "keys": done + failed + pending,
            "keys_done": done,
            "keys_failed": failed,
            "schedules_skipped": max(
                0,
                run.matching_schedules - run.schedules_processed - run.schedules_failed - abandoned,
            ),
        }
        if pending:
            run.summary["keys_pending"] = pending
        run.stage = Run.Stage.DONE
        run.progress = 100
        run.completed_at = timezone.now()
        run.save(
            update_fields=[
                "status",
                "stage",
                "progress",
                "chunks_done",
                "summary",
                "completed_at",
                "updated_at",
            ]
        )
    return run


def batch_run_cancel(*, run_id: int) -> Run:
    """Stop a started run: its keys not being processed right now are dropped; chunks being
    processed finish (their invoices stay). Status canceled."""
    with transaction.atomic(durable=True):
        run = _get_run(run_id, lock=True)
        if run.status != Run.Status.STARTED:
            raise BatchRunFinished(
                f"Batch run {run.pk} is {run.status}; only a started run can be canceled.",
                details={"status": run.status},
            )
        dropped = list(
            Key.objects.select_for_update(skip_locked=True).filter(
                run_id=run_id, status=Key.Status.PENDING
            )
        )
        Key.objects.filter(pk__in=[k.pk for k in dropped]).update(
            status=Key.Status.FAILED, error="Canceled before it was processed."
        )
        _figures_refresh(run_id)
        run.refresh_from_db()
        run.status = Run.Status.CANCELED
        run.stage = Run.Stage.DONE
        run.completed_at = timezone.now()
        run.summary = {
            **run.summary,
            "keys_canceled": len(dropped),
            "schedules_canceled": sum(len(k.schedule_ids) for k in dropped),
        }
        run.save(update_fields=["status", "stage", "completed_at", "summary", "updated_at"])
    return run


# --------------------------------------------------------------------------------------------
# Draft to posted


def _sub_run_start(run_id: int, kind: str, requested_by: str) -> Run:
    with transaction.atomic(durable=True):
        parent = _get_run(run_id, lock=True)
        if parent.kind != Run.Kind.GENERATION:
            raise BatchRunWrongKind(
                f"Run {parent.pk} is a {parent.get_kind_display().lower()} sub-run; use its "
                f"parent run {parent.parent_run_id}.",
                details={"kind": parent.kind, "parent_run": parent.parent_run_id},
            )
        if kind != Run.Kind.RECOVERY and parent.status == Run.Status.STARTED:
            what = "post its drafts" if kind == Run.Kind.DRAFT_TO_POSTED else "email its invoices"
            raise BatchRunInProgress(
                f"Batch run {parent.pk} is still running; {what} once it has finished.",
                details={"status": parent.status, "stage": parent.stage},
            )
        sub = Run.objects.create(
            kind=kind,
            parent_run=parent,
            scheduler_id=parent.scheduler_id,
            status=Run.Status.STARTED,
            stage=Run.Stage.QUEUED,
            run_date=timezone.localdate(),
            target_date=parent.target_date,
            invoice_date=parent.invoice_date,
            invoice_status=parent.invoice_status,
            started_at=timezone.now(),
            requested_by=requested_by,
        )
        task = {
            Run.Kind.DRAFT_TO_POSTED: _tasks().batch_run_draft_to_posted_task,
            Run.Kind.RECOVERY: _tasks().batch_run_recover_task,
            Run.Kind.EMAIL: _tasks().batch_run_send_email_task,
        }[kind]
        transaction.on_commit(lambda: task.delay(sub.pk))
    return sub


def batch_run_draft_to_posted(*, run_id: int, requested_by: str = "") -> Run:
    """Start posting every draft invoice of a finished run as a draft-to-posted sub-run."""
    return _sub_run_start(run_id, Run.Kind.DRAFT_TO_POSTED, requested_by)


def batch_run_draft_to_posted_execute(*, sub_run_id: int) -> Run:
    """Post the parent run's drafts, POST_BATCH per transaction (numbers, actual tax). A
    numbering failure leaves its invoices draft, logged against the sub-run."""
    sub = _get_run(sub_run_id)
    if sub.status != Run.Status.STARTED or sub.kind != Run.Kind.DRAFT_TO_POSTED:
        return sub
    ids = list(
        Invoice.objects.filter(batch_run_id=sub.parent_run_id, status=InvoiceStatus.DRAFT)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    if sub.stage == Run.Stage.QUEUED:  # (a redelivered task goes on with what is left)
        Run.objects.filter(pk=sub.pk).update(
            stage=Run.Stage.GENERATING,
            progress=5,
            chunks_total=(len(ids) + POST_BATCH - 1) // POST_BATCH,
            summary={"invoices_selected": len(ids)},
        )
    posted_by = sub.requested_by or f"batch run {sub.parent_run_id}"
    invoice_type = ContentType.objects.get_for_model(Invoice)
    for batch in _batched(ids, POST_BATCH):
        posted, failures = invoices_post(invoice_ids=batch, posted_by=posted_by)
        with transaction.atomic(durable=True):
            if failures:
                ErrorLog.objects.filter(
                    category=ErrorLog.Category.POSTING,
                    primary_type=invoice_type,
                    primary_id__in=[f.invoice_id for f in failures],
                    is_resolved=False,
                ).update(batch_run=sub)
            Run.objects.filter(pk=sub.pk).update(
                posted_invoices=F("posted_invoices") + len(posted),
                invoices_failed=F("invoices_failed") + len(failures),
                chunks_done=F("chunks_done") + 1,
                progress=_progress(1),
            )
    with transaction.atomic(durable=True):
        sub = _get_run(sub_run_id, lock=True)
        rows = (
            Invoice.objects.filter(pk__in=ids)
            .values("currency", "status")
            .annotate(total=Sum("total"))
        )
        amounts: dict[str, dict[str, Decimal]] = defaultdict(
            lambda: {"draft": ZERO, "posted": ZERO}
        )
        for row in rows:
            if row["status"] in ("draft", "posted"):
                amounts[row["currency"]][row["status"]] += row["total"] or ZERO
        sub.amounts = _amounts_json(amounts)
        sub.draft_invoices = Invoice.objects.filter(pk__in=ids, status=InvoiceStatus.DRAFT).count()
        if sub.invoices_failed and not sub.posted_invoices:
            sub.status = Run.Status.FAILED
        elif sub.invoices_failed:
            sub.status = Run.Status.COMPLETED_WITH_ERRORS
        else:
            sub.status = Run.Status.COMPLETED
        sub.stage, sub.progress, sub.completed_at = Run.Stage.DONE, 100, timezone.now()
        sub.save()
        _figures_refresh(sub.parent_run_id)
    return sub


# --------------------------------------------------------------------------------------------
# Email


def batch_run_send_email(*, run_id: int, requested_by: str = "") -> Run:
    """Start emailing the posted invoices of a finished run as an email sub-run."""
    return _sub_run_start(run_id, Run.Kind.EMAIL, requested_by)


def batch_run_send_email_execute(*, sub_run_id: int) -> Run:
    """Email the parent run's posted invoices through the bulk send (opt-outs honoured, an
    invoice already sent is not sent again). The sub-run's summary holds the counts per
    outcome; failures are logged (ErrorLog category email, batch_run = the sub-run)."""
    from invoicing.services.email import invoices_email_send_bulk

    sub = _get_run(sub_run_id)
    if sub.status != Run.Status.STARTED or sub.kind != Run.Kind.EMAIL:
        return sub
    ids = list(
        Invoice.objects.filter(batch_run_id=sub.parent_run_id, status=InvoiceStatus.POSTED)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    Run.objects.filter(pk=sub.pk).update(stage=Run.Stage.GENERATING, progress=5)
    counts = invoices_email_send_bulk(invoice_ids=ids, batch_run_id=sub.pk)
    with transaction.atomic(durable=True):
        sub = _get_run(sub_run_id, lock=True)
        sub.summary = {"invoices_selected": len(ids), **counts}
        sub.invoices_failed = counts.get("failed", 0)
        if sub.invoices_failed and not counts.get("sent", 0):
            sub.status = Run.Status.FAILED
        elif sub.invoices_failed:
            sub.status = Run.Status.COMPLETED_WITH_ERRORS
        else:
            sub.status = Run.Status.COMPLETED
        sub.stage, sub.progress, sub.completed_at = Run.Stage.DONE, 100, timezone.now()
        sub.save()
    return sub


# --------------------------------------------------------------------------------------------
# Recovery


def batch_run_recover(*, run_id: int, requested_by: str = "") -> Run:
    """Start the recovery of a run as a recovery sub-run (see batch_run_recover_execute)."""
    return _sub_run_start(run_id, Run.Kind.RECOVERY, requested_by)


def batch_run_recover_execute(*, sub_run_id: int) -> Run:
    """Recover the parent run:

    1. its pending keys that no worker holds are abandoned (a worker died, or the run was
       interrupted): marked failed, their schedules left for a new run;
    2. its invoices stuck in draft_in_progress are canceled, their period items canceled and
       their schedules rolled back;
    3. its schedules left processing or error are resynchronised with their live period items
       and reset to ready_for_invoicing (their open generation errors resolved);
    4. the parent run is summarised if it was still started.

    What it recovered is recorded in the sub-run's summary and counters (matching: schedules
    found stuck; processed: recovered; failed: not recovered).
    """
    sub = _get_run(sub_run_id)
    if sub.status != Run.Status.STARTED or sub.kind != Run.Kind.RECOVERY:
        return sub
    parent_id = sub.parent_run_id
    Run.objects.filter(pk=sub.pk).update(stage=Run.Stage.UPDATING_SCHEDULES, progress=5)

    # 1. Abandon what no worker holds.
    with transaction.atomic(durable=True):
        abandoned = list(
            Key.objects.select_for_update(skip_locked=True).filter(
                run_id=parent_id, status=Key.Status.PENDING
            )
        )
        abandoned_schedules = sum(len(k.schedule_ids) for k in abandoned)
        Key.objects.filter(pk__in=[k.pk for k in abandoned]).update(
            status=Key.Status.FAILED,
            error=f"Abandoned by recovery (sub-run {sub.pk}): no worker finished this key. Its "
            "schedules were not invoiced by this run; a new run bills them.",
        )
        if abandoned:
            parent = _get_run(parent_id, lock=True)
            parent.summary = {
                **parent.summary,
                "schedules_abandoned": parent.summary.get("schedules_abandoned", 0)
                + abandoned_schedules,
            }
            parent.save(update_fields=["summary", "updated_at"])

    # 2. Cancel invoices stuck in draft_in_progress.
    stuck = list(
        Invoice.objects.filter(batch_run_id=parent_id, status=InvoiceStatus.DRAFT_IN_PROGRESS)
        .order_by("id")
        .values_list("pk", flat=True)
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

    # 3. Reset the run's schedules left processing or error.
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
    for batch in _batched(run_schedule_ids, RECOVER_BATCH):
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

    # 4. Finish the parent and the sub-run.
    batch_run_summarise(run_id=parent_id, force=True)
    with transaction.atomic(durable=True):
        sub = _get_run(sub_run_id, lock=True)
        sub.matching_schedules = len(recovered) + len(failed)
        sub.schedules_processed = len(recovered)
        sub.schedules_failed = len(failed)
        sub.invoices_failed = len(unrecovered)
        sub.summary = {
            "keys_abandoned": len(abandoned),
            "schedules_abandoned": abandoned_schedules,
            "invoices_canceled": canceled,
            "schedules_recovered": recovered,
            "schedules_unrecovered": failed,
            "invoices_unrecovered": unrecovered,
        }
        if (failed or unrecovered) and not (recovered or canceled or abandoned):
            sub.status = Run.Status.FAILED
        elif failed or unrecovered:
            sub.status = Run.Status.COMPLETED_WITH_ERRORS
        else:
            sub.status = Run.Status.COMPLETED
        sub.stage, sub.progress, sub.completed_at = Run.Stage.DONE, 100, timezone.now()
        sub.save()
        parent = _get_run(parent_id, lock=True)
        parent.summary = {
            **parent.summary,
            "recovery": {
                "sub_run": sub.pk,
                "status": sub.status,
                "schedules_recovered": len(recovered),
                "schedules_unrecovered": len(failed),
                "invoices_canceled": len(canceled),
            },
        }
        parent.save(update_fields=["summary", "updated_at"])
    return sub


def _record_unrecovered(sub: Run, primary, exc: Exception) -> None:
    with transaction.atomic(durable=True):
        error_log_record(
            category=ErrorLog.Category.BATCH_RUN,
            code="recovery_failed",
            message=f"Recovery could not repair {primary._meta.verbose_name} {primary.pk}: "
            f"{type(exc).__name__}: {exc}. Fix the record by hand, then recover again.",
            primary=primary,
            batch_run_id=sub.pk,
        )


def _lock_schedules(ids: Iterable[int]) -> list[BillingSchedule]:
    """Schedules in id order (the global lock order: schedule before invoice)."""
    return list(
        BillingSchedule.objects.select_for_update(of=("self",))
        .filter(pk__in=list(ids))
        .select_related("original_schedule")
        .order_by("id")
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
    schedules = _lock_schedules(schedule_ids)
    invoice = Invoice.objects.select_for_update(of=("self",)).filter(pk=invoice_id).first()
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
    stuck = [s for s in _lock_schedules(ids) if s.status in _STUCK_SCHEDULE]
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
    schedules = _lock_schedules(family)
    invoice = (
        Invoice.objects.select_for_update(of=("self",)).filter(pk=invoice_id).first()
        if invoice_id
        else None
    )
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


# --------------------------------------------------------------------------------------------
# Reads


def batch_run_is_finished(run: Run) -> bool:
    return run.status in _FINAL
