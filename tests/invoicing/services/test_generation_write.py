"""The two writers of a generation plan (invoicing/services/generation_write.py) against
each other: the COPY writer (docs/adr/0004-lean-generation-path.md) and the ORM writer.

Each world is generated twice from the same plan inside one test transaction: once with
every key on the ORM writer (copy_writer=False), rolled back to a savepoint, then with the
COPY writer on. Every row written (invoices with numbers, totals and dates; lines; tax rows;
address snapshots; period items) and every schedule's billing state must be identical,
ids aside. The worlds cover what the COPY writer takes: cadences, proration, catch-up,
arrears, one-time charges, zero amounts, every grouping type, the max-lines split, two tax
rates with a compound one, an exempt account, an account without a billing address, JPY,
two sellers with several currencies and policies; the options (draft or posted, an invoice
date other than the target date, a period cap, a batch run); keys it must hand to the ORM
writer (bundles, amendments, debit memos); a currency without a numbering policy (drafts,
logged). The comparison is shown to catch a bug injected into any table the COPY writer
writes.
"""

import datetime as dt
from collections import Counter
from decimal import Decimal as D

import pytest
from django.db import connection, transaction

from accounts.models import BillingProfile, LegalEntity, PaymentTerm
from billing.models import BillingSchedule
from invoicing.models import (
    BillingPeriodItem,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    SequencePolicy,
)
from invoicing.services import generation_write
from invoicing.services.generation import generate_for_keys, plan_keys, schedules_eligible
from invoicing.services.generation_plan import GenerationOptions
from invoicing.services.memos import debit_memo_create
from tests.conftest import make_account, seats
from tests.factories import InvoiceBatchRunFactory
from tests.support.generation import activate, amend, bundle, texas_rates

pytestmark = pytest.mark.django_db

d = dt.date
_SKIP = {"id", "created_at", "updated_at", "posted_at"}


def _clean(row: dict, **maps) -> dict:
    out = {k: v for k, v in row.items() if k not in _SKIP}
    for name, mapping in maps.items():
        if out.get(name) is not None:
            out[name] = mapping[out[name]]
    return out


def snapshot(*, numbers_in_order: bool) -> dict:
    """Everything generation wrote, keyed by content rather than by id: an invoice by its
    lines' (schedule, period start), a line by (its invoice, sort order)."""
    lines = list(InvoiceLine.objects.order_by("invoice_id", "sort_order").values())
    identity: dict[int, tuple] = {}
    for invoice_id in {line["invoice_id"] for line in lines}:
        identity[invoice_id] = tuple(
            (line["billing_schedule_id"], line["period_start"])
            for line in lines
            if line["invoice_id"] == invoice_id
        )
    line_key = {line["id"]: (identity[line["invoice_id"]], line["sort_order"]) for line in lines}
    taxes: dict = {}
    for tax in InvoiceLineTax.objects.order_by("line_id", "id").values():
        taxes.setdefault(tax["line_id"], []).append(_clean(tax, line_id=line_key))
    invoices = {}
    for invoice in Invoice.objects.order_by("id").values():
        content = _clean(invoice)
        if not numbers_in_order:
            content.pop("number")
        content["lines"] = [
            {
                **_clean(line, parent_line_id=line_key, invoice_id=identity),
                "taxes": taxes.get(line["id"], []),
            }
            for line in lines
            if line["invoice_id"] == invoice["id"]
        ]
        content["addresses"] = [
            _clean(a, invoice_id=identity)
            for a in InvoiceAddress.objects.filter(invoice_id=invoice["id"]).values()
        ]
        invoices[identity.get(invoice["id"], (content["group_key"],))] = content
    items = [
        _clean(item, invoice_id=identity, invoice_line_id=line_key)
        for item in BillingPeriodItem.objects.order_by("schedule_id", "period_start").values()
    ]
    return {
        "invoices": invoices,
        "numbers": sorted(Invoice.objects.exclude(number=None).values_list("number", flat=True)),
        "items": items,
        "schedules": [_clean(s) for s in BillingSchedule.objects.order_by("id").values()],
    }


