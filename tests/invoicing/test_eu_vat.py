"""The EU VAT rules of a cross-border sale (core/vat.py cross_border_treatment, applied by the
tax engine, invoicing/tax.py) through the real paths: an order is activated and its invoice
generated (invoices_generate, both writers), posted from a draft, credited and voided.

The seller is in Berlin (DE, VAT id DE136695976) with German VAT at 19 % and French VAT at
20 %. One month of 7 seats at 12.99 is 90.93: 19 % is 17.2767 → 17.28, 20 % is 18.186 →
18.19. The place of supply is the invoice's billing address country.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from invoicing.models import CreditMemoLineTax, Invoice, InvoiceLineTax
from invoicing.services.credits import invoice_credit
from invoicing.services.generation import generate_for_keys, plan_keys, schedules_eligible
from invoicing.services.generation_plan import GenerationOptions
from invoicing.services.posting import invoice_post
from invoicing.services.void import invoice_void
from tests.support.eu_vat import (
    FR_VAT,
    JAN1,
    buyer,
    generated,
    goods_product,
    monthly,
    once,
    order,
    seller,
    service_product,
)

pytestmark = pytest.mark.django_db
d = dt.date
REVERSE_CHARGE = ("VATEX-EU-AE", "Reverse charge: VAT to be accounted for by the customer")
INTRA_COMMUNITY = (
    "VATEX-EU-IC",
    "Intra-Community supply exempt from VAT (Art. 138 Directive 2006/112/EC)",
)
EXPORT = ("VATEX-EU-G", "Export outside the EU exempt from VAT")
NOT_SUBJECT = ("VATEX-EU-O", "Services outside the scope of EU VAT")


@pytest.fixture
def service(db):
    return service_product()


@pytest.fixture
def goods(db):
    return goods_product()


def taxes(invoice) -> list[tuple]:
    return list(
        InvoiceLineTax.objects.filter(line__invoice=invoice)
        .order_by("line__sort_order", "id")
        .values_list(
            "line__name",
            "name",
            "vat_category",
            "rate",
            "taxable_amount",
            "amount",
            "exemption_reason_code",
            "exemption_reason",
        )
    )


def totals(invoice) -> tuple:
    invoice.refresh_from_db()
    return (invoice.total_charges, invoice.total_tax, invoice.total)


# --- within the EU --------------------------------------------------------------------------


def test_services_to_a_business_in_another_member_state_are_reverse_charged(service):
    account = buyer(seller(), "FR", vat_id=FR_VAT)

    invoice = generated(account, monthly(service))

    assert taxes(invoice) == [
        ("Platform seat", "Reverse charge", "AE", D("0"), D("90.93"), D("0.00"), *REVERSE_CHARGE)
    ]
    assert totals(invoice) == (D("90.93"), D("0.00"), D("90.93"))
    assert invoice.status == "posted"
    assert InvoiceLineTax.objects.get(line__invoice=invoice).status == "posted"


def test_the_same_buyer_without_a_vat_id_pays_the_french_rate(service):
    account = buyer(seller(), "FR")

    invoice = generated(account, monthly(service))

    assert taxes(invoice) == [
        ("Platform seat", "TVA", "S", D("20"), D("90.93"), D("18.19"), "", "")
    ]
    assert totals(invoice) == (D("90.93"), D("18.19"), D("109.12"))


def test_an_invalid_vat_id_is_no_reason_to_reverse_charge(service):
    """A VAT id that fails its check digits (written around the model's check) is not a
    business's: the French rate applies."""
    account = buyer(seller(), "FR", vat_id="FR40303265046")

    invoice = generated(account, monthly(service))

    assert [(t[2], t[5]) for t in taxes(invoice)] == [("S", D("18.19"))]


def test_goods_to_a_business_in_another_member_state_are_an_intra_community_supply(goods):
    account = buyer(seller(), "FR", vat_id=FR_VAT)

    invoice = generated(account, once(goods))

    assert taxes(invoice) == [
        (
            "Edge router",
            "Intra-Community supply",
            "K",
            D("0"),
            D("499.00"),
            D("0.00"),
            *INTRA_COMMUNITY,
        )
    ]
    assert totals(invoice) == (D("499.00"), D("0.00"), D("499.00"))


def test_services_and_goods_on_one_invoice_each_take_their_rule(service, goods):
    account = buyer(seller(), "FR", vat_id=FR_VAT)

    invoice = generated(account, monthly(service), once(goods))

    assert sorted((t[0], t[2], t[5]) for t in taxes(invoice)) == [
        ("Edge router", "K", D("0.00")),
        ("Platform seat", "AE", D("0.00")),
    ]
    assert totals(invoice) == (D("589.93"), D("0.00"), D("589.93"))


def test_a_greek_business_with_its_el_vat_id_is_reverse_charged(service):
    account = buyer(seller(), "GR", vat_id="EL094259216")

    invoice = generated(account, monthly(service))

    assert [(t[2], t[5], t[7]) for t in taxes(invoice)] == [("AE", D("0.00"), REVERSE_CHARGE[1])]


def test_a_sale_within_germany_pays_german_vat(service):
    """Same country: the rates apply, a German VAT id of the buyer or not."""
    entity = seller()
    for vat_id in ("", "DE143256786"):
        account = buyer(entity, "DE", vat_id=vat_id)

        invoice = generated(account, monthly(service))

        assert taxes(invoice) == [
            ("Platform seat", "USt.", "S", D("19"), D("90.93"), D("17.28"), "", "")
        ]
        assert totals(invoice) == (D("90.93"), D("17.28"), D("108.21"))


def test_a_french_vat_id_billed_to_a_german_address_is_a_domestic_sale(service):
    """The place of supply is the billing address: Germany, so German VAT."""
    account = buyer(seller(), "DE", vat_id=FR_VAT)

    invoice = generated(account, monthly(service))

    assert [(t[1], t[2], t[5]) for t in taxes(invoice)] == [("USt.", "S", D("17.28"))]


# --- leaving the EU ---------------------------------------------------------------------------


def test_goods_to_a_buyer_outside_the_eu_are_an_export(goods):
    account = buyer(seller(), "US")

    invoice = generated(account, once(goods))

    assert taxes(invoice) == [
        ("Edge router", "Export", "G", D("0"), D("499.00"), D("0.00"), *EXPORT)
    ]
    assert totals(invoice) == (D("499.00"), D("0.00"), D("499.00"))


def test_services_to_a_business_outside_the_eu_are_outside_the_scope(service):
    account = buyer(seller(), "US", vat_id="US841234567")

    invoice = generated(account, monthly(service))

    assert taxes(invoice) == [
        ("Platform seat", "Outside the scope of VAT", "O", D("0"), D("90.93"),
         D("0.00"), *NOT_SUBJECT)
    ]  # fmt: skip
    assert totals(invoice) == (D("90.93"), D("0.00"), D("90.93"))


def test_services_to_a_consumer_outside_the_eu_take_the_rates_there(service):
    """No VAT id: no EU rule; the seller has no US rate, so no tax."""
    account = buyer(seller(), "US")

    invoice = generated(account, monthly(service))

    assert taxes(invoice) == []
    assert totals(invoice) == (D("90.93"), D("0.00"), D("90.93"))


def test_a_seller_outside_the_eu_is_unchanged(service):
    """A US seller's French business customer pays the French rate the seller set up."""
    account = buyer(seller("US"), "FR", vat_id=FR_VAT)

    invoice = generated(account, monthly(service))

    assert taxes(invoice) == [
        ("Platform seat", "TVA", "S", D("20"), D("90.93"), D("18.19"), "", "")
    ]
    assert totals(invoice) == (D("90.93"), D("18.19"), D("109.12"))


# --- the other paths: the ORM writer, posting a draft, credits, void ---------------------------


def test_the_orm_writer_writes_the_same_reverse_charge(service):
    account = buyer(seller(), "FR", vat_id=FR_VAT)
    order(account, monthly(service))
    options = GenerationOptions(
        target_date=JAN1, invoice_date=JAN1, post=True, request_id="orm", copy_writer=False
    )

    result = generate_for_keys(plan_keys(schedules_eligible(target_date=JAN1)), options=options)

    assert result.errors == [] and result.failed_keys == 0
    (invoice,) = Invoice.objects.filter(account=account)
    assert taxes(invoice) == [
        ("Platform seat", "Reverse charge", "AE", D("0"), D("90.93"), D("0.00"), *REVERSE_CHARGE)
    ]


def test_a_draft_is_estimated_and_posted_reverse_charged(service):
    account = buyer(seller(), "FR", vat_id=FR_VAT)
    draft = generated(account, monthly(service), action="draft")
    assert [(t[2], t[5]) for t in taxes(draft)] == [("AE", D("0.00"))]
    assert InvoiceLineTax.objects.get(line__invoice=draft).status == "estimated"

    posted = invoice_post(invoice_id=draft.pk, posted_by="tester")

    assert taxes(posted) == [
        ("Platform seat", "Reverse charge", "AE", D("0"), D("90.93"), D("0.00"), *REVERSE_CHARGE)
    ]
    assert InvoiceLineTax.objects.get(line__invoice=posted).status == "posted"
    assert totals(posted) == (D("90.93"), D("0.00"), D("90.93"))


def memo_taxes(memo) -> list[tuple]:
    return list(
        CreditMemoLineTax.objects.filter(line__credit_memo=memo)
        .order_by("id")
        .values_list(
            "name", "vat_category", "rate", "amount", "exemption_reason_code", "exemption_reason"
        )
    )


def test_a_credit_of_a_reverse_charged_line_carries_its_category_and_reason(service):
    account = buyer(seller(), "FR", vat_id=FR_VAT)
    invoice = generated(account, monthly(service))
    line = invoice.lines.get()

    credit = invoice_credit(
        invoice_id=invoice.pk,
        lines=[{"invoice_line": line.pk, "amount": "30.00"}],
        credit_date=d(2026, 1, 15),
    )

    memo = credit.credit_memo
    assert (memo.status, memo.total_charges, memo.total_tax, memo.total) == (
        "posted",
        D("30.00"),
        D("0.00"),
        D("30.00"),
    )
    assert memo_taxes(memo) == [("Reverse charge", "AE", D("0"), D("0.00"), *REVERSE_CHARGE)]


def test_voiding_a_reverse_charged_invoice_credits_it_reverse_charged(service):
    account = buyer(seller(), "FR", vat_id=FR_VAT)
    invoice = generated(account, monthly(service))

    result = invoice_void(invoice_id=invoice.pk, void_date=d(2026, 1, 10), voided_by="tester")

    memo = result.credit_memo
    assert (memo.total_tax, memo.total) == (D("0.00"), D("90.93"))
    assert memo_taxes(memo) == [("Reverse charge", "AE", D("0"), D("0.00"), *REVERSE_CHARGE)]
