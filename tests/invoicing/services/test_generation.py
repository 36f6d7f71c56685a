"""Invoice generation (DESIGN.md §3): consolidation keys, period cutting, line merging, bundles,
usage, tax, currencies, suspension, zero amounts, idempotency and failure isolation.

Every expected figure is computed by hand in the comments.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts.models import Contact, LegalEntity, PaymentTerm, SavedPaymentMethod
from billing.models import (
    BillingSchedule,
    BillingTreatment,
    Product,
    UsageSummary,
)
from core.exceptions import NotFound, ValidationError
from invoicing.exceptions import TaxEngineError
from invoicing.models import (
    BillingPeriodItem,
    ErrorLog,
    Invoice,
    InvoiceLine,
    InvoiceLineTax,
    SequencePolicy,
    TaxRate,
)
from invoicing.services.generation import GenerationResult, invoices_generate
from invoicing.services.posting import invoice_post
from invoicing.services.preview import invoices_preview
from invoicing.tax import BuiltinTaxEngine, TaxEngine
from tests.conftest import make_account, seats
from tests.support.generation import activate, amend, bundle, schedule_of, texas_rates

pytestmark = pytest.mark.django_db

d = dt.date
ZERO = D("0")


# --------------------------------------------------------------------------------------------
# Helpers


def support(world, **kw) -> dict:
    """1 × Premium support at 20.00 a month, billed monthly in advance."""
    kw = {"quantity": D("1"), "unit_price": D("20.00"), **kw}
    return seats(world, product=world.support, **kw)


def generate(**kw) -> GenerationResult:
    return invoices_generate(**kw)


def rows(invoice) -> list[tuple]:
    """(name, period start, period end, quantity, unit price, amount, tax) per line."""
    return [
        (
            line.name,
            line.period_start,
            line.period_end,
            line.quantity,
            line.unit_price,
            line.amount,
            line.tax_amount,
        )
        for line in invoice.lines.order_by("sort_order")
    ]


def totals(invoice) -> tuple:
    """(charges, tax, total, balance)."""
    invoice.refresh_from_db()
    return (invoice.total_charges, invoice.total_tax, invoice.total, invoice.balance)


def only_invoice(result: GenerationResult) -> Invoice:
    assert result.errors == [] and result.failed_keys == 0
    (invoice,) = result.invoices
    return invoice


def items_of(schedule) -> list[tuple]:
    return list(
        BillingPeriodItem.objects.filter(schedule=schedule)
        .order_by("period_start")
        .values_list("period_start", "period_end", "quantity", "amount", "invoice_status")
    )


def billing_state(schedule) -> tuple:
    schedule.refresh_from_db()
    return (
        schedule.status,
        schedule.next_charge_from_date,
        schedule.next_billing_date,
        schedule.billed_amount,
        schedule.pending_amount,
    )


def us_policy(world, **fields) -> SequencePolicy:
    fields.setdefault("name", "US invoices")
    fields.setdefault("legal_entity", world.seller)
    fields.setdefault("currency", "USD")
    return SequencePolicy.objects.create(
        pattern="INV-{DATE}-{SEQ}", date_format="YYYY", min_width=6, **fields
    )


# --------------------------------------------------------------------------------------------
# 1. Consolidation


def test_default_grouping_puts_two_orders_of_an_account_on_one_invoice(world):
    seat_order = activate(world.account, [seats(world)])
    support_order = activate(world.account, [support(world)])

    result = generate(account_id=world.account.pk, target_date=d(2026, 1, 1))

    invoice = only_invoice(result)
    # Lines in schedule order: Seat 10 × 5.00 = 50.00; Support 1 × 20.00 = 20.00.
    assert rows(invoice) == [
        ("Seat", d(2026, 1, 1), d(2026, 1, 31), D("10"), D("5.00"), D("50.00"), ZERO),
        ("Premium support", d(2026, 1, 1), d(2026, 1, 31), D("1"), D("20.00"), D("20.00"), ZERO),
    ]
    assert totals(invoice) == (D("70.00"), ZERO, D("70.00"), D("70.00"))
    assert (invoice.status, invoice.number, invoice.currency) == ("draft", None, "USD")
    assert (invoice.invoice_date, invoice.due_date) == (d(2026, 1, 1), d(2026, 1, 31))
    assert invoice.account_id == world.account.pk
    assert invoice.legal_entity_id == world.seller.pk
    assert invoice.reference_order_id is None  # two orders on one invoice
    assert invoice.request_id == result.request_id
    assert sorted(result.schedule_ids) == sorted(
        [schedule_of(seat_order).pk, schedule_of(support_order).pk]
    )
    billing = invoice.addresses.get(kind="billing")
    assert (billing.name, billing.city, billing.region, billing.country) == (
        "Acme Corp",
        "Austin",
        "TX",
        "US",
    )


def test_per_schedule_grouping_gives_each_schedule_its_own_invoice(world):
    order = activate(
        world.account, [seats(world), support(world)], invoice_group_type="per_schedule"
    )
    seat_schedule, support_schedule = BillingSchedule.objects.filter(order=order).order_by("id")

    result = generate(account_id=world.account.pk, target_date=d(2026, 1, 1))

    assert result.errors == []
    first, second = result.invoices
    assert rows(first) == [
        ("Seat", d(2026, 1, 1), d(2026, 1, 31), D("10"), D("5.00"), D("50.00"), ZERO)
    ]
    assert rows(second) == [
        ("Premium support", d(2026, 1, 1), d(2026, 1, 31), D("1"), D("20.00"), D("20.00"), ZERO)
    ]
    assert [first.lines.get().billing_schedule_id, second.lines.get().billing_schedule_id] == [
        seat_schedule.pk,
        support_schedule.pk,
    ]
    assert first.reference_order_id == second.reference_order_id == order.pk
    assert [totals(i)[2] for i in (first, second)] == [D("50.00"), D("20.00")]


def test_custom_key_is_case_insensitive(world):
    activate(world.account, [seats(world)], invoice_group_type="custom", custom_group_key="ABC")
    activate(world.account, [support(world)], invoice_group_type="custom", custom_group_key="abc")
    activate(world.account, [seats(world, quantity=D("1"))])  # default: not the custom invoice

    result = generate(account_id=world.account.pk, target_date=d(2026, 1, 1))

    custom, default = result.invoices
    # "ABC" and "abc" are one key: 50.00 + 20.00.
    assert [r[0] for r in rows(custom)] == ["Seat", "Premium support"]
    assert totals(custom)[2] == D("70.00")
    assert custom.group_key.endswith("|custom|abc")
    assert rows(default) == [
        ("Seat", d(2026, 1, 1), d(2026, 1, 31), D("1"), D("5.00"), D("5.00"), ZERO)
    ]
    assert default.group_key.endswith("|default|")


def test_worked_example_five_schedules_make_three_invoices(world):
    # 1 Default, 2 Per-schedule, 3 Custom "00000101", 4 Default, 5 Custom "00000101".
    s1 = schedule_of(activate(world.account, [seats(world)]))  # 10 × 5.00 = 50.00
    s2 = schedule_of(
        activate(world.account, [support(world)], invoice_group_type="per_schedule")
    )  # 20.00
    s3 = schedule_of(
        activate(
            world.account,
            [seats(world, quantity=D("2"))],
            invoice_group_type="custom",
            custom_group_key="00000101",
        )
    )  # 2 × 5.00 = 10.00
    s4 = schedule_of(activate(world.account, [support(world, unit_price=D("30.00"))]))  # 30.00
    s5 = schedule_of(
        activate(
            world.account,
            [support(world, unit_price=D("40.00"))],
            invoice_group_type="custom",
            custom_group_key="00000101",
        )
    )  # 40.00

    result = generate(account_id=world.account.pk, target_date=d(2026, 1, 1))

    assert result.errors == [] and len(result.invoice_ids) == 3
    default, per_schedule, custom = result.invoices  # keys in order of their first schedule

    def schedules_on(invoice):
        return [line.billing_schedule_id for line in invoice.lines.order_by("sort_order")]

    assert schedules_on(default) == [s1.pk, s4.pk]
    assert schedules_on(per_schedule) == [s2.pk]
    assert schedules_on(custom) == [s3.pk, s5.pk]
    jan = (d(2026, 1, 1), d(2026, 1, 31))
    assert rows(default) == [
        ("Seat", *jan, D("10"), D("5.00"), D("50.00"), ZERO),
        ("Premium support", *jan, D("1"), D("30.00"), D("30.00"), ZERO),
    ]
    assert rows(per_schedule) == [("Premium support", *jan, D("1"), D("20.00"), D("20.00"), ZERO)]
    assert rows(custom) == [
        ("Seat", *jan, D("2"), D("5.00"), D("10.00"), ZERO),
        ("Premium support", *jan, D("1"), D("40.00"), D("40.00"), ZERO),
    ]
    assert [totals(i)[2] for i in (default, per_schedule, custom)] == [
        D("80.00"),
        D("20.00"),
        D("50.00"),
    ]
    assert default.reference_order_id is None and custom.reference_order_id is None
    assert per_schedule.reference_order_id == s2.order_id


def test_different_billing_terms_give_separate_invoices(world):
    account = world.account
    other_contact = Contact.objects.create(account=account, name="Ops", email="ops@example.com")
    net15 = PaymentTerm.objects.create(name="Net 15", kind="net", days=15)
    europe = LegalEntity.objects.create(name="Ledgerline Europe BV")
    other_card = SavedPaymentMethod.objects.create(
        account=account, processor_token="pm_test_2", label="Mastercard •••• 4444"
    )
    one = {"quantity": D("1"), "unit_price": D("10.00")}
    base = schedule_of(activate(account, [seats(world, **one)]))
    by_bill_to = schedule_of(activate(account, [seats(world, **one)], bill_to=other_contact))
    by_term = schedule_of(activate(account, [seats(world, **one)], payment_term=net15))
    by_currency = schedule_of(activate(account, [seats(world, **one)], currency="EUR"))
    by_entity = schedule_of(activate(account, [seats(world, **one)], legal_entity=europe))
    by_card = schedule_of(activate(account, [seats(world, **one)], saved_payment_method=other_card))
    # A second schedule with the base terms joins the base invoice.
    same_as_base = schedule_of(activate(account, [seats(world, **one)]))

    result = generate(account_id=account.pk, target_date=d(2026, 1, 1))

    assert result.errors == []
    invoices = list(result.invoices)
    assert len(invoices) == 6
    by_schedule = {
        line.billing_schedule_id: line.invoice
        for line in InvoiceLine.objects.filter(invoice__in=invoices).select_related("invoice")
    }
    assert by_schedule[base.pk] == by_schedule[same_as_base.pk]
    assert len({by_schedule[s.pk].pk for s in (base, by_bill_to, by_term, by_currency)}) == 4
    assert len({by_schedule[s.pk].pk for s in (base, by_entity, by_card)}) == 3
    default_profile = account.default_profile
    base_invoice = by_schedule[base.pk]
    assert totals(base_invoice)[0] == D("20.00")  # 10.00 + 10.00
    assert base_invoice.bill_to_id == default_profile.bill_to_id
    assert by_schedule[by_bill_to.pk].bill_to_id == other_contact.pk
    # Net 15 from Jan 1 → Jan 16; the others Net 30 → Jan 31.
    assert by_schedule[by_term.pk].payment_term_id == net15.pk
    assert by_schedule[by_term.pk].due_date == d(2026, 1, 16)
    assert base_invoice.due_date == d(2026, 1, 31)
    assert by_schedule[by_currency.pk].currency == "EUR"
    assert totals(by_schedule[by_currency.pk])[2] == D("10.00")
    assert by_schedule[by_entity.pk].legal_entity_id == europe.pk
    assert by_schedule[by_card.pk].saved_payment_method_id == other_card.pk
    assert base_invoice.saved_payment_method_id == default_profile.saved_payment_method_id


def test_max_lines_splits_a_key(world, settings):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "MAX_INVOICE_LINES": 3}
    # Seven items of 1..7 seats: 5.00, 10.00, …, 35.00.
    order = activate(world.account, [seats(world, quantity=D(n)) for n in range(1, 8)])
    schedule_ids = list(
        BillingSchedule.objects.filter(order=order).order_by("id").values_list("id", flat=True)
    )

    result = generate(account_id=world.account.pk, target_date=d(2026, 1, 1))

    assert result.errors == []
    invoices = list(result.invoices)
    assert [inv.lines.count() for inv in invoices] == [3, 3, 1]
    assert [
        [line.billing_schedule_id for line in inv.lines.order_by("sort_order")] for inv in invoices
    ] == [schedule_ids[0:3], schedule_ids[3:6], schedule_ids[6:]]
    assert [list(inv.lines.values_list("sort_order", flat=True)) for inv in invoices] == [
        [1, 2, 3],
        [1, 2, 3],
        [1],
    ]
    # 5 + 10 + 15 = 30.00; 20 + 25 + 30 = 75.00; 35.00.
    assert [totals(inv)[2] for inv in invoices] == [D("30.00"), D("75.00"), D("35.00")]
    assert len({inv.group_key for inv in invoices}) == 1
    assert BillingPeriodItem.objects.filter(invoice__in=invoices).count() == 7


def test_max_lines_never_splits_a_bundle_family(world, settings):
    settings.LEDGERLINE = {**settings.LEDGERLINE, "MAX_INVOICE_LINES": 3}
    activate(world.account, [seats(world)])  # one line
    activate(world.account, bundle(world))  # a family of three lines

    result = generate(account_id=world.account.pk, target_date=d(2026, 1, 1))

    # 1 + 3 > 3: the family moves whole to a second invoice.
    seat_invoice, bundle_invoice = result.invoices
    assert [r[0] for r in rows(seat_invoice)] == ["Seat"]
    assert [t[1] for t in tree(bundle_invoice)] == ["Suite bundle", "Seat", "Premium support"]
    assert tree(bundle_invoice)[0][-1] == D("160.00")


def test_request_scope_order_wins_over_account_and_lists_explain_skips(world):
    first = activate(world.account, [seats(world)])
    activate(world.account, [support(world)])
    one_time = schedule_of(
        activate(
            world.account,
            [
                seats(
                    world,
                    product=world.setup,
                    quantity=D("1"),
                    unit_price=D("250"),
                    pricing_term="one_time",
                    billing_frequency="one_time",
                    end_date=None,
                )
            ],
        )
    )

    by_order = generate(order_id=first.pk, account_id=world.account.pk, target_date=d(2026, 1, 1))
    assert [r[0] for r in rows(only_invoice(by_order))] == ["Seat"]

    generate(billing_schedule_ids=[one_time.pk], target_date=d(2026, 1, 1))
    seat = schedule_of(first)
    result = generate(billing_schedule_ids=[seat.pk, one_time.pk], target_date=d(2026, 1, 15))
    # The seat's next bill is Feb 1; the setup is completely billed. (An unknown id refuses
    # the whole request: test_unknown_references_are_refused_and_nothing_is_written.)
    assert result.invoice_ids == []
    assert [(e.schedule_id, e.code) for e in result.errors] == [
        (seat.pk, "nothing_to_bill"),
        (one_time.pk, "schedule_not_ready"),
    ]
    assert "next billing date 2026-02-01" in result.errors[0].message


def test_unknown_references_are_refused_and_nothing_is_written(world):
    seat = schedule_of(activate(world.account, [seats(world)]))
    cases = [
        ({"account_id": 999999}, {"account": ["Account 999999 does not exist."]}),
        ({"order_id": 999999}, {"order": ["Order 999999 does not exist."]}),
        (
            {"billing_schedule_ids": [seat.pk, 999999]},
            {"billing_schedule_ids": ["Billing schedule 999999 does not exist."]},
        ),
        (
            {"billing_schedule_ids": [999999, seat.pk, 999998]},
            {"billing_schedule_ids": ["Billing schedules 999998, 999999 do not exist."]},
        ),
        # The order would win, but an unknown account sent with it is refused all the same.
        (
            {"order_id": seat.order_id, "account_id": 999999},
            {"account": ["Account 999999 does not exist."]},
        ),
    ]
    for scope, details in cases:
        with pytest.raises(NotFound) as exc:
            generate(target_date=d(2026, 1, 1), action="posted", **scope)
        assert (exc.value.code, exc.value.details) == ("not_found", details)
        assert exc.value.message == next(iter(details.values()))[0]
    assert (Invoice.objects.count(), BillingPeriodItem.objects.count()) == (0, 0)
    seat.refresh_from_db()
    assert seat.next_billing_date == d(2026, 1, 1)

    # Two unknown references: both named, in one error.
    with pytest.raises(NotFound) as exc:
        generate(target_date=d(2026, 1, 1), order_id=999999, account_id=999998)
    assert exc.value.details == {
        "order": ["Order 999999 does not exist."],
        "account": ["Account 999998 does not exist."],
    }


def test_preview_refuses_unknown_references(world):
    with pytest.raises(NotFound) as exc:
        invoices_preview(order_id=999999)
    assert exc.value.details == {"order": ["Order 999999 does not exist."]}
    with pytest.raises(NotFound) as exc:
        invoices_preview(account_id=999999)
    assert exc.value.details == {"account": ["Account 999999 does not exist."]}


def test_request_needs_a_scope_and_a_known_action(world):
    with pytest.raises(ValidationError) as exc:
        generate(target_date=d(2026, 1, 1))
    assert list(exc.value.details) == ["non_field_errors"]
    with pytest.raises(ValidationError) as exc:
        generate(account_id=world.account.pk, target_date=d(2026, 1, 1), action="final")
    assert list(exc.value.details) == ["action"]


# --------------------------------------------------------------------------------------------
# 2. Advance and arrears, catching up, invoice and due dates


def test_arrears_quarter_is_billed_on_its_last_day(world):
    s = schedule_of(
        activate(
            world.account,
            [
                support(
                    world,
                    unit_price=D("300.00"),
                    pricing_term="quarter",
                    billing_frequency="quarterly",
                    billing_type="arrears",
                )
            ],
        )
    )
    assert s.next_billing_date == d(2026, 3, 31)

    early = generate(account_id=world.account.pk, target_date=d(2026, 3, 30))
    assert (early.invoice_ids, early.errors) == ([], [])
    assert not BillingPeriodItem.objects.exists()

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 3, 31)))
    assert rows(invoice) == [
        ("Premium support", d(2026, 1, 1), d(2026, 3, 31), D("1"), D("300.00"), D("300.00"), ZERO)
    ]
    assert (invoice.invoice_date, invoice.due_date) == (d(2026, 3, 31), d(2026, 4, 30))
    # Total 4 × 300 = 1200; next quarter Apr 1 – Jun 30 is billed on Jun 30.
    assert billing_state(s) == (
        "ready_for_invoicing",
        d(2026, 4, 1),
        d(2026, 6, 30),
        D("300.00"),
        D("900.00"),
    )


def test_advance_period_is_billed_on_its_first_day(world):
    s = schedule_of(
        activate(world.account, [seats(world, start_date=d(2026, 1, 15), end_date=None)])
    )
    assert generate(account_id=world.account.pk, target_date=d(2026, 1, 14)).invoice_ids == []

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 15)))
    assert rows(invoice) == [
        ("Seat", d(2026, 1, 15), d(2026, 2, 14), D("10"), D("5.00"), D("50.00"), ZERO)
    ]
    # Evergreen: no total, nothing pending.
    assert billing_state(s) == (
        "ready_for_invoicing",
        d(2026, 2, 15),
        d(2026, 2, 15),
        D("50"),
        None,
    )


def test_catch_up_bills_every_due_period(world):
    s = schedule_of(activate(world.account, [seats(world)]))
    generate(account_id=world.account.pk, target_date=d(2026, 1, 1))  # January

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 4, 1)))

    # Three months later: February, March and April, 50.00 each.
    assert rows(invoice) == [
        ("Seat", d(2026, 2, 1), d(2026, 2, 28), D("10"), D("5.00"), D("50.00"), ZERO),
        ("Seat", d(2026, 3, 1), d(2026, 3, 31), D("10"), D("5.00"), D("50.00"), ZERO),
        ("Seat", d(2026, 4, 1), d(2026, 4, 30), D("10"), D("5.00"), D("50.00"), ZERO),
    ]
    assert totals(invoice) == (D("150.00"), ZERO, D("150.00"), D("150.00"))
    # The invoice date defaults to the target date; Net 30 → May 1.
    assert (invoice.invoice_date, invoice.target_date, invoice.due_date) == (
        d(2026, 4, 1),
        d(2026, 4, 1),
        d(2026, 5, 1),
    )
    # Billed 4 × 50 = 200 of 600.
    assert billing_state(s) == (
        "ready_for_invoicing",
        d(2026, 5, 1),
        d(2026, 5, 1),
        D("200.00"),
        D("400.00"),
    )
    assert [i[0] for i in items_of(s)] == [d(2026, m, 1) for m in (1, 2, 3, 4)]


def test_due_dates_follow_the_payment_term(world):
    eom15 = PaymentTerm.objects.create(name="EOM + 15", kind="end_of_month", days=15)
    activate(world.account, [seats(world, start_date=d(2026, 2, 1))])  # Net 30 (default)
    activate(world.account, [seats(world, start_date=d(2026, 2, 10))], payment_term=eom15)

    result = generate(account_id=world.account.pk, target_date=d(2026, 2, 10))

    net, eom = result.invoices
    # Net 30 from Feb 10 → Mar 12; end of February (28th, 2026) + 15 → Mar 15.
    assert (net.invoice_date, net.due_date) == (d(2026, 2, 10), d(2026, 3, 12))
    assert (eom.invoice_date, eom.due_date) == (d(2026, 2, 10), d(2026, 3, 15))
    assert rows(eom) == [
        ("Seat", d(2026, 2, 10), d(2026, 3, 9), D("10"), D("5.00"), D("50.00"), ZERO)
    ]

    # An explicit invoice date: only the Net 30 schedule is due Mar 1; Mar 3 + 30 → Apr 2.
    later = only_invoice(
        generate(account_id=world.account.pk, target_date=d(2026, 3, 1), invoice_date=d(2026, 3, 3))
    )
    assert (later.invoice_date, later.target_date, later.due_date) == (
        d(2026, 3, 3),
        d(2026, 3, 1),
        d(2026, 4, 2),
    )
    assert later.payment_term_id == world.net30.pk


def test_yearly_price_billed_monthly(world):
    activate(
        world.account, [seats(world, quantity=D("2"), unit_price=D("1200"), pricing_term="year")]
    )

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 1)))

    # The line's unit price is one unit for one month: 1200 / 12 = 100; 2 × 100 = 200.00.
    assert rows(invoice) == [
        ("Seat", d(2026, 1, 1), d(2026, 1, 31), D("2"), D("100"), D("200.00"), ZERO)
    ]


def test_one_time_charge_is_billed_once(world):
    s = schedule_of(
        activate(
            world.account,
            [
                seats(
                    world,
                    product=world.setup,
                    quantity=D("1"),
                    unit_price=D("250"),
                    pricing_term="one_time",
                    billing_frequency="one_time",
                    start_date=d(2026, 1, 5),
                    end_date=None,
                )
            ],
        )
    )

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 3, 1)))

    assert rows(invoice) == [
        ("Setup", d(2026, 1, 5), d(2026, 1, 5), D("1"), D("250"), D("250.00"), ZERO)
    ]
    assert billing_state(s) == ("completely_billed", d(2026, 1, 6), None, D("250"), ZERO)
    assert generate(account_id=world.account.pk, target_date=d(2026, 12, 1)).invoice_ids == []


def test_day_of_period_stub_then_full_periods(world):
    profile = world.account.default_profile
    profile.bill_day_of_month = 15
    profile.save()
    original = schedule_of(
        activate(
            world.account,
            [seats(world, quantity=D("1"), unit_price=D("31"), period_boundary="day_of_period")],
        )
    )
    amend(world, original, "1", d(2026, 1, 20), unit_price=D("31"))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 20)))

    # Periods start on the 15th. Stub Jan 1–14 of Dec 15 – Jan 14 (31 days): 14/31 × 31 =
    # 14.00; Jan 15 – Feb 14: 31.00; the +1 from Jan 20: 26/31 × 31 = 26.00.
    assert rows(invoice) == [
        ("Seat", d(2026, 1, 1), d(2026, 1, 14), D("1"), D("31"), D("14.00"), ZERO),
        ("Seat", d(2026, 1, 15), d(2026, 2, 14), D("1"), D("31"), D("31.00"), ZERO),
        ("Seat", d(2026, 1, 20), d(2026, 2, 14), D("1"), D("31"), D("26.00"), ZERO),
    ]


# --------------------------------------------------------------------------------------------
# 3. Amendments


def cancel(world, original: BillingSchedule, quantity: str, effective: dt.date) -> list:
    """Cancel `original`'s asset from `effective`; returns the credit schedules created."""
    order = activate(
        world.account,
        [
            seats(
                world,
                action="cancel",
                amends_item=original.order_item,
                quantity=D(quantity),
                effective_date=effective,
                start_date=effective,
            )
        ],
    )
    return list(BillingSchedule.objects.filter(order=order).order_by("id"))


