"""The receivables commands: `aging_report` and `account_statement` print a table on the
terminal and write CSV (and the statement PDF), with the figures of invoicing/receivables.py,
on the ledger of tests/support/receivables.py (Acme, USD)."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from freezegun import freeze_time

from tests.support.receivables import ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def led(world):
    led = ledger(world)
    led.account.external_id = "ACME-1"
    led.account.save(update_fields=["external_id"])
    return led


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_aging_report_prints_the_buckets_per_account_and_the_totals(led):
    assert run("aging_report", "--as-of", "2026-04-30") == [
        "Aging as of 2026-04-30, by days past due (unapplied credit and unallocated payments are "
        "negative in current)",
        "Account    Currency  Current  1-30   31-60  61-90   90+   Total",
        "---------  --------  -------  ----  ------  -----  ----  ------",
        "Acme Corp  USD        250.00  0.00  400.00   0.00  0.00  650.00",
        "Total      USD        250.00  0.00  400.00   0.00  0.00  650.00",
    ]
    assert run("aging_report", "--as-of", "2025-12-31")[1:] == ["Nothing receivable."]


@freeze_time("2026-03-31 12:00")
def test_aging_report_as_of_today_to_a_csv_file(led, tmp_path):
    target = tmp_path / "aging.csv"

    assert run("aging_report", "--csv", str(target), "--currency", "usd") == [
        f"Wrote the aging as of 2026-03-31 to {target} (2 rows)."
    ]
    assert target.read_text().splitlines() == [
        "account_id,account,currency,current,1-30,31-60,61-90,90+,total",
        f"{led.account.pk},Acme Corp,USD,0.00,400.00,600.00,0.00,0.00,1000.00",
        ",Total,USD,0.00,400.00,600.00,0.00,0.00,1000.00",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "30/04/2026"], "--as-of '30/04/2026' is not a date: use YYYY-MM-DD"),
        (["--currency", "ZZZ"], "--currency: 'ZZZ' is not an ISO 4217 currency code"),
        (["--legal-entity", "999999"], "--legal-entity: legal entity 999999 does not exist."),
        (["--csv", "/nonexistent/dir/aging.csv"], "Cannot write /nonexistent/dir/aging.csv"),
    ],
)
def test_aging_report_refuses_bad_options(led, args, message):
    with pytest.raises(CommandError) as refused:
        run("aging_report", *args)
    assert message in str(refused.value)


def test_account_statement_prints_opening_entries_and_closing(led):
    lines = run("account_statement", "ACME-1", "--from", "2026-03-01", "--to", "2026-04-30")

    assert lines[:3] == [
        f"Statement of Acme Corp (account {led.account.pk}, ACME-1), 2026-03-01 to 2026-04-30",
        "",
        "USD",
    ]
    table = lines[3:]
    assert len({len(line) for line in table}) == 1  # amounts flush right, one width
    assert [re.split(r"  +", line.strip()) for line in table] == [
        ["Date", "Type", "Document", "Description", "Debit", "Credit", "Balance"],
        ["----------", "---------------", "--------", "-------------------------------------",
         "------", "--------", "--------"],
        ["2026-03-01", "Opening balance", "1,100.00"],
        ["2026-03-01", "Credit memo", "CM-0001", "Goodwill", "100.00", "1,000.00"],
        ["2026-03-15", "Invoice", "INV-0003", "Due 2026-04-14; voided", "250.00", "1,250.00"],
        ["2026-03-20", "Credit memo", "CM-0002", "Void of invoice INV-0003", "250.00",
         "1,000.00"],
        ["2026-04-01", "Invoice", "INV-0004", "Due 2026-05-01", "300.00", "1,300.00"],
        ["2026-04-10", "Credit memo", "CM-0003", "Goodwill", "50.00", "1,250.00"],
        ["2026-04-15", "Payment", "WIRE-2", "Payment by bank transfer for INV-0001", "600.00",
         "650.00"],
        ["2026-04-30", "Closing balance", "550.00", "1,000.00", "650.00"],
    ]  # fmt: skip
    assert table[2].endswith(" 1,100.00") and table[-1].endswith("550.00  1,000.00    650.00")


def test_account_statement_to_csv_and_pdf_files(led, tmp_path):
    csv_file, pdf_file = tmp_path / "march.csv", tmp_path / "march.pdf"

    lines = run(
        "account_statement", str(led.account.pk), "--from", "2026-03-01", "--to", "2026-03-31",
        "--csv", str(csv_file), "--pdf", str(pdf_file),
    )  # fmt: skip

    assert lines == [
        f"Wrote the statement (2026-03-01 to 2026-03-31) to {csv_file} (5 rows).",
        f"Wrote the statement PDF (2026-03-01 to 2026-03-31) to {pdf_file}.",
    ]
    rows = csv_file.read_text().splitlines()
    assert rows[1].endswith("opening_balance,,Opening balance (to 2026-02-28),,,1100.00")
    assert rows[-1].endswith("closing_balance,,Closing balance,,,1000.00")
    assert pdf_file.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NOBODY"], "No account with id, external id or name 'NOBODY'."),
        (["ACME-1", "--from", "2026-04-02", "--to", "2026-04-01"],
         "--from: The statement starts on 2026-04-02, after its end 2026-04-01"),
        (["ACME-1", "--to", "April"], "--to 'April' is not a date"),
    ],
)  # fmt: skip
def test_account_statement_refuses_bad_input(led, args, message):
    with pytest.raises(CommandError) as refused:
        run("account_statement", *args)
    assert message in str(refused.value)
