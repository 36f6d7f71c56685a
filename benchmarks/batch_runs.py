"""The batch-run benchmark behind `manage.py bench_batch_run` (docs/performance.md).

It reuses the generation benchmark's data set (benchmarks/generation.py: N monthly schedules over
N/10 accounts of the run's own legal entity, 10 × 5.00 USD a month, two tax rates) and times,
on the same schedules:

1. the bare engine in this process: eligibility + `plan_keys` + `generate_for_keys` with
   posting (bench.generation_measure), then rewinds the data;
2. a batch run of the same schedules (filter: the bench's legal entity, target 2026-01-31,
   posted output) on W Celery worker processes started for the purpose (`celery -A config
   worker --pool=solo`, one process each), for each W asked (default 1 and 2): wall time from
   `batch_run_start` to the run's `completed` status — planning, queueing, every chunk
   (generation, tax, numbering, counters) and the summary — then rewinds the data.

It prints schedules/s for each, the scaling factor (W workers against 1) and the run's
overhead against the bare engine. The workers are started (and ready) before the clock
starts; their after-commit "invoices posted" receivers (PDF, email) are off, as they are in
the engine measurement (benchmarks.worker).

Needs PostgreSQL and a Redis broker (CELERY_BROKER_URL) whose default queue no other worker
consumes during the benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from celery import current_app as app
from django.conf import settings
from django.db import connection

from benchmarks import generation as bench
from invoicing.models import Invoice, InvoiceBatchRun, InvoiceStatus
from invoicing.services.runs import batch_run_is_finished, batch_run_start

WORKER_READY_SECONDS = 60
RUN_TIMEOUT_SECONDS = 3600


@dataclass
class RunTiming:
    workers: int
    seconds: float
    plan_seconds: float
    chunks: int
    invoices: int
    schedules: int

    @property
    def schedules_per_second(self) -> float:
        return self.schedules / self.seconds if self.seconds else 0.0


@dataclass
class BatchBenchFigures:
    schedules: int
    accounts: int
    chunk_size: int
    build_seconds: float = 0.0
    engine_seconds: float = 0.0
    engine_select_seconds: float = 0.0  # eligibility + plan_keys, inside engine_seconds
    runs: list[RunTiming] = field(default_factory=list)

    @property
    def engine_per_second(self) -> float:
        return self.schedules / self.engine_seconds if self.engine_seconds else 0.0

    def run(self, workers: int) -> RunTiming | None:
        return next((r for r in self.runs if r.workers == workers), None)


def broker_check() -> str:
    """The broker the workers will use: Redis, not eager, with an empty default queue."""
    url = app.conf.broker_url or ""
    if not url.startswith(("redis://", "rediss://")) or app.conf.task_always_eager:
        raise bench.BenchRefused(
            "The batch benchmark needs real workers: set CELERY_BROKER_URL to a Redis "
            "database no other worker uses, e.g. CELERY_BROKER_URL=redis://127.0.0.1:6379/12 "
            f"(now: broker {url or 'none'}, eager {app.conf.task_always_eager})."
        )
    client = redis.Redis.from_url(url)
    waiting = client.llen(app.conf.task_default_queue or "celery")
    client.close()
    if waiting:
        raise bench.BenchRefused(
            f"The broker's queue already holds {waiting} message(s) ({url}): use a Redis "
            "database of the benchmark's own."
        )
    return url


def _database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    auth = f"{user}:{s['PASSWORD']}" if s.get("PASSWORD") else user
    host, port = s.get("HOST") or "127.0.0.1", s.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}"


class _Worker:
    def __init__(self, index: int, broker_url: str) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - read while it runs
            prefix=f"bench-worker-{index}-", suffix=".log", delete=False
        )
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "False",
            "DEBUG": "False",
            "LOG_LEVEL": "WARNING",
        }
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "-I",
                "benchmarks.worker",
                "-n",
                f"bench{index}-{os.getpid()}@%h",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise bench.BenchFailed(f"A benchmark worker exited:\n{self.output()[-3000:]}")
        return " ready." in self.output()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        Path(self.log.name).unlink(missing_ok=True)


def batch_measure(
    world: bench.BenchWorld, *, workers: int, chunk_size: int, broker_url: str
) -> RunTiming:
    """Start `workers` worker processes, wait until they are ready, then time one batch run
    over the world's schedules (posted invoices) until it has completed; verify it."""
    procs = [_Worker(i, broker_url) for i in range(workers)]
    try:
        deadline = time.monotonic() + WORKER_READY_SECONDS
        while not all(p.ready() for p in procs):
            if time.monotonic() > deadline:
                raise bench.BenchFailed("The benchmark workers did not start within a minute.")
            time.sleep(0.2)
        bench.analyze()
        bench.database_checkpoint()
        started = time.perf_counter()
        run = batch_run_start(
            target_date=bench.TARGET_DATE,
            invoice_date=bench.TARGET_DATE,
            invoice_status="posted",
            filters={"legal_entity": world.entity_id},
            chunk_size=chunk_size,
            requested_by="bench_batch_run",
        )
        planned_at = None
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while True:
            run.refresh_from_db()
            if planned_at is None and run.stage not in ("queued", "filtering"):
                planned_at = time.perf_counter()
            if batch_run_is_finished(run):
                break
            if time.monotonic() > deadline:
                raise bench.BenchFailed(f"Batch run {run.pk} did not finish within an hour.")
            for p in procs:
                p.ready()  # raises if a worker died
            time.sleep(0.05)
        finished = time.perf_counter()
    finally:
        for p in procs:
            p.stop()
    _run_verify(world, run)
    return RunTiming(
        workers=workers,
        seconds=finished - started,
        plan_seconds=(planned_at or finished) - started,
        chunks=run.chunks_total,
        invoices=run.invoices_generated,
        schedules=run.schedules_processed,
    )


