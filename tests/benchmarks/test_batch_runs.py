"""The batch-run benchmark (`manage.py bench_batch_run`): a small run on real workers prints
its figures and leaves nothing behind; without a broker it refuses to run."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import LegalEntity
from invoicing.models import Invoice, InvoiceBatchRun
from tests.support.celery_workers import Broker


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_small_benchmark_on_one_and_two_workers(settings):
    out = StringIO()
    with Broker(settings):
        call_command(
            "bench_batch_run",
            "--schedules",
            "60",
            "--workers",
            "1",
            "2",
            "--chunk-size",
            "20",
            stdout=out,
            stderr=StringIO(),
        )
    text = out.getvalue()
    assert "N=60 schedules, 6 accounts (invoices), chunks of 20 schedules" in text
    for label in ("bare engine (this process)", "batch run, 1 worker", "batch run, 2 workers"):
        assert re.search(rf"{re.escape(label)}\s+\d+\.\d\d\s+[\d,]+", text), text
    assert "(planning" in text and "3 chunks" in text
    assert re.search(r"scaling, 2 workers / 1 worker: \d+\.\d\d×", text)
    assert re.search(r"overhead of a run \(1 worker\) against the bare engine: [+-]\d+ %", text)
    assert not Invoice.objects.exists()
    assert not InvoiceBatchRun.objects.exists()
    assert not LegalEntity.objects.filter(name__startswith="Ledgerline Bench").exists()


@pytest.mark.django_db
def test_the_benchmark_needs_a_broker():
    with pytest.raises(CommandError, match="needs real workers"):
        call_command("bench_batch_run", "--schedules", "10", stderr=StringIO())
