"""Demo data for `make run`: two sellers, a product catalogue, tax rates, numbering, a
dunning policy per seller and twenty accounts with activated orders covering every billing
shape Ledgerline supports.

`demo_load(today=...)` is idempotent. Every row has a stable key (legal entity, payment term
and sequence policy names, unit codes, product SKUs, account external ids "DEMO-001"…,
an order's description within its account, a usage summary's item and period), and only
what is missing is created. A second run creates nothing. A demo loaded before the
e-invoicing data existed gets it filled in where its fields are still empty (sellers' and
accounts' VAT ids, electronic addresses and bank account, units' UN/ECE codes).

Order dates are relative to `today`, so the demo always shows current data: schedules due
now, a cancellation a few weeks ago, an amendment this month, a renewal at month end.

Transactions: the reference data and the accounts are created in one transaction. Each
order is then created and activated by the order services in transactions of their own
(order_activate() opens a durable transaction, which cannot nest inside an outer one). An
order whose activation is refused is deleted again and the error is raised naming the demo
order, so an interrupted or failed load leaves only complete, activated orders behind and
the next run carries on where it stopped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import (
    Account,
    Address,
    BillingProfile,
    Contact,
    LegalEntity,
    PaymentTerm,
    SavedPaymentMethod,
)
from accounts.services import account_update, legal_entity_create, legal_entity_update
from billing.models import (
    BillingSchedule,
    BillingScheduleGroup,
    Order,
    OrderItem,
    Product,
    UnitOfMeasure,
    UsageSummary,
)
from billing.periods import add_months
from billing.services.orders import order_activate, order_create
from core.crud import instance_update
from core.exceptions import ValidationError
from dunning.models import DunningPolicy
from dunning.services.policies import dunning_policy_create
from invoicing.models import SequencePolicy, TaxRate

D = Decimal
ONE_DAY = dt.timedelta(days=1)

US_ENTITY = "Ledgerline Inc."
EU_ENTITY = "Ledgerline Europe GmbH"

COUNT_KEYS = (
    "legal_entities",
    "payment_terms",
    "units",
    "products",
    "tax_rates",
    "sequence_policies",
    "accounts",
    "contacts",
    "billing_profiles",
    "payment_methods",
    "orders",
    "schedule_groups",
    "schedules",
    "usage_summaries",
    "dunning_policies",
)


# --------------------------------------------------------------------------------------------
# Reference data


LEGAL_ENTITIES = [
    {
        "name": US_ENTITY,
        "tax_id": "US EIN 84-3120457",
        "email": "billing@ledgerline.example",
        "default": True,
        "address": {
            "line1": "500 Howard Street",
            "line2": "Suite 300",
            "city": "San Francisco",
            "region": "CA",
            "postal_code": "94105",
            "country": "US",
        },
    },
    {
        "name": EU_ENTITY,
        # The Steuernummer (BT-32); the VAT id below is what its invoices are known by.
        "tax_id": "29/815/08150",
        "email": "rechnung@ledgerline-europe.example",
        "default": False,
        "einvoicing": {
            "vat_id": "DE136695976",
            "legal_registration_id": "HRB 187654 B",
            "endpoint_scheme": "9930",
            "endpoint_id": "DE136695976",
            "payment_means": "58",
            "iban": "DE89370400440532013000",
            "bic": "COBADEFFXXX",
        },
        "address": {
            "line1": "Friedrichstraße 68",
            "city": "Berlin",
            "region": "",
            "postal_code": "10117",
            "country": "DE",
        },
    },
]

DUNNING_POLICIES = [(US_ENTITY, "Standard reminders"), (EU_ENTITY, "Zahlungserinnerungen")]
DUNNING_STEP_DAYS = (-3, 7, 21)

PAYMENT_TERMS = [
    # name, kind, days, default
    ("Net 30", PaymentTerm.Kind.NET, 30, True),
    ("Net 15", PaymentTerm.Kind.NET, 15, False),
    ("End of month + 15", PaymentTerm.Kind.END_OF_MONTH, 15, False),
]

UNITS = [
    # code, name, scale, UN/ECE Recommendation 20 code (on e-invoices)
    ("EA", "Each", 0, "C62"),
    ("HR", "Hours", 2, "HUR"),
    ("GB", "Gigabytes", 3, "E34"),
]

PRODUCTS = [
    # sku, name, charge type, unit, tax code, is_bundle
    ("SEAT", "Platform seat", "recurring", "EA", "SW", False),
    ("SUPPORT-PREMIUM", "Premium support", "recurring", "EA", "SRV", False),
    ("ONBOARDING", "Onboarding & setup", "one_time", "EA", "SRV", False),
    ("CONSULTING-HR", "Consulting hours", "one_time", "HR", "SRV", False),
    ("STORAGE-GB", "Cloud storage", "usage", "GB", "SW", False),
    ("GROWTH-SUITE", "Growth Suite", "recurring", "EA", "SW", True),
]

TAX_RATES = [
    # legal entity, country, region, name, rate, kind, priority
    (US_ENTITY, "US", "CA", "CA sales tax", "7.25", TaxRate.Kind.PERCENTAGE, 1),
    (US_ENTITY, "US", "TX", "TX sales tax", "6.25", TaxRate.Kind.PERCENTAGE, 1),
    (US_ENTITY, "US", "CA", "City surcharge", "1.00", TaxRate.Kind.COMPOUND, 2),
    (EU_ENTITY, "DE", "", "USt.", "19.00", TaxRate.Kind.PERCENTAGE, 1),
    (EU_ENTITY, "FR", "", "TVA", "20.00", TaxRate.Kind.PERCENTAGE, 1),
]

SEQUENCE_POLICIES = [
    # name, target, pattern, date format, min width, legal entity
    ("US invoices", SequencePolicy.Target.INVOICE, "INV-{DATE}-{SEQ}", "YYYY", 6, US_ENTITY),
    ("EU invoices", SequencePolicy.Target.INVOICE, "EU-{SEQ}", "YYYY", 6, EU_ENTITY),
    ("US credit memos", SequencePolicy.Target.CREDIT_MEMO, "CM-{SEQ}", "YYYY", 6, US_ENTITY),
    # Voiding an EU invoice issues a credit memo, which needs a policy of its own.
    ("EU credit memos", SequencePolicy.Target.CREDIT_MEMO, "EU-CM-{SEQ}", "YYYY", 6, EU_ENTITY),
]

NET30, NET15, EOM15 = "Net 30", "Net 15", "End of month + 15"

# n, name, (line1, city, region, postal code, country), payment term, timezone,
# contacts [(name, email local part, phone)], payment method (kind, label), extras.
ACCOUNTS: list[dict[str, Any]] = [
    {
        "n": 1,
        "name": "Northwind Analytics Inc.",
        "domain": "northwind-analytics.example",
        "address": ("1200 Mission Street", "San Francisco", "CA", "94103", "US"),
        "term": NET30,
        "tz": "America/Los_Angeles",
        "contacts": [
            ("Dana Whitfield", "ap", "+1 415 555 0142"),
            ("Marco Reyes", "marco.reyes", ""),
        ],
        "card": ("card", "Visa •••• 4242 (12/28)"),
    },
    {
        "n": 2,
        "name": "Lone Star Logistics LLC",
        "domain": "lonestar-logistics.example",
        "address": ("801 Congress Avenue", "Austin", "TX", "78701", "US"),
        "term": NET15,
        "tz": "America/Chicago",
        "contacts": [("Priya Raman", "payables", "+1 512 555 0199")],
        "card": ("card", "Mastercard •••• 4444 (03/27)"),
    },
    {
        "n": 3,
        "name": "Harborview Health Partners",
        "domain": "harborview-health.example",
        "address": ("350 Fifth Avenue", "New York", "NY", "10118", "US"),
        "term": NET30,
        "tz": "America/New_York",
        "contacts": [
            ("Elaine Okafor", "accounts.payable", "+1 212 555 0110"),
            ("Tom Lindqvist", "it-procurement", ""),
        ],
        "card": ("card", "Amex •••• 0005 (09/29)"),
    },
    {
        "n": 4,
        "name": "Cascade Outfitters Co.",
        "domain": "cascade-outfitters.example",
        "address": ("1501 4th Avenue", "Seattle", "WA", "98101", "US"),
        "term": NET30,
        "tz": "America/Los_Angeles",
        "contacts": [("Hannah Brooks", "billing", "+1 206 555 0177")],
        "card": ("card", "Visa •••• 1881 (06/28)"),
        "bill_day": 15,
    },
    {
        "n": 5,
        "name": "Summit Ridge Consulting",
        "domain": "summitridge.example",
        "address": ("1700 Lincoln Street", "Denver", "CO", "80203", "US"),
        "term": NET15,
        "tz": "America/Denver",
        "contacts": [("Luis Navarro", "finance", "+1 303 555 0164")],
        "card": ("card", "Visa •••• 4242 (01/29)"),
    },
    {
        "n": 6,
        "name": "Pinecrest Media Group",
        "domain": "pinecrest-media.example",
        "address": ("6100 Wilshire Boulevard", "Los Angeles", "CA", "90048", "US"),
        "term": EOM15,
        "tz": "America/Los_Angeles",
        "contacts": [("Grace Liu", "ap", "+1 323 555 0133"), ("Owen Park", "owen.park", "")],
        "card": ("card", "Mastercard •••• 5100 (11/27)"),
    },
    {
        "n": 7,
        "name": "Riverside Unified School District",
        "domain": "riverside-usd.example",
        "address": ("2200 Capitol Mall", "Sacramento", "CA", "95814", "US"),
        "term": NET30,
        "tz": "America/Los_Angeles",
        "contacts": [("Patricia Gomez", "purchasing", "+1 916 555 0120")],
        "card": ("bank_account", "ACH checking •••• 6789"),
        "tax_exempt": True,
        "tax_id": "CA exemption cert. EX-20931",
        "einvoicing": {
            "tax_exemption_reason": "Exempt from sales tax: public school district "
            "(California exemption certificate EX-20931)",
        },
    },
    {
        "n": 8,
        "name": "Meridian Financial Group",
        "domain": "meridian-financial.example",
        "address": ("100 Federal Street", "Boston", "MA", "02110", "US"),
        "term": NET30,
        "tz": "America/New_York",
        "contacts": [
            ("Jonathan Hale", "ap", "+1 617 555 0188"),
            ("Sofia Marino", "sofia.marino", ""),
        ],
        "card": ("card", "Amex •••• 8431 (04/28)"),
    },
    {
        "n": 9,
        "name": "Granite Peak Software",
        "domain": "granitepeak.example",
        "address": ("222 South Main Street", "Salt Lake City", "UT", "84101", "US"),
        "term": NET15,
        "tz": "America/Denver",
        "contacts": [("Ethan Cole", "billing", "+1 801 555 0105")],
        "card": ("card", "Visa •••• 0077 (08/27)"),
        "bill_day": 5,
        "opt_out": True,
    },
    {
        "n": 10,
        "name": "Redwood Robotics Inc.",
        "domain": "redwood-robotics.example",
        "address": ("99 Almaden Boulevard", "San Jose", "CA", "95113", "US"),
        "term": NET30,
        "tz": "America/Los_Angeles",
        "contacts": [("Mei Tanaka", "finance", "+1 408 555 0156")],
        "card": ("card", "Mastercard •••• 2222 (10/28)"),
    },
    {
        "n": 11,
        "name": "Atlas Freight Systems",
        "domain": "atlas-freight.example",
        "address": ("233 South Wacker Drive", "Chicago", "IL", "60606", "US"),
        "term": EOM15,
        "tz": "America/Chicago",
        "contacts": [("Robert Kowalski", "ap", "+1 312 555 0191"), ("Amy Chen", "amy.chen", "")],
        "card": ("card", "Visa •••• 9424 (02/29)"),
    },
    {
        "n": 12,
        "name": "Keystone Manufacturing Corp.",
        "domain": "keystone-mfg.example",
        "address": ("600 Grant Street", "Pittsburgh", "PA", "15219", "US"),
        "term": NET30,
        "tz": "America/New_York",
        "contacts": [("Linda Brennan", "accounts.payable", "+1 412 555 0147")],
        "card": ("bank_account", "ACH checking •••• 3321"),
    },
    {
        "n": 13,
        "name": "Bluewater Marine Supply",
        "domain": "bluewater-marine.example",
        "address": ("1450 Brickell Avenue", "Miami", "FL", "33131", "US"),
        "term": NET15,
        "tz": "America/New_York",
        "contacts": [("Carlos Mendez", "billing", "+1 305 555 0128")],
        "card": ("card", "Visa •••• 5556 (05/28)"),
    },
    {
        "n": 14,
        "name": "Hope Harbor Foundation",
        "domain": "hopeharbor.example",
        "address": ("1120 NW Couch Street", "Portland", "OR", "97209", "US"),
        "term": NET30,
        "tz": "America/Los_Angeles",
        "contacts": [("Naomi Fisher", "operations", "+1 503 555 0163")],
        "card": ("card", "Discover •••• 1117 (07/27)"),
        "tax_exempt": True,
        "tax_id": "501(c)(3) 93-1849201",
        "einvoicing": {
            "tax_exemption_reason": "Exempt from sales tax: 501(c)(3) nonprofit organisation",
        },
    },
    {
        "n": 15,
        "name": "Copperleaf Dental Group",
        "domain": "copperleaf-dental.example",
        "address": ("909 Fannin Street", "Houston", "TX", "77010", "US"),
        "term": EOM15,
        "tz": "America/Chicago",
        "contacts": [("Steven Wright", "ap", "+1 713 555 0139")],
        "card": ("card", "Mastercard •••• 4444 (12/27)"),
    },
    # EU accounts: billed in EUR by the EU legal entity (Berlin). The German ones pay German
    # VAT; the French businesses have French VAT ids, so their services are reverse-charged
    # (no VAT on the invoice, "Reverse charge" stated) and two of them receive e-invoices.
    {
        "n": 16,
        "name": "Brandenburg Maschinenbau GmbH",
        "domain": "brandenburg-maschinenbau.example",
        "address": ("Friedrich-Ebert-Straße 12", "Potsdam", "", "14467", "DE"),
        "term": EOM15,
        "tz": "Europe/Berlin",
        "contacts": [
            ("Katrin Vogel", "buchhaltung", "+49 331 555 0120"),
            ("Jörg Hansen", "joerg.hansen", ""),
        ],
        "card": ("bank_account", "SEPA Direct Debit DE89 •••• 3000"),
        "bill_day": 1,
        "einvoicing": {
            "vat_id": "DE298765435",
            "endpoint_scheme": "9930",
            "endpoint_id": "DE298765435",
            "buyer_reference": "BM-EINKAUF-12",
        },
    },
    {
        "n": 17,
        "name": "Rheinland Logistik AG",
        "domain": "rheinland-logistik.example",
        "address": ("Hohenzollernring 55", "Köln", "", "50672", "DE"),
        "term": NET30,
        "tz": "Europe/Berlin",
        "contacts": [("Stefan Becker", "rechnungen", "+49 221 555 0188")],
        "card": ("card", "Visa •••• 4242 (03/28)"),
        "einvoicing": {
            "vat_id": "DE143256786",
            "legal_registration_id": "HRB 98765",
            "endpoint_scheme": "9930",
            "endpoint_id": "DE143256786",
            "buyer_reference": "EK-2026-4711",
            "einvoice_format": "xrechnung",
        },
    },
    {
        "n": 18,
        "name": "Alpenblick Software GmbH",
        "domain": "alpenblick-software.example",
        "address": ("Leopoldstraße 31", "München", "", "80802", "DE"),
        "term": NET30,
        "tz": "Europe/Berlin",
        "contacts": [("Anna Huber", "finanzen", "+49 89 555 0142")],
        "card": ("bank_account", "SEPA Direct Debit DE02 •••• 1005"),
        "einvoicing": {
            "vat_id": "DE811907352",
            "endpoint_scheme": "EM",
            "endpoint_id": "rechnung@alpenblick.example",
            "buyer_reference": "04011000-1234512345-06",
        },
    },
    {
        "n": 19,
        "name": "Lumière Studio SARL",
        "domain": "lumiere-studio.example",
        "address": ("18 rue de la Roquette", "Paris", "", "75011", "FR"),
        "term": NET15,
        "tz": "Europe/Paris",
        "contacts": [("Camille Laurent", "comptabilite", "+33 1 55 55 01 21")],
        "card": ("card", "Mastercard •••• 5454 (09/28)"),
        "einvoicing": {
            "vat_id": "FR40303265045",
            "legal_registration_id": "303265045",
            "endpoint_scheme": "0002",
            "endpoint_id": "303265045",
            "buyer_reference": "LUM-ACHATS-2026",
            "einvoice_format": "facturx",
        },
    },
    {
        "n": 20,
        "name": "Maison Verte SAS",
        "domain": "maison-verte.example",
        "address": ("7 quai Saint-Antoine", "Lyon", "", "69002", "FR"),
        "term": EOM15,
        "tz": "Europe/Paris",
        "contacts": [
            ("Julien Moreau", "factures", "+33 4 55 55 01 70"),
            ("Élodie Bernard", "elodie.bernard", ""),
        ],
        "card": ("card", "Visa •••• 1111 (01/28)"),
        "einvoicing": {
            "vat_id": "FR14987654324",
            "endpoint_scheme": "0002",
            "endpoint_id": "987654324",
            "buyer_reference": "MV-2026-0020",
            "einvoice_format": "ubl",
        },
    },
]


def external_id(n: int) -> str:
    return f"DEMO-{n:03d}"


# --------------------------------------------------------------------------------------------
# Orders


@dataclass
class DemoOrder:
    """One demo order. `key` is its description, unique within the account."""

    account: str
    key: str
    items: list[dict[str, Any]]
    fields: dict[str, Any] = field(default_factory=dict)
    # For amendments: (account external id, order key) of the order whose first item is amended.
    amends: tuple[str, str] | None = None
    # Consumed quantities of the order's first (usage) item, one per calendar month from its
    # start date. Dated from the item, not from today, so a later run finds them again.
    usage: list[Decimal] = field(default_factory=list)


def _item(
    sku: str,
    *,
    quantity: str,
    price: str,
    start: dt.date,
    end: dt.date | None = None,
    term: str = "month",
    frequency: str = "monthly",
    billing_type: str = "advance",
    boundary: str = "anniversary",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "product": sku,
        "quantity": D(quantity),
        "unit_price": D(price),
        "pricing_term": term,
        "start_date": start,
        "end_date": end,
        "billing_frequency": frequency,
        "billing_type": billing_type,
        "period_boundary": boundary,
        **extra,
    }


def _one_time(sku: str, *, quantity: str, price: str, start: dt.date) -> dict[str, Any]:
    return _item(
        sku, quantity=quantity, price=price, start=start, term="one_time", frequency="one_time"
    )


def _term_end(start: dt.date, months: int) -> dt.date:
    """The last day of a term of `months` months from `start`."""
    return add_months(start, months) - ONE_DAY


def demo_orders(today: dt.date) -> list[DemoOrder]:
    """The demo orders, dated relative to `today` (examples below for 2026-11-24)."""
    this_month = today.replace(day=1)

    def month(n: int, day: int = 1) -> dt.date:  # month(-2) = 2026-09-01
        return add_months(this_month, n, day)

    mid_month = this_month.replace(day=15)  # 2026-11-15
    cancel_on = today - dt.timedelta(weeks=3)  # 2026-11-03
    term_ends = _term_end(month(-11), 12)  # 2026-11-30: the renewed term ends this month

    return [
        # Monthly in advance, anniversary on the 10th, plus a one-time setup fee.
        DemoOrder(
            "DEMO-001",
            "Platform seats and onboarding",
            [
                _item(
                    "SEAT",
                    quantity="25",
                    price="30.00",
                    start=month(-5, 10),
                    end=_term_end(month(-5, 10), 12),
                ),
                _one_time("ONBOARDING", quantity="1", price="1500.00", start=month(-5, 10)),
            ],
            {"matching_value": "WEST"},
        ),
        # Quarterly in arrears, aligned to calendar quarters (stub to the quarter's end).
        DemoOrder(
            "DEMO-002",
            "Premium support, quarterly in arrears",
            [
                _item(
                    "SUPPORT-PREMIUM",
                    quantity="1",
                    price="900.00",
                    start=month(-4, 20),
                    term="quarter",
                    frequency="quarterly",
                    billing_type="arrears",
                    boundary="align_to_calendar",
                ),
            ],
            {"matching_value": "WEST"},
        ),
        # Annual in advance.
        DemoOrder(
            "DEMO-003",
            "Platform licence, annual in advance",
            [
                _item(
                    "SEAT",
                    quantity="50",
                    price="360.00",
                    start=month(-2),
                    end=_term_end(month(-2), 12),
                    term="year",
                    frequency="annual",
                ),
            ],
            {"matching_value": "EAST"},
        ),
        # Day of period: billed on the 15th (the account profile's bill day), stub first.
        DemoOrder(
            "DEMO-004",
            "Seats billed on the 15th",
            [
                _item(
                    "SEAT",
                    quantity="12",
                    price="25.00",
                    start=month(-3, 3),
                    boundary="day_of_period",
                ),
            ],
        ),
        # Usage: 100 GB included each month, overage 0.25 per GB, in arrears.
        DemoOrder(
            "DEMO-005",
            "Cloud storage (usage)",
            [
                _item(
                    "STORAGE-GB",
                    quantity="1",
                    price="0",
                    start=month(-4),
                    billing_type="arrears",
                    boundary="align_to_calendar",
                    included_quantity=D("100"),
                    overage_unit_price=D("0.25"),
                ),
            ],
            {"matching_value": "WEST"},
            usage=[D("84.250"), D("132.775"), D("187.500"), D("241.125")],
        ),
        # A bundle: the Growth Suite with seats included and support priced on top.
        DemoOrder(
            "DEMO-006",
            "Growth Suite bundle",
            [
                _item(
                    "GROWTH-SUITE",
                    quantity="1",
                    price="499.00",
                    start=month(-2),
                    end=_term_end(month(-2), 12),
                ),
                _item(
                    "SEAT",
                    quantity="10",
                    price="0",
                    start=month(-2),
                    end=_term_end(month(-2), 12),
                    parent_item=0,
                    bundle_pricing="included",
                ),
                _item(
                    "SUPPORT-PREMIUM",
                    quantity="1",
                    price="150.00",
                    start=month(-2),
                    end=_term_end(month(-2), 12),
                    term="quarter",
                    frequency="quarterly",
                    parent_item=0,
                    bundle_pricing="not_included",
                ),
            ],
            {"matching_value": "WEST"},
        ),
        # Calendar-aligned monthly seats for a school year, plus consulting hours (tax exempt).
        DemoOrder(
            "DEMO-007",
            "Classroom seats and teacher training",
            [
                _item(
                    "SEAT",
                    quantity="120",
                    price="8.50",
                    start=month(-2, 8),
                    end=add_months(month(-2), 10) - ONE_DAY,
                    boundary="align_to_calendar",
                ),
                _one_time("CONSULTING-HR", quantity="12.50", price="175.00", start=month(-2, 8)),
            ],
        ),
        # An amendment: +5 seats from the middle of this month.
        DemoOrder(
            "DEMO-008",
            "Platform seats",
            [
                _item(
                    "SEAT",
                    quantity="20",
                    price="40.00",
                    start=month(-6),
                    end=_term_end(month(-6), 12),
                ),
            ],
            {"matching_value": "EAST"},
        ),
        DemoOrder(
            "DEMO-008",
            "Seat increase (+5)",
            [
                _item(
                    "SEAT",
                    quantity="5",
                    price="40.00",
                    start=mid_month,
                    end=_term_end(month(-6), 12),
                    action="change_quantity",
                    effective_date=mid_month,
                ),
            ],
            amends=("DEMO-008", "Platform seats"),
        ),
        # A monthly price billed quarterly in advance (bulk email opt-out account).
        DemoOrder(
            "DEMO-009",
            "Developer seats, quarterly in advance",
            [
                _item("SEAT", quantity="40", price="22.00", start=month(-7), frequency="quarterly"),
            ],
            {"matching_value": "WEST"},
        ),
        # A cancellation three weeks ago (nothing invoiced yet: billing just stops there).
        DemoOrder(
            "DEMO-010",
            "Robotics lab seats",
            [
                _item(
                    "SEAT",
                    quantity="8",
                    price="45.00",
                    start=month(-3),
                    end=_term_end(month(-3), 12),
                ),
            ],
            {"matching_value": "WEST"},
        ),
        DemoOrder(
            "DEMO-010",
            "Cancellation of lab seats",
            [
                _item(
                    "SEAT",
                    quantity="-8",
                    price="45.00",
                    start=cancel_on,
                    action="cancel",
                    effective_date=cancel_on,
                ),
            ],
            amends=("DEMO-010", "Robotics lab seats"),
        ),
        # A renewal: a one-year term ending this month renewed for a year at a higher price.
        DemoOrder(
            "DEMO-011",
            "Dispatch seats, first year",
            [
                _item("SEAT", quantity="15", price="35.00", start=month(-11), end=term_ends),
            ],
            {"matching_value": "EAST"},
        ),
        DemoOrder(
            "DEMO-011",
            "Dispatch seats, renewal",
            [
                _item(
                    "SEAT",
                    quantity="15",
                    price="38.00",
                    start=term_ends + ONE_DAY,
                    end=_term_end(term_ends + ONE_DAY, 12),
                    action="renew",
                    effective_date=term_ends + ONE_DAY,
                ),
            ],
            amends=("DEMO-011", "Dispatch seats, first year"),
        ),
        # Custom invoice grouping: invoiced separately under the customer's PO number.
        DemoOrder(
            "DEMO-012",
            "Plant floor seats (PO-4471)",
            [_item("SEAT", quantity="30", price="28.00", start=month(-1))],
            {
                "invoice_group_type": "custom",
                "custom_group_key": "PO-4471",
                "matching_value": "EAST",
                "purchase_order": "PO-4471",
            },
        ),
        # Per-schedule grouping: this schedule always gets an invoice of its own.
        DemoOrder(
            "DEMO-013",
            "Premium support (own invoice)",
            [
                _item(
                    "SUPPORT-PREMIUM",
                    quantity="2",
                    price="250.00",
                    start=month(-1),
                    boundary="align_to_calendar",
                ),
            ],
            {"invoice_group_type": "per_schedule", "matching_value": "EAST"},
        ),
        # Monthly in arrears (tax exempt nonprofit).
        DemoOrder(
            "DEMO-014",
            "Volunteer coordinator seats",
            [
                _item(
                    "SEAT", quantity="10", price="12.00", start=month(-8), billing_type="arrears"
                ),
            ],
        ),
        # Semiannual in advance, aligned to calendar halves.
        DemoOrder(
            "DEMO-015",
            "Practice seats, semiannual",
            [
                _item(
                    "SEAT",
                    quantity="18",
                    price="30.00",
                    start=month(-1, 12),
                    frequency="semiannual",
                    boundary="align_to_calendar",
                ),
            ],
            {"matching_value": "WEST"},
        ),
        # EU accounts, in EUR.
        DemoOrder(
            "DEMO-016",
            "Plattform-Lizenzen (24 Monate)",
            [
                _item(
                    "SEAT",
                    quantity="35",
                    price="27.00",
                    start=month(-4),
                    end=_term_end(month(-4), 24),
                ),
            ],
        ),
        DemoOrder(
            "DEMO-017",
            "Premium-Support und Einrichtung",
            [
                _item(
                    "SUPPORT-PREMIUM",
                    quantity="1",
                    price="750.00",
                    start=month(-2, 15),
                    term="quarter",
                    frequency="quarterly",
                    boundary="align_to_calendar",
                ),
                _one_time("ONBOARDING", quantity="1", price="2500.00", start=month(-2, 15)),
            ],
            {"purchase_order": "4500012345"},
        ),
        DemoOrder(
            "DEMO-018",
            "Jahreslizenz Plattform",
            [
                _item(
                    "SEAT",
                    quantity="60",
                    price="300.00",
                    start=month(-9),
                    end=_term_end(month(-9), 12),
                    term="year",
                    frequency="annual",
                ),
            ],
        ),
        DemoOrder(
            "DEMO-019",
            "Sièges, mensuel à terme échu",
            [
                _item(
                    "SEAT",
                    quantity="6",
                    price="29.00",
                    start=month(-2, 20),
                    billing_type="arrears",
                    boundary="align_to_calendar",
                ),
            ],
            {"purchase_order": "BC-2026-0193"},
        ),
        DemoOrder(
            "DEMO-020",
            "Conseil et support",
            [
                _one_time(
                    "CONSULTING-HR",
                    quantity="24.75",
                    price="160.00",
                    start=today - dt.timedelta(days=7),
                ),
                _item("SUPPORT-PREMIUM", quantity="1", price="200.00", start=month(-1)),
            ],
        ),
    ]


# --------------------------------------------------------------------------------------------
# Loading


def demo_load(*, today: dt.date) -> dict[str, int]:
    """Create whatever of the demo is missing; return how many rows of each kind it created.

    Running it again creates nothing (every count 0).
    """
    counts = dict.fromkeys(COUNT_KEYS, 0)
    with transaction.atomic():
        entities = _load_legal_entities(counts)
        terms = _load_payment_terms(counts)
        units = _load_units(counts)
        products = _load_products(counts, units)
        _load_tax_rates(counts, entities)
        _load_sequence_policies(counts, entities)
        accounts = _load_accounts(counts, entities, terms)
    for spec in demo_orders(today):
        _load_order(counts, spec, accounts, products)
    _load_dunning_policies(counts, entities)
    return counts


def _blanks(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The `values` whose field is still empty on `obj`: what a demo loaded before a field
    existed lacks (filled in by the services, so checked like any other write)."""
    return {name: value for name, value in values.items() if value and not getattr(obj, name)}


