"""`manage.py bench_batch_run --schedules N [--workers 1 2] [--chunk-size 1000]`: time a batch
run on real Celery workers against the bare generation engine on the same data. See
docs/performance.md ("Batch runs").

A progress bar of the benchmark's steps on a terminal (`-v 2` lists them when piped); the
output is the report."""

from django.core.management.base import BaseCommand, CommandError

from benchmarks.batch_runs import batch_bench_many, report_lines
from benchmarks.generation import BenchFailed, BenchRefused, database_check
from benchmarks.management.commands._options import positive
from core.management.progress import command_progress


class Command(BaseCommand):
    help = (
        "Benchmark a batch run: build N monthly schedules over N/10 accounts (as "
        "bench_generation), time the bare engine generating and posting them, then a batch "
        "run of the same schedules on 1 and 2 (--workers) Celery worker processes; print "
        "schedules/s, the scaling factor and the run's overhead. Needs PostgreSQL and a Redis "
        "broker of its own (CELERY_BROKER_URL). Deletes its rows afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("--schedules", nargs="+", type=positive, metavar="N", required=True)
        parser.add_argument("--accounts", type=positive, default=None)
        parser.add_argument("--workers", nargs="+", type=positive, default=[1, 2])
        parser.add_argument("--chunk-size", type=positive, default=1000)
        parser.add_argument(
            "--force", action="store_true", help="Run although the database holds invoices."
        )

    def handle(self, *args, **options):
        # The steps batch_bench_one reports per size: build, engine, a run per worker count,
        # clean-up.
        steps = len(options["schedules"]) * (3 + len(set(options["workers"])))
        try:
            database_check(force=options["force"])
            with command_progress(
                self, "Benchmark", total=steps, verbosity=options["verbosity"]
            ) as progress:
                figures = batch_bench_many(
                    options["schedules"],
                    accounts=options["accounts"],
                    workers=options["workers"],
                    chunk_size=options["chunk_size"],
                    progress=progress.phase,
                )
        except (BenchRefused, BenchFailed) as exc:
            raise CommandError(str(exc))
        self.stdout.write("\n".join(report_lines(figures)))