def test_mid_period_increase_is_a_separate_prorated_line(world):
    original = schedule_of(activate(world.account, [seats(world)]))
    generate(account_id=world.account.pk, target_date=d(2026, 2, 1))  # January, February
    increase = amend(world, original, "5", d(2026, 3, 16))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 3, 31)))

    # March: the original's 10 × 5.00 = 50.00, and the +5 from Mar 16 prorated over the
    # original's March: 5 × 5.00 × 16/31 = 12.903… → 12.90, on a line of its own (other period).
    assert rows(invoice) == [
        ("Seat", d(2026, 3, 1), d(2026, 3, 31), D("10"), D("5.00"), D("50.00"), ZERO),
        ("Seat", d(2026, 3, 16), d(2026, 3, 31), D("5"), D("5.00"), D("12.90"), ZERO),
    ]
    lines = list(invoice.lines.order_by("sort_order"))
    assert [line.billing_schedule_id for line in lines] == [original.pk, increase.pk]
    assert [line.has_multiple_items for line in lines] == [False, False]
    assert [line.description for line in lines] == ["", "Prorated 16 days"]
    assert totals(invoice)[2] == D("62.90")

    # April: both schedules bill the same full period at the same price → one merged line.
    april = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 4, 1)))
    assert rows(april) == [
        ("Seat", d(2026, 4, 1), d(2026, 4, 30), D("15"), D("5.00"), D("75.00"), ZERO)
    ]
    assert april.lines.get().has_multiple_items is True
    # The amendment's total: 12.90 + 9 × 25.00 = 237.90; billed 12.90 + 25.00 = 37.90.
    assert billing_state(increase) == (
        "ready_for_invoicing",
        d(2026, 5, 1),
        d(2026, 5, 1),
        D("37.90"),
        D("200.00"),
    )