def _run_verify(world: bench.BenchWorld, run: InvoiceBatchRun) -> None:
    posted = Invoice.objects.filter(
        legal_entity_id=world.entity_id, status=InvoiceStatus.POSTED, batch_run=run
    ).count()
    expected = {
        "status": (run.status, "completed"),
        "matching schedules": (run.matching_schedules, world.schedules),
        "schedules processed": (run.schedules_processed, world.schedules),
        "invoices generated": (run.invoices_generated, world.accounts),
        "posted invoices (counter)": (run.posted_invoices, world.accounts),
        "posted invoices (rows)": (posted, world.accounts),
    }
    problems = [
        f"{what}: {got}, expected {want}" for what, (got, want) in expected.items() if got != want
    ]
    if problems:
        raise bench.BenchFailed(
            f"Batch run {run.pk} did not bill the benchmark's schedules as expected: "
            + "; ".join(problems)
        )


def batch_bench_one(
    *,
    schedules: int,
    accounts: int | None = None,
    workers: list[int],
    chunk_size: int = 1000,
    progress: Callable[[str], None] = lambda message: None,
) -> BatchBenchFigures:
    """Build; the bare engine (timed, verified, rewound); a batch run per worker count
    (timed, verified, rewound); delete everything."""
    broker_url = broker_check()
    accounts = accounts or max(1, schedules // 10)
    figures = BatchBenchFigures(schedules=schedules, accounts=accounts, chunk_size=chunk_size)
    n = f"N={schedules:,}:"
    progress(f"{n} building {schedules:,} schedules over {accounts:,} accounts…")
    started = time.perf_counter()
    world = bench.world_build(schedules=schedules, accounts=accounts)
    figures.build_seconds = time.perf_counter() - started
    try:
        progress(f"{n} built in {figures.build_seconds:.1f} s; the bare engine (timed)…")
        engine = bench.BenchFigures(schedules=schedules, accounts=accounts)
        result = bench.generation_measure(world, engine)
        bench.generation_verify(world, engine, result)
        del result
        figures.engine_seconds = engine.engine_seconds
        figures.engine_select_seconds = engine.select_seconds
        for count in sorted(set(workers)):
            bench.analyze()  # statistics of the rows just written, for the reset's deletes
            bench.world_reset(world)
            progress(f"{n} engine {figures.engine_seconds:.2f} s; batch run on {count} worker(s)…")
            figures.runs.append(
                batch_measure(world, workers=count, chunk_size=chunk_size, broker_url=broker_url)
            )
    finally:
        progress(f"{n} deleting the benchmark's rows…")
        runs = InvoiceBatchRun.objects.filter(filters__legal_entity=world.entity_id)
        bench.analyze()  # the deletes' subqueries need statistics of the rows written
        bench.world_delete(world)
        runs.delete()
    return figures


def batch_bench_many(sizes: list[int], **kwargs) -> list[BatchBenchFigures]:
    with bench.debug_off():
        return [batch_bench_one(schedules=n, **kwargs) for n in sorted(sizes)]


def report_lines(all_figures: list[BatchBenchFigures]) -> list[str]:
    lines = []
    for f in all_figures:
        lines += [
            f"N={f.schedules:,} schedules, {f.accounts:,} accounts (invoices), chunks of "
            f"{f.chunk_size:,} schedules; posted output",
            f"  {'':<34}{'seconds':>10}{'schedules/s':>14}",
            f"  {'bare engine (this process)':<34}{f.engine_seconds:>10.2f}"
            f"{f.engine_per_second:>14,.0f}"
            f"   (select + plan keys {f.engine_select_seconds:.2f} s, generate "
            f"{f.engine_seconds - f.engine_select_seconds:.2f} s)",
        ]
        for r in f.runs:
            label = f"batch run, {r.workers} worker{'s' if r.workers > 1 else ''}"
            lines.append(
                f"  {label:<34}{r.seconds:>10.2f}{r.schedules_per_second:>14,.0f}"
                f"   (planning {r.plan_seconds:.2f} s, then {r.chunks} chunks and the "
                f"summary {r.seconds - r.plan_seconds:.2f} s)"
            )
        one = f.run(1)
        for r in f.runs:
            if one and r.workers > 1:
                lines.append(
                    f"  scaling, {r.workers} workers / 1 worker: "
                    f"{r.schedules_per_second / one.schedules_per_second:.2f}×"
                )
        if one and f.engine_seconds:
            lines.append(
                f"  overhead of a run (1 worker) against the bare engine: "
                f"{100 * (one.seconds / f.engine_seconds - 1):+.0f} %"
            )
        lines.append("")
    return lines