class Statements:
    """The SQL statements a block runs (COPY included: it goes through the wrappers)."""

    def __init__(self):
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)

    def count(self, prefix: str) -> int:
        return sum(1 for s in self.sql if s.startswith(prefix))


def both_paths(*, target: dt.date, post: bool, numbers_in_order=True, **more):
    """(ORM snapshot, COPY snapshot, statements of the COPY run). `more`: other
    GenerationOptions (max_lines, invoice_date, period_count, batch_run_id)."""
    planned = plan_keys(schedules_eligible(target_date=target))
    assert planned, "the world has nothing to bill"
    runs = []
    for copy_writer in (False, True):
        options = GenerationOptions(
            target_date=target,
            invoice_date=more.get("invoice_date", target),
            post=post,
            request_id="diff",
            posted_by="tester",
            copy_writer=copy_writer,
            **{k: v for k, v in more.items() if k != "invoice_date"},
        )
        savepoint = transaction.savepoint()
        statements = Statements()
        with connection.execute_wrapper(statements):
            result = generate_for_keys(planned, options=options)
        assert result.errors == [] and result.failed_keys == 0
        runs.append((snapshot(numbers_in_order=numbers_in_order), statements, result))
        transaction.savepoint_rollback(savepoint)
    (orm, _, orm_result), (copy, copy_statements, copy_result) = runs
    assert sorted(copy_result.schedule_ids) == sorted(orm_result.schedule_ids)
    assert len(copy_result.invoice_ids) == len(orm_result.invoice_ids)
    return orm, copy, copy_statements


def us_policy(world):
    return SequencePolicy.objects.create(
        name="US", legal_entity=world.seller, currency="USD", pattern="INV-{SEQ}", min_width=5
    )


def simple_world(world):
    """Plain recurring schedules only, over four accounts and every grouping type."""
    texas_rates(world)
    us_policy(world)
    SequencePolicy.objects.create(
        name="JPY", legal_entity=world.seller, currency="JPY", pattern="JP-{SEQ}", min_width=4
    )
    eom = PaymentTerm.objects.create(name="EOM+15", kind="end_of_month", days=15)
    acme = world.account
    activate(
        acme,
        [
            seats(world),  # monthly advance, Jan–Dec
            seats(
                world,
                product=world.support,
                quantity=D("3"),
                unit_price=D("1200.00"),
                pricing_term="year",
            ),  # yearly price billed monthly: 3 × 100.00
            seats(
                world,
                quantity=D("7"),
                unit_price=D("9.99"),
                start_date=d(2026, 1, 17),
                period_boundary="align_to_calendar",
            ),  # calendar months: a prorated stub Jan 17–31
            seats(
                world,
                quantity=D("2"),
                unit_price=D("45.00"),
                pricing_term="quarter",
                billing_frequency="quarterly",
                billing_type="arrears",
            ),
            seats(world, quantity=D("4"), end_date=d(2026, 2, 10)),  # ends mid-period
            seats(
                world,
                product=world.setup,
                quantity=D("1"),
                unit_price=D("250"),
                pricing_term="one_time",
                billing_frequency="one_time",
                start_date=d(2026, 1, 5),
                end_date=None,
            ),
            seats(world, quantity=D("5"), unit_price=D("0")),  # zero, a line by default
        ],
    )
    activate(acme, [seats(world, quantity=D("2"))], invoice_group_type="per_schedule")
    activate(acme, [seats(world)], invoice_group_type="custom", custom_group_key="Key-1")
    activate(
        acme,
        [seats(world, unit_price=D("1.25"))],
        invoice_group_type="custom",
        custom_group_key="key-1",
    )
    exempt = make_account("Exempt Co", seller=world.seller)
    exempt.tax_exempt = True
    exempt.save()
    activate(exempt, [seats(world, quantity=D("3")), seats(world, unit_price=D("0"))])
    no_address = make_account("Nowhere Ltd", seller=world.seller)
    BillingProfile.objects.filter(account=no_address).update(billing_address=None)
    activate(no_address, [seats(world, quantity=D("1"))], payment_term=eom)
    yen = make_account("Tokyo KK", seller=world.seller, currency="JPY")
    activate(
        yen,
        [
            seats(
                world,
                unit_price=D("1333"),
                start_date=d(2026, 1, 10),
                period_boundary="align_to_calendar",
            )
        ],
        currency="JPY",
    )
    # The second zero-priced schedule skips its zero lines (its periods are still billed).
    BillingSchedule.objects.filter(account=exempt, unit_price=0).update(zero_amount_handling="skip")