def test_increase_from_a_period_start_merges_into_one_line(world):
    original = schedule_of(activate(world.account, [seats(world)]))
    generate(account_id=world.account.pk, target_date=d(2026, 3, 1))  # January – March
    increase = amend(world, original, "5", d(2026, 4, 1))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 4, 1)))

    # 10 + 5 = 15 seats × 5.00 = 75.00 (50.00 + 25.00) on one line.
    assert rows(invoice) == [
        ("Seat", d(2026, 4, 1), d(2026, 4, 30), D("15"), D("5.00"), D("75.00"), ZERO)
    ]
    line = invoice.lines.get()
    assert line.has_multiple_items is True
    assert line.billing_schedule_id == original.pk
    assert sorted(
        line.period_items.values_list("schedule_id", "quantity", "amount").order_by("schedule_id")
    ) == [(original.pk, D("10"), D("50.00")), (increase.pk, D("5"), D("25.00"))]
    assert totals(invoice) == (D("75.00"), ZERO, D("75.00"), D("75.00"))


def test_decrease_is_a_separate_negative_line(world):
    original = schedule_of(activate(world.account, [seats(world)]))
    generate(account_id=world.account.pk, target_date=d(2026, 4, 1))  # January – April
    decrease = amend(world, original, "-3", d(2026, 5, 1))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 5, 1)))

    # May: 10 × 5.00 = 50.00 and -3 × 5.00 = -15.00, not merged.
    assert rows(invoice) == [
        ("Seat", d(2026, 5, 1), d(2026, 5, 31), D("10"), D("5.00"), D("50.00"), ZERO),
        ("Seat", d(2026, 5, 1), d(2026, 5, 31), D("-3"), D("5.00"), D("-15.00"), ZERO),
    ]
    lines = list(invoice.lines.order_by("sort_order"))
    assert [line.billing_schedule_id for line in lines] == [original.pk, decrease.pk]
    assert [line.has_multiple_items for line in lines] == [False, False]
    assert lines[1].description == "Quantity decrease."
    assert totals(invoice) == (D("35.00"), ZERO, D("35.00"), D("35.00"))
    # The decrease totals 8 × -15.00 = -120.00 (May – Dec); -15.00 billed.
    assert billing_state(decrease) == (
        "ready_for_invoicing",
        d(2026, 6, 1),
        d(2026, 6, 1),
        D("-15.00"),
        D("-105.00"),
    )


