"""`manage.py fault_inject --accounts 1000 --trials 3 --fault worker_kill db_kill …`: start
real Celery workers and a beat against PostgreSQL and Redis, inject each fault in the middle
of a batch run, and check that the run ends by itself within two minutes with nothing billed
twice, no number skipped and nothing left unbilled. See docs/reliability.md.

The restart faults (redis_restart, db_restart) stop a real server: for them the command
starts a PostgreSQL and a Redis of its own (benchmarks/servers.py), migrates a database on
them, and runs every requested trial in a child `manage.py fault_inject` connected to those
servers; the machine's own servers are never restarted.

Prints a table of the figures per fault and trial; exits with an error when a trial failed."""

import os
import subprocess
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from benchmarks.faults import (
    DOWNTIME_SECONDS,
    FAULTS,
    RESTARTS,
    FaultFailed,
    FaultRefused,
    report_lines,
    trials_run,
)
from benchmarks.generation import BenchFailed, BenchRefused, database_check
from benchmarks.management.commands._options import positive
from benchmarks.servers import ServerFailed, Servers


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 60:
        raise CommandError(f"Expected a number of seconds from 0 to 60, not {value!r}.")
    return number


class Command(BaseCommand):
    help = (
        "Inject faults into batch runs on real Celery workers and a beat (the supervisor), "
        "with a posted run over N accounts per trial: worker_kill, pool_kill, db_kill, "
        "sigterm, redis_restart, db_restart. Checks 0 duplicate periods, 0 number gaps, 0 "
        "unbilled schedules, totals equal to lines and taxes, and a terminal run within 2 "
        "minutes of the fault. Needs PostgreSQL and a Redis database of its own "
        "(CELERY_BROKER_URL); the restart faults start a PostgreSQL and a Redis of their own "
        "and run every trial on those. Deletes its rows afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=positive, default=1000)
        parser.add_argument("--schedules-per-account", type=positive, default=2, help="Default 2.")
        parser.add_argument("--trials", type=positive, default=3)
        parser.add_argument(
            "--fault", nargs="+", choices=FAULTS, default=list(FAULTS), metavar="FAULT"
        )
        parser.add_argument("--workers", type=positive, default=2)
        parser.add_argument("--chunk-size", type=positive, default=200)
        parser.add_argument(
            "--supervise-seconds",
            type=float,
            default=30.0,
            help="Beat's supervisor interval (default 30 s, as in production).",
        )
        parser.add_argument(
            "--downtime",
            type=_seconds,
            default=DOWNTIME_SECONDS,
            help=f"How long a restarted server stays down (default {DOWNTIME_SECONDS:g} s).",
        )
        parser.add_argument(
            "--force", action="store_true", help="Run although the database holds invoices."
        )

    def handle(self, *args, **options):
        if set(options["fault"]) & set(RESTARTS) and Servers.attach() is None:
            self._on_own_servers(options)
            return
        try:
            database_check(force=options["force"])
            results = trials_run(
                accounts=options["accounts"],
                schedules_per_account=options["schedules_per_account"],
                faults=options["fault"],
                trials=options["trials"],
                workers=options["workers"],
                chunk_size=options["chunk_size"],
                supervise_seconds=options["supervise_seconds"],
                downtime=options["downtime"],
                progress=(lambda line: self.stderr.write(line))
                if options["verbosity"] > 1
                else None,
            )
        except (BenchRefused, BenchFailed, FaultRefused, FaultFailed) as exc:
            raise CommandError(str(exc))
        self.stdout.write(
            "\n".join(
                report_lines(
                    results,
                    accounts=options["accounts"],
                    schedules=options["accounts"] * options["schedules_per_account"],
                )
            )
        )
        failed = [t for t in results if not t.ok]
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(results)} trials failed: "
                + ", ".join(f"{t.fault} #{t.trial}" for t in failed)
            )

    def _on_own_servers(self, options) -> None:
        """Start a private PostgreSQL and Redis, migrate, run the trials in a child process
        connected to them (streaming its output), and delete the servers."""
        say = self.stderr.write if options["verbosity"] > 1 else (lambda line: None)
        try:
            servers = Servers.up()
        except ServerFailed as exc:
            raise CommandError(str(exc))
        try:
            env = {
                **os.environ,
                "DATABASE_URL": servers.database_url,
                "CELERY_BROKER_URL": servers.redis.url,
                "CELERY_TASK_ALWAYS_EAGER": "False",
                Servers.ENV: servers.describe(),
            }
            if env.get("DJANGO_SETTINGS_MODULE", "config.settings.test") == "config.settings.test":
                # The test settings make Celery eager on an in-memory broker.
                env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
            say(f"Own servers: PostgreSQL on port {servers.postgres.port}, Redis on port "
                f"{servers.redis.port}; migrating database {servers.database}.")  # fmt: skip
            manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
            migrated = subprocess.run(  # noqa: S603 - our own manage.py
                [*manage, "migrate", "--no-input", "-v", "0"],
                env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if migrated.returncode:
                raise CommandError(f"Migrating the own database failed:\n{migrated.stderr[-3000:]}")
            argv = [
                *manage, "fault_inject",
                "--accounts", str(options["accounts"]),
                "--schedules-per-account", str(options["schedules_per_account"]),
                "--trials", str(options["trials"]),
                "--fault", *options["fault"],
                "--workers", str(options["workers"]),
                "--chunk-size", str(options["chunk_size"]),
                "--supervise-seconds", str(options["supervise_seconds"]),
                "--downtime", str(options["downtime"]),
                "-v", str(options["verbosity"]),
            ]  # fmt: skip
            child = subprocess.Popen(  # noqa: S603 - our own manage.py
                argv, env=env, cwd=settings.BASE_DIR, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            errors: list[str] = []

            def relay_stderr() -> None:
                assert child.stderr is not None
                for line in child.stderr:
                    errors.append(line)
                    self.stderr.write(line.rstrip("\n"))

            relay = threading.Thread(target=relay_stderr, daemon=True)
            relay.start()
            assert child.stdout is not None
            for line in child.stdout:
                self.stdout.write(line.rstrip("\n"))
            child.wait()
            relay.join(timeout=10)
            if child.returncode:
                last = next((e.strip() for e in reversed(errors) if e.strip()), "")
                raise CommandError(
                    last.removeprefix("CommandError: ")
                    or f"The trials on the own servers failed (exit {child.returncode})."
                )
        finally:
            servers.down()
