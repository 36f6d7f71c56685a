"""`manage.py fault_inject --accounts 1000 --trials 3 --fault worker_kill db_kill …`: start
real Celery workers and a beat against PostgreSQL and Redis, inject each fault in the middle
of a batch run, and check that the run ends by itself within two minutes with nothing billed
twice, no number skipped and nothing left unbilled. See docs/reliability.md.

Prints a table of the figures per fault and trial; exits with an error when a trial failed."""

from django.core.management.base import BaseCommand, CommandError

from benchmarks.faults import FAULTS, FaultFailed, FaultRefused, report_lines, trials_run
from benchmarks.generation import BenchFailed, BenchRefused, database_check
from benchmarks.management.commands._options import positive


class Command(BaseCommand):
    help = (
        "Inject faults into batch runs on real Celery workers and a beat (the supervisor), "
        "with a posted run over N accounts per trial: worker_kill, pool_kill, db_kill, "
        "sigterm, redis_restart, db_restart. Checks 0 duplicate periods, 0 number gaps, 0 "
        "unbilled schedules, totals equal to lines and taxes, and a terminal run within 2 "
        "minutes of the fault. Needs PostgreSQL and a Redis database of its own "
        "(CELERY_BROKER_URL). Deletes its rows afterwards."
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
            "--force", action="store_true", help="Run although the database holds invoices."
        )

    def handle(self, *args, **options):
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