def test_mid_quarter_increase_then_merged_quarter(world):
    original = schedule_of(activate(world.account, [seats(world, billing_frequency="quarterly")]))
    generate(account_id=world.account.pk, target_date=d(2026, 1, 1))  # Q1: 150.00
    amend(world, original, "5", d(2026, 2, 15))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 4, 1)))

    # Unit price per quarter 3 × 5.00 = 15.00. The +5 from Feb 15: Feb 15–28 (14) + March (31)
    # = 45 of Q1's 90 days × 75.00 = 37.50. Q2: 15 × 15.00 = 225.00, one merged line.
    assert rows(invoice) == [
        ("Seat", d(2026, 2, 15), d(2026, 3, 31), D("5"), D("15.00"), D("37.50"), ZERO),
        ("Seat", d(2026, 4, 1), d(2026, 6, 30), D("15"), D("15.00"), D("225.00"), ZERO),
    ]
    assert [line.has_multiple_items for line in invoice.lines.order_by("sort_order")] == [
        False,
        True,
    ]


def test_arrears_increase(world):
    original = schedule_of(activate(world.account, [seats(world, billing_type="arrears")]))
    amend(world, original, "5", d(2026, 1, 16))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 2, 28)))

    # January (billed Jan 31): 50.00 and the +5 from Jan 16, 16/31 × 25.00 = 12.90;
    # February (billed Feb 28): 15 × 5.00 = 75.00 merged.
    assert rows(invoice) == [
        ("Seat", d(2026, 1, 1), d(2026, 1, 31), D("10"), D("5.00"), D("50.00"), ZERO),
        ("Seat", d(2026, 1, 16), d(2026, 1, 31), D("5"), D("5.00"), D("12.90"), ZERO),
        ("Seat", d(2026, 2, 1), d(2026, 2, 28), D("15"), D("5.00"), D("75.00"), ZERO),
    ]


def test_calendar_aligned_stub_with_an_increase(world):
    original = schedule_of(
        activate(
            world.account,
            [seats(world, start_date=d(2026, 1, 10), period_boundary="align_to_calendar")],
        )
    )
    amend(world, original, "5", d(2026, 1, 20))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 2, 1)))

    # Jan 10–31: 22/31 × 50.00 = 35.48; Jan 20–31: 12/31 × 25.00 = 9.677 → 9.68;
    # February merged: 75.00.
    assert rows(invoice) == [
        ("Seat", d(2026, 1, 10), d(2026, 1, 31), D("10"), D("5.00"), D("35.48"), ZERO),
        ("Seat", d(2026, 1, 20), d(2026, 1, 31), D("5"), D("5.00"), D("9.68"), ZERO),
        ("Seat", d(2026, 2, 1), d(2026, 2, 28), D("15"), D("5.00"), D("75.00"), ZERO),
    ]
    assert totals(invoice)[2] == D("120.16")


