"""The lean generation path (docs/adr/0004-lean-generation-path.md) against the general one.

Each world is generated twice from the same plan inside one test transaction: once with
every key on the general path (copy_writer=False), rolled back to a savepoint, then with the lean
path on. Every row written (invoices with numbers, totals and dates; lines; tax rows;
address snapshots; period items) and every schedule's billing state must be identical,
ids aside. The worlds cover what the lean path takes: cadences, proration, catch-up,
arrears, one-time charges, zero amounts, every grouping type, the max-lines split, two tax
rates with a compound one, an exempt account, an account without a billing address, JPY;
and keys it must hand to the general path (bundles, amendments, debit memos, a currency
without a numbering policy).
"""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection, transaction

from accounts.models import BillingProfile, PaymentTerm
from billing.models import BillingSchedule
from invoicing.models import (
    BillingPeriodItem,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    SequencePolicy,
)
from invoicing.services.generation import generate_for_keys, plan_keys, schedules_eligible
from invoicing.services.generation_plan import GenerationOptions
from invoicing.services.memos import debit_memo_create
from tests.conftest import make_account, seats
from tests.invoicing.test_generation import activate, amend, bundle, texas_rates

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


def both_paths(*, target: dt.date, post: bool, max_lines: int = 0, numbers_in_order=True):
    """(general snapshot, lean snapshot, statements of the lean run)."""
    planned = plan_keys(schedules_eligible(target_date=target))
    assert planned, "the world has nothing to bill"
    runs = []
    for lean in (False, True):
        options = GenerationOptions(
            target_date=target,
            invoice_date=target,
            post=post,
            request_id="diff",
            posted_by="tester",
            max_lines=max_lines,
            copy_writer=lean,
        )
        savepoint = transaction.savepoint()
        statements = Statements()
        with connection.execute_wrapper(statements):
            result = generate_for_keys(planned, options=options)
        assert result.errors == [] and result.failed_keys == 0
        runs.append((snapshot(numbers_in_order=numbers_in_order), statements, result))
        transaction.savepoint_rollback(savepoint)
    (general, _, general_result), (lean_snap, lean_statements, lean_result) = runs
    assert sorted(lean_result.schedule_ids) == sorted(general_result.schedule_ids)
    assert len(lean_result.invoice_ids) == len(general_result.invoice_ids)
    return general, lean_snap, lean_statements


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
