"""Fault injection behind `manage.py fault_inject` (docs/reliability.md).

Each trial builds (once) the batch benchmark's data set (benchmarks/generation.py: monthly
schedules over N accounts of a legal entity of its own, numbered BENCH-<token>-0000001…),
starts real processes on 127.0.0.1 — W Celery workers (prefork, one pool process each, as
production runs them) and one beat (the supervisor every LEDGERLINE_SUPERVISE_SECONDS) on
the configured PostgreSQL database and a Redis database of its own — starts a posted batch
run over the data set, waits until a worker is inside a chunk, injects one fault, and
waits for the run to end by itself (nobody presses Recover). Then it checks:

- every run is terminal within LIMIT_SECONDS of the fault;
- 0 duplicate billed periods (live period items per schedule and period start);
- 0 gaps and 0 duplicates in the numbers of the data set's sequence policy;
- 0 schedules left unbilled (ready and due by the target date);
- every invoice's total equals the sum of its lines and their taxes.

and rewinds the data (benchmarks.generation.world_reset) for the next trial.

The faults:

- `worker_kill`: SIGKILL a whole worker (main and pool process) in the middle of a chunk;
- `pool_kill`: SIGKILL only the pool process running the chunk (its main process lives);
- `db_kill`: pg_terminate_backend the worker's connection in the middle of the chunk's
  transaction;
- `sigterm`: SIGTERM to a worker while it posts (the run creates posted invoices);
- `redis_restart`: the broker restarted: the harness's own Redis server (no persistence, as
  a cache-style broker runs) shut down without saving, so every queued and unacknowledged
  message is lost, down for `downtime` seconds, started again;
- `db_restart`: the database restarted: the harness's own PostgreSQL server stopped in
  immediate mode (what a crash does: every connection cut, open transactions lost, the WAL
  replayed at the next start), down for `downtime` seconds, started again.

The restart faults never touch the machine's shared servers: `manage.py fault_inject` starts
a PostgreSQL and a Redis of its own for them (benchmarks/servers.py) and runs the trials in a
child process connected to those.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import redis
from celery import current_app as app
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Count, Sum

from benchmarks import generation as bench
from benchmarks.servers import Servers
from billing.choices import ScheduleStatus
from billing.models import BillingSchedule
from invoicing.models import (
    BillingPeriodItem,
    Invoice,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceLine,
    InvoiceLineTax,
    SequencePolicy,
)
from invoicing.services.runs import batch_run_is_finished, batch_run_start

FAULTS = ("worker_kill", "pool_kill", "db_kill", "sigterm", "redis_restart", "db_restart")
RESTARTS = ("redis_restart", "db_restart")  # need the harness's own servers
DOWNTIME_SECONDS = 5.0
LIMIT_SECONDS = 120  # a run must be terminal this long after the fault
READY_SECONDS = 60
FAULT_WAIT_SECONDS = 120  # how long to wait for a worker to be inside a chunk
APP_PREFIX = "ledgerline-fault-w"  # application_name of the workers' database connections


class FaultRefused(Exception):
    """The fault injection will not run here (no broker of its own, wrong database)."""


class FaultFailed(Exception):
    """The harness itself could not do its part (a worker did not start …)."""


class FaultMissed(FaultFailed):
    """The run ended before the fault could be injected inside a chunk (a small run on fast
    workers): the trial did not test anything and is made again."""


MISSED_TRIES = 3  # a trial whose fault missed is made again, up to this many times in all


@dataclass
class Trial:
    fault: str
    trial: int
    run_id: int = 0
    status: str = ""
    injected: str = ""  # what was hit, in words
    seconds_to_end: float | None = None  # from the fault to the run's end
    run_seconds: float = 0.0  # from the start of the run to its end
    invoices: int = 0
    duplicates: int = 0
    gaps: int = 0
    duplicate_numbers: int = 0
    unbilled: int = 0
    total_mismatches: int = 0
    redispatches: int = 0
    missed: int = 0  # earlier tries whose run ended before the fault could be injected
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.status in ("completed", "completed_with_errors", "failed")
            and self.seconds_to_end is not None
            and self.seconds_to_end <= LIMIT_SECONDS
            and not (
                self.duplicates
                or self.gaps
                or self.duplicate_numbers
                or self.unbilled
                or self.total_mismatches
            )
            and not self.errors
        )


# --------------------------------------------------------------------------------------------
# Processes


def broker_url_check() -> str:
    url = app.conf.broker_url or ""
    if not url.startswith("redis://") or app.conf.task_always_eager:
        raise FaultRefused(
            "Fault injection needs real workers: set CELERY_BROKER_URL to a Redis database no "
            "other worker uses, e.g. CELERY_BROKER_URL=redis://127.0.0.1:6379/11 (now: broker "
            f"{url or 'none'}, eager {app.conf.task_always_eager})."
        )
    return url


def _database_url(application_name: str) -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    auth = f"{user}:{s['PASSWORD']}" if s.get("PASSWORD") else user
    host, port = s.get("HOST") or "127.0.0.1", s.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}?application_name={application_name}"


class Process:
    """A celery process of the harness, in a session of its own (so a signal can reach its
    pool processes too), logging to a temporary file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - read while it runs
            prefix=f"fault-{name}-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def pids(self) -> set[int]:
        """The process and its descendants (its pool processes)."""
        family, todo = {self.pid}, [self.pid]
        while todo:
            parent = todo.pop()
            for child in _children(parent):
                if child not in family:
                    family.add(child)
                    todo.append(child)
        return family

    def signal(self, signum: int, *, whole: bool = True) -> None:
        if whole:
            os.killpg(self.pid, signum)
        else:
            os.kill(self.pid, signum)

    def stop(self) -> None:
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.process.wait(timeout=30)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        else:  # its pool processes may outlive a killed main process
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        Path(self.log.name).unlink(missing_ok=True)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …; comm may hold spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out