def test_bundle_child_increase_merges_under_the_parent_line(world):
    order = activate(world.account, bundle(world))
    _parent, included, _extra = BillingSchedule.objects.filter(order=order).order_by("id")
    generate(account_id=world.account.pk, target_date=d(2026, 1, 1))
    amend(world, included, "5", d(2026, 2, 1), unit_price=D("0"))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 2, 1)))

    # February: the suite and 10 + 5 included seats, merged, under the suite's line.
    assert tree(invoice) == [
        (1, "Suite bundle", d(2026, 2, 1), D("100.00"), None, D("100.00")),
        (2, "Seat", d(2026, 2, 1), D("0.00"), 1, None),
    ]
    child = invoice.lines.get(sort_order=2)
    assert (child.quantity, child.has_multiple_items) == (D("15"), True)


# --------------------------------------------------------------------------------------------
# 4. Cancellation and renewal


def test_cancellation_credits_the_periods_billed_past_its_date(world):
    original = schedule_of(activate(world.account, [seats(world)]))
    billed = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 4, 1)))
    assert totals(billed)[2] == D("200.00")  # January – April, advance
    credit = schedule_of(
        activate(
            world.account,
            [
                seats(
                    world,
                    action="cancel",
                    amends_item=original.order_item,
                    quantity=D("-10"),
                    effective_date=d(2026, 3, 16),
                    start_date=d(2026, 3, 16),
                )
            ],
        )
    )

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 5, 1)))

    # Mar 16–31: -10 × 5.00 × 16/31 = -25.806… → -25.81; April -50.00.
    assert rows(invoice) == [
        ("Seat", d(2026, 3, 16), d(2026, 3, 31), D("-10"), D("5.00"), D("-25.81"), ZERO),
        ("Seat", d(2026, 4, 1), d(2026, 4, 30), D("-10"), D("5.00"), D("-50.00"), ZERO),
    ]
    assert [line.description for line in invoice.lines.order_by("sort_order")] == [
        "Cancellation credit. Prorated 16 days",
        "Cancellation credit.",
    ]
    assert totals(invoice) == (D("-75.81"), ZERO, D("-75.81"), D("-75.81"))
    # The credit is completely billed: total = billed = -75.81.
    assert billing_state(credit) == ("completely_billed", d(2026, 5, 1), None, D("-75.81"), ZERO)
    credit.refresh_from_db()
    assert credit.total_amount == D("-75.81")
    # The original keeps what it billed (200.00); its total is Jan + Feb + Mar 1–15
    # (15/31 × 50 = 24.19) = 124.19 = 200.00 - 75.81.
    original.refresh_from_db()
    assert (original.status, original.billed_amount, original.total_amount) == (
        "completely_billed",
        D("200.00"),
        D("124.19"),
    )
    assert original.billed_amount + credit.billed_amount == original.total_amount

    # Nothing is billed after the cancellation.
    later = generate(account_id=world.account.pk, target_date=d(2026, 12, 31))
    assert (later.invoice_ids, later.errors) == ([], [])
    assert BillingPeriodItem.objects.count() == 6  # 4 original + 2 credit periods


def test_cancellation_ahead_of_billing_bills_the_stub_and_stops(world):
    original = schedule_of(activate(world.account, [seats(world)]))
    generate(account_id=world.account.pk, target_date=d(2026, 2, 1))  # January, February
    assert cancel(world, original, "-10", d(2026, 3, 16)) == []  # nothing to credit

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 12, 31)))

    # Mar 1–15: 15/31 × 50.00 = 24.19; total 100.00 + 24.19 = 124.19, all billed.
    assert rows(invoice) == [
        ("Seat", d(2026, 3, 1), d(2026, 3, 15), D("10"), D("5.00"), D("24.19"), ZERO)
    ]
    assert billing_state(original) == (
        "completely_billed",
        d(2026, 3, 16),
        None,
        D("124.19"),
        ZERO,
    )


def test_cancelling_after_a_billed_decrease_credits_both_schedules(world):
    original = schedule_of(activate(world.account, [seats(world)]))
    decrease = amend(world, original, "-3", d(2026, 5, 1))
    generate(account_id=world.account.pk, target_date=d(2026, 8, 1))  # January – August
    # 7 seats remain in force on Jul 1.
    credit, decrease_credit = cancel(world, original, "-7", d(2026, 7, 1))

    # The original: total Jan – Jun 300.00, billed 8 × 50.00 = 400.00. The decrease: total
    # May – Jun -30.00, billed 4 × -15.00 = -60.00. What was billed past Jul 1 is credited,
    # so neither has anything pending.
    for s, total, billed in ((original, "300.00", "400.00"), (decrease, "-30.00", "-60.00")):
        s.refresh_from_db()
        assert (s.status, s.total_amount, s.billed_amount, s.pending_amount) == (
            "completely_billed",
            D(total),
            D(billed),
            ZERO,
        )
    assert (credit.quantity, credit.total_amount) == (D("-10"), D("-100.00"))
    assert (decrease_credit.quantity, decrease_credit.total_amount) == (D("3"), D("30.00"))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 12, 1)))

    # July and August: -10 × 5.00 = -50.00 and the decrease reversed, +3 × 5.00 = 15.00.
    assert rows(invoice) == [
        ("Seat", d(2026, 7, 1), d(2026, 7, 31), D("-10"), D("5.00"), D("-50.00"), ZERO),
        ("Seat", d(2026, 7, 1), d(2026, 7, 31), D("3"), D("5.00"), D("15.00"), ZERO),
        ("Seat", d(2026, 8, 1), d(2026, 8, 31), D("-10"), D("5.00"), D("-50.00"), ZERO),
        ("Seat", d(2026, 8, 1), d(2026, 8, 31), D("3"), D("5.00"), D("15.00"), ZERO),
    ]
    assert totals(invoice)[2] == D("-70.00")
    for s in (original, decrease, credit, decrease_credit):
        s.refresh_from_db()
        assert s.status == "completely_billed"
    assert original.billed_amount + credit.billed_amount == original.total_amount
    assert decrease.billed_amount + decrease_credit.billed_amount == decrease.total_amount


def test_cancelling_ahead_of_a_decrease_keeps_its_negative_remainder_pending(world):
    original = schedule_of(activate(world.account, [seats(world)]))
    decrease = amend(world, original, "-3", d(2026, 5, 1))
    generate(account_id=world.account.pk, target_date=d(2026, 5, 1))  # January – May
    assert cancel(world, original, "-7", d(2026, 7, 1)) == []

    # Still to bill: June. The original 300.00 - 250.00 = 50.00; the decrease
    # -30.00 - (-15.00) = -15.00.
    assert billing_state(original)[3:] == (D("250.00"), D("50.00"))
    assert billing_state(decrease)[3:] == (D("-15.00"), D("-15.00"))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 12, 1)))

    assert rows(invoice) == [
        ("Seat", d(2026, 6, 1), d(2026, 6, 30), D("10"), D("5.00"), D("50.00"), ZERO),
        ("Seat", d(2026, 6, 1), d(2026, 6, 30), D("-3"), D("5.00"), D("-15.00"), ZERO),
    ]
    assert billing_state(original) == ("completely_billed", d(2026, 7, 1), None, D("300"), ZERO)
    assert billing_state(decrease) == ("completely_billed", d(2026, 7, 1), None, D("-30"), ZERO)


def test_renewal_is_billed_at_the_renewal_price_on_the_same_grid(world):
    original = schedule_of(activate(world.account, [seats(world)]))
    year = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 12, 1)))
    assert year.lines.count() == 12 and totals(year)[2] == D("600.00")
    original.refresh_from_db()
    assert (original.status, original.next_billing_date) == ("completely_billed", None)
    renewal = schedule_of(
        activate(
            world.account,
            [
                seats(
                    world,
                    action="renew",
                    amends_item=original.order_item,
                    unit_price=D("6.00"),
                    effective_date=d(2027, 1, 1),
                    start_date=d(2027, 1, 1),
                    end_date=d(2027, 12, 31),
                )
            ],
        )
    )

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2027, 1, 1)))

    # 10 × 6.00 = 60.00 for January 2027.
    assert rows(invoice) == [
        ("Seat", d(2027, 1, 1), d(2027, 1, 31), D("10"), D("6.00"), D("60.00"), ZERO)
    ]
    assert invoice.lines.get().billing_schedule_id == renewal.pk
    assert billing_state(renewal) == (
        "ready_for_invoicing",
        d(2027, 2, 1),
        d(2027, 2, 1),
        D("60.00"),
        D("660.00"),
    )


