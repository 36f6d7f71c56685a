"""The fault-injection command (`manage.py fault_inject`, benchmarks/faults.py) at a small
size: for each fault, real prefork Celery workers and a real beat on the pytest database and
a Redis database of the test's own; the fault is injected while a worker is inside a chunk
of a posted run, and the run must end by itself (nobody presses Recover) within two minutes
with 0 duplicate periods, 0 number gaps, 0 unbilled schedules and totals equal to lines and
taxes. Leases are shortened (6 s) and the supervisor runs every 3 s, so a trial takes
seconds, not a minute; docs/reliability.md has the figures at 1,000 accounts with the
production settings."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import LegalEntity
from benchmarks.faults import FAULTS, RESTARTS
from invoicing.models import Invoice, InvoiceBatchRun
from tests.support.celery_workers import Broker

ROW = re.compile(
    r"^(?P<fault>\w+)\s+1\s+(?P<status>\w+)\s+(?P<to_end>[\d.]+)\s+[\d.]+\s+(?P<invoices>\d+)"
    r"\s+(?P<dup>\d+)\s+(?P<gaps>\d+)\s+(?P<dup_numbers>\d+)\s+(?P<unbilled>\d+)"
    r"\s+(?P<totals>\d+)\s+(?P<redispatches>\d+)\s+(?P<ok>yes|NO)$",
    re.M,
)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_run_ends_by_itself_after_each_fault(fault, settings, monkeypatch):
    monkeypatch.setenv("LEDGERLINE_BATCH_LEASE_SECONDS", "6")
    monkeypatch.setenv("LEDGERLINE_BATCH_DISPATCH_GRACE_SECONDS", "8")
    out, err = StringIO(), StringIO()
    with Broker(settings):
        try:
            call_command(
                "fault_inject",
                "--accounts",
                "40",
                "--schedules-per-account",
                "1",
                "--trials",
                "1",
                "--fault",
                fault,
                "--chunk-size",
                "4",
                "--supervise-seconds",
                "3",
                "-v",
                "2",
                stdout=out,
                stderr=err,
            )
        except CommandError as exc:
            pytest.fail(f"{exc}\n{out.getvalue()}\n{err.getvalue()}")
    text = out.getvalue()
    assert text.startswith("Fault injection: 40 accounts, 40 schedules, limit 120 s"), text
    (row,) = [m.groupdict() for m in ROW.finditer(text)]
    assert (row["fault"], row["status"], row["invoices"], row["ok"]) == (
        fault,
        "completed",
        "40",
        "yes",
    ), text
    assert (row["dup"], row["gaps"], row["dup_numbers"], row["unbilled"], row["totals"]) == (
        "0",
        "0",
        "0",
        "0",
        "0",
    )
    assert float(row["to_end"]) <= 120
    if fault == "worker_kill":  # its chunk came back through the supervisor
        assert int(row["redispatches"]) >= 1, text
    assert "1 of 1 trials passed: every check held." in text
    # Nothing of the data set or its runs is left.
    assert not Invoice.objects.exists()
    assert not InvoiceBatchRun.objects.exists()
    assert not LegalEntity.objects.filter(name__startswith="Ledgerline Bench").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("fault", [f for f in FAULTS if f not in RESTARTS])
def test_fault_injection_needs_a_broker_of_its_own(fault):
    # The restart faults bring their own servers (and broker); the others run on the
    # configured ones, and the test settings' broker is an eager in-memory one.
    with pytest.raises(CommandError, match="needs real workers"):
        call_command("fault_inject", "--accounts", "10", "--fault", fault, stderr=StringIO())


@pytest.mark.parametrize("downtime", ["-1", "61", "soon"])
def test_a_downtime_outside_zero_to_sixty_seconds_is_refused(downtime):
    with pytest.raises(CommandError, match="Expected a number of seconds from 0 to 60"):
        call_command("fault_inject", "--fault", "db_restart", "--downtime", downtime)
