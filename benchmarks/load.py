"""The load test (`manage.py load_test`): a production-like server on 127.0.0.1 — gunicorn
with several workers on the production settings, PostgreSQL, a Celery worker on Redis —
driven for a bounded time by concurrent API clients mixing reads, generation, posting,
payments and ingestion, every POST with an Idempotency-Key and a share of them retried with
the same key. It prints throughput, p50/p95/p99 latency per operation and the error counts,
then checks the database: no period billed twice, invoice numbers unique and gapless per
policy, one invoice per ingested unique identifier, one receipt per payment key, and every
retried POST answered with its first answer. See docs/reliability.md ("Load").

The server and the worker run as child processes on the database this command is pointed at
(DATABASE_URL: a PostgreSQL database of its own, which it fills with the demo data and more
accounts); they are stopped at the end, whatever happens.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from rest_framework.authtoken.models import Token

from accounts.models import Account
from billing.models import BillingSchedule, Product
from billing.services.orders import order_activate, order_create
from core.permissions import BILLING_ADMIN, roles_sync
from invoicing.models import BillingPeriodItem, Invoice, Receipt, SequencePolicy

PYTHON = sys.executable
BIN = Path(PYTHON).parent


class LoadRefused(Exception):
    """The database or the machine is not fit for the load test."""


@dataclass
class Call:
    op: str
    status: int
    seconds: float


@dataclass
class LoadReport:
    duration: float
    clients: int
    calls: list[Call] = field(default_factory=list)
    replays: list[tuple[str, bool]] = field(default_factory=list)  # (op, same answer)
    checks: dict[str, int] = field(default_factory=dict)
    failures: Counter = field(default_factory=Counter)  # requests without an answer, by kind

    def lines(self) -> list[str]:
        out = []
        total = len(self.calls)
        out.append(
            f"{total} requests in {self.duration:.1f} s from {self.clients} clients: "
            f"{total / self.duration:.1f} requests/s"
        )
        out.append(
            f"{'operation':<12} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses"
        )
        by_op: dict[str, list[Call]] = defaultdict(list)
        for call in self.calls:
            by_op[call.op].append(call)
        for op in sorted(by_op):
            calls = by_op[op]
            ms = sorted(c.seconds * 1000 for c in calls)
            statuses = Counter(c.status for c in calls)
            out.append(
                f"{op:<12} {len(calls):>6} {_pct(ms, 50):>8.1f} {_pct(ms, 95):>8.1f} "
                f"{_pct(ms, 99):>8.1f}  "
                + ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items()))
            )
        errors = sum(1 for c in self.calls if c.status >= 500 or c.status == 0)
        kinds = ", ".join(f"{k}×{n}" for k, n in self.failures.items())
        out.append(f"server errors (5xx or no answer): {errors}" + (f" ({kinds})" if kinds else ""))
        same = sum(1 for _, ok in self.replays if ok)
        out.append(f"idempotent retries: {len(self.replays)}, answered as the first: {same}")
        for name, value in self.checks.items():
            out.append(f"{name}: {value}")
        return out

    @property
    def ok(self) -> bool:
        errors = sum(1 for c in self.calls if c.status >= 500 or c.status == 0)
        return (
            errors == 0
            and all(ok for _, ok in self.replays)
            and all(v == 0 for k, v in self.checks.items() if k.startswith("bad:"))
        )


def _pct(values: list[float], p: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_fit(*, force: bool) -> None:
    if connection.vendor != "postgresql":
        raise LoadRefused("The load test needs PostgreSQL: set DATABASE_URL.")
    if Invoice.objects.exists() and not force:
        raise LoadRefused(
            "The database already holds invoices; point DATABASE_URL at an empty database of "
            "its own (or pass --force)."
        )


def data_build(*, accounts: int, today: dt.date) -> tuple[str, list[int]]:
    """The demo data plus `accounts` accounts with a monthly order each; a billing admin's
    API token. Returns (token, account ids)."""
    call_command("load_demo", stdout=io.StringIO())  # the demo data, as `make run` loads it
    roles_sync()
    seat = Product.objects.filter(charge_type="recurring").order_by("id").first()
    template = Account.objects.filter(currency="USD").order_by("id").first()
    assert seat is not None and template is not None
    ids = []
    for n in range(accounts):
        account = Account.objects.create(
            name=f"Load {n:05d}", currency="USD", legal_entity=template.legal_entity
        )
        profile = template.default_profile
        if profile is not None:
            profile.pk = None
            profile.account = account
            profile.bill_to = None
            profile.saved_payment_method = None
            profile.save()
        order = order_create(
            account=account,
            items=[
                {
                    "product": seat,
                    "quantity": Decimal(1 + n % 7),
                    "unit_price": Decimal("19.90"),
                    "pricing_term": "month",
                    "start_date": today.replace(day=1) - dt.timedelta(days=62),
                    "end_date": None,
                    "billing_frequency": "monthly",
                    "billing_type": "advance",
                    "period_boundary": "anniversary",
                }
            ],
        )
        order_activate(order_id=order.pk)
        ids.append(account.pk)
    user, _ = User.objects.get_or_create(username="load-test")
    user.groups.add(Group.objects.get(name=BILLING_ADMIN))
    token, _ = Token.objects.get_or_create(user=user)
    return token.key, ids


def _env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=env.get("LOAD_SECRET_KEY") or ("load-" + uuid.uuid4().hex * 2),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=env.get("DATABASE_URL", ""),
        CELERY_BROKER_URL=env.get("LOAD_BROKER_URL") or "redis://127.0.0.1:6379/13",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        CONN_MAX_AGE="60",
        # The load is one client address and one user: lift the rate limits for it.
        LEDGERLINE_API_ADDRESS_RATE="1000000/min",
        LEDGERLINE_API_USER_RATE="1000000/min",
    )
    return env


def servers_start(port: int, *, workers: int) -> list[subprocess.Popen]:
    env = _env(port)
    gunicorn = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",  # keep-alive connections, as behind a proxy
            "--threads",
            "4",
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=settings.BASE_DIR,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    subprocess.run(
        [str(BIN / "celery"), "-A", "config", "purge", "-f"],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    celery = subprocess.Popen(
        [str(BIN / "celery"), "-A", "config", "worker", "-l", "warning", "-c", "2"],
        env=env,
        cwd=settings.BASE_DIR,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(
                f"http://127.0.0.1:{port}/api/v1/",
                headers={"X-Forwarded-Proto": "https"},
                allow_redirects=False,
                timeout=5,
            )
            return [gunicorn, celery]
        except requests.RequestException:
            if gunicorn.poll() is not None:
                break
            time.sleep(0.5)
    servers_stop([gunicorn, celery])
    raise LoadRefused("gunicorn did not start within 60 s (is the production setup complete?)")


def servers_stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class _Client:
    """One API client: a session with the token, and the loop of weighted operations."""

    WEIGHTS = (("list", 30), ("read", 20), ("generate", 15), ("post", 15), ("pay", 10),
               ("ingest", 10))  # fmt: skip

    def __init__(self, base: str, token: str, accounts: list[int], report: LoadReport,
                 lock: threading.Lock, today: dt.date, seed: int) -> None:  # fmt: skip
        self.base, self.accounts, self.report, self.lock = base, accounts, report, lock
        self.today = today
        self.random = random.Random(seed)
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Token {token}", "X-Forwarded-Proto": "https"}
        )

    def _call(self, op: str, method: str, path: str, body: dict | None = None,
              key: str | None = None) -> requests.Response | None:  # fmt: skip
        headers = {"Idempotency-Key": key} if key else {}
        start = time.perf_counter()
        try:
            response = self.session.request(
                method,
                self.base + path,
                json=body,
                headers=headers,
                timeout=120,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            response = None
            with self.lock:
                self.report.failures[type(exc).__name__] += 1
        elapsed = time.perf_counter() - start
        with self.lock:
            self.report.calls.append(
                Call(op, response.status_code if response is not None else 0, elapsed)
            )
        return response

    def _post(self, op: str, path: str, body: dict) -> requests.Response | None:
        key = uuid.uuid4().hex
        first = self._call(op, "POST", path, body, key)
        if first is not None and first.status_code < 500 and self.random.random() < 0.25:
            again = self._call(op + "-retry", "POST", path, body, key)
            same = (
                again is not None
                and again.status_code == first.status_code
                and again.content == first.content
                and (first.status_code >= 400 or again.headers.get("Idempotent-Replayed") == "true")
            )
            with self.lock:
                self.report.replays.append((op, same))
        return first

    def run(self, until: float) -> None:
        ops, weights = zip(*self.WEIGHTS, strict=True)
        while time.monotonic() < until:
            getattr(self, "op_" + self.random.choices(ops, weights)[0])()

    def op_list(self) -> None:
        self._call("list", "GET", f"/api/v1/invoices/?page={self.random.randint(1, 3)}")

    def op_read(self) -> None:
        self._call("read", "GET", f"/api/v1/accounts/{self.random.choice(self.accounts)}")

    def op_generate(self) -> None:
        body = {"account": self.random.choice(self.accounts), "target_date": str(self.today),
                "action": "draft"}  # fmt: skip
        self._post("generate", "/api/v1/invoices/generate", body)

    def op_post(self) -> None:
        drafts = self._call("list", "GET", "/api/v1/invoices/?status=draft")
        if drafts is None or drafts.status_code != 200:
            return
        results = drafts.json().get("results", [])
        if results:
            invoice = self.random.choice(results)["id"]
            self._post("post", f"/api/v1/invoices/{invoice}/post", {})

    def op_pay(self) -> None:
        body = {"account": self.random.choice(self.accounts), "amount": "10.00",
                "currency": "USD", "date": str(self.today), "method": "bank_transfer",
                "reference": uuid.uuid4().hex[:12]}  # fmt: skip
        self._post("pay", "/api/v1/payments/", body)

    def op_ingest(self) -> None:
        body = {
            "account": self.random.choice(self.accounts),
            "status": "draft",
            "invoice_date": str(self.today),
            "currency": "USD",
            "unique_identifier": "load-" + uuid.uuid4().hex,
            "lines": [{"name": "Imported service", "quantity": "2", "unit_price": "12.50"}],
        }
        self._post("ingest", "/api/v1/invoices/ingest", body)


def _checks(report: LoadReport) -> None:
    dup_periods = (
        BillingPeriodItem.objects.values("schedule_id", "period_start")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    numbers = list(Invoice.objects.exclude(number=None).values_list("number", flat=True))
    dup_numbers = len(numbers) - len(set(numbers))
    gaps = 0
    for policy in SequencePolicy.objects.filter(target="invoice").exclude(next_value=None):
        issued = (policy.next_value - policy.start) // policy.increment
        prefix = policy.pattern.split("{")[0]
        used = Invoice.objects.filter(number__startswith=prefix).count() if prefix else issued
        gaps += max(0, issued - used)
    ingested = Invoice.objects.filter(unique_identifier__startswith="load-").count()
    created_ingest = sum(1 for c in report.calls if c.op == "ingest" and c.status == 201)
    receipts = Receipt.objects.filter(account__name__startswith="Load ").count()
    created_pay = sum(1 for c in report.calls if c.op == "pay" and c.status == 201)
    report.checks.update(
        {
            "bad: duplicate billed periods": dup_periods,
            "bad: duplicate invoice numbers": dup_numbers,
            "bad: number gaps": gaps,
            "bad: ingested invoices ≠ 201 answers": abs(ingested - created_ingest),
            "bad: receipts ≠ 201 answers": abs(receipts - created_pay),
            "schedules billed": BillingSchedule.objects.filter(billed_amount__gt=0).count(),
            "invoices": Invoice.objects.count(),
        }
    )


def load_run(
    *, duration: float, clients: int, accounts: int, server_workers: int, force: bool
) -> LoadReport:
    database_fit(force=force)
    today = dt.date.today()
    token, account_ids = data_build(accounts=accounts, today=today)
    connection.close()
    port = _free_port()
    processes = servers_start(port, workers=server_workers)
    report = LoadReport(duration=duration, clients=clients)
    lock = threading.Lock()
    try:
        until = time.monotonic() + duration
        threads = [
            threading.Thread(
                target=_Client(
                    f"http://127.0.0.1:{port}", token, account_ids, report, lock, today, seed=n
                ).run,  # fmt: skip
                args=(until,),
            )
            for n in range(clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report.duration = time.monotonic() - started
    finally:
        servers_stop(processes)
    _checks(report)
    return report


def report_json(report: LoadReport) -> str:
    return json.dumps({"lines": report.lines(), "ok": report.ok}, indent=2)