def _load_legal_entities(counts: dict[str, int]) -> dict[str, LegalEntity]:
    entities = {}
    for spec in LEGAL_ENTITIES:
        einvoicing = spec.get("einvoicing", {})
        entity = LegalEntity.objects.filter(name=spec["name"]).first()
        if entity is None:
            # Never take the default from a seller someone already made the default.
            is_default = (
                spec["default"] and not LegalEntity.objects.filter(is_default=True).exists()
            )
            entity = legal_entity_create(
                name=spec["name"],
                tax_id=spec["tax_id"],
                email=spec["email"],
                is_default=is_default,
                address=spec["address"],
                **einvoicing,
            )
            counts["legal_entities"] += 1
        elif missing := _blanks(entity, einvoicing):
            entity = legal_entity_update(legal_entity=entity, **missing)
        entities[spec["name"]] = entity
    return entities


def _load_dunning_policies(counts: dict[str, int], entities: dict[str, LegalEntity]) -> None:
    """Each seller's reminders: 3 days before the due date, 7 and 21 days after it, with the
    built-in reminder and overdue notice (dunning_policy_create owns its transaction)."""
    for entity, name in DUNNING_POLICIES:
        if DunningPolicy.objects.filter(legal_entity=entities[entity]).exists():
            continue
        dunning_policy_create(
            legal_entity=entities[entity],
            name=name,
            steps=[{"days_after_due": day} for day in DUNNING_STEP_DAYS],
        )
        counts["dunning_policies"] += 1