class Cluster:
    """W workers and one beat on the broker `url`."""

    def __init__(self, url: str, *, workers: int, supervise_seconds: float) -> None:
        base = {
            **os.environ,
            "CELERY_BROKER_URL": url,
            "CELERY_TASK_ALWAYS_EAGER": "False",
            "DEBUG": "False",
            "LOG_LEVEL": "WARNING",
            "LEDGERLINE_SUPERVISE_SECONDS": str(supervise_seconds),
        }
        if base.get("DJANGO_SETTINGS_MODULE", "config.settings.test") == "config.settings.test":
            # The test settings make Celery eager on an in-memory broker.
            base["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
        self.workers = [
            Process(
                f"worker{i}",
                [
                    "worker",
                    "--pool=prefork",
                    "--concurrency=1",
                    "-I",
                    "benchmarks.worker",
                    "-n",
                    f"fault{i}-{os.getpid()}@%h",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                ],
                {**base, "DATABASE_URL": _database_url(f"{APP_PREFIX}{i}")},
            )
            for i in range(workers)
        ]
        self.schedule_dir = tempfile.mkdtemp(prefix="fault-beat-")
        self.beat = Process(
            "beat",
            [
                "beat",
                "-S",
                "celery.beat:PersistentScheduler",
                "-s",
                str(Path(self.schedule_dir) / "schedule"),
                "--loglevel=INFO",
            ],
            {**base, "DATABASE_URL": _database_url(f"{APP_PREFIX}beat")},
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while not all(" ready." in w.output() for w in self.workers):
            for p in (*self.workers, self.beat):
                if not p.alive():
                    raise FaultFailed(f"{p.name} exited:\n{p.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise FaultFailed("The workers did not start within a minute.")
            time.sleep(0.2)

    def worker_of(self, pid: int) -> Process | None:
        return next((w for w in self.workers if pid in w.pids()), None)

    def stop(self) -> None:
        for p in (*self.workers, self.beat):
            p.stop()
        for entry in Path(self.schedule_dir).glob("*"):
            entry.unlink(missing_ok=True)
        Path(self.schedule_dir).rmdir()


# --------------------------------------------------------------------------------------------
# Faults


def _leased_pid(run_id: int) -> int | None:
    """The pid of a process holding a lease on a pending key of the run (inside a chunk)."""
    owners = (
        InvoiceBatchRunKey.objects.filter(run_id=run_id, status=InvoiceBatchRunKey.Status.PENDING)
        .exclude(lease_owner="")
        .values_list("lease_owner", flat=True)[:10]
    )
    for owner in owners:
        match = re.search(r":(\d+)$", owner)
        if match:
            return int(match.group(1))
    return None


def _wait_inside_a_chunk(run_id: int, cluster: Cluster) -> tuple[Process, int]:
    """Wait until a worker's pool process holds a lease of the run and at least one chunk has
    committed; return that worker and the pid."""
    deadline = time.monotonic() + FAULT_WAIT_SECONDS
    while time.monotonic() < deadline:
        status, done = InvoiceBatchRun.objects.values_list("status", "chunks_done").get(pk=run_id)
        pid = _leased_pid(run_id)
        if pid and done >= 1:
            worker = cluster.worker_of(pid)
            if worker is not None and worker.alive():
                return worker, pid
        if status != InvoiceBatchRun.Status.STARTED:
            raise FaultMissed(
                f"Run {run_id} ended before a worker could be caught inside a chunk: use more "
                "accounts or a larger --chunk-size."
            )
        time.sleep(0.01)
    raise FaultFailed(f"No worker was seen inside a chunk of run {run_id} within 2 minutes.")


def _holds_pending(run_id: int, pid: int) -> bool:
    return InvoiceBatchRunKey.objects.filter(
        run_id=run_id,
        status=InvoiceBatchRunKey.Status.PENDING,
        lease_owner__endswith=f":{pid}",
    ).exists()


def _frozen_inside_a_chunk(run_id: int, cluster: Cluster, *, whole: bool) -> tuple[Process, int]:
    """A worker caught inside a chunk, stopped (SIGSTOP: the whole worker, or its pool process
    only) while its pool process still holds a pending key of the run, so that the fault
    that follows lands mid-chunk, never just after the chunk committed. A worker whose chunk
    committed meanwhile is let go on (SIGCONT) and the next one is waited for."""
    deadline = time.monotonic() + FAULT_WAIT_SECONDS
    while time.monotonic() < deadline:
        worker, pid = _wait_inside_a_chunk(run_id, cluster)
        if whole:
            worker.signal(signal.SIGSTOP)
        else:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(0.2)  # a COMMIT already on its way to the server lands first
        if _holds_pending(run_id, pid):
            return worker, pid
        if whole:
            worker.signal(signal.SIGCONT)
        else:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    raise FaultFailed(f"No worker could be stopped inside a chunk of run {run_id} in 2 minutes.")


def _worker_backends(*, in_transaction: bool) -> list[tuple[int, str]]:
    """(pid, application_name) of the workers' database backends (those writing in a
    transaction only, with `in_transaction`)."""
    condition = "AND backend_xid IS NOT NULL" if in_transaction else ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE %s "
            f"AND application_name <> %s {condition}",
            [f"{APP_PREFIX}%", f"{APP_PREFIX}beat"],
        )
        return list(cursor.fetchall())


def _terminate(pids: list[int]) -> None:
    with connection.cursor() as cursor:
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def inject(
    fault: str,
    *,
    run_id: int,
    cluster: Cluster,
    servers: Servers | None = None,
    downtime: float = DOWNTIME_SECONDS,
) -> tuple[str, float]:
    """Inject `fault` while a worker is inside a chunk of the run; say what was hit, and when
    (time.monotonic() at the fault: a restart's downtime counts towards the limit)."""
    if fault in ("worker_kill", "pool_kill"):
        whole = fault == "worker_kill"
        worker, pid = _frozen_inside_a_chunk(run_id, cluster, whole=whole)
        hit = time.monotonic()
        if whole:
            pids = sorted(worker.pids()) or [worker.pid]
            worker.signal(signal.SIGKILL)
            return f"{worker.name} (pids {pids}) SIGKILLed inside a chunk", hit
        os.kill(pid, signal.SIGKILL)
        return f"{worker.name}'s pool process {pid} SIGKILLed inside a chunk", hit
    worker, pid = _wait_inside_a_chunk(run_id, cluster)
    hit = time.monotonic()
    if fault == "sigterm":
        worker.signal(signal.SIGTERM, whole=False)
        return f"{worker.name} SIGTERMed while posting", hit
    if fault == "db_kill":
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            writing = _worker_backends(in_transaction=True)
            if writing:
                hit = time.monotonic()
                _terminate([writing[0][0]])
                return f"backend {writing[0][0]} ({writing[0][1]}) terminated in a transaction", hit
            time.sleep(0.005)
        raise FaultFailed("No worker connection was seen inside a transaction.")
    if fault in RESTARTS:
        if servers is None:
            raise FaultRefused(
                f"{fault} restarts a server: it runs only on the harness's own servers, which "
                "manage.py fault_inject starts for it."
            )
        if fault == "db_restart":
            connection.close()  # the harness's own connection dies with the server
            return servers.postgres.restart(downtime), hit
        return servers.redis.restart(downtime), hit
    raise FaultRefused(f"Unknown fault {fault!r}; use one of {', '.join(FAULTS)}.")


def _refreshed(run: InvoiceBatchRun) -> bool:
    """Reload the run; False while the database cannot be reached (being restarted)."""
    try:
        run.refresh_from_db()
    except (OperationalError, InterfaceError):
        connection.close()
        return False
    return True


# --------------------------------------------------------------------------------------------
# Checks


def check(world: bench.BenchWorld, trial: Trial) -> None:
    """The invariants over the data set, into `trial`."""
    schedules = BillingSchedule.objects.filter(legal_entity_id=world.entity_id)
    live = ["draft", "posted"]
    trial.duplicates = (
        BillingPeriodItem.objects.filter(schedule__in=schedules, invoice_status__in=live)
        .values("schedule_id", "period_start")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    trial.unbilled = schedules.filter(
        status=ScheduleStatus.READY, next_billing_date__lte=bench.TARGET_DATE
    ).count()
    invoices = Invoice.objects.filter(legal_entity_id=world.entity_id)
    trial.invoices = invoices.count()
    policy = SequencePolicy.objects.get(pk=world.policy_id)
    prefix = policy.pattern.replace("{SEQ}", "")
    numbers = [n for n in invoices.values_list("number", flat=True) if n]
    values = sorted(int(n.removeprefix(prefix)) for n in numbers)
    trial.duplicate_numbers = len(values) - len(set(values))
    distinct = sorted(set(values))
    trial.gaps = (distinct[-1] - distinct[0] + 1 - len(distinct)) if distinct else 0
    if len(numbers) != trial.invoices:
        trial.errors.append(f"{trial.invoices - len(numbers)} invoices without a number")
    line_sums = dict(
        InvoiceLine.objects.filter(invoice__in=invoices)
        .values("invoice_id")
        .annotate(total=Sum("amount"))
        .values_list("invoice_id", "total")
    )
    tax_sums = dict(
        InvoiceLineTax.objects.filter(line__invoice__in=invoices)
        .values("line__invoice_id")
        .annotate(total=Sum("amount"))
        .values_list("line__invoice_id", "total")
    )
    zero = Decimal("0")
    trial.total_mismatches = sum(
        1
        for pk, total in invoices.values_list("pk", "total")
        if total != (line_sums.get(pk) or zero) + (tax_sums.get(pk) or zero)
    )
    # The run's own figures agree with the rows.
    run = InvoiceBatchRun.objects.get(pk=trial.run_id)
    trial.redispatches = run.redispatches
    if run.invoices_generated != invoices.filter(batch_run_id=run.pk).count():
        trial.errors.append(
            f"run counts {run.invoices_generated} invoices, the table holds "
            f"{invoices.filter(batch_run_id=run.pk).count()}"
        )
    if run.status != "completed":
        trial.errors.append(f"run {run.pk} ended {run.status}")


# --------------------------------------------------------------------------------------------
# Trials


def trial_one(
    world: bench.BenchWorld,
    *,
    fault: str,
    number: int,
    workers: int,
    chunk_size: int,
    broker_url: str,
    supervise_seconds: float,
    servers: Servers | None = None,
    downtime: float = DOWNTIME_SECONDS,
    progress: Callable[[str], None] | None = None,
) -> Trial:
    trial = Trial(fault=fault, trial=number)
    client = redis.Redis.from_url(broker_url)
    client.flushdb()
    cluster = Cluster(broker_url, workers=workers, supervise_seconds=supervise_seconds)
    try:
        cluster.wait_ready()
        started = time.monotonic()
        run = batch_run_start(
            target_date=bench.TARGET_DATE,
            invoice_date=bench.TARGET_DATE,
            invoice_status="posted",
            filters={"legal_entity": world.entity_id},
            chunk_size=chunk_size,
            requested_by=f"fault_inject {fault} #{number}",
        )
        trial.run_id = run.pk
        trial.injected, hit = inject(
            fault, run_id=run.pk, cluster=cluster, servers=servers, downtime=downtime
        )
        if progress:
            progress(f"{fault} #{number}: {trial.injected}")
        while time.monotonic() - hit <= LIMIT_SECONDS + 30:
            if _refreshed(run) and batch_run_is_finished(run):
                ended = time.monotonic()
                trial.seconds_to_end = ended - hit
                trial.run_seconds = ended - started
                break
            time.sleep(0.2)
        run.refresh_from_db()
        trial.status = run.status
    finally:
        cluster.stop()
        client.flushdb()
        client.close()
    check(world, trial)
    return trial


def trials_run(
    *,
    accounts: int,
    schedules_per_account: int,
    faults: list[str],
    trials: int,
    workers: int,
    chunk_size: int,
    supervise_seconds: float,
    downtime: float = DOWNTIME_SECONDS,
    progress: Callable[[str], None] | None = None,
) -> list[Trial]:
    """Build the data set, run every fault `trials` times (rewinding in between), delete the
    data set and the runs; return the trials."""
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise FaultRefused(f"Unknown fault(s) {', '.join(unknown)}; use {', '.join(FAULTS)}.")
    broker_url = broker_url_check()
    servers = Servers.attach()
    if servers is None and set(faults) & set(RESTARTS):
        raise FaultRefused(
            f"{', '.join(sorted(set(faults) & set(RESTARTS)))} restart a server: run them "
            "through manage.py fault_inject, which starts a PostgreSQL and a Redis of its own."
        )
    world = bench.world_build(schedules=accounts * schedules_per_account, accounts=accounts)
    results = []
    try:
        for fault in faults:
            for number in range(1, trials + 1):
                # Fresh statistics first: the rewind's set-based deletes are planned on them
                # (planned on the empty tables of the build, they take minutes).
                for attempt in range(1, MISSED_TRIES + 1):
                    bench.analyze()
                    bench.world_reset(world)
                    try:
                        trial = trial_one(
                            world,
                            fault=fault,
                            number=number,
                            workers=workers,
                            chunk_size=chunk_size,
                            broker_url=broker_url,
                            supervise_seconds=supervise_seconds,
                            servers=servers,
                            downtime=downtime,
                            progress=progress,
                        )
                    except FaultMissed as exc:
                        if attempt == MISSED_TRIES:
                            raise FaultFailed(f"{exc} ({MISSED_TRIES} tries)") from exc
                        if progress:
                            progress(f"{fault} #{number}: {exc} Made again.")
                        continue
                    trial.missed = attempt - 1
                    results.append(trial)
                    break
    finally:
        InvoiceBatchRun.objects.filter(filters__legal_entity=world.entity_id).delete()
        bench.analyze()
        bench.world_delete(world)
    return results


def report_lines(results: list[Trial], *, accounts: int, schedules: int) -> list[str]:
    header = (
        f"{'fault':<14}{'trial':>5}  {'status':<22}{'to end s':>9}{'run s':>8}{'invoices':>9}"
        f"{'dup periods':>12}{'gaps':>6}{'dup nos':>8}{'unbilled':>9}{'totals':>7}"
        f"{'redisp.':>8}  ok"
    )
    lines = [
        f"Fault injection: {accounts:,} accounts, {schedules:,} schedules, "
        f"limit {LIMIT_SECONDS} s from the fault to a terminal run, no manual action.",
        header,
        "-" * len(header),
    ]
    for t in results:
        to_end = f"{t.seconds_to_end:.1f}" if t.seconds_to_end is not None else "—"
        lines.append(
            f"{t.fault:<14}{t.trial:>5}  {t.status:<22}{to_end:>9}{t.run_seconds:>8.1f}"
            f"{t.invoices:>9,}{t.duplicates:>12}{t.gaps:>6}{t.duplicate_numbers:>8}"
            f"{t.unbilled:>9}{t.total_mismatches:>7}{t.redispatches:>8}  "
            f"{'yes' if t.ok else 'NO'}"
        )
    lines.append("")
    for t in results:
        extra = f"; {'; '.join(t.errors)}" if t.errors else ""
        if t.missed:
            extra += (
                f" (made again: {t.missed} earlier {'try' if t.missed == 1 else 'tries'} ended "
                "before the fault could be injected)"
            )
        lines.append(f"{t.fault} #{t.trial} (run {t.run_id}): {t.injected}{extra}")
    failed = [t for t in results if not t.ok]
    lines.append("")
    lines.append(
        f"{len(results) - len(failed)} of {len(results)} trials passed"
        + (": every check held." if not failed else ".")
    )
    return lines
