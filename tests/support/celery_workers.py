"""Real Celery workers for the batch-run tests: a Redis broker database of the test's own
(one per xdist worker), and `celery -A config worker` subprocesses on the pytest database."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

from config.celery import app

BASE_DIR = Path(settings.BASE_DIR)
CELERY = str(BASE_DIR / ".venv" / "bin" / "celery")
REDIS = "redis://127.0.0.1:6379"


def redis_db_number() -> int:
    """13 without xdist; 14, 15 for gw0, gw1 (each xdist worker has a broker of its own)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return 14 + int(worker[2:]) % 2 if worker.startswith("gw") else 13


def _pool_reset() -> None:
    """Forget the producer pools bound to the previous broker URL (kombu keeps one pool per
    URL in its own registry, so nothing is closed)."""
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


class Broker:
    """Point this process's Celery app at a flushed Redis database, not eager; undo after."""

    def __init__(self, settings_fixture) -> None:
        self.url = f"{REDIS}/{redis_db_number()}"
        self.client = redis.Redis.from_url(self.url)
        self.settings = settings_fixture

    def __enter__(self) -> Broker:
        self.client.flushdb()
        self.saved = (app.conf.task_always_eager, app.conf.broker_url)
        self.settings.CELERY_TASK_ALWAYS_EAGER = False
        self.settings.CELERY_BROKER_URL = self.url
        app.conf.task_always_eager = False
        app.conf.broker_url = self.url
        _pool_reset()
        return self

    def __exit__(self, *exc) -> None:
        app.conf.task_always_eager, app.conf.broker_url = self.saved
        _pool_reset()
        self.client.flushdb()
        self.client.close()


def database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    auth = f"{user}:{s['PASSWORD']}" if s.get("PASSWORD") else user
    return f"postgres://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


class Worker:
    """`celery -A config worker --pool=solo -Q celery` on the test database."""

    def __init__(self, broker: Broker, *, name: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - read back in failures
            prefix=f"celery-{name}-", suffix=".log", delete=False
        )
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker.url,
            "CELERY_TASK_ALWAYS_EAGER": "False",
            "DEBUG": "False",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        environment.pop("PYTEST_XDIST_WORKER", None)
        self.process = subprocess.Popen(
            [
                CELERY,
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "-Q",
                "celery",
                "-n",
                f"{name}-{os.getpid()}@%h",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, no rollback by the worker."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-6000:]


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, workers=()) -> None:
    """Poll `condition` every 0.1 s; fail with the workers' logs after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for worker in workers:
            if worker.process.poll() is not None:
                raise AssertionError(
                    f"worker {worker.name} exited ({worker.process.returncode}) while waiting "
                    f"for {what}:\n{worker.output()}"
                )
        time.sleep(0.1)
    logs = "\n".join(f"--- {w.name} ---\n{w.output()}" for w in workers)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")


def other_backends() -> int:
    """Connections to the test database other than this one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def backends_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


class PeriodHeld:
    """Insert, without committing, a live period item for (schedule, period_start) from a
    thread of its own (its own database connection). A worker billing that period then waits
    on the unique index (schedule, period_start) in the middle of its chunk's transaction,
    after writing the chunk's invoices and lines, until this transaction ends; on exit it
    rolls back."""

    def __init__(self, schedule, period_start, period_end) -> None:
        self.schedule, self.period_start, self.period_end = schedule, period_start, period_end
        self.held = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None

    def _hold(self) -> None:
        from django.db import connection as thread_connection
        from django.db import transaction

        from invoicing.models import BillingPeriodItem

        class _Rollback(Exception):
            pass

        try:
            with transaction.atomic():
                BillingPeriodItem.objects.create(
                    schedule=self.schedule,
                    group_id=self.schedule.group_id,
                    period_start=self.period_start,
                    period_end=self.period_end,
                    amount=0,
                    quantity=1,
                    invoice_status=BillingPeriodItem.InvoiceStatus.DRAFT,
                )
                self.held.set()
                self.release.wait(timeout=120)
                raise _Rollback
        except _Rollback:
            pass
        except BaseException as exc:  # reported to the test
            self.error = exc
            self.held.set()
        finally:
            thread_connection.close()

    def __enter__(self) -> PeriodHeld:
        self.thread = threading.Thread(target=self._hold, daemon=True)
        self.thread.start()
        self.held.wait(timeout=30)
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.thread.join(timeout=30)