def _load_payment_terms(counts: dict[str, int]) -> dict[str, PaymentTerm]:
    terms = {}
    for name, kind, days, default in PAYMENT_TERMS:
        term = PaymentTerm.objects.filter(name=name).first()
        if term is None:
            is_default = default and not PaymentTerm.objects.filter(is_default=True).exists()
            term = PaymentTerm.objects.create(
                name=name, kind=kind, days=days, is_default=is_default
            )
            counts["payment_terms"] += 1
        terms[name] = term
    return terms


def _load_units(counts: dict[str, int]) -> dict[str, UnitOfMeasure]:
    units = {}
    default_unece = UnitOfMeasure._meta.get_field("unece_code").default
    for code, name, scale, unece in UNITS:
        unit, created = UnitOfMeasure.objects.get_or_create(
            code=code, defaults={"name": name, "scale": scale, "unece_code": unece}
        )
        counts["units"] += created
        if not created and unit.unece_code == default_unece != unece:
            instance_update(unit, unece_code=unece)  # a unit loaded before the codes existed
        units[code] = unit
    return units


def _load_products(counts: dict[str, int], units: dict[str, UnitOfMeasure]) -> dict[str, Product]:
    products = {}
    for sku, name, charge_type, unit, tax_code, is_bundle in PRODUCTS:
        product, created = Product.objects.get_or_create(
            sku=sku,
            defaults={
                "name": name,
                "charge_type": charge_type,
                "unit": units[unit],
                "tax_code": tax_code,
                "is_bundle": is_bundle,
            },
        )
        counts["products"] += created
        products[sku] = product
    return products


