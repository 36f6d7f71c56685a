"""The receivables API (invoicing/api/receivables.py): accounts/{id}/balance,
accounts/{id}/statement (JSON, CSV, PDF) and reports/aging (JSON, CSV), read by every role, on
the ledger of tests/support/receivables.py (Acme, USD)."""

import datetime as dt
import io

import pytest
from freezegun import freeze_time
from pypdf import PdfReader

from invoicing.services.payments import payment_record
from invoicing.services.writeoffs import invoice_write_off
from tests.factories import make_account
from tests.support.invoicing import generate
from tests.support.receivables import invoice_of, ledger

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def led(world):
    return ledger(world)


def statement_url(account, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/accounts/{account.pk}/statement" + (f"?{query}" if query else "")


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def test_a_read_only_token_reads_a_statement_whose_balances_tie_out(reader, led):
    response = reader.get(statement_url(led.account, **MARCH))

    assert response.status_code == 200, response.json()
    body = response.json()
    entries = body.pop("entries")
    assert body == {
        "account": led.account.pk,
        "account_name": "Acme Corp",
        "from": "2026-03-01",
        "to": "2026-03-31",
        "currency": "USD",
        "opening_balance": "1100.00",
        "debits": "250.00",
        "credits": "350.00",
        "closing_balance": "1000.00",
        "currencies": [
            {
                "currency": "USD",
                "opening_balance": "1100.00",
                "debits": "250.00",
                "credits": "350.00",
                "closing_balance": "1000.00",
            }
        ],
    }
    assert entries == [
        {
            "date": "2026-03-01",
            "type": "credit_memo",
            "document": "CM-0001",
            "description": "Goodwill",
            "debit": "0.00",
            "credit": "100.00",
            "balance": "1000.00",
            "invoice": None,
            "credit_memo": led.cm1.pk,
            "debit_memo": None,
            "payment": None,
        },
        {
            "date": "2026-03-15",
            "type": "invoice",
            "document": "INV-0003",
            "description": "Due 2026-04-14; voided",
            "debit": "250.00",
            "credit": "0.00",
            "balance": "1250.00",
            "invoice": led.inv3.pk,
            "credit_memo": None,
            "debit_memo": None,
            "payment": None,
        },
        {
            "date": "2026-03-20",
            "type": "credit_memo",
            "document": "CM-0002",
            "description": "Void of invoice INV-0003",
            "debit": "0.00",
            "credit": "250.00",
            "balance": "1000.00",
            "invoice": led.inv3.pk,
            "credit_memo": led.cm2.pk,
            "debit_memo": None,
            "payment": None,
        },
    ]
    # The next month opens where this one closed, and closes on the balance of its last day.
    april = reader.get(statement_url(led.account, **{"from": "2026-04-01", "to": "2026-04-30"}))
    assert (april.json()["opening_balance"], april.json()["closing_balance"]) == (
        "1000.00",
        "650.00",
    )
    balance = reader.get(f"/api/v1/accounts/{led.account.pk}/balance?as_of=2026-04-30")
    assert balance.json() == [
        {
            "currency": "USD",
            "invoiced": "2050.00",
            "credited": "400.00",
            "paid": "1000.00",
            "balance": "650.00",
        }
    ]


def test_the_statement_as_csv_and_as_pdf(reader, led):
    response = reader.get(statement_url(led.account, format="csv", **MARCH))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="statement-{led.account.pk}-2026-03-01-2026-03-31.csv"'
    )
    acme = f"{led.account.pk},Acme Corp,USD"
    assert response.content.decode().splitlines() == [
        "account_id,account,currency,date,type,document,description,debit,credit,balance",
        f"{acme},2026-03-01,opening_balance,,Opening balance (to 2026-02-28),,,1100.00",
        f"{acme},2026-03-01,credit_memo,CM-0001,Goodwill,,100.00,1000.00",
        f"{acme},2026-03-15,invoice,INV-0003,Due 2026-04-14; voided,250.00,,1250.00",
        f"{acme},2026-03-20,credit_memo,CM-0002,Void of invoice INV-0003,,250.00,1000.00",
        f"{acme},2026-03-31,closing_balance,,Closing balance,,,1000.00",
    ]

    response = reader.get(statement_url(led.account, format="pdf", **MARCH))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'inline; filename="statement-{led.account.pk}-2026-03-01-2026-03-31.pdf"'
    )
    pdf = PdfReader(io.BytesIO(response.content))
    text = " ".join(page.extract_text() for page in pdf.pages)
    for expected in (
        "STATEMENT",
        "Acme Corp",
        "1 Mar 2026 – 31 Mar 2026",
        "Opening balance",
        "1,100.00",
        "Credit memo CM-0001",
        "Invoice INV-0003",
        "Due 14 Apr 2026; voided",
        "Void of invoice INV-0003",
        "Closing balance",
        "USD 1,000.00",
        "USD 1,000.00 of it overdue",
    ):
        assert expected in text, expected
    assert pdf.metadata.title == "Statement of Acme Corp, 1 Mar 2026 – 31 Mar 2026"


