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
3. `batch_run_chunk_process` claims the free pending keys of its chunk with a lease (a short
   transaction of its own), renews the lease from a heartbeat thread, and in one transaction
   runs the engine's `generate_for_keys` over them (the engine locks the schedules with SKIP
   LOCKED too, re-checks their eligibility and reports the billable ones another
   transaction held), checks the keys are still its own, marks them done or failed (or
   leaves held ones pending, tried again) and adds to the run's counters with F()
   expressions. A worker killed mid-chunk therefore leaves nothing behind: the transaction
   rolls back and the keys stay pending until their lease expires.
4. The chunk that commits last queues `batch_run_summarise`, which sets the final status,
   the stage `done`, progress 100 and the draft/posted amounts per currency. (A Celery chord
   would need a result backend and loses its callback when a worker dies in the header; the
   summary is idempotent instead and recovery can always run it.)
5. `batch_runs_supervise` (beat, every 30 s) queues again the chunks whose lease expired or
   whose message was lost, reports keys that never finish, and closes runs whose work is
   done; it also queues again the sub-runs whose lease expired (see "Sub-run leases"), and
   fails those lost too often; each action is an event on the run.

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

import abc
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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
from invoicing.locks import batch_run_keys_lock, batch_run_lock, batch_run_lock_skip
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceEmail,
    InvoiceScheduler,
    InvoiceStatus,
)
from invoicing.services.email import invoice_email_interrupted, invoices_email_send_bulk
from invoicing.services.errors import error_log_record
from invoicing.services.generation import (
    generate_for_keys,
    invoice_date_error,
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
HELD_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)  # pauses before a chunk tries its held schedules again
EVENTS_KEPT = 100  # events a run keeps (the latest)
_LIVE_ITEMS = [BillingPeriodItem.InvoiceStatus.DRAFT, BillingPeriodItem.InvoiceStatus.POSTED]
# Error codes of failed keys. Recovery bills the keys that failed for a reason outside the
# billing rules (a crash around the engine, a lost worker, schedules held elsewhere); a key
# that failed in the engine (tax, numbering …) stays failed until its cause is fixed.
CHUNK_FAILED = "chunk_failed"
LOST = "chunk_lost"
HELD = "schedules_held"
RETRYABLE = (CHUNK_FAILED, LOST, HELD)
SUB_RUN_LOST = "sub_run_lost"  # a sub-run lost with its worker BATCH_KEY_ATTEMPTS times
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
    elif error := invoice_date_error(target_date=target_date, invoice_date=invoice_date):
        errors["invoice_date"] = error
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
    """Inside the caller's transaction: the run row, and its planning queued after commit.
    An invoice date too far ahead (a scheduler's offset) records the run failed, with an
    ErrorLog saying which date and how to fix it, and plans nothing."""
    refused = invoice_date_error(target_date=target_date, invoice_date=invoice_date)
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
    if refused:
        message = f"Invoice date {refused}"
        error_log_record(
            category=ErrorLog.Category.BATCH_RUN,
            code="invoice_date_too_far",
            message=f"Batch run {run.pk} was not started: {message} Fix the scheduler's "
            "invoice date (or its offset).",
            primary=run,
            batch_run_id=run.pk,
        )
        run.status, run.stage, run.completed_at = Run.Status.FAILED, Run.Stage.DONE, timezone.now()
        run.summary = {"error": {"code": "invoice_date_too_far", "message": message}}
        run.save(update_fields=["status", "stage", "completed_at", "summary", "updated_at"])
        return run
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
            queued_until = timezone.now() + lease_settings().dispatch_grace
            Key.objects.bulk_create(
                (
                    Key(
                        run=run,
                        chunk=number,
                        key=_key_store(planned.key),
                        schedule_ids=list(planned.schedule_ids),
                        lease_expires_at=queued_until,
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


# --------------------------------------------------------------------------------------------
# Chunks: leases, heartbeat, generation
#
# A chunk task claims its keys with a lease (owner, expiry) in a short transaction of its
# own, renews the expiry from a heartbeat thread while it generates, and commits the work,
# the keys' outcome and the run's counters together in one transaction (which checks that
# the keys are still its own). A worker that dies stops renewing: once the lease expires, the
# supervisor (batch_runs_supervise, on beat) queues the chunk again and another worker claims
# it. The work of a chunk that never committed was rolled back by PostgreSQL; a chunk that
# did commit left nothing pending. So a chunk queued twice never bills twice (and the partial
# unique index on BillingPeriodItem (schedule, period_start) would refuse it anyway).


class LeaseLost(Exception):
    """The keys a chunk worked on are no longer its own (their lease expired and another
    worker claimed them, or the run was canceled or recovered meanwhile): its transaction
    is rolled back and the other holder does the work."""


@dataclass(frozen=True)
class LeaseSettings:
    lease: dt.timedelta  # how long a claim holds without a heartbeat
    heartbeat: float  # seconds between renewals
    dispatch_grace: dt.timedelta  # how long a queued chunk may wait before it counts as lost
    max_attempts: int  # claims of a key before the supervisor gives up and reports it


def lease_settings() -> LeaseSettings:
    """LEDGERLINE["BATCH_LEASE_SECONDS"] (30), ["BATCH_HEARTBEAT_SECONDS"] (a third of the
    lease), ["BATCH_DISPATCH_GRACE_SECONDS"] (45), ["BATCH_KEY_ATTEMPTS"] (5)."""
    conf = settings.LEDGERLINE
    lease = float(conf.get("BATCH_LEASE_SECONDS", 30))
    return LeaseSettings(
        lease=dt.timedelta(seconds=lease),
        heartbeat=float(conf.get("BATCH_HEARTBEAT_SECONDS", lease / 3)),
        dispatch_grace=dt.timedelta(seconds=float(conf.get("BATCH_DISPATCH_GRACE_SECONDS", 45))),
        max_attempts=int(conf.get("BATCH_KEY_ATTEMPTS", 5)),
    )


def lease_owner(task_id: str | None = None) -> str:
    """A chunk task's name on the keys it claims: `<task id>@<host>:<pid>`. The same message
    redelivered (its worker died) has the same task id, so it may take its keys back at once."""
    return f"{task_id or uuid.uuid4().hex}@{socket.gethostname()}:{os.getpid()}"


def batch_run_chunk_process(*, run_id: int, chunk: int, owner: str | None = None) -> int:
    """Claim the chunk's free pending keys (a lease) and generate them. Returns the number of
    keys this call finished (0: nothing left to claim, or another worker holds them)."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None or run.status != Run.Status.STARTED or run.kind != Run.Kind.GENERATION:
        return 0
    owner = owner or lease_owner()
    keys = keys_claim(run_id, owner=owner, chunk=chunk)
    if not keys:
        return 0
    return keys_generate(run, keys, owner=owner).keys


@dataclass
class ChunkOutcome:
    """What generating claimed keys did: keys finished (done or failed), schedules billed,
    invoices generated."""

    keys: int = 0
    schedules: int = 0
    invoices: int = 0

    def add(self, other: ChunkOutcome) -> None:
        self.keys += other.keys
        self.schedules += other.schedules
        self.invoices += other.invoices


def keys_free(run_id: int, *, now: dt.datetime) -> Q:
    """Pending keys no live worker holds: queued, released, their lease expired."""
    return Q(run_id=run_id, status=Key.Status.PENDING) & (
        Q(lease_owner="") | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    )


def keys_claim(run_id: int, *, owner: str, chunk: int | None = None) -> list[Key]:
    """Claim the run's free pending keys (of one chunk, or all), in id order, in a
    transaction of their own: the lease (owner, expiry) and one more attempt. Keys already
    held by this task (a redelivered message) are taken back. SKIP LOCKED: keys another
    worker is claiming or finishing right now are left to it."""
    now = timezone.now()
    task = owner.split("@", 1)[0]
    claimable = keys_free(run_id, now=now) | Q(
        run_id=run_id, status=Key.Status.PENDING, lease_owner__startswith=f"{task}@"
    )
    with transaction.atomic(durable=True):
        if chunk is not None:
            claimable &= Q(chunk=chunk)
        claimed = batch_run_keys_lock(claimable, skip_locked=True)
        if claimed:
            Key.objects.filter(pk__in=[k.pk for k in claimed]).update(
                lease_owner=owner,
                lease_expires_at=now + lease_settings().lease,
                attempts=F("attempts") + 1,
                updated_at=now,
            )
            for k in claimed:
                k.lease_owner, k.attempts = owner, k.attempts + 1
    return claimed


class Heartbeat(abc.ABC):
    """Renew a lease every `interval` seconds, from a thread with a database connection of
    its own, while its holder works; stopped (and its connection closed) on exit. What is
    renewed is the subclass's `_extend`: a chunk's keys (LeaseHeartbeat) or a sub-run
    (SubRunHeartbeat)."""

    def __init__(self, *, owner: str) -> None:
        conf = lease_settings()
        self.owner = owner
        self.interval, self.lease = conf.heartbeat, conf.lease
        self.beats = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abc.abstractmethod
    def _extend(self, expires_at: dt.datetime) -> int:
        """Inside a transaction: push the expiry of what this owner still holds; how many."""

    def renew(self) -> int:
        """Push the expiry of what is still held by this owner; returns how many rows."""
        with transaction.atomic():
            renewed = self._extend(timezone.now() + self.lease)
        self.beats += 1
        return renewed

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(self.interval):
                try:
                    self.renew()
                except Exception:  # noqa: BLE001 - a missed beat only shortens the lease
                    logger.warning("Lease heartbeat of %s failed", self.owner, exc_info=True)
                    connection.close()  # reconnect at the next beat
        finally:
            connection.close()

    def __enter__(self) -> Heartbeat:
        if self.interval > 0:
            self._thread = threading.Thread(
                target=self._beat, name=f"lease-heartbeat-{self.owner[:12]}", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)


class LeaseHeartbeat(Heartbeat):
    """The heartbeat of a chunk's claimed keys. A renewal takes the keys' row locks in id
    order, as the chunk's final check does, so the two only ever wait on each other for a
    moment."""

    def __init__(self, key_ids: list[int], *, owner: str) -> None:
        super().__init__(owner=owner)
        self.key_ids = key_ids

    def _extend(self, expires_at: dt.datetime) -> int:
        ids = [
            k.pk
            for k in batch_run_keys_lock(
                Q(pk__in=self.key_ids, lease_owner=self.owner, status=Key.Status.PENDING)
            )
        ]
        if ids:
            Key.objects.filter(pk__in=ids).update(lease_expires_at=expires_at)
        return len(ids)


def _run_options(run: Run, *, chunk: int) -> GenerationOptions:
    target_date = _target_date(run)
    return GenerationOptions(
        target_date=target_date,
        invoice_date=run.invoice_date or target_date,
        post=run.invoice_status == "posted",
        request_id=f"batch-{run.pk}-{chunk}",
        posted_by=run.requested_by or f"batch run {run.pk}",
        period_count=run.billing_period_count,
        skip_locked=True,
        batch_run_id=run.pk,
    )


def keys_generate(run: Run, keys: list[Key], *, owner: str) -> ChunkOutcome:
    """Generate claimed keys (of one chunk) with their lease renewed meanwhile, one
    transaction per pass. Keys with schedules another transaction held locked stay pending
    and are tried again after a short pause (HELD_RETRY_DELAYS); those still held after the
    last pause are released, for the supervisor to queue again (or recovery to report)."""
    options = _run_options(run, chunk=keys[0].chunk)
    outcome = ChunkOutcome()
    with LeaseHeartbeat([k.pk for k in keys], owner=owner):
        for delay in (0.0, *HELD_RETRY_DELAYS):
            if delay:
                time.sleep(delay)
            passed, keys = _keys_pass(run.pk, keys, owner=owner, options=options)
            outcome.add(passed)
            if not keys:
                break
    if keys:
        _keys_release(keys, owner=owner)
    return outcome


def _keys_pass(
    run_id: int, keys: list[Key], *, owner: str, options: GenerationOptions
) -> tuple[ChunkOutcome, list[Key]]:
    """One transaction: generate the keys, check they are still this owner's, record their
    outcome and add to the run's counters. Returns what it did and the keys still held."""
    chunk = keys[0].chunk
    try:
        with transaction.atomic(durable=True):
            planned = [PlannedKey(InvoiceKey.loads(k.key), tuple(k.schedule_ids)) for k in keys]
            result = generate_for_keys(planned, options=options)
            mine = _keys_lock_owned(keys, owner=owner)
            errors = {e.schedule_id: e for e in result.errors}
            held_ids = set(result.skipped_locked)
            invoices_by_key: dict[str, list[int]] = defaultdict(list)
            for pk, group_key in Invoice.objects.filter(pk__in=result.invoice_ids).values_list(
                "pk", "group_key"
            ):
                invoices_by_key[group_key].append(pk)
            now = timezone.now()
            held: list[Key] = []
            for k in mine:
                broken = [sid for sid in k.schedule_ids if sid in errors]
                waiting = [sid for sid in k.schedule_ids if sid in held_ids]
                new = invoices_by_key.get(InvoiceKey.loads(k.key).label(), [])
                k.invoice_ids = sorted({*k.invoice_ids, *new})
                k.updated_at = now
                if broken:
                    k.status, k.error, k.error_code = (
                        Key.Status.FAILED,
                        errors[broken[0]].message,
                        errors[broken[0]].code,
                    )
                elif waiting:
                    k.error_code = HELD
                    k.error = (
                        f"Billing schedule(s) {', '.join(map(str, waiting))} held locked by "
                        f"another transaction (attempt {k.attempts}); tried again."
                    )
                    held.append(k)
                    continue
                else:
                    k.status, k.error, k.error_code = Key.Status.DONE, "", ""
                k.lease_owner, k.lease_expires_at = "", None
            Key.objects.bulk_update(
                mine,
                [
                    "status",
                    "error",
                    "error_code",
                    "invoice_ids",
                    "lease_owner",
                    "lease_expires_at",
                    "updated_at",
                ],
            )
            chunk_finished = not Key.objects.filter(
                run_id=run_id, chunk=chunk, status=Key.Status.PENDING
            ).exists()
            counters_add(
                run_id,
                schedules_processed=len(result.schedule_ids),
                schedules_failed=len(errors),
                invoices_generated=len(result.invoice_ids),
                invoices_failed=result.failed_keys + len(result.posting_errors),
                chunks_done=1 if chunk_finished else 0,
            )
            transaction.on_commit(partial(_chunk_committed, run_id))
            outcome = ChunkOutcome(
                len(mine) - len(held), len(result.schedule_ids), len(result.invoice_ids)
            )
            return outcome, held
    except LeaseLost as exc:
        logger.warning("Batch run %s chunk %s: %s", run_id, chunk, exc)
        return ChunkOutcome(), []
    except (OperationalError, InterfaceError):
        raise  # transient (connection lost, serialisation): the task retries the chunk
    except Exception as exc:  # noqa: BLE001 - the engine isolates keys; this is a crash around it
        logger.exception("Batch run %s chunk %s failed", run_id, chunk)
        return ChunkOutcome(_chunk_fail(run_id, keys, owner=owner, exc=exc)), []


def _keys_lock_owned(keys: list[Key], *, owner: str) -> list[Key]:
    """Lock the keys (id order) and check they are still pending and this owner's; raises
    LeaseLost otherwise (the caller's transaction then rolls back)."""
    mine = batch_run_keys_lock(Q(pk__in=[k.pk for k in keys]))
    lost = [k.pk for k in mine if k.status != Key.Status.PENDING or k.lease_owner != owner]
    if lost or len(mine) != len(keys):
        raise LeaseLost(
            f"{len(lost) or len(keys) - len(mine)} of its {len(keys)} keys are no longer held "
            f"by {owner}; its work is rolled back and left to their holder."
        )
    claimed = {k.pk: k.attempts for k in keys}
    for k in mine:  # the claim's attempt count, for the messages
        k.attempts = max(k.attempts, claimed[k.pk])
    return mine


def _keys_release(keys: list[Key], *, owner: str) -> None:
    """Give back keys still pending (their schedules held elsewhere): free at once, so the
    supervisor queues their chunk again at its next round."""
    Key.objects.filter(
        pk__in=[k.pk for k in keys], lease_owner=owner, status=Key.Status.PENDING
    ).update(lease_owner="", lease_expires_at=timezone.now())


def counters_add(run_id: int, **deltas: int) -> None:
    """Add to the run's counters (F() expressions: concurrent chunks never lose an update; a
    negative delta stops at 0), then refresh its draft/posted figures. The UPDATE takes the
    run's row lock, so the figures read after it include every chunk committed before."""
    updates: dict[str, Any] = {
        f: F(f) + n if n > 0 else Greatest(F(f) + n, Value(0)) for f, n in deltas.items() if n
    }
    if deltas.get("chunks_done", 0) > 0:
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


def schedules_unbilled(run_id: int, keys: Iterable[Key]) -> list[int]:
    """The schedules of these keys that the run billed nothing for (no live period item of
    the run): what a failed key counts in `schedules_failed`, and what reopening it takes
    back."""
    ids = {sid for k in keys for sid in k.schedule_ids}
    billed = set(
        BillingPeriodItem.objects.filter(
            batch_run_id=run_id, schedule_id__in=ids, invoice_status__in=_LIVE_ITEMS
        ).values_list("schedule_id", flat=True)
    )
    return sorted(ids - billed)


def _chunk_fail(run_id: int, keys: list[Key], *, owner: str, exc: Exception) -> int:
    """Record a chunk that crashed outside the engine's per-key isolation: its keys (those
    still this owner's) fail, their unbilled schedules count as failed, and the run carries an
    ErrorLog. Recovery retries them (error code chunk_failed). Returns the keys failed."""
    chunk = keys[0].chunk
    message = (
        f"Chunk {chunk} of batch run {run_id} failed: {type(exc).__name__}: {exc}. Its "
        "schedules were not invoiced. Fix the cause, then recover the run: recovery bills them."
    )
    with transaction.atomic(durable=True):
        mine = batch_run_keys_lock(
            Q(pk__in=[k.pk for k in keys], status=Key.Status.PENDING, lease_owner=owner)
        )
        if not mine:
            return 0
        Key.objects.filter(pk__in=[k.pk for k in mine]).update(
            status=Key.Status.FAILED,
            error=message,
            error_code=CHUNK_FAILED,
            lease_owner="",
            lease_expires_at=None,
            updated_at=timezone.now(),
        )
        run = Run.objects.get(pk=run_id)
        error_log_record(
            category=ErrorLog.Category.BATCH_RUN,
            code=CHUNK_FAILED,
            message=message,
            primary=run,
            batch_run_id=run_id,
        )
        counters_add(
            run_id,
            schedules_failed=len(schedules_unbilled(run_id, mine)),
            invoices_failed=len(mine),
            chunks_done=0
            if Key.objects.filter(run_id=run_id, chunk=chunk, status=Key.Status.PENDING).exists()
            else 1,
        )
        transaction.on_commit(partial(_chunk_committed, run_id))
    return len(mine)


def _chunk_committed(run_id: int) -> None:
    """After a chunk commits: when no key is pending any more, queue the summary (several
    chunks finishing together may queue it twice; it is idempotent)."""
    if not Key.objects.filter(run_id=run_id, status=Key.Status.PENDING).exists():
        _queue_summary(run_id)


# --------------------------------------------------------------------------------------------
# The supervisor


def run_event(run: Run, event: str, **fields: Any) -> None:
    """Append an event to the run (in memory; the caller saves `events`)."""
    entry = {"at": timezone.now().isoformat(timespec="seconds"), "event": event, **fields}
    run.events = [*(run.events or []), entry][-EVENTS_KEPT:]


def batch_runs_supervise(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat's watch over started runs (every BATCH_SUPERVISE_SECONDS).

    Generation runs: queue again the chunks whose lease expired (their worker died), the
    chunks whose held schedules wait for another try and, when a run stands still, the chunks
    whose message was lost; plan again a run whose planning message was lost; report (fail,
    with an ErrorLog) keys claimed BATCH_KEY_ATTEMPTS times without finishing; and close a
    run whose keys are all finished but whose summary never came.

    Sub-runs (draft-to-posted, email, recovery): queue again a sub-run whose lease expired,
    or which was queued and never started within the dispatch grace; fail one claimed (or
    queued again) BATCH_KEY_ATTEMPTS times, with an ErrorLog saying what to do.

    Each action is recorded on the run (`events`, `redispatches`). A run another transaction
    holds (planning, summarising, a chunk committing) is looked at in the next round. Returns
    counts of what it did."""
    report: Counter[str] = Counter()
    started = Run.objects.filter(status=Run.Status.STARTED)
    for run_id, kind in started.order_by("id").values_list("pk", "kind"):
        try:
            if kind == Run.Kind.GENERATION:
                report.update(_run_supervise(run_id, now=now or timezone.now()))
            else:
                report.update(_sub_run_supervise(run_id, now=now or timezone.now()))
        except (OperationalError, InterfaceError):
            raise
        except Exception:  # noqa: BLE001 - one run's trouble does not stop the watch
            logger.exception("Supervising batch run %s failed", run_id)
            report["errors"] += 1
    return dict(report)


# What to do once a sub-run was lost BATCH_KEY_ATTEMPTS times, by kind.
_SUB_RUN_GIVEN_UP = {
    Run.Kind.DRAFT_TO_POSTED: "The invoices it posted stay posted (the sub-run lists them) "
    "and the rest stay draft. Check the workers' logs (memory, time limits), then post the "
    "run's drafts again: a new sub-run posts what is left.",
    Run.Kind.EMAIL: "The invoices it emailed are marked sent and are not sent again. Check "
    "the workers' logs (memory, time limits), then email the run's invoices again: a new "
    "sub-run sends what is left.",
    Run.Kind.RECOVERY: "What it recovered stays recovered. Check the workers' logs (memory, "
    "time limits), then recover the run again.",
}


def _sub_run_supervise(run_id: int, *, now: dt.datetime) -> Counter[str]:
    """A started sub-run: queue it again when its lease expired (or, never claimed, when it
    was queued longer than the dispatch grace); fail it after BATCH_KEY_ATTEMPTS."""
    conf = lease_settings()
    report: Counter[str] = Counter()
    with transaction.atomic(durable=True):
        sub = batch_run_lock_skip(run_id, status=Run.Status.STARTED)
        if sub is None:
            return report
        report["sub_runs"] += 1
        expires = sub.lease_expires_at
        if expires is None and sub.started_at is not None:  # recorded before sub-run leases
            expires = sub.started_at + conf.dispatch_grace
        if expires is None or expires >= now:
            return report  # held by a live task, or queued within the grace
        lost = bool(sub.lease_owner)
        if max(sub.attempts, sub.redispatches) >= conf.max_attempts:
            what = (
                f"was lost with its worker {sub.attempts} times"
                if sub.attempts
                else f"was queued {sub.redispatches + 1} times and no worker started it"
            )
            message = (
                f"{sub.get_kind_display()} sub-run {sub.pk} of batch run {sub.parent_run_id} "
                f"{what}; it was stopped. {_SUB_RUN_GIVEN_UP[Run.Kind(sub.kind)]}"
            )
            error_log_record(
                category=ErrorLog.Category.BATCH_RUN,
                code=SUB_RUN_LOST,
                message=message,
                primary=sub,
                batch_run_id=sub.pk,
            )
            run_event(sub, "sub_run_failed", attempts=sub.attempts, detail=message)
            sub.status, sub.stage, sub.completed_at = Run.Status.FAILED, Run.Stage.DONE, now
            sub.summary = {**sub.summary, "error": {"code": SUB_RUN_LOST, "message": message}}
            sub_run_release(sub)
            sub.save()
            report["sub_runs_failed"] += 1
            return report
        run_event(
            sub,
            "sub_run_redispatched",
            attempt=sub.attempts + 1,
            detail="lease expired: its worker was lost"
            if lost
            else "queued but never started: its message was lost",
        )
        sub.redispatches += 1
        sub.lease_owner, sub.lease_expires_at = "", now + conf.dispatch_grace
        sub.save(
            update_fields=[
                "events",
                "redispatches",
                "lease_owner",
                "lease_expires_at",
                "updated_at",
            ]
        )
        transaction.on_commit(partial(task_queue, _SUB_RUN_TASKS[sub.kind], sub.pk))
        report["sub_runs_redispatched"] += 1
    return report


def _run_supervise(run_id: int, *, now: dt.datetime) -> Counter[str]:
    conf = lease_settings()
    report: Counter[str] = Counter()
    close = replan_failed = False
    with transaction.atomic(durable=True):
        run = batch_run_lock_skip(run_id, status=Run.Status.STARTED)
        if run is None:
            return report
        report["runs"] += 1
        if run.stage == Run.Stage.QUEUED:
            replans = [e["at"] for e in run.events if e.get("event") == "plan_redispatched"]
            since = dt.datetime.fromisoformat(replans[-1]) if replans else run.started_at
            if since is not None and since < now - conf.dispatch_grace:
                if len(replans) >= conf.max_attempts:
                    replan_failed = True
                else:
                    run_event(run, "plan_redispatched", detail="no worker planned the run")
                    run.redispatches += 1
                    run.save(update_fields=["events", "redispatches", "updated_at"])
                    transaction.on_commit(partial(_queue_plan_again, run.pk))
                    report["replanned"] += 1
        elif run.stage == Run.Stage.GENERATING:
            pending = batch_run_keys_lock(
                Q(run_id=run_id, status=Key.Status.PENDING), skip_locked=True
            )
            if not pending:
                close = not Key.objects.filter(run_id=run_id, status=Key.Status.PENDING).exists()
            else:
                report += _keys_supervise(run, pending, now=now, conf=conf)
                close = not Key.objects.filter(run_id=run_id, status=Key.Status.PENDING).exists()
    if replan_failed:
        _run_fail(
            run_id,
            code="never_planned",
            message=f"No worker planned the run after {conf.max_attempts} tries. Check that "
            "workers consume the default queue.",
        )
        report["failed"] += 1
    if close:
        closed = batch_run_summarise(
            run_id=run_id, event={"event": "closed", "detail": "every key finished"}
        )
        if closed.status != Run.Status.STARTED:
            report["closed"] += 1
    return report


def _keys_supervise(
    run: Run, pending: list[Key], *, now: dt.datetime, conf: LeaseSettings
) -> Counter[str]:
    """Inside the supervisor's transaction (run and these keys locked)."""
    report: Counter[str] = Counter()
    live = [
        k for k in pending if k.lease_owner and k.lease_expires_at and k.lease_expires_at >= now
    ]
    last_move = Key.objects.filter(run_id=run.pk).aggregate(at=Max("updated_at"))["at"]
    stands_still = not live and (last_move is None or last_move < now - conf.dispatch_grace)
    again: list[Key] = []
    exhausted: list[Key] = []
    reasons: dict[int, str] = {}
    for k in pending:
        if k.lease_expires_at is not None and k.lease_expires_at >= now:
            continue  # held by a live worker, or queued within the grace
        if k.lease_owner or k.attempts:
            if k.attempts >= conf.max_attempts:
                exhausted.append(k)
                continue
            reasons.setdefault(
                k.chunk,
                "lease expired: its worker was lost"
                if k.lease_owner
                else "its schedules were held by another transaction",
            )
            again.append(k)
        elif stands_still:
            reasons.setdefault(k.chunk, "queued but never started: its message was lost")
            again.append(k)
    if exhausted:
        report["given_up"] += keys_give_up(run, exhausted)
    if again:
        Key.objects.filter(pk__in=[k.pk for k in again]).update(
            lease_owner="", lease_expires_at=now + conf.dispatch_grace
        )
        chunks = sorted({k.chunk for k in again})
        for chunk in chunks:
            keys = [k for k in again if k.chunk == chunk]
            run_event(
                run,
                "chunk_redispatched",
                chunk=chunk,
                keys=len(keys),
                attempt=max(k.attempts for k in keys) + 1,
                detail=reasons[chunk],
            )
        run.redispatches += len(chunks)
        transaction.on_commit(partial(_queue_chunk_list, run.pk, chunks))
        report["redispatched"] += len(chunks)
    if exhausted or again:
        Run.objects.filter(pk=run.pk).update(events=run.events, redispatches=run.redispatches)
    return report


def keys_give_up(run: Run, keys: list[Key]) -> int:
    """Report keys claimed BATCH_KEY_ATTEMPTS times without finishing: failed (recovery bills
    them), their unbilled schedules counted as failed, one ErrorLog per chunk saying why and
    what to do. Inside the caller's transaction, with the keys locked."""
    for chunk in sorted({k.chunk for k in keys}):
        mine = [k for k in keys if k.chunk == chunk]
        unbilled = schedules_unbilled(run.pk, mine)
        ids = ", ".join(map(str, unbilled[:20])) + (" …" if len(unbilled) > 20 else "")
        held = [k for k in mine if k.error_code == HELD and not k.lease_owner]
        if held:
            code = HELD
            message = (
                f"Chunk {chunk} of batch run {run.pk}: billing schedules ({ids}) stayed locked "
                f"by another transaction through {max(k.attempts for k in mine)} attempts and "
                "were not billed by this run; they are still ready for invoicing. Find what "
                "holds them (a long transaction), then recover the run: recovery bills them."
            )
        else:
            code = LOST
            message = (
                f"Chunk {chunk} of batch run {run.pk} was lost with its worker "
                f"{max(k.attempts for k in mine)} times; its {len(unbilled)} schedules ({ids}) "
                "were not billed. Check the workers' logs (memory, time limits), then recover "
                "the run: recovery bills them."
            )
        Key.objects.filter(pk__in=[k.pk for k in mine]).update(
            status=Key.Status.FAILED,
            error=message,
            error_code=code,
            lease_owner="",
            lease_expires_at=None,
            updated_at=timezone.now(),
        )
        error_log_record(
            category=ErrorLog.Category.BATCH_RUN,
            code=code,
            message=message,
            primary=run,
            related=mine[0],
            batch_run_id=run.pk,
        )
        finished = not Key.objects.filter(
            run_id=run.pk, chunk=chunk, status=Key.Status.PENDING
        ).exists()
        counters_add(
            run.pk,
            schedules_failed=len(unbilled),
            invoices_failed=len(mine),
            chunks_done=1 if finished else 0,
        )
        run_event(run, "keys_reported", chunk=chunk, keys=len(mine), detail=code)
    return len(keys)


def _queue_chunk_list(run_id: int, chunks: list[int]) -> None:
    task_group_queue(BATCH_RUN_CHUNK, ((run_id, chunk) for chunk in chunks))


def _queue_plan_again(run_id: int) -> None:
    task_queue(BATCH_RUN_PLAN, run_id, None)


# --------------------------------------------------------------------------------------------
# Summary


def batch_run_summarise(
    *, run_id: int, force: bool = False, again: bool = False, event: dict | None = None
) -> Run:
    """Finish a run whose keys are all processed (or, with `force`, whatever is left
    pending stays pending): status, stage done, progress 100, figures. Idempotent. With
    `again`, a generation run already completed with errors or failed is summarised anew
    (recovery billed some of what it left). `event` is recorded on the run if this call
    finishes it."""
    with transaction.atomic(durable=True):
        run = batch_run_get(run_id=run_id, lock=True)
        if run.kind != Run.Kind.GENERATION:
            return run
        redo = again and run.status in (Run.Status.COMPLETED_WITH_ERRORS, Run.Status.FAILED)
        if run.status != Run.Status.STARTED and not redo:
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
        run.summary.pop("keys_pending", None)
        if pending:
            run.summary["keys_pending"] = pending
        if event:
            run_event(run, **event)
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
                "events",
                "completed_at",
                "updated_at",
            ]
        )
    return run


def batch_run_cancel(*, run_id: int) -> Run:
    """Stop a started run: its keys no worker holds are dropped; chunks being processed
    finish (their invoices stay). Status canceled."""
    with transaction.atomic(durable=True):
        run = batch_run_get(run_id=run_id, lock=True)
        if run.status != Run.Status.STARTED:
            raise BatchRunFinished(
                f"Batch run {run.pk} is {run.status}; only a started run can be canceled.",
                details={"status": run.status},
            )
        dropped = batch_run_keys_lock(keys_free(run_id, now=timezone.now()), skip_locked=True)
        Key.objects.filter(pk__in=[k.pk for k in dropped]).update(
            status=Key.Status.FAILED,
            error="Canceled before it was processed.",
            error_code="canceled",
            lease_owner="",
            lease_expires_at=None,
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
            # Queued: no owner yet; past this, with no worker started, its message was lost.
            lease_expires_at=timezone.now() + lease_settings().dispatch_grace,
        )
        transaction.on_commit(partial(task_queue, _SUB_RUN_TASKS[kind], sub.pk))
    return sub


# Sub-run leases. A sub-run's task claims the sub-run itself (its row) with a lease, as a
# chunk claims its keys: owner `lease_owner(task id)`, an expiry renewed by a heartbeat
# thread, cleared by the transaction that finishes the sub-run. Before each step that writes
# (a posting batch, an email) the task checks the sub-run is still its own, so once the
# supervisor has queued it again (its lease expired) a stalled task stops and leaves the rest
# to the new one. A task that raises keeps its lease until it expires: the same message
# retried or redelivered takes it back at once; otherwise the supervisor queues it again.


class SubRunHeartbeat(Heartbeat):
    """The heartbeat of a claimed sub-run."""

    def __init__(self, sub_run_id: int, *, owner: str) -> None:
        super().__init__(owner=owner)
        self.sub_run_id = sub_run_id

    def _extend(self, expires_at: dt.datetime) -> int:
        return Run.objects.filter(
            pk=self.sub_run_id, lease_owner=self.owner, status=Run.Status.STARTED
        ).update(lease_expires_at=expires_at)


def sub_run_claim(*, sub_run_id: int, kind: str, owner: str) -> Run | None:
    """Claim a started sub-run of `kind` for the task `owner` (a transaction of its own): the
    lease and one more attempt. A sub-run this task already holds (its message redelivered
    or retried: same task id) is taken back at once. None when there is nothing to do: the
    sub-run is finished, not of `kind`, or held by another task whose lease is live."""
    now = timezone.now()
    task = owner.split("@", 1)[0]
    with transaction.atomic(durable=True):
        sub = batch_run_get(run_id=sub_run_id, lock=True)
        if sub.status != Run.Status.STARTED or sub.kind != kind or not sub.parent_run_id:
            return None
        live = sub.lease_expires_at is not None and sub.lease_expires_at >= now
        if sub.lease_owner and live and not sub.lease_owner.startswith(f"{task}@"):
            return None
        sub.lease_owner = owner
        sub.lease_expires_at = now + lease_settings().lease
        sub.attempts += 1
        sub.save(update_fields=["lease_owner", "lease_expires_at", "attempts", "updated_at"])
    return sub


def sub_run_execute(
    *, sub_run_id: int, kind: str, owner: str | None, work: Callable[..., Run]
) -> Run:
    """Claim the sub-run with a lease (sub_run_claim) and do `work(sub, owner=owner)` while a
    heartbeat renews the lease. A sub-run another live task holds, or that is finished, is
    returned as it stands."""
    owner = owner or lease_owner()
    sub = sub_run_claim(sub_run_id=sub_run_id, kind=kind, owner=owner)
    if sub is None:
        return batch_run_get(run_id=sub_run_id)
    with SubRunHeartbeat(sub.pk, owner=owner):
        return work(sub, owner=owner)


def sub_run_holds(sub_run_id: int, owner: str) -> bool:
    """Whether the started sub-run is still this task's."""
    return Run.objects.filter(pk=sub_run_id, status=Run.Status.STARTED, lease_owner=owner).exists()


def sub_run_lock_own(sub_run_id: int, owner: str) -> Run | None:
    """Inside the caller's transaction: the sub-run locked, if it is still started and this
    task's (None: the supervisor queued it again and another task goes on with it)."""
    sub = batch_run_get(run_id=sub_run_id, lock=True)
    if sub.status != Run.Status.STARTED or sub.lease_owner != owner:
        logger.warning("Sub-run %s is no longer held by %s; left to its holder", sub.pk, owner)
        return None
    return sub


def sub_run_release(sub: Run) -> None:
    """The lease of a sub-run being finished (in memory; the caller saves it)."""
    sub.lease_owner, sub.lease_expires_at = "", None


def batch_run_drafts(*, run_id: int) -> QuerySet[Invoice]:
    """The drafts a draft-to-posted sub-run of run `run_id` posts (what its confirmation
    counts and sums)."""
    return Invoice.objects.filter(batch_run_id=run_id, status=InvoiceStatus.DRAFT)


def batch_run_draft_to_posted(*, run_id: int, requested_by: str = "") -> Run:
    """Start posting every draft invoice of a finished run as a draft-to-posted sub-run."""
    return batch_sub_run_start(
        run_id=run_id, kind=Run.Kind.DRAFT_TO_POSTED, requested_by=requested_by
    )


def batch_run_draft_to_posted_execute(*, sub_run_id: int, owner: str | None = None) -> Run:
    """Post the parent run's drafts, POST_BATCH per transaction (numbers, actual tax). A
    numbering failure leaves its invoices draft, logged against the sub-run. The sub-run is
    claimed with a lease (`owner`: its task, see sub_run_claim) and renewed while it works.

    Each batch is recorded as key rows of the sub-run (chunk = the batch's number): before
    it is posted, one pending row naming its drafts; once posted, one done row whose
    `invoice_ids` are the invoices it posted and, when some failed, one failed row with theirs
    and the errors. So the sub-run lists exactly what it posted (`batch_run_invoice_ids`),
    and a task run again (its worker was lost) first records what a batch cut short had
    posted, then posts the drafts left, numbering its batches on."""
    return sub_run_execute(
        sub_run_id=sub_run_id, kind=Run.Kind.DRAFT_TO_POSTED, owner=owner, work=_draft_to_posted
    )


def _draft_to_posted(sub: Run, *, owner: str) -> Run:
    parent_id = sub.parent_run_id
    assert parent_id is not None  # sub_run_claim checked it
    _posting_batches_settle(sub.pk)
    ids = list(batch_run_drafts(run_id=parent_id).order_by("id").values_list("pk", flat=True))
    batches = (len(ids) + POST_BATCH - 1) // POST_BATCH
    if sub.stage == Run.Stage.QUEUED:
        Run.objects.filter(pk=sub.pk).update(
            stage=Run.Stage.GENERATING,
            progress=5,
            chunks_total=batches,
            summary={"invoices_selected": len(ids)},
        )
    else:  # run again: what is left, after the batches done before
        Run.objects.filter(pk=sub.pk).update(chunks_total=F("chunks_done") + batches)
    posted_by = sub.requested_by or f"batch run {parent_id}"
    invoice_type = ContentType.objects.get_for_model(Invoice)
    last = Key.objects.filter(run_id=sub.pk).aggregate(last=Max("chunk"))["last"]
    first = 0 if last is None else last + 1  # a task run again numbers on
    for number, batch in enumerate(batched(ids, POST_BATCH), start=first):
        with transaction.atomic(durable=True):
            if sub_run_lock_own(sub.pk, owner) is None:
                return batch_run_get(run_id=sub.pk)
            Key.objects.create(
                run_id=sub.pk,
                chunk=number,
                key=f"posting batch {number + 1}",
                status=Key.Status.PENDING,
                invoice_ids=sorted(batch),
            )
        posted, failures = invoices_post(invoice_ids=batch, posted_by=posted_by)
        with transaction.atomic(durable=True):
            if failures:
                ErrorLog.objects.filter(
                    category=ErrorLog.Category.POSTING,
                    primary_type=invoice_type,
                    primary_id__in=[f.invoice_id for f in failures],
                    is_resolved=False,
                ).update(batch_run_id=sub.pk)
            Key.objects.filter(run_id=sub.pk, chunk=number, status=Key.Status.PENDING).delete()
            Key.objects.bulk_create(_posting_keys(sub.pk, number, posted, failures))
            Run.objects.filter(pk=sub.pk).update(
                posted_invoices=F("posted_invoices") + len(posted),
                invoices_failed=F("invoices_failed") + len(failures),
                chunks_done=F("chunks_done") + 1,
                progress=_progress(1),
            )
    with transaction.atomic(durable=True):
        locked = sub_run_lock_own(sub.pk, owner)
        if locked is None:
            return batch_run_get(run_id=sub.pk)
        sub = locked
        # What this sub-run went through: the drafts it found now and, when it was run again,
        # the invoices its earlier batches posted or failed to post.
        gone_through = Invoice.objects.filter(
            Q(pk__in=ids) | Q(pk__in=batch_run_invoice_ids(run_id=sub.pk))
        )
        rows = gone_through.values("currency", "status").annotate(total=Sum("total"))
        amounts: dict[str, dict[str, Decimal]] = defaultdict(
            lambda: {"draft": ZERO, "posted": ZERO}
        )
        for row in rows:
            if row["status"] in ("draft", "posted"):
                amounts[row["currency"]][row["status"]] += row["total"] or ZERO
        sub.amounts = _amounts_json(amounts)
        sub.draft_invoices = gone_through.filter(status=InvoiceStatus.DRAFT).count()
        if sub.invoices_failed and not sub.posted_invoices:
            sub.status = Run.Status.FAILED
        elif sub.invoices_failed:
            sub.status = Run.Status.COMPLETED_WITH_ERRORS
        else:
            sub.status = Run.Status.COMPLETED
        sub.stage, sub.progress, sub.completed_at = Run.Stage.DONE, 100, timezone.now()
        sub_run_release(sub)
        sub.save()
        _figures_refresh(parent_id)
    return sub


def _posting_batches_settle(sub_run_id: int) -> int:
    """Record the posting batches an earlier task of the sub-run started but never recorded
    (its worker was lost between posting and recording): the invoices of a pending batch row
    that are posted now were posted by it (a done row; its drafts are posted again with the
    rest). Returns the batches settled."""
    with transaction.atomic(durable=True):
        pending = batch_run_keys_lock(Q(run_id=sub_run_id, status=Key.Status.PENDING))
        if not pending:
            return 0
        done = []
        for k in pending:
            posted = sorted(
                Invoice.objects.filter(
                    pk__in=k.invoice_ids, status=InvoiceStatus.POSTED
                ).values_list("pk", flat=True)
            )
            done += _posting_keys(sub_run_id, k.chunk, posted, [])
        Key.objects.filter(pk__in=[k.pk for k in pending]).delete()
        Key.objects.bulk_create(done)
        Run.objects.filter(pk=sub_run_id).update(
            posted_invoices=F("posted_invoices") + sum(len(k.invoice_ids) for k in done),
            chunks_done=F("chunks_done") + len({k.chunk for k in done}),
        )
    return len(pending)


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


def batch_run_send_email_execute(*, sub_run_id: int, owner: str | None = None) -> Run:
    """Email the parent run's posted invoices through the bulk send (opt-outs honoured, an
    invoice already sent is not sent again). The sub-run's summary holds the counts per
    outcome; failures are logged (ErrorLog category email, batch_run = the sub-run). Its
    progress follows the invoices gone through. The sub-run is claimed with a lease (`owner`:
    its task, see sub_run_claim), checked after each invoice.

    Run again (its worker was lost), it goes on with the invoices it has not gone through:
    the outcomes of its earlier emails are counted as they were, and an email it was sending
    when it was lost (queued, never confirmed) is not sent again but failed with an ErrorLog
    (the provider may have sent it): a person checks, and sends it again if need be."""
    return sub_run_execute(
        sub_run_id=sub_run_id, kind=Run.Kind.EMAIL, owner=owner, work=_send_email
    )


def _send_email(sub: Run, *, owner: str) -> Run:
    assert sub.parent_run_id is not None  # sub_run_claim checked it
    ids = list(
        batch_run_posted(run_id=sub.parent_run_id).order_by("id").values_list("pk", flat=True)
    )
    earlier = _emails_of_earlier_tasks(sub.pk, owner=owner)
    todo = [i for i in ids if i not in earlier]
    Run.objects.filter(pk=sub.pk).update(
        stage=Run.Stage.GENERATING, progress=5, summary={"invoices_selected": len(ids)}
    )

    def progress(done: int, total: int) -> None:
        if not sub_run_holds(sub.pk, owner):
            raise LeaseLost(f"Email sub-run {sub.pk} is no longer held by {owner}.")
        _email_progress(sub.pk, len(earlier) + done, len(earlier) + total)

    try:
        counts = invoices_email_send_bulk(invoice_ids=todo, batch_run_id=sub.pk, progress=progress)
    except LeaseLost as exc:
        logger.warning("%s Its holder goes on.", exc)
        return batch_run_get(run_id=sub.pk)
    for outcome in earlier.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    with transaction.atomic(durable=True):
        locked = sub_run_lock_own(sub.pk, owner)
        if locked is None:
            return batch_run_get(run_id=sub.pk)
        sub = locked
        sub.summary = {"invoices_selected": len(ids), **counts}
        sub.invoices_failed = counts.get("failed", 0)
        if sub.invoices_failed and not counts.get("sent", 0):
            sub.status = Run.Status.FAILED
        elif sub.invoices_failed:
            sub.status = Run.Status.COMPLETED_WITH_ERRORS
        else:
            sub.status = Run.Status.COMPLETED
        sub.stage, sub.progress, sub.completed_at = Run.Stage.DONE, 100, timezone.now()
        sub_run_release(sub)
        sub.save()
    return sub


_EMAIL_OUTCOMES = {
    InvoiceEmail.Status.SENT: "sent",
    InvoiceEmail.Status.SKIPPED: "skipped",
    InvoiceEmail.Status.FAILED: "failed",
}


def _emails_of_earlier_tasks(sub_run_id: int, *, owner: str) -> dict[int, str]:
    """The invoices an earlier task of this email sub-run went through, with their outcome
    (sent, skipped, failed). An email still queued was being sent when that task was lost:
    it is failed (row, invoice's email status, ErrorLog), not sent again."""
    latest: dict[int, InvoiceEmail] = {}
    for email in InvoiceEmail.objects.filter(batch_run_id=sub_run_id, bulk=True).order_by("id"):
        latest[email.invoice_id] = email
    outcomes: dict[int, str] = {}
    for invoice_id, email in latest.items():
        if email.status != InvoiceEmail.Status.QUEUED:
            outcomes[invoice_id] = _EMAIL_OUTCOMES[InvoiceEmail.Status(email.status)]
            continue
        with transaction.atomic(durable=True):
            if sub_run_lock_own(sub_run_id, owner) is None:
                raise LeaseLost(f"Email sub-run {sub_run_id} is no longer held by {owner}.")
            invoice_email_interrupted(email, batch_run_id=sub_run_id)
        outcomes[invoice_id] = "failed"
    return outcomes


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