def _load_tax_rates(counts: dict[str, int], entities: dict[str, LegalEntity]) -> None:
    for entity, country, region, name, rate, kind, priority in TAX_RATES:
        _, created = TaxRate.objects.get_or_create(
            legal_entity=entities[entity],
            country=country,
            region=region,
            tax_code="",
            name=name,
            defaults={"rate": D(rate), "kind": kind, "priority": priority},
        )
        counts["tax_rates"] += created


def _load_sequence_policies(counts: dict[str, int], entities: dict[str, LegalEntity]) -> None:
    for name, target, pattern, date_format, min_width, entity in SEQUENCE_POLICIES:
        _, created = SequencePolicy.objects.get_or_create(
            name=name,
            defaults={
                "target": target,
                "pattern": pattern,
                "date_format": date_format,
                "min_width": min_width,
                "legal_entity": entities[entity],
            },
        )
        counts["sequence_policies"] += created


def _load_accounts(
    counts: dict[str, int], entities: dict[str, LegalEntity], terms: dict[str, PaymentTerm]
) -> dict[str, Account]:
    accounts = {}
    for spec in ACCOUNTS:
        ext = external_id(spec["n"])
        account = Account.objects.filter(external_id=ext).first()
        if account is None:
            account = _create_account(counts, spec, entities, terms)
        elif missing := _blanks(account, spec.get("einvoicing", {})):
            account = account_update(account=account, **missing)
        accounts[ext] = account
    return accounts


