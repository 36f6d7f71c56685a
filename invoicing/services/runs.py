"""Invoice batch runs: many generation requests through the one engine, fanned out over
Celery workers (docs/batch-runs.md). Schedulers that start runs are in
invoicing/services/schedulers.py, the recovery of interrupted runs in
invoicing/services/recovery.py.

A run goes through these steps, each a service called by a thin Celery task (queued by name
through invoicing/dispatch.py, after commit):

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

Sub-runs (`parent_run`, started by `batch_sub_run_start`): draft-to-posted posts a run's
drafts (recording each posting batch as key rows of the sub-run, so it lists what it posted),
email sends its posted invoices (its summary counts sent, skipped, failed …), recovery
(recovery.py) finishes an interrupted run. `batch_run_drafts` and `batch_run_posted` are the
invoices those sub-runs select: their confirmations count the same rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import partial
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import BigIntegerField, Count, F, Func, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Greatest, Least
from django.utils import timezone

from accounts.models import Account, LegalEntity
from billing.choices import ChargeType
from billing.models import BillingSchedule
from core.exceptions import DomainError, NotFound, ValidationError
from core.money import ZERO, money_str, validate_currency
from invoicing.dispatch import (
    BATCH_RUN_CHUNK,
    BATCH_RUN_DRAFT_TO_POSTED,
    BATCH_RUN_PLAN,
    BATCH_RUN_RECOVER,
    BATCH_RUN_SEND_EMAIL,
    BATCH_RUN_SUMMARISE,
    task_group_queue,
    task_queue,
)
from invoicing.exceptions import BatchRunFinished, BatchRunInProgress, BatchRunWrongKind
from invoicing.locks import batch_run_keys_claim, batch_run_lock
from invoicing.models import (
    ErrorLog,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceScheduler,
    InvoiceStatus,
)
from invoicing.services.email import invoices_email_send_bulk
from invoicing.services.errors import error_log_record
from invoicing.services.generation import (
    generate_for_keys,
    plan_keys,
    schedules_eligible,
    schedules_suspended,
)
from invoicing.services.generation_plan import (
    GenerationOptions,
    InvoiceKey,
    PlannedKey,
    key_chunks,
)
from invoicing.services.posting import PostingFailure, invoices_post

logger = logging.getLogger(__name__)

Run = InvoiceBatchRun
Key = InvoiceBatchRunKey
FILTER_KEYS = ("currencies", "legal_entity", "accounts", "matching_values", "charge_types")
PLAN_BATCH = 2000  # schedules read per round while planning (memory stays flat)
POST_BATCH = 500  # drafts posted per transaction by draft-to-posted
_FINAL = [
    Run.Status.COMPLETED,
    Run.Status.COMPLETED_WITH_ERRORS,
    Run.Status.FAILED,
    Run.Status.CANCELED,
]


def default_chunk_size() -> int:
    return int(settings.LEDGERLINE.get("BATCH_CHUNK_SCHEDULES", 1000))


def batch_run_get(*, run_id: int, lock: bool = False) -> Run:
    """The run (locked FOR UPDATE with `lock`, inside the caller's transaction)."""
    run = batch_run_lock(run_id) if lock else Run.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"Invoice batch run {run_id} does not exist.")
    return run


# --------------------------------------------------------------------------------------------
# Filters (a run's, and a scheduler's for its runs)


def run_filters_clean(filters: Any, *, path: str = "filters") -> dict:
    """Check and normalise a run's filters: {currencies, legal_entity, accounts,
    matching_values, charge_types}; empty or missing keys mean "any"."""
    if filters in (None, ""):
        return {}
    if not isinstance(filters, dict):
        raise ValidationError(
            {
                path: "An object with currencies, legal_entity, accounts, "
                "matching_values and charge_types."
            }
        )
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        errors[path] = [f"Unknown filter(s) {', '.join(unknown)}; use {', '.join(FILTER_KEYS)}."]
    out: dict[str, Any] = {}

    def as_list(key: str) -> list:
        value = filters.get(key)
        if value in (None, "", []):
            return []
        if isinstance(value, str | int):
            value = [value]
        if not isinstance(value, list):
            errors[f"{path}.{key}"] = ["A list."]
            return []
        return value

    currencies = []
    for code in as_list("currencies"):
        try:
            currencies.append(validate_currency(str(code)))
        except ValidationError as exc:
            errors.setdefault(f"{path}.currencies", []).extend(exc.details["currency"])
    if currencies:
        out["currencies"] = sorted(set(currencies))

    entity = filters.get("legal_entity")
    if entity not in (None, ""):
        entity_id = _as_id(entity)
        if entity_id is None:
            errors[f"{path}.legal_entity"] = ["A legal entity id."]
        elif not LegalEntity.objects.filter(pk=entity_id).exists():
            errors[f"{path}.legal_entity"] = [f"Legal entity {entity} does not exist."]
        else:
            out["legal_entity"] = entity_id

    accounts = as_list("accounts")
    if accounts:
        account_ids = [_as_id(a) for a in accounts]
        if None in account_ids:
            errors[f"{path}.accounts"] = ["A list of account ids."]
        else:
            ids = sorted({i for i in account_ids if i is not None})
            found = set(Account.objects.filter(pk__in=ids).values_list("pk", flat=True))
            missing = [i for i in ids if i not in found]
            if missing:
                errors[f"{path}.accounts"] = [
                    f"Account(s) {', '.join(map(str, missing))} do not exist."
                ]
            out["accounts"] = ids

    values = [str(v).strip() for v in as_list("matching_values") if str(v).strip()]
    if values:
        out["matching_values"] = sorted(set(values))

    types = as_list("charge_types")
    bad = [t for t in types if t not in ChargeType.values]
    if bad:
        errors[f"{path}.charge_types"] = [
            f"Unknown charge type(s) {', '.join(map(str, bad))}; use "
            f"{', '.join(ChargeType.values)}."
        ]
    elif types:
        out["charge_types"] = sorted(set(types))
    if errors:
        raise ValidationError(errors)
    return out


