"""Ingestion's limits (issue 15): at most generation's line cap, amounts that fit their
columns, dates that date arithmetic can carry; each refused on its field with a 400 and
nothing written, never a 500."""

from decimal import Decimal

import pytest

from invoicing.models import Invoice, InvoiceAddress, InvoiceLine, InvoiceLineTax, SequencePolicy

pytestmark = pytest.mark.django_db
URL = "/api/v1/invoices/ingest"
LIMIT = "1000000000000000"  # 10^15: the first amount a MoneyAmountField cannot hold


def draft(world, **kw) -> dict:
    body = {
        "account": world.account.pk,
        "invoice_date": "2026-11-01",
        "lines": [{"name": "Fee", "quantity": "1", "unit_price": "10.00"}],
    }
    body.update(kw)
    return body


def line(quantity="1", unit_price="10.00", **kw) -> dict:
    return {"name": "Fee", "quantity": quantity, "unit_price": unit_price, **kw}


def counts() -> dict:
    return {
        "invoices": Invoice.objects.count(),
        "lines": InvoiceLine.objects.count(),
        "taxes": InvoiceLineTax.objects.count(),
        "addresses": InvoiceAddress.objects.count(),
        "next_number": SequencePolicy.objects.get().next_value,
    }


def refused(ops, body) -> dict:
    before = counts()
    response = ops.post(URL, body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert counts() == before
    return response.json()["details"]


# --- lines ----------------------------------------------------------------------------------


def test_more_lines_than_generation_makes_are_refused(ops, api_world):
    """Issue 15: a 5,000-line invoice was accepted although generation caps at 2,000."""
    body = draft(api_world, lines=[line() for _ in range(5000)])

    assert refused(ops, body) == {
        "lines": [
            "An invoice has at most 2000 lines (LEDGERLINE['MAX_INVOICE_LINES'], as in "
            "generation); this one has 5000. Split it into several invoices."
        ]
    }


def test_the_line_cap_follows_the_setting(ops, api_world, settings):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "MAX_INVOICE_LINES": 3}

    assert list(refused(ops, draft(api_world, lines=[line()] * 4))) == ["lines"]
    accepted = ops.post(URL, draft(api_world, lines=[line()] * 3))
    assert accepted.status_code == 201, accepted.content
    assert len(accepted.json()["lines"]) == 3


# --- amounts ---------------------------------------------------------------------------------


def test_quantity_times_price_beyond_an_amount_is_refused_on_the_line(ops, api_world):
    """Issue 15: the product overflowed numeric(19, 4) in the database: a 500."""
    body = draft(api_world, lines=[line(), line(quantity="9999999999999", unit_price="1000.00")])

    assert refused(ops, body) == {
        "lines[1].amount": [
            "Quantity × unit price is 9999999999999000, more than a line's amount can hold "
            f"(under {LIMIT}). Lower the quantity or the unit price, or split the line."
        ]
    }


def test_an_overflowing_line_in_a_three_decimal_currency_is_refused_not_a_server_error(
    ops, api_world
):
    """Rounding 10^26 to 3 places needs more digits than the decimal context has."""
    body = draft(
        api_world,
        currency="KWD",
        lines=[line(quantity="9999999999999.999999", unit_price="9999999999999.999999")],
    )

    details = refused(ops, body)

    assert list(details) == ["lines[0].amount"]
    assert details["lines[0].amount"][0].startswith(
        "Quantity × unit price is 99999999999999999980000000, more"
    )


def test_the_largest_line_amount_is_kept_exactly(ops, api_world):
    body = draft(api_world, lines=[line(quantity="999999999999.99999", unit_price="1000.00")])

    response = ops.post(URL, body)

    assert response.status_code == 201, response.content
    assert response.json()["lines"][0]["amount"] == "999999999999999.99"
    assert Invoice.objects.get().total_charges == Decimal("999999999999999.99")


def test_lines_whose_sum_overflows_the_total_are_refused(ops, api_world):
    big = line(quantity="999999999999.99999", unit_price="1000.00")

    assert refused(ops, draft(api_world, lines=[big, big])) == {
        "lines": [
            "The invoice's charges would be 1999999999999999.98 USD, more than an amount can "
            f"hold (under {LIMIT}). Split it into several invoices."
        ]
    }


def test_a_lines_tax_beyond_an_amount_is_refused(ops, api_world):
    taxes = [
        {"name": "A", "rate": "1", "amount": "999999999999999.00"},
        {"name": "B", "rate": "1", "amount": "999999999999999.00"},
    ]

    details = refused(ops, draft(api_world, lines=[line(taxes=taxes)]))

    assert details == {
        "lines[0].taxes": [
            "The line's tax adds up to 1999999999999998, more than an amount can hold "
            f"(under {LIMIT}). Check the tax amounts."
        ]
    }


# --- dates ------------------------------------------------------------------------------------


def outside(value: str) -> str:
    return (
        f"{value} is outside the dates an invoice can carry (1900-01-01 to 2999-12-31); "
        "check the date."
    )


def test_an_invoice_date_whose_due_date_would_overflow_is_refused(ops, api_world):
    """Issue 15: 9999-12-31 plus the payment term's days raised OverflowError: a 500."""
    assert refused(ops, draft(api_world, invoice_date="9999-12-31")) == {
        "invoice_date": [outside("9999-12-31")]
    }


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"due_date": "9999-12-31"}, "due_date"),
        ({"status": "posted", "posted_date": "0001-01-01"}, "posted_date"),
        ({"invoice_date": "1899-12-31", "due_date": "1900-01-30"}, "invoice_date"),
    ],
    ids=["due date", "posted date", "before 1900"],
)
def test_a_date_outside_the_range_is_refused_on_its_field(ops, api_world, fields, path):
    body = draft(api_world, **fields)
    if fields.get("status") == "posted":
        body["lines"] = [line(taxable=False)]

    details = refused(ops, body)

    assert details[path] == [outside(next(v for k, v in fields.items() if k == path))]


def test_a_line_period_outside_the_range_is_refused_on_the_line(ops, api_world):
    body = draft(
        api_world, lines=[line(), line(period_start="2026-01-01", period_end="9999-12-31")]
    )

    assert refused(ops, body) == {"lines[1].period_end": [outside("9999-12-31")]}


def test_the_last_date_of_the_range_is_accepted_with_its_due_date(ops, api_world):
    response = ops.post(URL, draft(api_world, invoice_date="2999-12-31"))

    assert response.status_code == 201, response.content
    assert (response.json()["invoice_date"], response.json()["due_date"]) == (
        "2999-12-31",
        "3000-01-30",
    )


def test_a_card_number_in_a_line_name_is_refused_and_nothing_is_written(ops, api_world):
    body = draft(api_world, lines=[line(name="Card 4111_1111_1111_1111")])

    assert list(refused(ops, body)) == ["lines[0].name"]
