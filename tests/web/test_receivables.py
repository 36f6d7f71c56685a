"""Receivables in the staff UI (web/views/receivables.py): the aging page (a chart and a table
per currency, CSV) and an account's statement (page, PDF, CSV), seen by a read-only user, on
the ledger of tests/support/receivables.py (Acme, USD)."""

import datetime as dt
import re

import pytest
from freezegun import freeze_time

from tests.factories import make_account
from tests.support.pages import field_error
from tests.support.receivables import invoice_of, ledger

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def led(world):
    return ledger(world)


def page_of(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def aging_cells(html: str, account_id) -> dict[str, str]:
    """{bucket: amount shown} of an account's row (or, for "totals", of the totals row)."""
    marker = "data-totals" if account_id == "totals" else f'data-account="{account_id}"'
    row = re.search(rf"<tr {marker}>(.*?)</tr>", html, re.S).group(1)
    cells = dict(re.findall(r'data-bucket="([^"]+)">(?:<strong>)?([^<]*)', row))
    cells["total"] = re.search(r"data-total><strong>([^<]*)", row).group(1)
    return cells


def test_the_aging_page_shows_a_chart_and_a_table_per_currency(ro, led, world):
    globex = make_account("Globex", seller=world.seller, currency="EUR")
    invoice_of(world, globex, "800.00", on=d(2025, 12, 1), currency="EUR")

    html = page_of(ro.get("/receivables/?as_of=2026-04-30"))

    assert '<a href="/receivables/" aria-current="page">Receivables</a>' in html
    assert "As of 30 April 2026." in html
    assert re.findall(r'<section aria-labelledby="aging-(\w+)"', html) == ["EUR", "USD"]
    assert aging_cells(html, led.account.pk) == {
        "current": "250.00 USD",
        "1-30": "—",
        "31-60": "400.00 USD",
        "61-90": "—",
        "90+": "—",
        "total": "650.00 USD",
    }
    assert aging_cells(html, globex.pk)["90+"] == "800.00 EUR"
    usd = html.split('data-currency="USD"')[1]
    assert aging_cells(usd, "totals") == {
        "current": "250.00 USD",
        "1-30": "0.00 USD",
        "31-60": "400.00 USD",
        "61-90": "0.00 USD",
        "90+": "0.00 USD",
        "total": "650.00 USD",
    }
    # The chart: a bar per bucket, drawn only where there is an amount, labelled.
    chart = re.search(r"<svg .*?</svg>", usd, re.S).group(0)
    assert re.findall(r'<g data-bucket="([^"]+)">', chart) == [
        "current",
        "1-30",
        "31-60",
        "61-90",
        "90+",
    ]
    assert len(re.findall(r"<rect ", chart)) == 2
    assert "<title>31–60 days: 400.00 USD</title>" in chart
    assert 'href="/receivables/aging.csv?as_of=2026-04-30"' in html
    assert f'href="/accounts/{led.account.pk}/statement/?to=2026-04-30">Acme Corp</a>' in html


def test_the_aging_csv(ro, led):
    response = ro.get("/receivables/aging.csv?as_of=2026-04-30&currency=usd")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="aging-USD-2026-04-30.csv"'
    assert response.content.decode().splitlines() == [
        "account_id,account,currency,current,1-30,31-60,61-90,90+,total",
        f"{led.account.pk},Acme Corp,USD,250.00,0.00,400.00,0.00,0.00,650.00",
        ",Total,USD,250.00,0.00,400.00,0.00,0.00,650.00",
    ]
    bad = ro.get("/receivables/aging.csv?as_of=tomorrow")
    assert bad.status_code == 400
    assert "as_of: “tomorrow” is not a date: use YYYY-MM-DD" in bad.content.decode()


@freeze_time("2026-04-30 12:00")
def test_the_aging_is_as_of_today_by_default_and_bad_filters_list_nothing(ro, led):
    html = page_of(ro.get("/receivables/"))
    assert "As of 30 April 2026." in html
    assert aging_cells(html, led.account.pk)["total"] == "650.00 USD"

    html = page_of(ro.get("/receivables/?currency=zzz&as_of=2026-13-01"))
    assert "Nothing is listed: these filters cannot be applied." in html
    assert field_error(html, "currency") == (
        "&#x27;ZZZ&#x27; is not an ISO 4217 currency code; use e.g. USD, EUR, JPY."
    )
    assert "is not a date" in field_error(html, "as_of")
    assert "data-account=" not in html and "data-csv" not in html


def statement_rows(html: str) -> list[list[str]]:
    rows = re.findall(r'<tr data-entry="[^"]+">(.*?)</tr>', html, re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        ]
        for r in rows
    ]