def test_renewal_keeps_a_mid_month_anniversary_grid(world):
    original = schedule_of(
        activate(world.account, [seats(world, start_date=d(2026, 1, 15), end_date=d(2026, 3, 14))])
    )
    generate(account_id=world.account.pk, target_date=d(2026, 2, 15))  # Jan 15 – Mar 14
    renewal = schedule_of(
        activate(
            world.account,
            [
                seats(
                    world,
                    action="renew",
                    amends_item=original.order_item,
                    quantity=D("10"),
                    unit_price=D("6.00"),
                    effective_date=d(2026, 3, 15),
                    start_date=d(2026, 3, 15),
                    end_date=d(2026, 5, 14),
                )
            ],
        )
    )

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 4, 15)))

    # The original's grid (the 15th): Mar 15 – Apr 14 and Apr 15 – May 14 at 60.00.
    assert rows(invoice) == [
        ("Seat", d(2026, 3, 15), d(2026, 4, 14), D("10"), D("6.00"), D("60.00"), ZERO),
        ("Seat", d(2026, 4, 15), d(2026, 5, 14), D("10"), D("6.00"), D("60.00"), ZERO),
    ]
    assert billing_state(renewal) == ("completely_billed", d(2026, 5, 15), None, D("120.00"), ZERO)


# --------------------------------------------------------------------------------------------
# 5. Bundles


def tree(invoice) -> list[tuple]:
    """(sort order, name, period start, amount, parent's sort order, bundle total)."""
    lines = list(invoice.lines.order_by("sort_order"))
    order_of = {line.pk: line.sort_order for line in lines}
    return [
        (
            line.sort_order,
            line.name,
            line.period_start,
            line.amount,
            order_of.get(line.parent_line_id),
            line.bundle_total,
        )
        for line in lines
    ]


def test_bundle_children_hang_under_the_parent_line(world):
    order = activate(world.account, bundle(world))
    parent, included, extra = BillingSchedule.objects.filter(order=order).order_by("id")

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 1)))

    assert rows(invoice) == [
        ("Suite bundle", d(2026, 1, 1), d(2026, 1, 31), D("1"), D("100.00"), D("100.00"), ZERO),
        ("Seat", d(2026, 1, 1), d(2026, 1, 31), D("10"), D("0"), D("0.00"), ZERO),
        ("Premium support", d(2026, 1, 1), d(2026, 3, 31), D("1"), D("60.00"), D("60.00"), ZERO),
    ]
    # bundle_total on the parent: 100.00 + 0.00 + 60.00 = 160.00.
    assert tree(invoice) == [
        (1, "Suite bundle", d(2026, 1, 1), D("100.00"), None, D("160.00")),
        (2, "Seat", d(2026, 1, 1), D("0.00"), 1, None),
        (3, "Premium support", d(2026, 1, 1), D("60.00"), 1, None),
    ]
    assert [line.billing_schedule_id for line in invoice.lines.order_by("sort_order")] == [
        parent.pk,
        included.pk,
        extra.pk,
    ]
    assert totals(invoice) == (D("160.00"), ZERO, D("160.00"), D("160.00"))


def test_quarterly_child_hangs_under_its_earliest_overlapping_month(world):
    activate(world.account, bundle(world))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 3, 1)))

    # January to March of the monthly parent and included child; the quarterly child's
    # Jan 1 – Mar 31 hangs under January, the earliest parent line it overlaps.
    assert tree(invoice) == [
        (1, "Suite bundle", d(2026, 1, 1), D("100.00"), None, D("160.00")),
        (2, "Seat", d(2026, 1, 1), D("0.00"), 1, None),
        (3, "Premium support", d(2026, 1, 1), D("60.00"), 1, None),
        (4, "Suite bundle", d(2026, 2, 1), D("100.00"), None, D("100.00")),
        (5, "Seat", d(2026, 2, 1), D("0.00"), 4, None),
        (6, "Suite bundle", d(2026, 3, 1), D("100.00"), None, D("100.00")),
        (7, "Seat", d(2026, 3, 1), D("0.00"), 6, None),
    ]
    # 3 × 100.00 + 60.00 = 360.00.
    assert totals(invoice)[2] == D("360.00")

    april = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 4, 1)))
    assert tree(april) == [
        (1, "Suite bundle", d(2026, 4, 1), D("100.00"), None, D("160.00")),
        (2, "Seat", d(2026, 4, 1), D("0.00"), 1, None),
        (3, "Premium support", d(2026, 4, 1), D("60.00"), 1, None),
    ]
    assert april.lines.get(sort_order=3).period_end == d(2026, 6, 30)


def test_per_schedule_bundle_children_share_the_bundles_invoice(world):
    activate(world.account, bundle(world), invoice_group_type="per_schedule")

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 1)))

    # Children take their bundle root's key: one invoice, not three.
    assert [t[1] for t in tree(invoice)] == ["Suite bundle", "Seat", "Premium support"]


def test_renewed_bundle_children_hang_under_the_renewed_parent(world):
    order = activate(world.account, bundle(world))
    parent, included, _extra = BillingSchedule.objects.filter(order=order).order_by("id")
    generate(account_id=world.account.pk, target_date=d(2026, 12, 1))  # all of 2026
    renewal = {
        "action": "renew",
        "effective_date": d(2027, 1, 1),
        "start_date": d(2027, 1, 1),
        "end_date": d(2027, 12, 31),
    }
    activate(
        world.account,
        [
            seats(
                world,
                product=world.suite,
                quantity=D("1"),
                unit_price=D("110.00"),
                amends_item=parent.order_item,
                **renewal,
            ),
            seats(world, amends_item=included.order_item, unit_price=D("0"), **renewal),
        ],
    )

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2027, 1, 1)))

    # The support child was not renewed; the suite renews at 110.00 with its included seats.
    assert tree(invoice) == [
        (1, "Suite bundle", d(2027, 1, 1), D("110.00"), None, D("110.00")),
        (2, "Seat", d(2027, 1, 1), D("0.00"), 1, None),
    ]


# --------------------------------------------------------------------------------------------
# 6. Usage


def test_usage_overage_line_posting_and_no_second_bill(world):
    us_policy(world)
    s = schedule_of(
        activate(
            world.account,
            [
                seats(
                    world,
                    product=world.storage,
                    quantity=D("1"),
                    unit_price=D("0"),
                    included_quantity=D("1000"),
                    overage_unit_price=D("0.05"),
                    end_date=None,
                    billing_type="arrears",
                )
            ],
        )
    )
    january = UsageSummary.objects.create(
        account=world.account,
        order_item=s.order_item,
        schedule=s,
        period_start=d(2026, 1, 1),
        period_end=d(2026, 1, 31),
        quantity=D("1234.5678"),
        status=UsageSummary.Status.READY,
    )

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 31)))

    # GB has scale 3: consumed 1234.5678 → 1234.568; overage 1234.568 - 1000 = 234.568;
    # 234.568 × 0.05 = 11.7284 → 11.73.
    assert rows(invoice) == [
        ("Storage", d(2026, 1, 1), d(2026, 1, 31), D("234.568"), D("0.05"), D("11.73"), ZERO)
    ]
    line = invoice.lines.get()
    assert line.is_usage is True
    assert (line.consumed_quantity, line.included_quantity, line.overage_quantity) == (
        D("1234.568"),
        D("1000.000"),
        D("234.568"),
    )
    assert line.has_multiple_items is False
    item = BillingPeriodItem.objects.get(schedule=s)
    assert (item.usage_summary_id, item.invoice_line_id, item.amount) == (
        january.pk,
        line.pk,
        D("11.73"),
    )

    invoice_post(invoice_id=invoice.pk, posted_date=d(2026, 2, 1))
    january.refresh_from_db()
    assert january.status == "invoiced"
    item.refresh_from_db()
    assert item.invoice_status == "posted"

    again = generate(account_id=world.account.pk, target_date=d(2026, 1, 31))
    assert (again.invoice_ids, again.errors) == ([], [])
    assert BillingPeriodItem.objects.filter(schedule=s).count() == 1

    # February: 1100.1 GB → overage 100.100 × 0.05 = 5.005 → 5.01 (half up); January is not
    # billed again.
    UsageSummary.objects.create(
        account=world.account,
        order_item=s.order_item,
        schedule=s,
        period_start=d(2026, 2, 1),
        period_end=d(2026, 2, 28),
        quantity=D("1100.1"),
    )
    february = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 2, 28)))
    assert rows(february) == [
        ("Storage", d(2026, 2, 1), d(2026, 2, 28), D("100.100"), D("0.05"), D("5.01"), ZERO)
    ]