@pytest.mark.parametrize("post", [True, False])
def test_simple_world_is_written_identically(world, post):
    simple_world(world)

    general, lean, statements = both_paths(target=d(2026, 3, 31), post=post)

    assert lean == general
    # Every key took the lean path: its rows went in by COPY, none by INSERT.
    assert statements.count('COPY "invoicing_invoiceline"') >= 1
    assert statements.count('INSERT INTO "invoicing_invoiceline"') == 0
    # Non-trivial content: catch-up, split, taxes and numbers are really there.
    invoices = general["invoices"].values()
    assert sum(len(i["lines"]) for i in invoices) == 34
    assert any(t["kind"] == "compound" for i in invoices for li in i["lines"] for t in li["taxes"])
    assert any(li["description"].startswith("Prorated") for i in invoices for li in i["lines"])
    if post:
        assert general["numbers"][0] == "INV-00001" and "JP-0001" in general["numbers"]
    else:
        assert general["numbers"] == []


def test_max_lines_split_is_identical(world):
    simple_world(world)

    general, lean, _ = both_paths(target=d(2026, 6, 30), post=True, max_lines=4)

    assert lean == general
    acme_invoices = [i for i in general["invoices"].values() if "|default|" in i["group_key"]]
    assert max(len(i["lines"]) for i in acme_invoices) == 4


def test_keys_the_lean_path_cannot_take_go_to_the_general_path(world):
    simple_world(world)
    # A bundle and an amendment on Acme's default key, a debit memo due on the exempt
    # account, and a EUR account with no EUR numbering policy (stays draft, logged).
    activate(world.account, bundle(world))
    original = BillingSchedule.objects.filter(account=world.account, unit_price=D("5.00")).first()
    amend(world, original, "2", d(2026, 2, 1))
    exempt = BillingSchedule.objects.filter(account__name="Exempt Co").first().account
    debit_memo_create(
        account_id=exempt.pk,
        currency="USD",
        lines=[{"name": "Late fee", "quantity": D("1"), "unit_price": D("15.00")}],
        next_billing_date=d(2026, 1, 15),
        post=True,
    )
    euro = make_account("Berlin GmbH", seller=world.seller, currency="EUR")
    activate(euro, [seats(world)], currency="EUR")

    general, lean, statements = both_paths(target=d(2026, 3, 31), post=True, numbers_in_order=False)

    assert lean == general
    assert statements.count('COPY "invoicing_invoiceline"') >= 1  # simple keys: lean
    assert statements.count('INSERT INTO "invoicing_invoiceline"') >= 1  # the rest: general
    drafts = [i for i in general["invoices"].values() if i["status"] == "draft"]
    assert [i["currency"] for i in drafts] == ["EUR"]
    assert any(li["name"] == "Late fee" for i in general["invoices"].values() for li in i["lines"])