def test_a_statement_per_currency(reader, led, world):
    invoice_of(world, led.account, "75.50", on=d(2026, 3, 3), currency="EUR")

    body = reader.get(statement_url(led.account, **MARCH)).json()
    assert body["currency"] == "USD"  # the account's own
    assert [(c["currency"], c["closing_balance"]) for c in body["currencies"]] == [
        ("EUR", "75.50"),
        ("USD", "1000.00"),
    ]
    eur = reader.get(statement_url(led.account, currency="EUR", **MARCH)).json()
    assert (eur["currency"], eur["opening_balance"], eur["closing_balance"]) == (
        "EUR",
        "0.00",
        "75.50",
    )
    assert [e["document"] for e in eur["entries"]] == ["INV-0005"]


@freeze_time("2026-04-20 10:00")
def test_the_statement_defaults_to_the_month_so_far(reader, led):
    body = reader.get(statement_url(led.account)).json()
    assert (body["from"], body["to"], body["opening_balance"], body["closing_balance"]) == (
        "2026-04-01",
        "2026-04-20",
        "1000.00",
        "650.00",
    )


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (
            {"from": "2026-04-02", "to": "2026-04-01"},
            "from",
            "The statement starts on 2026-04-02, after its end 2026-04-01; give a start on or "
            "before the end.",
        ),
        ({"to": "31/03/2026"}, "to", None),
        ({"format": "xlsx"}, "format", "Use json, csv, pdf (default json)."),
        ({"currency": "ZZZ"}, "currency", "'ZZZ' is not an ISO 4217 currency code; use e.g. USD, "
         "EUR, JPY."),
    ],
)  # fmt: skip
def test_bad_statement_parameters_name_the_field_in_json_whatever_the_format(
    reader, led, params, field, message
):
    response = reader.get(statement_url(led.account, **params))

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "invalid" and list(body["details"]) == [field]
    if message:
        assert body["details"][field] == [message]
    if field != "format":
        response = reader.get(statement_url(led.account, **{**params, "format": "csv"}))
        assert response.status_code == 400 and response["Content-Type"] == "application/json"


def test_unknown_accounts_anonymous_callers_and_writes(reader, admin, led):
    from rest_framework.test import APIClient

    assert reader.get("/api/v1/accounts/999999/statement").json()["code"] == "not_found"
    assert APIClient().get(statement_url(led.account)).status_code == 401
    assert APIClient().get("/api/v1/reports/aging").status_code == 401
    assert reader.post(statement_url(led.account), {}).status_code == 403  # reads only
    assert admin.post(statement_url(led.account), {}).status_code == 405
    assert admin.post("/api/v1/reports/aging", {}).status_code == 405


# --- aging ----------------------------------------------------------------------------------


@pytest.fixture
def globex(led, world):
    """Globex: 800.00 dated 2025-12-01 (due 2025-12-31), 120 days past due on Apr 30."""
    account = make_account("Globex", seller=world.seller)
    invoice_of(world, account, "800.00", on=d(2025, 12, 1))
    return account