# --------------------------------------------------------------------------------------------
# 7. Tax


def tax_rows(invoice) -> list[tuple]:
    return list(
        InvoiceLineTax.objects.filter(line__invoice=invoice)
        .order_by("line__sort_order", "id")
        .values_list("name", "kind", "rate", "taxable_amount", "amount", "status")
    )


def test_percentage_and_compound_tax_estimated_then_posted(world):
    state, _city = texas_rates(world)
    us_policy(world)
    activate(world.account, [seats(world, quantity=D("11"), unit_price=D("3.00"))])

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 1)))

    # 11 × 3.00 = 33.00. State 10 % = 3.30 first (priority 1), then the compound city 5 % of
    # 33.00 + 3.30 = 36.30 → 1.815 → 1.82 (half up). Tax 5.12; total 38.12.
    assert rows(invoice) == [
        ("Seat", d(2026, 1, 1), d(2026, 1, 31), D("11"), D("3.00"), D("33.00"), D("5.12"))
    ]
    assert tax_rows(invoice) == [
        ("Texas state", "percentage", D("10"), D("33.00"), D("3.30"), "estimated"),
        ("Austin city", "compound", D("5"), D("36.30"), D("1.82"), "estimated"),
    ]
    assert totals(invoice) == (D("33.00"), D("5.12"), D("38.12"), D("38.12"))

    # The state rate drops to 8 % before posting: posting computes the actual tax afresh.
    state.rate = D("8")
    state.save()
    estimated_ids = set(InvoiceLineTax.objects.values_list("id", flat=True))
    invoice_post(invoice_id=invoice.pk, posted_date=d(2026, 1, 2))

    # 8 % of 33.00 = 2.64; 5 % of 35.64 = 1.782 → 1.78. Tax 4.42; total 37.42.
    assert tax_rows(invoice) == [
        ("Texas state", "percentage", D("8"), D("33.00"), D("2.64"), "posted"),
        ("Austin city", "compound", D("5"), D("35.64"), D("1.78"), "posted"),
    ]
    assert not InvoiceLineTax.objects.filter(id__in=estimated_ids).exists()
    assert rows(invoice)[0][-1] == D("4.42")
    assert totals(invoice) == (D("33.00"), D("4.42"), D("37.42"), D("37.42"))
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == ("posted", "INV-2026-000001")


def test_negative_lines_get_negative_tax(world):
    texas_rates(world)
    original = schedule_of(activate(world.account, [seats(world)]))
    generate(account_id=world.account.pk, target_date=d(2026, 4, 1))
    amend(world, original, "-3", d(2026, 5, 1))

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 5, 1)))

    # 50.00: 5.00 + 5 % of 55.00 = 2.75 → 7.75. -15.00: -1.50 + 5 % of -16.50 = -0.825 → -0.83
    # (half up, symmetric about zero) → -2.33. Tax 5.42; total 35.00 + 5.42 = 40.42.
    assert [r[-1] for r in rows(invoice)] == [D("7.75"), D("-2.33")]
    assert totals(invoice) == (D("35.00"), D("5.42"), D("40.42"), D("40.42"))


def test_tax_exempt_account_gets_no_tax(world):
    texas_rates(world)
    world.account.tax_exempt = True
    world.account.save()
    activate(world.account, [seats(world, quantity=D("11"), unit_price=D("3.00"))])

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 1)))

    assert rows(invoice)[0][-2:] == (D("33.00"), ZERO)
    assert not InvoiceLineTax.objects.exists()
    assert totals(invoice) == (D("33.00"), ZERO, D("33.00"), D("33.00"))


# --------------------------------------------------------------------------------------------
# 8. Currencies with 0 and 3 decimals


def prorated_month_and_february(world, account, unit_price: str) -> Invoice:
    TaxRate.objects.get_or_create(
        legal_entity=world.seller,
        country="US",
        region="TX",
        name="Sales tax",
        defaults={"rate": D("8.25")},
    )
    activate(
        account,
        [
            seats(
                world,
                quantity=D("1"),
                unit_price=D(unit_price),
                start_date=d(2026, 1, 10),
                end_date=d(2026, 2, 28),
                period_boundary="align_to_calendar",
            )
        ],
    )
    return only_invoice(generate(account_id=account.pk, target_date=d(2026, 2, 1)))


def test_jpy_invoice_rounds_to_whole_yen(world):
    yen = make_account("Tokyo KK", seller=world.seller, currency="JPY")

    invoice = prorated_month_and_february(world, yen, "1000")

    # Jan 10–31 = 22/31 × 1000 = 709.68 → 710; tax 8.25 % of 710 = 58.575 → 59.
    # February 1000; tax 82.5 → 83. Totals 1710 + 142 = 1852.
    assert invoice.currency == "JPY"
    assert rows(invoice) == [
        ("Seat", d(2026, 1, 10), d(2026, 1, 31), D("1"), D("1000"), D("710"), D("59")),
        ("Seat", d(2026, 2, 1), d(2026, 2, 28), D("1"), D("1000"), D("1000"), D("83")),
    ]
    assert totals(invoice) == (D("1710"), D("142"), D("1852"), D("1852"))
    assert invoice.lines.order_by("sort_order").first().description == "Prorated 22 days"


def test_bhd_invoice_rounds_to_three_decimals(world):
    dinar = make_account("Manama WLL", seller=world.seller, currency="BHD")

    invoice = prorated_month_and_february(world, dinar, "10")

    # 22/31 × 10 = 7.0967… → 7.097; tax 8.25 % of 7.097 = 0.5855025 → 0.586.
    # February 10.000; tax 0.825. Totals 17.097 + 1.411 = 18.508.
    assert invoice.currency == "BHD"
    assert rows(invoice) == [
        ("Seat", d(2026, 1, 10), d(2026, 1, 31), D("1"), D("10"), D("7.097"), D("0.586")),
        ("Seat", d(2026, 2, 1), d(2026, 2, 28), D("1"), D("10"), D("10.000"), D("0.825")),
    ]
    assert totals(invoice) == (D("17.097"), D("1.411"), D("18.508"), D("18.508"))


# --------------------------------------------------------------------------------------------
# 9. Suspension


def test_a_suspended_schedule_blocks_the_whole_request(world):
    suspended = schedule_of(activate(world.account, [seats(world)]))
    other = schedule_of(activate(world.account, [support(world)]))
    group = suspended.group
    group.suspension_date = d(2026, 1, 1)
    group.save()
    before = [billing_state(s) for s in (suspended, other)]

    for request in (
        {"account_id": world.account.pk},
        {"billing_schedule_ids": [other.pk, suspended.pk]},
    ):
        result = generate(target_date=d(2026, 1, 1), **request)

        assert result.invoice_ids == []
        assert [(e.schedule_id, e.code) for e in result.errors] == [
            (suspended.pk, "schedule_suspended")
        ]
        message = result.errors[0].message
        assert str(suspended) in message and "suspended" in message
        assert "no schedule of this request was invoiced" in message
    assert not Invoice.objects.exists()
    assert not BillingPeriodItem.objects.exists()
    assert [billing_state(s) for s in (suspended, other)] == before

    # The other schedule alone is invoiced.
    invoice = only_invoice(generate(target_date=d(2026, 1, 1), billing_schedule_ids=[other.pk]))
    assert [r[0] for r in rows(invoice)] == ["Premium support"]