def _as_id(value: Any) -> int | None:
    """A positive id given as an int or a string of digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


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
        return batch_run_create(
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


def batch_run_create(
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
    task_id = task_queue(BATCH_RUN_PLAN, run_id, chunk_size)
    Run.objects.filter(pk=run_id, task_id="").update(task_id=task_id)


# --------------------------------------------------------------------------------------------
# Planning


def _target_date(run: Run) -> dt.date:
    """A generation run's target date (batch_run_start requires one)."""
    if run.target_date is None:
        raise ValidationError({"target_date": f"Batch run {run.pk} has no target date."})
    return run.target_date


def schedules_for_run(run: Run) -> QuerySet[BillingSchedule]:
    """The eligible schedules that match the run's filters."""
    return schedules_matching(target_date=_target_date(run), filters=run.filters)


def schedules_matching(*, target_date: dt.date, filters: dict | None) -> QuerySet[BillingSchedule]:
    """The schedules eligible on `target_date` that match run filters (cleaned ones): what a
    run plans, and what a scheduler's "Run now" confirmation counts."""
    f = filters or {}
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
    return schedules_eligible(target_date=target_date).filter(q)


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of up to `size` items, in order (itertools.batched of Python 3.12)."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def batch_run_plan(*, run_id: int, chunk_size: int | None = None) -> Run:
    """Select, plan and store the run's keys by chunk, then queue the chunks. Idempotent: a
    run already planned only has its pending chunks queued again."""
    chunk_size = chunk_size or default_chunk_size()
    try:
        with transaction.atomic(durable=True):
            run = batch_run_get(run_id=run_id, lock=True)
            if run.status != Run.Status.STARTED or run.kind != Run.Kind.GENERATION:
                return run
            if run.stage != Run.Stage.QUEUED:  # planned before (a redelivered task)
                transaction.on_commit(partial(_queue_chunks, run.pk))
                return run
            Run.objects.filter(pk=run.pk).update(stage=Run.Stage.FILTERING, progress=1)
            keys: dict[InvoiceKey, list[int]] = defaultdict(list)
            suspended = 0
            for batch in batched(
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
            chunks = list(key_chunks(planned_keys, chunk_size))
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


def _key_store(key: InvoiceKey) -> str:
    """A planned key as its run key row stores it; the chunk gives the engine back the very
    key it planned (InvoiceKey.loads)."""
    text = key.dumps()
    if len(text) > 500:
        raise ValidationError({"key": f"A grouping key is longer than 500 characters: {text}"})
    return text


def _queue_chunks(run_id: int) -> None:
    chunks = sorted(
        set(
            Key.objects.filter(run_id=run_id, status=Key.Status.PENDING).values_list(
                "chunk", flat=True
            )
        )
    )
    if chunks:
        task_group_queue(BATCH_RUN_CHUNK, ((run_id, chunk) for chunk in chunks))
    else:
        _queue_summary(run_id)


def _queue_summary(run_id: int) -> None:
    task_queue(BATCH_RUN_SUMMARISE, run_id)


def _run_fail(run_id: int, *, code: str, message: str) -> None:
    """A run that cannot go on: failed, with an ErrorLog row on the run."""
    with transaction.atomic(durable=True):
        run = batch_run_get(run_id=run_id, lock=True)
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


# Chunks


def batch_run_chunk_process(*, run_id: int, chunk: int) -> int:
    """Claim the chunk's pending keys (SKIP LOCKED) and generate them, all in one transaction.
    Returns the number of keys this call processed (0: nothing left to claim)."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None or run.status != Run.Status.STARTED or run.kind != Run.Kind.GENERATION:
        return 0
    target_date = _target_date(run)
    options = GenerationOptions(
        target_date=target_date,
        invoice_date=run.invoice_date or target_date,
        post=run.invoice_status == "posted",
        request_id=f"batch-{run.pk}-{chunk}",
        posted_by=run.requested_by or f"batch run {run.pk}",
        period_count=run.billing_period_count,
        skip_locked=True,
        batch_run_id=run.pk,
    )
    try:
        with transaction.atomic(durable=True):
            keys = batch_run_keys_claim(run_id, chunk=chunk)
            if not keys:
                return 0
            planned = [PlannedKey(InvoiceKey.loads(k.key), tuple(k.schedule_ids)) for k in keys]
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
                k.invoice_ids = sorted(invoices_by_key.get(InvoiceKey.loads(k.key).label(), []))
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


def _progress(more_chunks: int) -> Least:
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
        keys = batch_run_keys_claim(run_id, chunk=chunk)
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
        run = batch_run_get(run_id=run_id, lock=True)
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
        run = batch_run_get(run_id=run_id, lock=True)
        if run.status != Run.Status.STARTED:
            raise BatchRunFinished(
                f"Batch run {run.pk} is {run.status}; only a started run can be canceled.",
                details={"status": run.status},
            )
        dropped = batch_run_keys_claim(run_id)
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
# Sub-runs, and draft to posted


_SUB_RUN_TASKS: dict[str, str] = {
    Run.Kind.DRAFT_TO_POSTED: BATCH_RUN_DRAFT_TO_POSTED,
    Run.Kind.RECOVERY: BATCH_RUN_RECOVER,
    Run.Kind.EMAIL: BATCH_RUN_SEND_EMAIL,
}


def batch_sub_run_start(*, run_id: int, kind: str, requested_by: str) -> Run:
    """Record a sub-run of a generation run (draft-to-posted, email, recovery) and queue its
    task after commit. Draft-to-posted and email wait for the run to finish."""
    with transaction.atomic(durable=True):
        parent = batch_run_get(run_id=run_id, lock=True)
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
        transaction.on_commit(partial(task_queue, _SUB_RUN_TASKS[kind], sub.pk))
    return sub


def batch_run_drafts(*, run_id: int) -> QuerySet[Invoice]:
    """The drafts a draft-to-posted sub-run of run `run_id` posts (what its confirmation
    counts and sums)."""
    return Invoice.objects.filter(batch_run_id=run_id, status=InvoiceStatus.DRAFT)


def batch_run_draft_to_posted(*, run_id: int, requested_by: str = "") -> Run:
    """Start posting every draft invoice of a finished run as a draft-to-posted sub-run."""
    return batch_sub_run_start(
        run_id=run_id, kind=Run.Kind.DRAFT_TO_POSTED, requested_by=requested_by
    )


def batch_run_draft_to_posted_execute(*, sub_run_id: int) -> Run:
    """Post the parent run's drafts, POST_BATCH per transaction (numbers, actual tax). A
    numbering failure leaves its invoices draft, logged against the sub-run.

    Each batch is recorded as key rows of the sub-run (chunk = the batch's number): one done
    row whose `invoice_ids` are the invoices it posted and, when some failed, one failed row
    with theirs and the errors. So the sub-run lists exactly what it posted
    (`batch_run_invoice_ids`)."""
    sub = batch_run_get(run_id=sub_run_id)
    parent_id = sub.parent_run_id
    if sub.status != Run.Status.STARTED or sub.kind != Run.Kind.DRAFT_TO_POSTED or not parent_id:
        return sub
    ids = list(batch_run_drafts(run_id=parent_id).order_by("id").values_list("pk", flat=True))
    if sub.stage == Run.Stage.QUEUED:  # (a redelivered task goes on with what is left)
        Run.objects.filter(pk=sub.pk).update(
            stage=Run.Stage.GENERATING,
            progress=5,
            chunks_total=(len(ids) + POST_BATCH - 1) // POST_BATCH,
            summary={"invoices_selected": len(ids)},
        )
    posted_by = sub.requested_by or f"batch run {parent_id}"
    invoice_type = ContentType.objects.get_for_model(Invoice)
    last = Key.objects.filter(run_id=sub.pk).aggregate(last=Max("chunk"))["last"]
    first = 0 if last is None else last + 1  # a redelivered task numbers on
    for number, batch in enumerate(batched(ids, POST_BATCH), start=first):
        posted, failures = invoices_post(invoice_ids=batch, posted_by=posted_by)
        with transaction.atomic(durable=True):
            if failures:
                ErrorLog.objects.filter(
                    category=ErrorLog.Category.POSTING,
                    primary_type=invoice_type,
                    primary_id__in=[f.invoice_id for f in failures],
                    is_resolved=False,
                ).update(batch_run=sub)
            Key.objects.bulk_create(_posting_keys(sub.pk, number, posted, failures))
            Run.objects.filter(pk=sub.pk).update(
                posted_invoices=F("posted_invoices") + len(posted),
                invoices_failed=F("invoices_failed") + len(failures),
                chunks_done=F("chunks_done") + 1,
                progress=_progress(1),
            )
    with transaction.atomic(durable=True):
        sub = batch_run_get(run_id=sub_run_id, lock=True)
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
        _figures_refresh(parent_id)
    return sub


def _posting_keys(
    sub_run_id: int, number: int, posted: list[int], failures: list[PostingFailure]
) -> list[Key]:
    """The key rows of one posting batch of a draft-to-posted sub-run."""
    label = f"posting batch {number + 1}"
    keys = []
    if posted:
        keys.append(
            Key(
                run_id=sub_run_id,
                chunk=number,
                key=label,
                status=Key.Status.DONE,
                invoice_ids=sorted(posted),
            )
        )
    if failures:
        keys.append(
            Key(
                run_id=sub_run_id,
                chunk=number,
                key=label,
                status=Key.Status.FAILED,
                invoice_ids=sorted(f.invoice_id for f in failures),
                error="\n".join(f"Invoice {f.invoice_id}: {f.message}" for f in failures),
            )
        )
    return keys


def batch_run_invoice_ids(*, run_id: int) -> QuerySet[Key, dict[str, Any]]:
    """The ids of the invoices a run's key rows name (one row per id): what a generation run
    made, or what a draft-to-posted sub-run posted or failed to post. A subquery:
    `Invoice.objects.filter(pk__in=batch_run_invoice_ids(run_id=...))`."""
    return _key_ids(run_id, "invoice_ids")


def batch_run_schedule_ids(*, run_id: int) -> QuerySet[Key, dict[str, Any]]:
    """The ids of the schedules a generation run planned (one row per id), as a subquery."""
    return _key_ids(run_id, "schedule_ids")


def _key_ids(run_id: int, field: str) -> QuerySet[Key, dict[str, Any]]:
    element = Func(F(field), function="jsonb_array_elements_text")
    return (
        Key.objects.filter(run_id=run_id)
        .annotate(element_id=Cast(element, BigIntegerField()))
        .values("element_id")
    )


# --------------------------------------------------------------------------------------------
# Email


def batch_run_posted(*, run_id: int) -> QuerySet[Invoice]:
    """The posted invoices an email sub-run of run `run_id` goes through (what its
    confirmation counts)."""
    return Invoice.objects.filter(batch_run_id=run_id, status=InvoiceStatus.POSTED)


def batch_run_send_email(*, run_id: int, requested_by: str = "") -> Run:
    """Start emailing the posted invoices of a finished run as an email sub-run."""
    return batch_sub_run_start(run_id=run_id, kind=Run.Kind.EMAIL, requested_by=requested_by)


def batch_run_send_email_execute(*, sub_run_id: int) -> Run:
    """Email the parent run's posted invoices through the bulk send (opt-outs honoured, an
    invoice already sent is not sent again). The sub-run's summary holds the counts per
    outcome; failures are logged (ErrorLog category email, batch_run = the sub-run). Its
    progress follows the invoices gone through."""
    sub = batch_run_get(run_id=sub_run_id)
    if sub.status != Run.Status.STARTED or sub.kind != Run.Kind.EMAIL or not sub.parent_run_id:
        return sub
    ids = list(
        batch_run_posted(run_id=sub.parent_run_id).order_by("id").values_list("pk", flat=True)
    )
    Run.objects.filter(pk=sub.pk).update(
        stage=Run.Stage.GENERATING, progress=5, summary={"invoices_selected": len(ids)}
    )
    counts = invoices_email_send_bulk(
        invoice_ids=ids, batch_run_id=sub.pk, progress=partial(_email_progress, sub.pk)
    )
    with transaction.atomic(durable=True):
        sub = batch_run_get(run_id=sub_run_id, lock=True)
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


def _email_progress(sub_run_id: int, done: int, total: int) -> None:
    """5 % at the start, 95 % once every invoice is gone through; written when it moves."""
    percent = 5 + done * 90 // max(total, 1)
    previous = 5 + (done - 1) * 90 // max(total, 1)
    if percent != previous:
        Run.objects.filter(pk=sub_run_id).update(progress=percent, updated_at=timezone.now())


# --------------------------------------------------------------------------------------------
# Reads


def batch_run_is_finished(run: Run) -> bool:
    return run.status in _FINAL
