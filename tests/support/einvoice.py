"""A European world for the e-invoice tests: a German seller with everything EN 16931
asks for (VAT id, electronic address, IBAN), German and French VAT rates, invoice and
credit memo numbering, and business customers in Germany and France."""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts.models import Account, Address, BillingProfile, Contact, LegalEntity, PaymentTerm
from billing.models import Product, UnitOfMeasure
from invoicing.models import SequencePolicy, TaxRate
from invoicing.services.generation import invoices_generate


class EU:
    """Plain attribute bag."""


def eu_account(
    seller: LegalEntity,
    name: str,
    *,
    country: str,
    city: str,
    postal_code: str,
    currency: str = "EUR",
    **fields,
) -> Account:
    account = Account.objects.create(
        name=name, currency=currency, legal_entity=seller, email="ap@example.com", **fields
    )
    contact = Contact.objects.create(account=account, name=f"{name} AP", email="ap@example.com")
    BillingProfile.objects.create(
        account=account,
        is_default=True,
        bill_to=contact,
        billing_address=Address.objects.create(
            line1="1 Example Street", city=city, postal_code=postal_code, country=country
        ),
    )
    return account


@pytest.fixture
def eu(db) -> EU:
    w = EU()
    w.seller = LegalEntity.objects.create(
        name="Ledgerline GmbH",
        vat_id="DE136695976",
        legal_registration_id="HRB 123456",
        endpoint_id="DE136695976",
        endpoint_scheme="9930",
        payment_means="58",
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
        email="billing@ledgerline.example",
        address=Address.objects.create(
            line1="Friedrichstraße 1", city="Berlin", postal_code="10117", country="DE"
        ),
    )
    w.net14 = PaymentTerm.objects.create(name="14 Tage netto", kind="net", days=14, is_default=True)
    for currency in ("EUR", "JPY", "BHD"):
        SequencePolicy.objects.create(
            name=f"Invoices {currency}",
            legal_entity=w.seller,
            currency=currency,
            pattern=f"RE-{currency}-{{SEQ}}",
            min_width=5,
        )
    SequencePolicy.objects.create(
        name="Credit notes",
        legal_entity=w.seller,
        target=SequencePolicy.Target.CREDIT_MEMO,
        pattern="GS-{SEQ}",
        min_width=5,
    )
    w.de_vat = TaxRate.objects.create(
        legal_entity=w.seller, country="DE", tax_code="standard", name="USt 19 %", rate=D("19")
    )
    w.de_reduced = TaxRate.objects.create(
        legal_entity=w.seller, country="DE", tax_code="reduced", name="USt 7 %", rate=D("7")
    )
    TaxRate.objects.create(legal_entity=w.seller, country="FR", name="TVA 20 %", rate=D("20"))
    TaxRate.objects.create(
        legal_entity=w.seller, country="FR", tax_code="reduced", name="TVA 5,5 %", rate=D("5.5")
    )
    TaxRate.objects.create(legal_entity=w.seller, country="BH", name="VAT 10 %", rate=D("10"))
    w.each = UnitOfMeasure.objects.create(code="EA", name="Each", unece_code="C62")
    w.hours = UnitOfMeasure.objects.create(code="HR", name="Hours", scale=2, unece_code="HUR")
    w.gb = UnitOfMeasure.objects.create(code="GB", name="Gigabytes", scale=3, unece_code="E34")
    w.seat = Product.objects.create(
        sku="SEAT", name="Seat", charge_type="recurring", unit=w.each, tax_code="standard"
    )
    w.book = Product.objects.create(
        sku="BOOK",
        name="Handbook",
        charge_type="one_time",
        unit=w.each,
        tax_code="reduced",
        supply_kind="goods",
    )
    w.consulting = Product.objects.create(
        sku="CONSULT", name="Consulting", charge_type="one_time", unit=w.hours, tax_code="standard"
    )
    w.storage = Product.objects.create(
        sku="STORAGE", name="Storage", charge_type="usage", unit=w.gb, tax_code="standard"
    )
    w.suite = Product.objects.create(
        sku="SUITE",
        name="Suite bundle",
        charge_type="recurring",
        unit=w.each,
        is_bundle=True,
        tax_code="standard",
    )
    w.support = Product.objects.create(
        sku="SUPPORT",
        name="Premium support",
        charge_type="recurring",
        unit=w.each,
        tax_code="standard",
    )
    w.berlin = eu_account(
        w.seller,
        "Spree Software GmbH",
        country="DE",
        city="München",
        postal_code="80331",
        vat_id="DE129273398",
        endpoint_id="DE129273398",
        endpoint_scheme="9930",
        buyer_reference="04011000-1234512345-06",
    )
    w.paris = eu_account(
        w.seller,
        "Seine Analytics SAS",
        country="FR",
        city="Paris",
        postal_code="75001",
        vat_id="FR40303265045",
        endpoint_id="FR40303265045",
        endpoint_scheme="9957",
        buyer_reference="PO-7781",
    )
    return w


def item(product, **kw) -> dict:
    """An order item of `product`: 1 at 100.00 a month, billed monthly in advance from
    2026-01-01 to 2026-12-31. Keyword arguments override any field."""
    fields = {
        "product": product,
        "quantity": D("1"),
        "unit_price": D("100.00"),
        "pricing_term": "month",
        "start_date": dt.date(2026, 1, 1),
        "end_date": dt.date(2026, 12, 31),
        "billing_frequency": "monthly",
        "billing_type": "advance",
        "period_boundary": "anniversary",
    }
    fields.update(kw)
    return fields


def post_for(account: Account, target: dt.date):
    """Generate and post the account's invoices due by `target`; the one invoice."""
    result = invoices_generate(account_id=account.pk, target_date=target, action="posted")
    assert result.errors == [] and result.failed_keys == 0, result.errors
    (invoice,) = result.invoices
    assert invoice.status == "posted", invoice.status
    return invoice
