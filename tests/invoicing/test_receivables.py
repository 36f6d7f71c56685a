"""Receivables, the reads (invoicing/receivables.py): statements whose opening and closing
balances tie out, aging buckets on fixed dates, each invoice's status and days overdue as of a
date, and the balance identity over any sequence of documents and payments (a property test).

The ledger is tests/support/receivables.py's (Acme, USD): its table gives every figure."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import LegalEntity
from core.exceptions import DomainError, ValidationError
from invoicing.models import CreditMemo, CreditMemoApplication, CreditSource, Invoice, Receipt
from invoicing.receivables import (
    AGING_COLUMNS,
    STATEMENT_COLUMNS,
    account_balances,
    account_statement,
    aging_bucket,
    aging_report,
    aging_table,
    csv_text,
    invoice_receivable,
    invoice_receivables,
    statement_table,
)
from invoicing.services.credits import (
    credit_application_unapply,
    credit_memo_apply,
    credit_memo_void,
)
from invoicing.services.drafts import invoice_adjustment_add, invoice_draft_create
from invoicing.services.payments import payment_allocate, payment_refund, payment_reverse
from invoicing.services.writeoffs import invoice_write_off, invoice_write_off_reverse
from tests.factories import PaymentFactory, make_account
from tests.support.receivables import (
    amounts,
    applied,
    credit_of,
    invoice_of,
    ledger,
    numbering,
    paid,
    received,
    voided,
)

pytestmark = pytest.mark.django_db
d = dt.date


@pytest.fixture
def led(world):
    return ledger(world)


@pytest.fixture
def others(led, world):
    """Two more accounts: Globex (USD, same seller) with a payment and old invoices, and
    Initech (EUR, another seller)."""
    globex = make_account("Globex", seller=world.seller)
    old = invoice_of(world, globex, "800.00", on=d(2025, 12, 1))  # due 2025-12-31
    invoice_of(world, globex, "200.00", on=d(2026, 1, 20))  # due 2026-02-19
    paid(old, "50.00", on=d(2026, 2, 1))
    world.emea = LegalEntity.objects.create(name="Ledgerline Europe GmbH")
    initech = make_account("Initech", seller=world.emea, currency="EUR")
    invoice_of(world, initech, "1200.00", on=d(2026, 3, 10))  # due 2026-04-09
    world.globex, world.initech = globex, initech
    return world


def entry_rows(section):
    return [
        (e.date, e.type, e.document, e.description, e.debit, e.credit, e.balance)
        for e in section.entries
    ]


def balance(account, as_of, currency="USD") -> D:
    rows = {b.currency: b for b in account_balances(account=account, as_of=as_of)}
    return rows[currency].balance if currency in rows else D("0")


# --- statements -----------------------------------------------------------------------------


def test_a_months_statement_opens_on_the_eves_balance_and_closes_on_the_months(led):
    statement = account_statement(
        account=led.account, date_from=d(2026, 3, 1), date_to=d(2026, 3, 31)
    )

    (section,) = statement.sections
    assert (statement.date_from, statement.date_to, section.currency) == (
        d(2026, 3, 1),
        d(2026, 3, 31),
        "USD",
    )
    assert section.opening_balance == D("1100.00")  # 1,000 + 500 − 400 to Feb 28
    assert entry_rows(section) == [
        (d(2026, 3, 1), "credit_memo", "CM-0001", "Goodwill", 0, D("100"), D("1000")),
        (d(2026, 3, 15), "invoice", "INV-0003", "Due 2026-04-14; voided", D("250"), 0, D("1250")),
        (
            d(2026, 3, 20),
            "credit_memo",
            "CM-0002",
            "Void of invoice INV-0003",
            0,
            D("250"),
            D("1000"),
        ),
    ]
    assert (section.debits, section.credits) == (D("250.00"), D("350.00"))
    assert section.closing_balance == D("1000.00")
    # It ties out: the eve's balance opens it, the last day's closes it, and the next month
    # opens where this one closed.
    assert section.opening_balance == balance(led.account, d(2026, 2, 28))
    assert section.closing_balance == balance(led.account, d(2026, 3, 31))
    april = account_statement(account=led.account, date_from=d(2026, 4, 1), date_to=d(2026, 4, 30))
    assert april.main.opening_balance == section.closing_balance == D("1000.00")
    assert april.main.closing_balance == D("650.00") == balance(led.account, d(2026, 4, 30))


def test_the_whole_ledger_shows_every_document_and_payment_the_void_netting_to_zero(led):
    statement = account_statement(
        account=led.account, date_from=d(2026, 1, 1), date_to=d(2026, 4, 30)
    )

    section = statement.main
    assert section.opening_balance == 0
    assert [
        (e.date, e.type, e.document, e.debit, e.credit, e.balance) for e in section.entries
    ] == [
        (d(2026, 1, 5), "invoice", "INV-0001", D("1000"), 0, D("1000")),
        (d(2026, 2, 10), "invoice", "INV-0002", D("500"), 0, D("1500")),
        (d(2026, 2, 20), "payment", "WIRE-1", 0, D("400"), D("1100")),
        (d(2026, 3, 1), "credit_memo", "CM-0001", 0, D("100"), D("1000")),
        (d(2026, 3, 15), "invoice", "INV-0003", D("250"), 0, D("1250")),
        (d(2026, 3, 20), "credit_memo", "CM-0002", 0, D("250"), D("1000")),
        (d(2026, 4, 1), "invoice", "INV-0004", D("300"), 0, D("1300")),
        (d(2026, 4, 10), "credit_memo", "CM-0003", 0, D("50"), D("1250")),
        (d(2026, 4, 15), "payment", "WIRE-2", 0, D("600"), D("650")),
    ]
    void_pair = [e for e in section.entries if e.invoice_id == led.inv3.pk]
    assert [e.document for e in void_pair] == ["INV-0003", "CM-0002"]
    assert sum(e.debit - e.credit for e in void_pair) == 0
    assert section.entries[2].description == "Payment by bank transfer for INV-0001"
    assert (section.debits, section.credits, section.closing_balance) == (
        D("2050.00"),
        D("1400.00"),
        D("650.00"),
    )
    # The same figures as rows of text (the CSV and the commands).
    table = statement_table(statement)
    assert table[0] == [
        str(led.account.pk), "Acme Corp", "USD", "2026-01-01", "opening_balance", "",
        "Opening balance (to 2025-12-31)", "", "", "0.00",
    ]  # fmt: skip
    assert table[3][3:] == [
        "2026-02-20", "payment", "WIRE-1", "Payment by bank transfer for INV-0001", "",
        "400.00", "1100.00",
    ]  # fmt: skip
    assert table[-1][3:] == [
        "2026-04-30",
        "closing_balance",
        "",
        "Closing balance",
        "",
        "",
        "650.00",
    ]
    assert len(table) == 11
    assert csv_text(STATEMENT_COLUMNS, table).splitlines()[0] == ",".join(STATEMENT_COLUMNS)


@freeze_time("2026-04-20 12:00")
def test_the_range_defaults_to_the_month_so_far_and_a_range_ending_before_it_starts_is_refused(
    led,
):
    statement = account_statement(account=led.account)
    assert (statement.date_from, statement.date_to) == (d(2026, 4, 1), d(2026, 4, 20))
    assert statement.main.opening_balance == D("1000.00")
    assert statement.main.closing_balance == D("650.00")

    with pytest.raises(ValidationError) as refused:
        account_statement(account=led.account, date_from=d(2026, 4, 2), date_to=d(2026, 4, 1))
    assert refused.value.details == {
        "from": [
            "The statement starts on 2026-04-02, after its end 2026-04-01; give a start on or "
            "before the end."
        ]
    }
    with pytest.raises(ValidationError) as refused:
        account_statement(account=led.account, currency="ZZZ")
    assert list(refused.value.details) == ["currency"]


def test_each_currency_has_its_own_section_and_an_empty_statement_shows_the_accounts_currency(
    led, world
):
    invoice_of(world, led.account, "75.50", on=d(2026, 3, 3), currency="EUR")

    statement = account_statement(
        account=led.account, date_from=d(2026, 3, 1), date_to=d(2026, 3, 31)
    )
    assert [(s.currency, s.opening_balance, s.closing_balance) for s in statement.sections] == [
        ("EUR", 0, D("75.50")),
        ("USD", D("1100.00"), D("1000.00")),
    ]
    assert statement.main.currency == "USD"  # the account's own
    eur = account_statement(
        account=led.account, date_from=d(2026, 3, 1), date_to=d(2026, 3, 31), currency="eur"
    )
    assert [s.currency for s in eur.sections] == ["EUR"] and eur.main.closing_balance == D("75.50")
    assert [(b.currency, b.invoiced, b.credited, b.paid, b.balance) for b in account_balances(
        account=led.account, as_of=d(2026, 3, 31)
    )] == [
        ("EUR", D("75.50"), 0, 0, D("75.50")),
        ("USD", D("1750.00"), D("350.00"), D("400.00"), D("1000.00")),
    ]  # fmt: skip

    newcomer = make_account("Newcomer", seller=world.seller, currency="EUR")
    empty = account_statement(account=newcomer, date_from=d(2026, 3, 1), date_to=d(2026, 3, 31))
    assert [(s.currency, s.opening_balance, s.entries) for s in empty.sections] == [("EUR", 0, ())]
    assert account_balances(account=newcomer, as_of=d(2026, 3, 31)) == []


def test_drafts_count_nowhere(led, world):
    draft = invoice_draft_create(account_id=led.account.pk, invoice_date=d(2026, 3, 2))
    invoice_adjustment_add(invoice_id=draft.pk, name="Extra", unit_price="99.00", taxable=False)
    credit_of(led.account, "10.00", on=d(2026, 3, 2), post=False)

    statement = account_statement(
        account=led.account, date_from=d(2026, 3, 1), date_to=d(2026, 3, 31)
    )
    assert [e.document for e in statement.main.entries] == ["CM-0001", "INV-0003", "CM-0002"]
    assert balance(led.account, d(2026, 3, 31)) == D("1000.00")
    assert invoice_receivable(invoice_id=draft.pk, as_of=d(2026, 3, 31)) is None


# --- aging ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (60, "31-60"),
     (61, "61-90"), (90, "61-90"), (91, "90+"), (400, "90+")],
)  # fmt: skip
def test_buckets_by_days_past_due(days, bucket):
    assert aging_bucket(days) == bucket


def aging_rows(report):
    return [(r.currency, r.account_name, r.amounts, r.total) for r in report.rows]


def test_aging_buckets_on_fixed_dates(others):
    world = others
    report = aging_report(as_of=d(2026, 4, 30))

    # Acme: INV-0002 400.00 open 49 days past due; INV-0004 300.00 not yet due, less CM-0003's
    # 50.00 unapplied. Globex: 750.00 open 120 days, 200.00 open 70 days. Initech: 1,200.00
    # open 21 days.
    assert aging_rows(report) == [
        ("EUR", "Initech", amounts("0", "1200", "0", "0", "0"), D("1200.00")),
        ("USD", "Acme Corp", amounts("250", "0", "400", "0", "0"), D("650.00")),
        ("USD", "Globex", amounts("0", "0", "0", "200", "750"), D("950.00")),
    ]
    assert [(t.currency, t.amounts, t.total) for t in report.totals] == [
        ("EUR", amounts("0", "1200", "0", "0", "0"), D("1200.00")),
        ("USD", amounts("250", "0", "400", "200", "750"), D("1600.00")),
    ]
    # Every account's aging total is its balance that day.
    for row in report.rows:
        account = {"Acme Corp": world.account, "Globex": world.globex, "Initech": world.initech}
        assert row.total == balance(account[row.account_name], d(2026, 4, 30), row.currency)
    assert aging_table(report)[-1] == [
        "", "Total", "USD", "250.00", "0.00", "400.00", "200.00", "750.00", "1600.00"
    ]  # fmt: skip
    assert AGING_COLUMNS == (
        "account_id", "account", "currency", "current", "1-30", "31-60", "61-90", "90+", "total"
    )  # fmt: skip


def test_aging_as_of_earlier_dates_counts_only_what_was_dated_by_then(others):
    # Mar 2: CM-0001 (Mar 1) is not applied until Mar 5: 100.00 of credit in current. Globex:
    # 200.00 11 days past due, 750.00 61 days.
    assert aging_rows(aging_report(as_of=d(2026, 3, 2), currency="USD")) == [
        ("USD", "Acme Corp", amounts("400", "600", "0", "0", "0"), D("1000.00")),
        ("USD", "Globex", amounts("0", "200", "0", "750", "0"), D("950.00")),
    ]
    # Mar 31: INV-0001 600.00 55 days past due, INV-0002 400.00 19 days; Globex's 750.00
    # exactly 90 days (still 61-90), its 200.00 40 days.
    assert aging_rows(aging_report(as_of=d(2026, 3, 31), currency="USD")) == [
        ("USD", "Acme Corp", amounts("0", "400", "600", "0", "0"), D("1000.00")),
        ("USD", "Globex", amounts("0", "0", "200", "750", "0"), D("950.00")),
    ]
    # A day later it is 91 days past due: 90+.
    (globex,) = aging_report(as_of=d(2026, 4, 1), account_id=others.globex.pk).rows
    assert globex.amounts == amounts("0", "0", "200", "0", "750")
    assert aging_report(as_of=d(2025, 11, 30)).rows == ()


def test_aging_by_currency_seller_and_account(others):
    world = others
    as_of = d(2026, 4, 30)
    assert [r.account_name for r in aging_report(as_of=as_of, currency="eur").rows] == ["Initech"]
    assert [
        r.account_name for r in aging_report(as_of=as_of, legal_entity_id=world.seller.pk).rows
    ] == [
        "Acme Corp",
        "Globex",
    ]
    assert [
        r.account_name for r in aging_report(as_of=as_of, legal_entity_id=world.emea.pk).rows
    ] == ["Initech"]
    assert [r.account_name for r in aging_report(as_of=as_of, account_id=world.globex.pk).rows] == [
        "Globex"
    ]
    with pytest.raises(ValidationError) as refused:
        aging_report(as_of=as_of, currency="DOLLARS")
    assert list(refused.value.details) == ["currency"]


def test_a_payment_dated_before_its_invoice_is_credit_in_current_until_the_invoice_date(led, world):
    early = invoice_of(world, led.account, "80.00", on=d(2026, 5, 10))
    paid(early, "80.00", on=d(2026, 5, 5))

    (row,) = aging_report(as_of=d(2026, 5, 6)).rows
    # Current: CM-0003's 50.00 and the early 80.00; INV-0004 5 days and INV-0002 55 days late.
    assert row.amounts == amounts("-130", "300", "400", "0", "0")
    assert row.total == balance(led.account, d(2026, 5, 6)) == D("570.00")
    (row,) = aging_report(as_of=d(2026, 5, 10)).rows
    assert row.amounts == amounts("-50", "300", "400", "0", "0")  # the payment is INV-0005's
    assert row.total == balance(led.account, d(2026, 5, 10)) == D("650.00")


def test_a_payment_row_without_a_receipt_is_its_own_receipt(led, world):
    """Payment rows made before receipts existed (or by factories) count like a receipt
    wholly allocated to their invoice: money not yet allocated until the invoice's date, and
    again once reversed."""
    later = invoice_of(world, led.account, "80.00", on=d(2026, 5, 10))  # INV-0005
    loose = PaymentFactory(invoice=later, amount=D("80.00"), payment_date=d(2026, 5, 5))
    assert loose.receipt is None

    for as_of, current in ((d(2026, 5, 6), "-130"), (d(2026, 5, 10), "-50")):
        (row,) = aging_report(as_of=as_of).rows
        assert row.amount("current") == D(current)
        assert row.total == balance(led.account, as_of)
    assert balance(led.account, d(2026, 5, 6)) == D("570.00")  # paid before it was invoiced
    assert balance(led.account, d(2026, 5, 10)) == D("650.00")
    statement = account_statement(
        account=led.account, date_from=d(2026, 5, 1), date_to=d(2026, 5, 31)
    )
    rows = [(e.type, e.document, e.description, e.debit, e.credit) for e in statement.main.entries]
    assert rows == [
        ("payment", "INV-0005", "Payment for INV-0005", 0, D("80")),
        ("invoice", "INV-0005", "Due 2026-06-09", D("80"), 0),
    ]  # fmt: skip

    loose.reversed_at = timezone.make_aware(dt.datetime(2026, 5, 20, 9, 0))
    loose.save()
    assert standing_of(later, d(2026, 5, 19)) == ("paid", D("0"))
    assert standing_of(later, d(2026, 5, 20)) == ("not_due", D("80"))
    for as_of in (d(2026, 5, 19), d(2026, 5, 20)):
        (row,) = aging_report(as_of=as_of).rows
        assert row.total == balance(led.account, as_of)
    assert balance(led.account, d(2026, 5, 20)) == D("730.00")  # INV-0005 unpaid again
    statement = account_statement(
        account=led.account, date_from=d(2026, 5, 20), date_to=d(2026, 5, 20)
    )
    assert [(e.type, e.description, e.debit) for e in statement.main.entries] == [
        ("payment_reversal", "Payment for INV-0005 reversed", D("80"))
    ]


def standing_of(invoice, as_of):
    receivable = invoice_receivable(invoice_id=invoice.pk, as_of=as_of)
    return receivable.status, receivable.open


# --- one invoice as of a date ---------------------------------------------------------------


def standing(led, as_of):
    found = invoice_receivables(
        invoice_ids=[led.inv1.pk, led.inv2.pk, led.inv3.pk, led.inv4.pk], as_of=as_of
    )
    names = {led.inv1.pk: "INV-0001", led.inv2.pk: "INV-0002", led.inv3.pk: "INV-0003",
             led.inv4.pk: "INV-0004"}  # fmt: skip
    return {names[pk]: (r.status, r.days_overdue, r.open) for pk, r in found.items()}


def test_status_and_days_overdue_as_of_a_date(led):
    assert standing(led, d(2026, 2, 4)) == {"INV-0001": ("due", 0, D("1000"))}  # due today
    assert standing(led, d(2026, 2, 10)) == {
        "INV-0001": ("overdue", 6, D("1000")),
        "INV-0002": ("not_due", 0, D("500")),
    }
    assert standing(led, d(2026, 3, 16)) == {
        "INV-0001": ("overdue", 40, D("600")),
        "INV-0002": ("overdue", 4, D("400")),
        "INV-0003": ("not_due", 0, D("250")),  # voided on Mar 20, not yet
    }
    assert standing(led, d(2026, 5, 2)) == {
        "INV-0001": ("paid", 0, D("0")),
        "INV-0002": ("overdue", 51, D("400")),
        "INV-0003": ("voided", 0, D("0")),
        "INV-0004": ("overdue", 1, D("300")),
    }
    receivable = invoice_receivable(invoice_id=led.inv2.pk, as_of=d(2026, 5, 2))
    assert (receivable.paid, receivable.credited, receivable.status_label) == (
        D("0"),
        D("100"),
        "Overdue",
    )
    assert invoice_receivable(invoice_id=led.inv4.pk, as_of=d(2026, 3, 31)) is None  # not yet


@freeze_time("2026-05-02 09:00")
def test_as_of_today_the_open_amounts_are_the_stored_balances(led):
    today = timezone.localdate()
    for invoice in Invoice.objects.filter(account=led.account):
        receivable = invoice_receivable(invoice_id=invoice.pk, as_of=today)
        assert receivable.open == invoice.balance, invoice.number


def test_credited_in_full_written_off_and_the_write_off_reversed(led, world):
    credited = invoice_of(world, led.account, "60.00", on=d(2026, 4, 2))
    memo = credit_of(led.account, "60.00", on=d(2026, 4, 3))
    applied(memo, credited, "60.00", on=d(2026, 4, 3))
    assert invoice_receivable(invoice_id=credited.pk, as_of=d(2026, 4, 3)).status == "credited"

    written = invoice_of(world, led.account, "40.00", on=d(2026, 4, 2))  # INV-0006
    paid(written, "15.00", on=d(2026, 4, 4), reference="WIRE-3")
    write_off = invoice_write_off(invoice_id=written.pk, write_off_date=d(2026, 4, 6)).credit_memo
    assert write_off.source == CreditSource.WRITE_OFF

    assert invoice_receivable(invoice_id=written.pk, as_of=d(2026, 4, 5)).status == "not_due"
    receivable = invoice_receivable(invoice_id=written.pk, as_of=d(2026, 4, 6))
    assert (receivable.status, receivable.paid, receivable.written_off, receivable.open) == (
        "written_off",
        D("15"),
        D("25"),
        D("0"),
    )

    with freeze_time("2026-05-20 16:00"):
        invoice_write_off_reverse(invoice_id=written.pk)
    # Reversed on May 20: written off until the 19th, 25.00 open (and overdue) from the 20th.
    assert invoice_receivable(invoice_id=written.pk, as_of=d(2026, 5, 19)).status == "written_off"
    receivable = invoice_receivable(invoice_id=written.pk, as_of=d(2026, 5, 20))
    assert (receivable.status, receivable.days_overdue, receivable.open) == (
        "overdue",
        18,
        D("25"),
    )
    statement = account_statement(
        account=led.account, date_from=d(2026, 4, 6), date_to=d(2026, 5, 31)
    )
    assert [(e.date, e.type, e.document, e.description, e.debit, e.credit, e.balance)
            for e in statement.main.entries] == [
        (d(2026, 4, 6), "credit_memo", "CM-0005", "Write-off of invoice INV-0006; reversed", 0,
         D("25"), D("1300")),
        (d(2026, 4, 10), "credit_memo", "CM-0003", "Goodwill", 0, D("50"), D("1250")),
        (d(2026, 4, 15), "payment", "WIRE-2", "Payment by bank transfer for INV-0001", 0, D("600"),
         D("650")),
        (d(2026, 5, 20), "write_off_reversal", "CM-0005", "Write-off of invoice INV-0006 "
         "reversed", D("25"), 0, D("675")),
    ]  # fmt: skip
    # Before the write-off: the ledger's 1,300.00 at the start of April, INV-0005 (credited in
    # full) and INV-0006 25.00 after its payment.
    assert statement.main.opening_balance == D("1325.00")
    for as_of in (d(2026, 5, 19), d(2026, 5, 20)):
        (row,) = aging_report(as_of=as_of).rows
        assert row.total == balance(led.account, as_of)
    assert balance(led.account, d(2026, 5, 19)) == D("650.00")
    assert balance(led.account, d(2026, 5, 20)) == D("675.00")


def test_money_not_yet_allocated_is_credit_in_current_until_it_is_allocated_or_refunded(led):
    receipt = received(led.account, "500.00", on=d(2026, 4, 20), reference="CHQ-7")
    assert receipt.unallocated == D("500.00")
    (row,) = aging_report(as_of=d(2026, 4, 20)).rows
    # INV-0004 300.00 not due, less CM-0003 50.00 and the cheque's 500.00; INV-0002 31-60.
    assert row.amounts == amounts("-250", "0", "400", "0", "0")
    assert row.total == balance(led.account, d(2026, 4, 20)) == D("150.00")

    payment_allocate(receipt_id=receipt.pk, allocations=[{"invoice": led.inv2.pk}])
    (row,) = aging_report(as_of=d(2026, 4, 30)).rows
    assert row.amounts == amounts("150", "0", "0", "0", "0")  # 300 − 50 − the 100 left
    assert standing(led, d(2026, 4, 30))["INV-0002"] == ("paid", 0, D("0"))

    with freeze_time("2026-05-03 12:00"):
        payment_refund(receipt_id=receipt.pk, amount="100.00", refund_date=d(2026, 5, 2))
    (row,) = aging_report(as_of=d(2026, 5, 2)).rows
    assert row.amounts == amounts("-50", "300", "0", "0", "0")  # INV-0004 1 day late
    assert row.total == balance(led.account, d(2026, 5, 2)) == D("250.00")

    statement = account_statement(
        account=led.account, date_from=d(2026, 4, 16), date_to=d(2026, 5, 2)
    )
    assert [(e.type, e.document, e.description, e.debit, e.credit, e.balance)
            for e in statement.main.entries] == [
        ("payment", "CHQ-7", "Payment by cheque for INV-0002", 0, D("500"), D("150")),
        ("refund", "CHQ-7", "Refund of payment CHQ-7", D("100"), 0, D("250")),
    ]  # fmt: skip
    assert statement.main.entries[0].payment_id == receipt.pk


def test_a_reversed_payment_counts_until_the_day_it_was_reversed(led):
    receipt = Receipt.objects.get(allocations=led.pay2)
    with freeze_time("2026-05-10 08:00"):
        payment_reverse(receipt_id=receipt.pk, reason="Bounced")

    assert standing(led, d(2026, 5, 9))["INV-0001"] == ("paid", 0, D("0"))
    assert standing(led, d(2026, 5, 10))["INV-0001"] == ("overdue", 95, D("600"))
    assert balance(led.account, d(2026, 5, 9)) == D("650.00")
    assert balance(led.account, d(2026, 5, 10)) == D("1250.00")
    for as_of in (d(2026, 5, 9), d(2026, 5, 10)):
        (row,) = aging_report(as_of=as_of).rows
        assert row.total == balance(led.account, as_of)
    (row,) = aging_report(as_of=d(2026, 5, 10)).rows
    assert row.amounts == amounts("-50", "300", "400", "0", "600")
    statement = account_statement(
        account=led.account, date_from=d(2026, 4, 15), date_to=d(2026, 5, 10)
    )
    assert [(e.date, e.type, e.description, e.debit, e.credit) for e in statement.main.entries] == [
        (d(2026, 4, 15), "payment", "Payment by bank transfer; reversed", 0, D("600")),
        (d(2026, 5, 10), "payment_reversal", "Payment WIRE-2 reversed: Bounced", D("600"), 0),
    ]  # fmt: skip


def test_a_voided_credit_memo_and_its_offsetting_debit_memo_net_to_zero(led):
    with freeze_time("2026-05-05 12:00"):
        result = credit_memo_void(credit_memo_id=led.cm3.pk, void_date=d(2026, 5, 5))
    offset = result.debit_memo

    statement = account_statement(
        account=led.account, date_from=d(2026, 4, 10), date_to=d(2026, 5, 5)
    )
    assert [(e.date, e.type, e.document, e.debit, e.credit, e.balance)
            for e in statement.main.entries] == [
        (d(2026, 4, 10), "credit_memo", "CM-0003", 0, D("50"), D("1250")),
        (d(2026, 4, 15), "payment", "WIRE-2", 0, D("600"), D("650")),
        (d(2026, 5, 5), "debit_memo", f"#{offset.pk}", D("50"), 0, D("700")),
    ]  # fmt: skip
    assert statement.main.entries[0].description == "Goodwill: (voided 2026-05-05)"
    assert statement.main.entries[0].voided
    assert statement.main.entries[2].description == "Offsets voided credit memo CM-0003"
    assert balance(led.account, d(2026, 5, 4)) == D("650.00")
    assert balance(led.account, d(2026, 5, 5)) == D("700.00")
    (row,) = aging_report(as_of=d(2026, 5, 5)).rows
    assert row.amounts == amounts("0", "300", "400", "0", "0")  # the 50 of credit is gone


def test_credit_counts_on_an_invoice_until_the_day_it_is_unapplied(led):
    row = applied(led.cm3, led.inv4, "50.00", on=d(2026, 4, 20))
    with freeze_time("2026-04-25 10:00"):
        credit_application_unapply(application_id=row.pk)

    assert standing(led, d(2026, 4, 24))["INV-0004"] == ("not_due", 0, D("250"))
    assert standing(led, d(2026, 4, 25))["INV-0004"] == ("not_due", 0, D("300"))
    for as_of, current in ((d(2026, 4, 24), "250"), (d(2026, 4, 25), "250")):
        (acme,) = aging_report(as_of=as_of).rows
        assert acme.amount("current") == D(current)  # 250 + 0 unapplied, or 300 − 50
        assert acme.total == balance(led.account, as_of)


# --- the balance identity, over any sequence ------------------------------------------------

TODAY = d(2026, 6, 30)
LAST_DAY = 170  # of 2026 (from Jan 1): every document is dated before TODAY
OPERATIONS = [
    "invoice", "invoice", "invoice", "credit", "pay", "pay", "receive", "allocate", "refund",
    "reverse", "apply", "unapply", "void", "void_memo", "write_off", "write_off_reverse",
]  # fmt: skip
_ops = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=9),  # days after the operation before
        st.sampled_from(OPERATIONS),
        st.integers(min_value=1, max_value=250_000),  # cents, or a share of a balance
        st.integers(min_value=0, max_value=20),  # which document
        st.sampled_from(["USD", "USD", "EUR"]),
    ),
    min_size=10,
    max_size=30,
)


def _share(amount: D, number: int) -> str:
    """1 % to 100 % of `amount`, at least a cent."""
    return str(max((amount * (number % 100 + 1) / 100).quantize(D("0.01")), D("0.01")))


def _run(world, account, ops) -> None:
    """Apply the operations, each some days after the one before, through the services; a
    refusal changes nothing (the services' own tests prove it) and the sequence goes on."""
    invoices: list[Invoice] = []
    memos: list[CreditMemo] = []
    receipts: list[Receipt] = []
    day = 0
    for gap, op, number, pick, currency in ops:
        day = min(day + gap, LAST_DAY)
        on = d(2026, 1, 1) + dt.timedelta(days=day)
        amount = f"{number // 100}.{number % 100:02d}"
        invoice = invoices[pick % len(invoices)] if invoices else None
        if invoice is not None:
            invoice.refresh_from_db()
        try:
            if op == "invoice":
                invoices.append(invoice_of(world, account, amount, on=on, currency=currency))
            elif op == "credit":
                memos.append(credit_of(account, amount, on=on, currency=currency))
            elif op == "receive":
                to = [invoice] if invoice is not None and number % 2 else []
                received(account, amount, on=on, to=to, currency=currency)
                receipts.append(Receipt.objects.filter(account=account).latest("id"))
            elif invoice is None:
                continue
            elif op == "pay":
                paid(invoice, _share(invoice.balance, number), on=max(on, invoice.invoice_date))
            elif op == "write_off":
                invoice_write_off(
                    invoice_id=invoice.pk, write_off_date=max(on, invoice.invoice_date)
                )
            elif op == "write_off_reverse":
                invoice_write_off_reverse(invoice_id=invoice.pk)
            elif op == "void":
                voided(invoice, on=max(on, invoice.invoice_date))
            elif op in ("allocate", "refund", "reverse") and receipts:
                receipt = receipts[number % len(receipts)]
                receipt.refresh_from_db()
                if op == "allocate":
                    payment_allocate(receipt_id=receipt.pk, allocations=[{"invoice": invoice.pk}])
                elif op == "refund":
                    payment_refund(
                        receipt_id=receipt.pk,
                        amount=_share(receipt.unallocated, number),
                        refund_date=max(on, receipt.payment_date),
                    )
                else:
                    payment_reverse(receipt_id=receipt.pk)
            elif op in ("apply", "void_memo") and memos:
                memo = memos[number % len(memos)]
                if op == "apply":
                    credit_memo_apply(
                        credit_memo_id=memo.pk,
                        applications=[{"invoice": invoice.pk}],
                        applied_date=max(on, memo.memo_date, invoice.invoice_date),
                    )
                else:
                    credit_memo_void(credit_memo_id=memo.pk, void_date=max(on, memo.memo_date))
            elif op == "unapply":
                rows = list(
                    CreditMemoApplication.objects.active()
                    .filter(invoice__account=account, credit_memo__source__in=["standalone"])
                    .order_by("id")
                )
                if rows:
                    credit_application_unapply(application_id=rows[pick % len(rows)].pk)
        except DomainError:
            pass


@pytest.fixture
def numbered(world):
    numbering(world)
    return world


@freeze_time("2026-06-30 12:00")
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=_ops, split=st.integers(min_value=0, max_value=179))
def test_the_balance_is_the_open_invoices_less_unapplied_credit_and_unallocated_money(
    numbered, ops, split
):
    """Whatever happened (invoices, credits applied and unapplied, payments allocated,
    refunded and reversed, voids, write-offs and their reversals, in any order and refused or
    not): the account's balance is the sum of its posted invoices' balances minus the credit
    of its posted memos not yet applied (and the money received not yet allocated); its aging
    sums to it on any day; statements split on any day tie out."""
    world = numbered
    account = make_account(f"Prop {Invoice.objects.count()}-{CreditMemo.objects.count()}",
                           seller=world.seller)  # fmt: skip
    _run(world, account, ops)

    balances = {b.currency: b.balance for b in account_balances(account=account, as_of=TODAY)}
    for currency in ("USD", "EUR"):
        open_invoices = sum(
            (i.balance for i in Invoice.objects.filter(account=account, currency=currency)
             .exclude(status__in=["draft", "draft_in_progress"])),
            D("0"),
        )  # fmt: skip
        unapplied = sum(
            (m.balance for m in CreditMemo.objects.filter(
                account=account, currency=currency, status=CreditMemo.Status.POSTED
            )),
            D("0"),
        )  # fmt: skip
        unallocated = sum(
            (r.unallocated for r in Receipt.objects.filter(account=account, currency=currency)),
            D("0"),
        )
        assert balances.get(currency, D("0")) == open_invoices - unapplied - unallocated

    # The aging, today and on any earlier day, sums to the balance of that day.
    middle = d(2026, 1, 1) + dt.timedelta(days=split)
    for as_of in (TODAY, middle):
        report = aging_report(as_of=as_of, account_id=account.pk)
        for currency in ("USD", "EUR"):
            total = report.total_for(currency)
            assert (total.total if total else D("0")) == balance(account, as_of, currency)

    # Two statements split on any day tie out with each other and with the balances.
    first = account_statement(account=account, date_from=d(2026, 1, 1), date_to=middle)
    second = account_statement(
        account=account, date_from=middle + dt.timedelta(days=1), date_to=TODAY
    )
    for currency in ("USD", "EUR"):
        before, after = first.section_for(currency), second.section_for(currency)
        closing = before.closing_balance if before else D("0")
        assert closing == balance(account, middle, currency)
        assert (after.opening_balance if after else D("0")) == closing
        assert (after.closing_balance if after else closing) == balances.get(currency, D("0"))

    # As of today, what is open on each invoice is its stored balance.
    for invoice in Invoice.objects.filter(account=account, status="posted"):
        assert invoice_receivable(invoice_id=invoice.pk, as_of=TODAY).open == invoice.balance
