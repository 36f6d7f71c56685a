"""README.md's examples work on fresh demo data: the ids it names exist, its API calls answer
as it says, and it promises nothing as "(coming)"."""

import re
import shlex
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account
from billing.models import BillingSchedule
from demo.data import demo_load
from invoicing.models import InvoiceBatchRun

README = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")


def test_nothing_is_announced_as_coming():
    assert "(coming)" not in README.lower()


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_the_api_and_command_examples_work_on_fresh_demo_data():
    today = timezone.localdate()  # as `make run` loads it and as the README's $(date +%F)
    demo_load(today=today)
    call_command("ensure_demo_staff", stdout=StringIO())
    assert '{"account": 1' in README and "/api/v1/invoices/1/post" in README
    assert '"target_date": "\'$(date +%F)\'"' in README
    assert Account.objects.get(pk=1).name == "Northwind Analytics Inc."
    api = APIClient()
    api.force_authenticate(User.objects.get(username="admin"))

    preview = api.post("/api/v1/invoices/preview", {"account": 1, "periods": 2}, format="json")
    assert preview.status_code == 200 and preview.json()["invoices"]
    generated = api.post(
        "/api/v1/invoices/generate",
        {"account": 1, "target_date": today.isoformat(), "action": "draft"},
        format="json",
    )
    assert generated.status_code in (200, 201)
    assert [i["id"] for i in generated.json()["invoices"]] == [1]
    posted = api.post("/api/v1/invoices/1/post")
    assert posted.status_code == 200
    assert (posted.json()["status"], posted.json()["number"]) == (
        "posted",
        f"INV-{today.year}-000001",
    )

    # The batch-run examples: run 1, then recover it and schedules 1 and 2.
    for command in re.findall(r"manage\.py ((?:run|recover)_invoice_batch [^#\n]+)", README):
        args = command.split()
        if "--scheduler" in args:
            continue  # the README says to make a scheduler first
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    assert InvoiceBatchRun.objects.filter(pk=1, kind="generation").exists()
    assert BillingSchedule.objects.filter(pk__in=[1, 2]).count() == 2


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_the_after_posting_examples_work_on_fresh_demo_data():
    """The credits, payments and write-offs block: run after `generate_invoices --all --post`
    as the README says, each command succeeds."""
    today = timezone.localdate()
    demo_load(today=today)
    call_command(
        "generate_invoices",
        "--all",
        "--target-date",
        today.isoformat(),
        "--post",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    block = README.split("### After posting")[1].split("```bash")[1].split("```")[0]
    commands = block.replace("\\\n", " ").replace("$(date +%Y)", str(today.year)).splitlines()
    commands = [c.split("#")[0].strip() for c in commands if "manage.py" in c]
    assert len(commands) == 4
    for command in commands:
        args = shlex.split(command.split("manage.py", 1)[1])
        out = StringIO()
        call_command(*args, stdout=out, stderr=StringIO())
        assert out.getvalue(), command