def _create_account(
    counts: dict[str, int],
    spec: dict[str, Any],
    entities: dict[str, LegalEntity],
    terms: dict[str, PaymentTerm],
) -> Account:
    n, domain = spec["n"], spec["domain"]
    line1, city, region, postal_code, country = spec["address"]
    eu = country != "US"
    contacts_spec = spec["contacts"]
    account = Account(
        name=spec["name"],
        external_id=external_id(n),
        currency="EUR" if eu else "USD",
        legal_entity=entities[EU_ENTITY if eu else US_ENTITY],
        email=f"{contacts_spec[0][1]}@{domain}",
        tax_id=spec.get("tax_id", ""),
        tax_exempt=spec.get("tax_exempt", False),
        bulk_email_opt_out=spec.get("opt_out", False),
        timezone=spec["tz"],
        **spec.get("einvoicing", {}),
    )
    account.full_clean()  # VAT ids and electronic addresses are checked (and made compact)
    account.save()
    counts["accounts"] += 1
    contacts = [
        Contact.objects.create(account=account, name=name, email=f"{local}@{domain}", phone=phone)
        for name, local, phone in contacts_spec
    ]
    counts["contacts"] += len(contacts)
    kind, label = spec["card"]
    method = SavedPaymentMethod(
        account=account,
        kind=kind,
        processor_token=f"pm_demo_{n}",
        label=label,
        is_default=True,
    )
    method.full_clean()
    method.save()
    counts["payment_methods"] += 1
    address = Address.objects.create(
        line1=line1, city=city, region=region, postal_code=postal_code, country=country
    )
    BillingProfile.objects.create(
        account=account,
        name="Default",
        is_default=True,
        bill_day_of_month=spec.get("bill_day"),
        bill_to=contacts[0],
        payment_term=terms[spec["term"]],
        saved_payment_method=method,
        billing_address=address,
        shipping_address=address,
    )
    counts["billing_profiles"] += 1
    return account