def test_the_aging_report_on_a_fixed_date(reader, led, globex):
    response = reader.get("/api/v1/reports/aging?as_of=2026-04-30")

    assert response.status_code == 200
    assert response.json() == {
        "as_of": "2026-04-30",
        "buckets": ["current", "1-30", "31-60", "61-90", "90+"],
        "rows": [
            {
                "account": led.account.pk,
                "account_name": "Acme Corp",
                "currency": "USD",
                "current": "250.00",
                "1-30": "0.00",
                "31-60": "400.00",
                "61-90": "0.00",
                "90+": "0.00",
                "total": "650.00",
            },
            {
                "account": globex.pk,
                "account_name": "Globex",
                "currency": "USD",
                "current": "0.00",
                "1-30": "0.00",
                "31-60": "0.00",
                "61-90": "0.00",
                "90+": "800.00",
                "total": "800.00",
            },
        ],
        "totals": [
            {
                "currency": "USD",
                "current": "250.00",
                "1-30": "0.00",
                "31-60": "400.00",
                "61-90": "0.00",
                "90+": "800.00",
                "total": "1450.00",
            }
        ],
    }


def test_the_aging_report_as_csv_by_currency_and_seller(ops, led, globex, world):
    response = ops.get("/api/v1/reports/aging?as_of=2026-04-30&format=csv&currency=usd")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="aging-USD-2026-04-30.csv"'
    assert response.content.decode().splitlines() == [
        "account_id,account,currency,current,1-30,31-60,61-90,90+,total",
        f"{led.account.pk},Acme Corp,USD,250.00,0.00,400.00,0.00,0.00,650.00",
        f"{globex.pk},Globex,USD,0.00,0.00,0.00,0.00,800.00,800.00",
        ",Total,USD,250.00,0.00,400.00,0.00,800.00,1450.00",
    ]
    assert ops.get("/api/v1/reports/aging?as_of=2026-04-30&currency=EUR").json()["rows"] == []
    by_seller = ops.get(f"/api/v1/reports/aging?as_of=2026-04-30&legal_entity={world.seller.pk}")
    assert len(by_seller.json()["rows"]) == 2

    response = ops.get("/api/v1/reports/aging?legal_entity=999999")
    assert response.status_code == 400
    assert response.json()["details"] == {"legal_entity": ["Legal entity 999999 does not exist."]}
    response = ops.get("/api/v1/reports/aging?as_of=yesterday&format=csv")
    assert response.status_code == 400 and list(response.json()["details"]) == ["as_of"]


@freeze_time("2026-04-30 18:00")
def test_the_aging_report_is_as_of_today_by_default(reader, led):
    body = reader.get("/api/v1/reports/aging").json()
    assert body["as_of"] == "2026-04-30"
    assert body["totals"][0]["total"] == "650.00"


def test_invoices_carry_their_receivable_fields(lw, reader):
    """API.md: invoices gain receivable_status, days_overdue, paid_amount, credited_amount and
    written_off_amount (as of today)."""
    with freeze_time("2026-01-15 09:00"):
        january = generate(lw, dt.date(2026, 1, 15))  # 75.77, due 2026-02-14
    with freeze_time("2026-03-01 09:00"):
        payment_record(invoice_id=january.pk, amount="70.00", payment_date=dt.date(2026, 3, 1))
        body = reader.get(f"/api/v1/invoices/{january.pk}").json()
        assert {
            k: body[k]
            for k in (
                "receivable_status",
                "days_overdue",
                "paid_amount",
                "credited_amount",
                "written_off_amount",
            )
        } == {
            "receivable_status": "overdue",
            "days_overdue": 15,
            "paid_amount": "70.00",
            "credited_amount": "0.00",
            "written_off_amount": "0.00",
        }
        invoice_write_off(invoice_id=january.pk, write_off_date=dt.date(2026, 3, 1))
        body = reader.get("/api/v1/invoices/").json()["results"][0]
        assert (body["receivable_status"], body["written_off_amount"], body["days_overdue"]) == (
            "written_off",
            "5.77",
            0,
        )