def test_a_suspended_billing_profile_blocks_the_account_from_its_date(world):
    seat = schedule_of(activate(world.account, [seats(world)]))
    sup = schedule_of(activate(world.account, [support(world)]))
    profile = world.account.default_profile
    profile.suspension_date = d(2026, 2, 1)
    profile.save()

    # January is before the suspension: billed.
    january = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 1)))
    assert totals(january)[2] == D("70.00")

    result = generate(account_id=world.account.pk, target_date=d(2026, 2, 1))
    assert result.invoice_ids == []
    assert [(e.schedule_id, e.code) for e in result.errors] == [
        (seat.pk, "schedule_suspended"),
        (sup.pk, "schedule_suspended"),
    ]
    assert Invoice.objects.count() == 1
    assert BillingPeriodItem.objects.count() == 2


# --------------------------------------------------------------------------------------------
# 10. Zero amounts


def test_zero_amount_skip_bills_the_period_without_a_line(world):
    skip = BillingTreatment.objects.create(name="Skip zero", zero_amount_handling="skip")
    included_seat = Product.objects.create(
        sku="SEAT-INC",
        name="Included seat",
        charge_type="recurring",
        unit=world.each,
        billing_treatment=skip,
    )
    order = activate(
        world.account,
        [
            seats(world, product=world.suite, quantity=D("1"), unit_price=D("100.00")),
            seats(
                world,
                product=included_seat,
                parent_item=0,
                bundle_pricing="included",
                unit_price=D("0"),
            ),
        ],
    )
    parent, child = BillingSchedule.objects.filter(order=order).order_by("id")
    assert child.zero_amount_handling == "skip"

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 1)))

    assert rows(invoice) == [
        ("Suite bundle", d(2026, 1, 1), d(2026, 1, 31), D("1"), D("100.00"), D("100.00"), ZERO)
    ]
    # The child's January is billed all the same: a period item without a line, on the
    # bundle's invoice so that it follows the invoice (posted, voided).
    assert items_of(child) == [(d(2026, 1, 1), d(2026, 1, 31), D("10"), D("0.00"), "draft")]
    item = BillingPeriodItem.objects.get(schedule=child)
    assert (item.invoice_id, item.invoice_line_id) == (invoice.pk, None)
    assert billing_state(child) == ("ready_for_invoicing", d(2026, 2, 1), d(2026, 2, 1), ZERO, ZERO)
    assert result_is_empty(generate(account_id=world.account.pk, target_date=d(2026, 1, 1)))

    us_policy(world)
    invoice_post(invoice_id=invoice.pk, posted_date=d(2026, 1, 2))
    assert set(BillingPeriodItem.objects.values_list("invoice_status", flat=True)) == {"posted"}


def result_is_empty(result: GenerationResult) -> bool:
    return result.invoice_ids == [] and result.errors == [] and result.schedule_ids == []


def test_zero_amount_default_creates_a_zero_line(world):
    activate(world.account, bundle(world)[:2])  # suite + included seats, no treatment

    invoice = only_invoice(generate(account_id=world.account.pk, target_date=d(2026, 1, 1)))

    assert tree(invoice) == [
        (1, "Suite bundle", d(2026, 1, 1), D("100.00"), None, D("100.00")),
        (2, "Seat", d(2026, 1, 1), D("0.00"), 1, None),
    ]
    zero_line = invoice.lines.get(sort_order=2)
    assert (zero_line.quantity, zero_line.amount, zero_line.tax_amount) == (D("10"), ZERO, ZERO)


# --------------------------------------------------------------------------------------------
# 11. Idempotency


def test_the_same_request_twice_bills_nothing_twice(world):
    activate(world.account, [seats(world)])
    activate(world.account, bundle(world))
    schedules = list(BillingSchedule.objects.order_by("id"))
    first = generate(account_id=world.account.pk, target_date=d(2026, 3, 1))
    assert len(first.invoice_ids) == 1 and first.errors == []
    counts = (
        Invoice.objects.count(),
        InvoiceLine.objects.count(),
        BillingPeriodItem.objects.count(),
    )
    # Seat 3 + suite 3 + included 3 + quarterly 1 periods.
    assert counts == (1, 10, 10)
    snapshot = list(BillingSchedule.objects.order_by("id").values())

    second = generate(account_id=world.account.pk, target_date=d(2026, 3, 1))
    assert result_is_empty(second)
    by_list = generate(billing_schedule_ids=[s.pk for s in schedules], target_date=d(2026, 3, 1))
    assert by_list.invoice_ids == []
    assert {e.code for e in by_list.errors} == {"nothing_to_bill"}
    assert [e.schedule_id for e in by_list.errors] == [s.pk for s in schedules]

    assert (
        Invoice.objects.count(),
        InvoiceLine.objects.count(),
        BillingPeriodItem.objects.count(),
    ) == counts
    assert list(BillingSchedule.objects.order_by("id").values()) == snapshot


# --------------------------------------------------------------------------------------------
# 12. Failure isolation


class EntityFailingTaxEngine(TaxEngine):
    """A tax service that refuses the legal entities in `failing`; the built-in engine
    otherwise."""

    failing: frozenset[int] = frozenset()

    def calculate(self, *, lines, context, estimate):
        if context.legal_entity_id in self.failing:
            raise TaxEngineError(
                f"The tax service has no registration for legal entity #{context.legal_entity_id}."
                " Register the legal entity with the tax service, then recover the schedule and "
                "generate again.",
                details={"legal_entity_id": context.legal_entity_id},
            )
        return BuiltinTaxEngine().calculate(lines=lines, context=context, estimate=estimate)


def test_a_failing_key_is_isolated_from_the_others(world, settings, monkeypatch):
    broken_entity = LegalEntity.objects.create(name="Unregistered GmbH")
    monkeypatch.setattr(EntityFailingTaxEngine, "failing", frozenset({broken_entity.pk}))
    settings.LEDGERLINE = {
        **settings.LEDGERLINE,
        "TAX_ENGINE": f"{__name__}.EntityFailingTaxEngine",
    }
    TaxRate.objects.create(legal_entity=None, country="US", region="TX", name="TX", rate=D("10"))
    broken_account = make_account("Broken Co", seller=broken_entity)
    third = make_account("Third Co", seller=world.seller)

    good = schedule_of(activate(world.account, [seats(world)]))
    broken = list(
        BillingSchedule.objects.filter(
            order=activate(broken_account, [seats(world), support(world)])
        ).order_by("id")
    )
    other = schedule_of(activate(third, [support(world)]))
    ids = [good.pk, *(s.pk for s in broken), other.pk]
    broken_before = [billing_state(s) for s in broken]

    result = generate(billing_schedule_ids=ids, target_date=d(2026, 1, 1))

    # The broken key: schedules in error, one ErrorLog row each, nothing written.
    assert result.failed_keys == 1
    assert [(e.schedule_id, e.code) for e in result.errors] == [
        (s.pk, "tax_engine_error") for s in broken
    ]
    for s, before in zip(broken, broken_before, strict=True):
        state = billing_state(s)
        assert state[0] == "error"
        assert state[1:] == before[1:]
        log = ErrorLog.objects.get(primary_id=s.pk, primary_type__model="billingschedule")
        assert (log.category, log.code, log.request_id, log.is_resolved) == (
            "generation",
            "tax_engine_error",
            result.request_id,
            False,
        )
        assert log.message.startswith(f"Billing schedule {s}: The tax service has no registration")
        assert "Register the legal entity with the tax service" in log.message
    assert ErrorLog.objects.count() == 2
    assert not BillingPeriodItem.objects.filter(schedule__in=broken).exists()
    assert not Invoice.objects.filter(account=broken_account).exists()

    # The other keys: invoiced and correct (10 % tax).
    acme, third_invoice = result.invoices
    assert rows(acme) == [
        ("Seat", d(2026, 1, 1), d(2026, 1, 31), D("10"), D("5.00"), D("50.00"), D("5.00"))
    ]
    assert totals(acme) == (D("50.00"), D("5.00"), D("55.00"), D("55.00"))
    assert third_invoice.account_id == third.pk
    assert rows(third_invoice) == [
        (
            "Premium support",
            d(2026, 1, 1),
            d(2026, 1, 31),
            D("1"),
            D("20.00"),
            D("20.00"),
            D("2.00"),
        )
    ]
    assert totals(third_invoice)[2] == D("22.00")
    assert sorted(result.schedule_ids) == sorted([good.pk, other.pk])
    assert billing_state(good)[:3] == ("ready_for_invoicing", d(2026, 2, 1), d(2026, 2, 1))