def _load_order(
    counts: dict[str, int],
    spec: DemoOrder,
    accounts: dict[str, Account],
    products: dict[str, Product],
) -> None:
    account = accounts[spec.account]
    existing = Order.objects.filter(account=account, description=spec.key).first()
    if existing is not None:
        if existing.status == Order.Status.ACTIVATED:
            _load_usage(counts, spec, existing)
            return
        existing.delete()  # a draft left by an interrupted load: build it afresh
    amended: OrderItem | None = None
    if spec.amends is not None:
        ext, key = spec.amends
        amended = OrderItem.objects.get(
            order__account=accounts[ext], order__description=key, line_number=1
        )
    items = []
    for data in spec.items:
        data = dict(data, product=products[data["product"]])
        if amended is not None:
            data["amends_item"] = amended
        items.append(data)
    order = order_create(account=account, items=items, description=spec.key, **spec.fields)
    try:
        order_activate(order_id=order.pk, activated_by="demo")
    except ValidationError as exc:
        order.delete()
        raise ValidationError(
            exc.details,
            message=f"Demo order '{spec.key}' of {spec.account} was refused: {exc.message}",
        )
    counts["orders"] += 1
    counts["schedule_groups"] += BillingScheduleGroup.objects.filter(order=order).count()
    counts["schedules"] += BillingSchedule.objects.filter(order=order).count()
    _load_usage(counts, spec, order)


def _load_usage(counts: dict[str, int], spec: DemoOrder, order: Order) -> None:
    if not spec.usage:
        return
    schedule = BillingSchedule.objects.get(order=order, order_item__line_number=1)
    for offset, quantity in enumerate(spec.usage):
        start = add_months(schedule.start_date.replace(day=1), offset)
        _, created = UsageSummary.objects.get_or_create(
            order_item_id=schedule.order_item_id,
            period_start=start,
            defaults={
                "account_id": order.account_id,
                "schedule": schedule,
                "period_end": add_months(start, 1) - ONE_DAY,
                "quantity": quantity,
                "status": UsageSummary.Status.READY,
            },
        )
        counts["usage_summaries"] += created
