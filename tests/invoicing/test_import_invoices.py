"""`manage.py import_invoices FILE`: JSON and CSV; piped, one summary line on stdout (a line
per invoice with -v 2) and each failed invoice on stderr; non-zero on failure; only committed
invoices reported as created; unknown CSV columns refused; --help lists the columns."""

import json
import re
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account
from invoicing import hooks
from invoicing.management.commands.import_invoices import KNOWN_COLUMNS, Command
from invoicing.models import Invoice, InvoiceLine, InvoiceLineTax
from invoicing.services import ingestion
from invoicing.services.posting import invoices_post_locked as post_locked

pytestmark = pytest.mark.django_db


@pytest.fixture
def iw(api_world):
    Account.objects.filter(pk=api_world.account.pk).update(external_id="ERP-1")
    return api_world


def run(path, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_invoices", str(path), stdout=out, stderr=err, **options)
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
    out, err = run(path, verbosity=2)
    first, second = Invoice.objects.order_by("id")
    assert out.splitlines() == [
        f"[1/2] invoice 1 (old-1): created invoice #{first.pk} OLD-1, posted, total 100.00 USD",
        f"[2/2] invoice 2 (new-2): created invoice #{second.pk}, draft, total 15.00 USD",
        "2 invoice(s): 2 created, 0 already present, 0 failed.",
    ]
    assert err == ""

    # Again, piped at the default verbosity: one line; nothing is duplicated.
    out, err = run(path)
    assert (out, err) == ("2 invoice(s): 0 created, 2 already present, 0 failed.\n", "")
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
    assert out.getvalue() == "2 invoice(s): 1 created, 0 already present, 1 failed.\n"
    assert err.getvalue().splitlines() == [
        "[2/2] B (rows 5-6): FAILED invalid: lines[1].unit_price: A valid number is required.",
        "    lines[1].unit_price (row 6): A valid number is required.",
    ]


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
    text = err.getvalue()
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
    assert captured.out == "1 invoice(s): 0 created, 0 already present, 1 failed.\n"
    assert "FAILED invalid" in captured.err
    assert "account: Name the account" in captured.err
    assert "1 of 1 invoice(s) failed and wrote nothing" in captured.err


def test_an_unknown_column_is_refused_naming_the_known_ones(tmp_path, iw, capsys):
    path = tmp_path / "invoices.csv"
    path.write_text(
        "invoice,account,invoice_date,line_name,quantity,unit_price,discount\n"
        f"A,{iw.account.pk},2026-06-01,Seats,2,5.00,10%\n"
    )
    with pytest.raises(CommandError, match="unknown column"):
        run(path)
    assert Invoice.objects.count() == 0  # the valid row was not imported either

    with pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "import_invoices", str(path)])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        f"CommandError: {path}: unknown column(s) 'discount'; nothing was imported. The known "
        "columns are: invoice, account, account_external_id, bill_to, " in captured.err
    )
    assert ", tax_kind, tax_status (see import_invoices --help)." in captured.err


def test_a_column_named_twice_or_a_row_longer_than_the_header_is_refused(tmp_path, iw):
    path = tmp_path / "twice.csv"
    path.write_text(
        "invoice,account,invoice_date,line_name,quantity,unit_price,quantity\n"
        f"A,{iw.account.pk},2026-06-01,Seats,2,5.00,3\n"
    )
    with pytest.raises(CommandError, match="column\\(s\\) 'quantity' appear more than once"):
        run(path)
    path = tmp_path / "long.csv"
    path.write_text(
        "invoice,account,invoice_date,line_name,quantity,unit_price\n"
        f"A,{iw.account.pk},2026-06-01,Seats,2,5.00\n"
        f"B,{iw.account.pk},2026-06-01,Seats,2,5.00,oops\n"
    )
    with pytest.raises(CommandError, match="row 3: 1 value\\(s\\) more than the header's 6"):
        run(path)
    assert Invoice.objects.count() == 0


def test_help_documents_every_csv_column():
    text = Command().create_parser("manage.py", "import_invoices").format_help()
    for column in KNOWN_COLUMNS:
        assert re.search(rf"(?<![\w]){column}(?![\w])", text), column
    assert "invoice_date          YYYY-MM-DD (required)" in text
    assert "a column not listed here is an error" in text
    assert len(KNOWN_COLUMNS) == 50


def test_a_rolled_back_invoice_is_never_reported_created(tmp_path, iw, monkeypatch):
    """The second invoice is written, then its posting fails: its transaction rolls back, and
    the report says FAILED, never "created invoice #<its id>"."""
    rolled_back = []

    def post_failing(invoices, **kwargs):
        if invoices[0].number == "OLD-2":
            rolled_back.append(invoices[0].pk)
            raise RuntimeError("numbering service down")
        return post_locked(invoices, **kwargs)

    monkeypatch.setattr(ingestion, "invoices_post_locked", post_failing)
    lines = [{"name": "Licence", "quantity": "1", "unit_price": "100", "taxable": False}]
    invoices = [
        {"account": iw.account.pk, "status": "posted", "invoice_date": "2026-05-01",
         "number": f"OLD-{n}", "lines": lines}
        for n in (1, 2)
    ]  # fmt: skip
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps(invoices))
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="^1 of 2 invoice\\(s\\) failed and wrote nothing"):
        call_command("import_invoices", str(path), stdout=out, stderr=err, verbosity=2)
    (kept,) = Invoice.objects.all()
    (gone,) = rolled_back
    assert kept.number == "OLD-1" and gone != kept.pk
    assert out.getvalue().splitlines() == [
        f"[1/2] invoice 1: created invoice #{kept.pk} OLD-1, posted, total 100.00 USD",
        "2 invoice(s): 1 created, 0 already present, 1 failed.",
    ]
    assert err.getvalue() == (
        "[2/2] invoice 2: FAILED error: RuntimeError: numbering service down\n"
    )
    assert f"#{gone}" not in out.getvalue() + err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_an_error_after_commit_is_reported_with_the_invoice_it_kept(tmp_path, iw, monkeypatch):
    """An after-commit step (the posted invoice's PDF and email hooks) fails once the invoice
    is committed: the invoice is reported created, with the error, not as not imported."""

    def hooks_failing(ids):
        raise RuntimeError("PDF queue down")

    monkeypatch.setattr(hooks, "invoices_posted", hooks_failing)
    invoice = {
        "account": iw.account.pk,
        "status": "posted",
        "invoice_date": "2026-05-01",
        "number": "OLD-9",
        "unique_identifier": "old-9",
        "lines": [{"name": "Licence", "quantity": "1", "unit_price": "100", "taxable": False}],
    }
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps([invoice]))
    out, err = run(path)
    kept = Invoice.objects.get()
    assert (kept.number, kept.status) == ("OLD-9", "posted")
    assert out == "1 invoice(s): 1 created, 0 already present, 0 failed.\n"
    assert err == ("[1/1] invoice 1 (old-9): then error: RuntimeError: PDF queue down\n")


def test_a_file_larger_than_max_size_is_refused_before_it_is_read(tmp_path, iw):
    path = tmp_path / "big.json"
    path.write_text("[" + " " * (2 * 1024 * 1024) + "]")

    with pytest.raises(CommandError, match=r"big.json is 2.0 MB, more than --max-size 1 MB"):
        run(path, max_size=1)
    assert Invoice.objects.count() == 0