def second_seller_world(world):
    """A second seller (EUR and GBP policies) beside the first (USD): three currencies, three
    policies, two sellers in one chunk."""
    gmbh = LegalEntity.objects.create(name="Ledgerline GmbH", tax_id="DE123456789")
    SequencePolicy.objects.create(
        name="DE EUR", legal_entity=gmbh, currency="EUR", pattern="DE-{SEQ}", min_width=3
    )
    SequencePolicy.objects.create(
        name="DE GBP", legal_entity=gmbh, currency="GBP", pattern="GB-{SEQ}", min_width=3
    )
    berlin = make_account("Berlin GmbH", seller=gmbh, currency="EUR")
    activate(
        berlin, [seats(world), seats(world, quantity=D("2"), unit_price=D("7.50"))], currency="EUR"
    )
    london = make_account("London Ltd", seller=gmbh, currency="GBP")
    activate(london, [seats(world, quantity=D("3"))], currency="GBP")


@pytest.mark.parametrize(
    "post, more",
    [
        (True, {"invoice_date": d(2026, 4, 5)}),
        (False, {"invoice_date": d(2026, 3, 15), "period_count": 1}),
        (True, {"period_count": 2}),
        (True, {"batch_run": True}),
        (False, {"batch_run": True, "max_lines": 3}),
    ],
    ids=["invoice-date", "draft-one-period", "two-periods", "batch-run", "draft-batch-split"],
)
def test_options_are_written_identically(world, post, more):
    simple_world(world)
    second_seller_world(world)
    more = dict(more)
    if more.pop("batch_run", False):
        more["batch_run_id"] = InvoiceBatchRunFactory(target_date=d(2026, 3, 31)).pk

    orm, copy, statements = both_paths(target=d(2026, 3, 31), post=post, **more)

    assert copy == orm
    assert statements.count('INSERT INTO "invoicing_invoiceline"') == 0
    invoices = list(orm["invoices"].values())
    assert {i["currency"] for i in invoices} == {"USD", "JPY", "EUR", "GBP"}
    assert {i["invoice_date"] for i in invoices} == {more.get("invoice_date", d(2026, 3, 31))}
    if "batch_run_id" in more:
        assert {i["batch_run_id"] for i in invoices} == {more["batch_run_id"]}
        assert {p["batch_run_id"] for p in orm["items"]} == {more["batch_run_id"]}
    if "period_count" in more:
        per_schedule = Counter(p["schedule_id"] for p in orm["items"])
        assert max(per_schedule.values()) == more["period_count"]
    if post:
        assert {n.split("-")[0] for n in orm["numbers"]} == {"INV", "JP", "DE", "GB"}
        assert "DE-001" in orm["numbers"] and "GB-001" in orm["numbers"]
    else:
        assert orm["numbers"] == []


# Bugs injected into the COPY writer's rows, one table at a time: the comparison must see
# each of them. (table, column, how the value is changed)
_BUGS = [
    ("invoicing_invoice", "due_date", lambda v: v + dt.timedelta(days=1)),
    ("invoicing_invoiceline", "sort_order", lambda v: v + 1),
    ("invoicing_invoicelinetax", "amount", lambda v: v + D("0.01")),
    ("invoicing_invoiceaddress", "city", lambda v: v + "x"),
    ("invoicing_billingperioditem", "proration", lambda v: v / 2),
]


@pytest.mark.parametrize("table, column, change", _BUGS, ids=[f"{t}.{c}" for t, c, _ in _BUGS])
def test_the_comparison_catches_a_bug_in_any_table(world, monkeypatch, table, column, change):
    simple_world(world)
    original = generation_write.copy_insert

    def buggy_copy_insert(model, fields, rows):
        if model._meta.db_table != table:
            return original(model, fields, rows)
        index = list(fields).index(column)
        return original(
            model,
            fields,
            (row[:index] + (change(row[index]),) + row[index + 1 :] for row in rows),
        )

    monkeypatch.setattr(generation_write, "copy_insert", buggy_copy_insert)

    orm, copy, _ = both_paths(target=d(2026, 3, 31), post=True)

    assert copy != orm
