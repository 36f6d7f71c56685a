"""`manage.py load_test [--duration 60] [--clients 8] [--accounts 300] [--server-workers 4]`:
the load test of benchmarks/load.py against gunicorn (production settings), PostgreSQL and a
Celery worker on 127.0.0.1. Prints the figures and the checks; exits non-zero when a check
fails or the server answered 5xx. Point DATABASE_URL at an empty PostgreSQL database."""

from django.core.management.base import BaseCommand, CommandError

from benchmarks.load import LoadRefused, load_run
from benchmarks.management.commands._options import positive


class Command(BaseCommand):
    help = (
        "Load test: gunicorn + PostgreSQL + a Celery worker on 127.0.0.1, concurrent API "
        "clients mixing reads, generate, post, payments and ingestion with Idempotency-Keys "
        "(a quarter retried), for a bounded time; prints throughput, p50/p95/p99 per "
        "operation and errors, then checks for duplicates and gaps."
    )

    def add_arguments(self, parser):
        parser.add_argument("--duration", type=positive, default=60, help="Seconds (60).")
        parser.add_argument("--clients", type=positive, default=8, help="Concurrent clients.")
        parser.add_argument("--accounts", type=positive, default=300, help="Extra accounts.")
        parser.add_argument("--server-workers", type=positive, default=4)
        parser.add_argument("--force", action="store_true", help="Run on a non-empty database.")

    def handle(self, *args, **options):
        try:
            report = load_run(
                duration=options["duration"],
                clients=options["clients"],
                accounts=options["accounts"],
                server_workers=options["server_workers"],
                force=options["force"],
            )
        except LoadRefused as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            raise CommandError("The load test found server errors or a failed check (above).")