def test_the_statement_page_ties_out_and_says_where_each_invoice_stands(ro, led):
    html = page_of(ro.get(f"/accounts/{led.account.pk}/statement/?from=2026-03-01&to=2026-03-31"))

    assert "<h1>Statement of Acme Corp</h1>" in html
    assert '<a href="/accounts/" aria-current="page">Accounts</a>' in html
    opening = re.search(r"<tr class=\"edge\" data-opening>(.*?)</tr>", html, re.S).group(1)
    assert "1,100.00 USD" in opening
    assert statement_rows(html) == [
        ["2026-03-01", "Credit memo CM-0001", "Goodwill", "", "", "100.00 USD", "1,000.00 USD"],
        ["2026-03-15", "Invoice INV-0003", "Due 2026-04-14; voided", "Voided", "250.00 USD", "",
         "1,250.00 USD"],
        ["2026-03-20", "Credit memo CM-0002", "Void of invoice INV-0003", "", "", "250.00 USD",
         "1,000.00 USD"],
    ]  # fmt: skip
    closing = re.search(r"<tr class=\"edge\" data-closing>(.*?)</tr>", html, re.S).group(1)
    assert re.findall(r"[\d,]+\.\d\d USD", closing) == ["250.00 USD", "350.00 USD", "1,000.00 USD"]
    # Open on Mar 31 by age: INV-0001 600.00 55 days late, INV-0002 400.00 19 days.
    aging = re.search(r"<table class=\"compact aging\" data-aging>(.*?)</table>", html, re.S)
    assert re.findall(r'data-bucket="[^"]+">([^<]*)', aging.group(1)) == [
        "0.00 USD",
        "400.00 USD",
        "600.00 USD",
        "0.00 USD",
        "0.00 USD",
    ]
    query = "?from=2026-03-01&amp;to=2026-03-31"
    assert f'href="/accounts/{led.account.pk}/statement.pdf{query}"' in html
    assert f'href="/accounts/{led.account.pk}/statement.csv{query}"' in html

    april = page_of(ro.get(f"/accounts/{led.account.pk}/statement/?from=2026-04-01&to=2026-04-30"))
    rows = statement_rows(april)
    assert rows[0][:4] == ["2026-04-01", "Invoice INV-0004", "Due 2026-05-01", "Not due"]
    assert rows[-1] == [
        "2026-04-15", "Payment WIRE-2", "Payment by bank transfer for INV-0001", "", "",
        "600.00 USD", "650.00 USD",
    ]  # fmt: skip
    may = page_of(ro.get(f"/accounts/{led.account.pk}/statement/?from=2026-04-01&to=2026-05-03"))
    assert statement_rows(may)[0][3] == "Overdue, 2 days"


def test_the_statement_pdf_and_csv_downloads(ro, led):
    base = f"/accounts/{led.account.pk}/statement"
    pdf = ro.get(f"{base}.pdf?from=2026-03-01&to=2026-03-31")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert pdf["Content-Disposition"] == (
        f'inline; filename="statement-{led.account.pk}-2026-03-01-2026-03-31.pdf"'
    )
    csv = ro.get(f"{base}.csv?from=2026-03-01&to=2026-03-31")
    assert csv.status_code == 200 and csv["Content-Type"] == "text/csv; charset=utf-8"
    lines = csv.content.decode().splitlines()
    assert len(lines) == 6 and lines[-1].endswith("closing_balance,,Closing balance,,,1000.00")

    bad = ro.get(f"{base}.csv?from=2026-04-02&to=2026-04-01")
    assert bad.status_code == 400
    assert "from: The statement starts on 2026-04-02, after its end 2026-04-01" in (
        bad.content.decode()
    )
    assert ro.get("/accounts/999999/statement.pdf").status_code == 404


@freeze_time("2026-04-20 12:00")
def test_the_statement_defaults_to_the_month_so_far_and_refuses_a_range_backwards(ro, led):
    url = f"/accounts/{led.account.pk}/statement/"
    html = page_of(ro.get(url))
    assert 'name="from" value="2026-04-01"' in html and 'name="to" value="2026-04-20"' in html
    assert "From 1 April 2026 to 20 April 2026." in html
    assert "Balance today (2026-04-20): <strong>650.00 USD</strong>." in html

    html = page_of(ro.get(f"{url}?from=2026-04-02&to=2026-04-01"))
    assert field_error(html, "from") == (
        "The statement starts on 2026-04-02, after its end 2026-04-01; give a start on or "
        "before the end."
    )
    assert "data-entry" not in html and "data-pdf" not in html
    html = page_of(ro.get(f"{url}?period=march"))
    assert "Unknown filter “period”" in html


def test_the_account_page_links_its_statement(ro, led):
    html = page_of(ro.get(f"/accounts/{led.account.pk}/"))
    assert f'<a href="/accounts/{led.account.pk}/statement/">Statement of account</a>' in html
    assert ro.get("/accounts/999999/statement/").status_code == 404
