"""`manage.py import_invoices FILE`: JSON and CSV, a per-invoice report, non-zero on failure."""

import json
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account
from invoicing.management.commands.import_invoices import Command
from invoicing.models import Invoice, InvoiceLine, InvoiceLineTax

pytestmark = pytest.mark.django_db


@pytest.fixture
def iw(api_world):
    Account.objects.filter(pk=api_world.account.pk).update(external_id="ERP-1")
    return api_world


def run(path) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_invoices", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_json_import_reports_each_invoice(tmp_path, iw):
    invoices = [
        {
            "account_external_id": "ERP-1",
            "status": "posted",
            "invoice_date": "2026-05-01",
            "number": "OLD-1",
            "unique_identifier": "old-1",
            "lines": [{"name": "Licence", "quantity": "1", "unit_price": "100", "taxable": False}],
        },
        {
            "account": iw.account.pk,
            "invoice_date": "2026-05-02",
            "unique_identifier": "new-2",
            "lines": [{"product": iw.seat.pk, "quantity": "3", "unit_price": "5"}],
        },
    ]
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps({"invoices": invoices}))
    out, err = run(path)
    assert "[1/2] invoice 1 (old-1): created invoice #" in out
    assert "OLD-1, posted, total 100.00 USD" in out
    assert "invoice 2 (new-2): created invoice #" in out and ", draft, total 15.00 USD" in out
    assert "[2/2] invoice 2 (new-2): created" in out
    assert "2 invoice(s): 2 created, 0 already present, 0 failed." in out
    assert "importing 2/2" in err
    assert Invoice.objects.count() == 2

    # Again: both are already present, nothing is duplicated.
    out, _ = run(path)
    assert "0 created, 2 already present, 0 failed." in out
    assert Invoice.objects.count() == 2


def test_csv_import_groups_rows_and_names_the_bad_row(tmp_path, iw):
    path = tmp_path / "invoices.csv"
    path.write_text(
        "invoice,account_external_id,status,invoice_date,number,billing_country,billing_region,"
        "line_name,quantity,unit_price,amount,line_taxable,tax_name,tax_rate,tax_amount\n"
        "A,ERP-1,posted,2026-06-01,CSV-1,US,TX,Seats,10,5.00,50.00,true,TX,6.25,3.13\n"
        "A,ERP-1,posted,2026-06-01,CSV-1,US,TX,,,,,,City,2,1.00\n"
        "A,ERP-1,posted,2026-06-01,CSV-1,US,TX,Setup,1,20.00,,false,,,\n"
        "B,ERP-1,draft,2026-06-02,,US,TX,Seats,2,5.00,11.00,,,,\n"
        "B,ERP-1,draft,2026-06-02,,US,TX,Setup,1,abc,,,,,\n"
    )
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 of 2 invoice"):
        call_command("import_invoices", str(path), stdout=out, stderr=err)
    # Invoice A went in whole; B wrote nothing.
    invoice = Invoice.objects.get()
    assert (invoice.number, invoice.total_tax, invoice.total) == ("CSV-1", D("4.13"), D("74.13"))
    assert InvoiceLine.objects.count() == 2 and InvoiceLineTax.objects.count() == 2
    text = out.getvalue()
    assert (
        f"[1/2] A (rows 2-4): created invoice #{invoice.pk} CSV-1, posted, total 74.13 USD" in text
    )
    assert "[2/2] B (rows 5-6): FAILED invalid: lines[1].unit_price: A valid number is " in text
    assert "    lines[1].unit_price (row 6): A valid number is required." in text


def test_a_rule_failure_is_reported_with_its_row(tmp_path, iw):
    path = tmp_path / "invoices.csv"
    path.write_text(
        "invoice,account,invoice_date,line_name,quantity,unit_price,amount,period_start,period_end\n"
        f"X,{iw.account.pk},2026-06-01,One,1,10,10,2026-06-01,2026-06-30\n"
        f"X,{iw.account.pk},2026-06-01,Two,2,10,21,2026-06-30,2026-06-01\n"
    )
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command("import_invoices", str(path), stdout=out, stderr=err)
    text = out.getvalue()
    assert "lines[1].amount (row 3): The amount must be quantity × unit price" in text
    assert "lines[1].period_end (row 3): The line ends (2026-06-01) before it starts" in text
    assert Invoice.objects.count() == 0


def test_bad_files(tmp_path, db):
    with pytest.raises(CommandError, match="No file"):
        run(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        run(bad)
    other = tmp_path / "x.txt"
    other.write_text("x")
    with pytest.raises(CommandError, match="Name a .json or .csv"):
        run(other)


def test_the_exit_status_is_non_zero_on_failure(tmp_path, db, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"invoice_date": "2026-01-01"}]))
    with pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "import_invoices", str(path)])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert "FAILED invalid" in captured.out
    assert "account: Name the account" in captured.out
    assert "1 of 1 invoice(s) failed" in captured.err
