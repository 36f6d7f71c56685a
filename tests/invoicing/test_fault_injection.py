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
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from accounts.models import LegalEntity
from benchmarks import faults
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
                "80",
                "--schedules-per-account",
                "1",
                "--trials",
                "1",
                "--fault",
                fault,
                "--chunk-size",
                "8",
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
    assert text.startswith("Fault injection: 80 accounts, 80 schedules, limit 120 s"), text
    (row,) = [m.groupdict() for m in ROW.finditer(text)]
    assert (row["fault"], row["status"], row["invoices"], row["ok"]) == (
        fault,
        "completed",
        "80",
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


@pytest.mark.django_db
def test_a_trial_whose_run_ended_before_the_fault_is_made_again(monkeypatch):
    """A run can end before the fault lands inside a chunk (small runs, fast workers): such a
    try tested nothing, so it is made again (the data rewound), up to three tries in all, and
    the report says so; it is never counted as a passed trial."""
    calls = []

    def trial_one(world, *, fault, number, **kwargs):
        calls.append((fault, number))
        if len(calls) < 3:
            raise faults.FaultMissed(f"Run {len(calls)} ended before a worker could be caught.")
        return faults.Trial(fault=fault, trial=number, status="completed", seconds_to_end=1.0)

    resets = []
    monkeypatch.setattr(faults, "broker_url_check", lambda: "redis://127.0.0.1:6379/15")
    monkeypatch.setattr(faults.bench, "world_build", lambda **kwargs: SimpleNamespace(entity_id=0))
    monkeypatch.setattr(faults.bench, "world_reset", resets.append)
    monkeypatch.setattr(faults.bench, "world_delete", lambda world: None)
    monkeypatch.setattr(faults.bench, "analyze", lambda: None)
    monkeypatch.setattr(faults, "trial_one", trial_one)
    progress = []

    (trial,) = faults.trials_run(
        accounts=10, schedules_per_account=1, faults=["pool_kill"], trials=1, workers=2,
        chunk_size=4, supervise_seconds=3, progress=progress.append,
    )  # fmt: skip

    assert calls == [("pool_kill", 1)] * 3
    assert len(resets) == 3
    assert trial.missed == 2
    assert progress == [
        "pool_kill #1: Run 1 ended before a worker could be caught. Made again.",
        "pool_kill #1: Run 2 ended before a worker could be caught. Made again.",
    ]
    assert "(made again: 2 earlier tries ended before the fault could be injected)" in "\n".join(
        faults.report_lines([trial], accounts=10, schedules=10)
    )


@pytest.mark.django_db
def test_a_fault_that_misses_three_times_fails_the_command(monkeypatch):
    def trial_one(world, **kwargs):
        raise faults.FaultMissed("Run 9 ended before a worker could be caught.")

    monkeypatch.setattr(faults, "broker_url_check", lambda: "redis://127.0.0.1:6379/15")
    monkeypatch.setattr(faults.bench, "world_build", lambda **kwargs: SimpleNamespace(entity_id=0))
    monkeypatch.setattr(faults.bench, "world_reset", lambda world: None)
    monkeypatch.setattr(faults.bench, "world_delete", lambda world: None)
    monkeypatch.setattr(faults.bench, "analyze", lambda: None)
    monkeypatch.setattr(faults, "trial_one", trial_one)

    with pytest.raises(faults.FaultFailed, match=r"Run 9 ended .* \(3 tries\)"):
        faults.trials_run(
            accounts=10, schedules_per_account=1, faults=["pool_kill"], trials=1, workers=2,
            chunk_size=4, supervise_seconds=3,
        )  # fmt: skip
