"""`manage.py bench_generation --schedules N [N …] [--accounts A] [--keep]`: time invoice
generation with posting against PostgreSQL's set-based floor. See docs/performance.md.

A progress bar of the benchmark's steps on a terminal (`-v 2` lists them when piped); the
output is the report."""

from django.core.management.base import BaseCommand, CommandError

from benchmarks.generation import (
    BenchFailed,
    BenchRefused,
    bench_many,
    database_check,
    floor_detail_lines,
    kept_worlds,
    report_lines,
    world_delete,
)
from benchmarks.management.commands._options import positive
from core.management.progress import command_progress


class Command(BaseCommand):
    help = (
        "Benchmark invoice generation with posting: build N monthly schedules over N/10 "
        "accounts, generate and post one period of each (target 2026-01-31), and compare the "
        "time with PostgreSQL inserting the same rows set-based. PostgreSQL only; refuses a "
        "database that already holds invoices unless --force. Deletes its rows afterwards "
        "unless --keep."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedules",
            nargs="+",
            type=positive,
            metavar="N",
            help="Schedules to bill; several sizes run one after the other (smallest first).",
        )
        parser.add_argument(
            "--accounts",
            type=positive,
            default=None,
            help="Accounts (one invoice each) per run; default: schedules / 10.",
        )
        parser.add_argument(
            "--keep", action="store_true", help="Keep the generated data (default: delete it)."
        )
        parser.add_argument(
            "--delete-kept",
            action="store_true",
            help="Delete the data sets earlier runs kept with --keep, then stop.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though the database already holds invoices.",
        )
        parser.add_argument(
            "--no-tracemalloc",
            dest="trace_memory",
            action="store_false",
            help="Skip the second, untimed run under tracemalloc (no tracemalloc peak).",
        )
        parser.add_argument(
            "--profile",
            type=int,
            default=0,
            metavar="TOP",
            help="Profile the engine with cProfile and print the TOP functions by cumulative "
            "time (inflates the times).",
        )
        parser.add_argument(
            "--floor-detail",
            action="store_true",
            help="Also time each table's floor insert on its own.",
        )

    def handle(self, *args, **options):
        if options["delete_kept"]:
            database_check(force=True)
            worlds = kept_worlds()
            for world in worlds:
                world_delete(world)
            self.stdout.write(f"Deleted {len(worlds)} kept benchmark data set(s).")
            return
        if not options["schedules"]:
            raise CommandError("Give the sizes to run: --schedules N [N …].")
        # The steps bench_one reports per size: build, engine, floor, (memory run,) clean-up.
        steps = len(options["schedules"]) * (4 + options["trace_memory"])
        try:
            database_check(force=options["force"])
            with command_progress(
                self, "Benchmark", total=steps, verbosity=options["verbosity"]
            ) as progress:
                runs = bench_many(
                    options["schedules"],
                    accounts=options["accounts"],
                    keep=options["keep"],
                    trace_memory=options["trace_memory"],
                    floor_detail=options["floor_detail"],
                    profile_top=options["profile"],
                    progress=progress.phase,
                )
        except (BenchRefused, BenchFailed) as exc:
            raise CommandError(str(exc))
        self.stdout.write("\n".join(report_lines(runs)))
        for figures in runs:
            if figures.floor_tables:
                self.stdout.write("\n" + "\n".join(floor_detail_lines(figures)))
            if figures.profile:
                self.stdout.write(f"\ncProfile, N={figures.schedules:,}:\n{figures.profile}")
