"""`manage.py bench_einvoices --invoices N [--format ubl] [--lines 3]`: post N invoices for EU
business accounts, then export and validate all of them, printing the throughput and the
memory at 10 %, 50 % and 100 %. See docs/performance.md ("E-invoices").

A progress bar of the benchmark's steps on a terminal (`-v 2` lists them when piped); the
output is the report."""

from django.core.management.base import BaseCommand, CommandError

from benchmarks.einvoices import bench_run, report_lines
from benchmarks.generation import BenchFailed, BenchRefused, database_check
from benchmarks.management.commands._options import positive
from core.management.progress import command_progress
from einvoicing.services import FORMATS


class Command(BaseCommand):
    help = (
        "Benchmark e-invoices: build N accounts of a German seller (half German, half French "
        "businesses) with L monthly schedules each, generate and post one invoice per "
        "account, then export every invoice (--format, default ubl) and validate it against "
        "the EN 16931 rules, reading them a chunk at a time; print documents/s and memory "
        "(tracemalloc, RSS) at 10, 50 and 100 %. PostgreSQL only; refuses a database that "
        "already holds invoices unless --force. Deletes its rows afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--invoices", type=positive, required=True, metavar="N", help="Invoices to post."
        )
        parser.add_argument(
            "--format",
            default="ubl",
            metavar="FORMAT",
            help=f"The e-invoice format: one of {', '.join(FORMATS)} (default ubl).",
        )
        parser.add_argument(
            "--lines", type=positive, default=3, metavar="L", help="Lines per invoice (3)."
        )
        parser.add_argument(
            "--no-tracemalloc",
            dest="trace_memory",
            action="store_false",
            help="Skip the second, untimed passes under tracemalloc (RSS figures only).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though the database already holds invoices.",
        )

    def handle(self, *args, **options):
        if options["format"] not in FORMATS:
            raise CommandError(
                f"--format: {options['format']!r} is not an e-invoice format: use one of "
                f"{', '.join(FORMATS)}."
            )
        try:
            database_check(force=options["force"])
            # The steps bench_run reports: build, post, export, validate, (the traced
            # passes,) clean-up.
            steps = 5 + options["trace_memory"]
            with command_progress(
                self, "Benchmark", total=steps, verbosity=options["verbosity"]
            ) as progress:
                figures = bench_run(
                    invoices=options["invoices"],
                    lines=options["lines"],
                    format_key=options["format"],
                    trace_memory=options["trace_memory"],
                    progress=progress.phase,
                )
        except (BenchRefused, BenchFailed) as exc:
            raise CommandError(str(exc))
        self.stdout.write("\n".join(report_lines(figures)))
