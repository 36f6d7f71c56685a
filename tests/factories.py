"""factory_boy factories for every Ledgerline model.

Defaults satisfy every database constraint and are deterministic: names and codes come from
sequences, amounts are Decimals built from strings, dates are fixed (2026-01-01 onwards),
never "today". Related rows are consistent with each other: a schedule's account, order,
item and product are those of its group, and its amounts are computed by the period engine.

    account = AccountFactory(with_profile=True)      # plus a default billing profile
    schedule = BillingScheduleFactory(group__source_item__quantity=Decimal("3"))
    invoice = InvoiceFactory(posted=True)            # number, posted date and time set
"""

import datetime as dt
from decimal import Decimal

import factory
from dateutil.relativedelta import relativedelta
from django.contrib.contenttypes.models import ContentType
from factory.django import DjangoModelFactory

from accounts.models import (
    Account,
    Address,
    BillingProfile,
    Contact,
    LegalEntity,
    PaymentTerm,
    SavedPaymentMethod,
)
from billing.choices import (
    BillingFrequency,
    BillingType,
    ChargeType,
    InvoiceGroupType,
    ItemAction,
    PeriodBoundary,
    PricingTerm,
    ScheduleCategory,
    ScheduleStatus,
)
from billing.models import (
    BillingSchedule,
    BillingScheduleGroup,
    BillingTreatment,
    Order,
    OrderItem,
    Product,
    UnitOfMeasure,
    UsageSummary,
)
from billing.pricing import period_price, term_total
from core.money import round_money
from invoicing.models import (
    BillingPeriodItem,
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    DebitMemo,
    DebitMemoLine,
    EmailTemplate,
    ErrorLog,
    Invoice,
    InvoiceAddress,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceDocument,
    InvoiceEmail,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceScheduler,
    InvoiceStatus,
    Payment,
    Receipt,
    Refund,
    SequencePolicy,
    TaxRate,
)

START = dt.date(2026, 1, 1)
END = dt.date(2026, 12, 31)
POSTED_AT = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)


# --- accounts ----------------------------------------------------------------------------


class AddressFactory(DjangoModelFactory):
    class Meta:
        model = Address

    line1 = factory.Sequence(lambda n: f"{n + 1} Market Street")
    line2 = ""
    city = "San Francisco"
    region = "CA"
    postal_code = "94105"
    country = "US"


class LegalEntityFactory(DjangoModelFactory):
    class Meta:
        model = LegalEntity

    name = factory.Sequence(lambda n: f"Ledgerline Seller {n} Inc.")
    address = factory.SubFactory(AddressFactory)
    tax_id = factory.Sequence(lambda n: f"US-TAX-{n:05d}")
    email = factory.Sequence(lambda n: f"billing{n}@seller.example")
    is_default = False
    is_active = True


class PaymentTermFactory(DjangoModelFactory):
    class Meta:
        model = PaymentTerm

    name = factory.Sequence(lambda n: f"Net 30 #{n}")
    kind = PaymentTerm.Kind.NET
    days = 30
    is_default = False


class AccountFactory(DjangoModelFactory):
    class Meta:
        model = Account
        skip_postgeneration_save = True

    class Params:
        # AccountFactory(with_profile=True): also create the account's default billing profile.
        with_profile = factory.Trait(
            default_billing_profile=factory.RelatedFactory(
                "tests.factories.BillingProfileFactory",
                factory_related_name="account",
                is_default=True,
                name="Default",
            )
        )

    name = factory.Sequence(lambda n: f"Acme {n} Ltd")
    external_id = None
    currency = "USD"
    legal_entity = factory.SubFactory(LegalEntityFactory)
    email = factory.Sequence(lambda n: f"ap{n}@customer.example")
    tax_id = ""
    tax_exempt = False
    bulk_email_opt_out = False
    timezone = "UTC"


class ContactFactory(DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")
    phone = ""


class SavedPaymentMethodFactory(DjangoModelFactory):
    class Meta:
        model = SavedPaymentMethod

    account = factory.SubFactory(AccountFactory)
    kind = SavedPaymentMethod.Kind.CARD
    processor_token = factory.Sequence(lambda n: f"pm_test_{n:06d}")
    label = "Visa •••• 4242 (12/28)"
    is_default = False


class BillingProfileFactory(DjangoModelFactory):
    """Not the default profile unless asked (is_default=True, or AccountFactory(with_profile=True)),
    so that several profiles can be made for one account."""

    class Meta:
        model = BillingProfile

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Profile {n}")
    is_default = False
    bill_day_of_month = None
    bill_to = None
    payment_term = None
    saved_payment_method = None
    attach_pdf = None
    billing_address = None
    shipping_address = None
    suspension_date = None
    resumption_date = None


# --- billing -----------------------------------------------------------------------------


class UnitOfMeasureFactory(DjangoModelFactory):
    class Meta:
        model = UnitOfMeasure

    code = factory.Sequence(lambda n: f"U{n}")
    name = factory.Sequence(lambda n: f"Unit {n}")
    scale = 0
    rounding = UnitOfMeasure.Rounding.HALF_UP


class BillingTreatmentFactory(DjangoModelFactory):
    class Meta:
        model = BillingTreatment

    name = factory.Sequence(lambda n: f"Treatment {n}")
    billing_type = BillingType.ADVANCE


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    charge_type = ChargeType.RECURRING
    unit = factory.SubFactory(UnitOfMeasureFactory)
    taxable = True
    tax_code = ""
    is_bundle = False
    billing_treatment = None
    is_active = True


class OrderFactory(DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"ORD-{n:06d}")
    account = factory.SubFactory(AccountFactory)
    billing_profile = None
    currency = factory.SelfAttribute("account.currency")
    legal_entity = factory.SelfAttribute("account.legal_entity")
    payment_term = factory.SubFactory(PaymentTermFactory)
    invoice_group_type = InvoiceGroupType.DEFAULT
    custom_group_key = ""
    matching_value = ""
    status = Order.Status.DRAFT


def _next_line_number(item) -> int:
    item.amends_item  # noqa: B018 - an amended item is created first and takes its number
    order = item.order
    if order.pk is None:
        return 1
    last = order.items.order_by("-line_number").values_list("line_number", flat=True).first()
    return (last or 0) + 1


class OrderItemFactory(DjangoModelFactory):
    """A 12-month subscription item: 1 unit at 100.00 a month, billed monthly in advance."""

    class Meta:
        model = OrderItem

    class Params:
        # OrderItemFactory(amendment=True, quantity=Decimal("5")): a change of quantity of an
        # original item of the same order, in force from 2026-07-01.
        amendment = factory.Trait(
            action=ItemAction.CHANGE_QUANTITY,
            amends_item=factory.SubFactory(
                "tests.factories.OrderItemFactory", order=factory.SelfAttribute("..order")
            ),
            product=factory.SelfAttribute("amends_item.product"),
            effective_date=dt.date(2026, 7, 1),
            start_date=factory.SelfAttribute("effective_date"),
            end_date=factory.SelfAttribute("amends_item.end_date"),
            unit_price=factory.SelfAttribute("amends_item.unit_price"),
        )

    order = factory.SubFactory(OrderFactory)
    line_number = factory.LazyAttribute(_next_line_number)
    product = factory.SubFactory(ProductFactory)
    action = ItemAction.ADD
    amends_item = None
    effective_date = None
    quantity = Decimal("1")
    unit_price = Decimal("100.00")
    pricing_term = PricingTerm.MONTH
    start_date = START
    end_date = END
    billing_frequency = BillingFrequency.MONTHLY
    billing_type = BillingType.ADVANCE
    period_boundary = PeriodBoundary.ANNIVERSARY
    bill_day_of_month = None


class BillingScheduleGroupFactory(DjangoModelFactory):
    class Meta:
        model = BillingScheduleGroup

    source_item = factory.SubFactory(OrderItemFactory)
    order = factory.SelfAttribute("source_item.order")
    account = factory.SelfAttribute("order.account")
    product = factory.SelfAttribute("source_item.product")
    currency = factory.LazyAttribute(lambda o: o.order.currency or o.account.currency)
    legal_entity = factory.LazyAttribute(lambda o: o.order.legal_entity or o.account.legal_entity)
    start_date = factory.SelfAttribute("source_item.start_date")
    end_date = factory.SelfAttribute("source_item.end_date")


def _full_period_price(schedule):
    return period_price(
        quantity=schedule.quantity,
        unit_price=schedule.unit_price,
        pricing_term=schedule.pricing_term,
        frequency=schedule.billing_frequency,
    )


def _term_total(schedule) -> Decimal | None:
    if schedule.end_date is None:
        return None
    return term_total(
        start=schedule.start_date,
        end=schedule.end_date,
        frequency=schedule.billing_frequency,
        boundary=schedule.period_boundary,
        billing_type=schedule.billing_type,
        full_price=_full_period_price(schedule),
        currency=schedule.currency,
        bill_day=schedule.bill_day_of_month,
    )


class BillingScheduleFactory(DjangoModelFactory):
    """The original schedule of its group's source item, nothing billed yet."""

    class Meta:
        model = BillingSchedule

    group = factory.SubFactory(BillingScheduleGroupFactory)
    account = factory.SelfAttribute("group.account")
    order = factory.SelfAttribute("group.order")
    order_item = factory.SelfAttribute("group.source_item")
    product = factory.SelfAttribute("group.product")
    charge_type = factory.SelfAttribute("product.charge_type")
    category = ScheduleCategory.ORIGINAL
    original_schedule = None
    status = ScheduleStatus.READY
    start_date = factory.SelfAttribute("order_item.start_date")
    end_date = factory.SelfAttribute("order_item.end_date")
    next_billing_date = factory.SelfAttribute("start_date")
    next_charge_from_date = factory.SelfAttribute("start_date")
    quantity = factory.SelfAttribute("order_item.quantity")
    unit = factory.SelfAttribute("product.unit")
    unit_price = factory.SelfAttribute("order_item.unit_price")
    pricing_term = factory.SelfAttribute("order_item.pricing_term")
    billing_frequency = factory.SelfAttribute("order_item.billing_frequency")
    billing_type = factory.SelfAttribute("order_item.billing_type")
    period_boundary = factory.SelfAttribute("order_item.period_boundary")
    bill_day_of_month = factory.SelfAttribute("order_item.bill_day_of_month")
    currency = factory.SelfAttribute("group.currency")
    period_amount = factory.LazyAttribute(lambda o: round_money(_full_period_price(o), o.currency))
    total_amount = factory.LazyAttribute(_term_total)
    billed_amount = Decimal("0.00")
    pending_amount = factory.SelfAttribute("total_amount")
    legal_entity = factory.SelfAttribute("group.legal_entity")
    payment_term = factory.SelfAttribute("order.payment_term")
    tax_treatment = factory.SelfAttribute("order.tax_treatment")
    invoice_group_type = factory.SelfAttribute("order.invoice_group_type")
    custom_group_key = factory.SelfAttribute("order.custom_group_key")
    matching_value = factory.SelfAttribute("order.matching_value")


class UsageSummaryFactory(DjangoModelFactory):
    class Meta:
        model = UsageSummary

    order_item = factory.SubFactory(
        OrderItemFactory,
        product__charge_type=ChargeType.USAGE,
        unit_price=Decimal("0.10"),
    )
    account = factory.SelfAttribute("order_item.order.account")
    schedule = None
    period_start = START
    period_end = dt.date(2026, 1, 31)
    quantity = Decimal("1000")
    status = UsageSummary.Status.READY


# --- invoicing ---------------------------------------------------------------------------


class InvoiceFactory(DjangoModelFactory):
    """A draft invoice dated 2026-01-01, due 30 days later, with zero totals.

    InvoiceFactory(posted=True) or (voided=True) sets the number, posted date and time that
    the check constraints require of a posted document.
    """

    class Meta:
        model = Invoice

    class Params:
        posted = factory.Trait(
            status=InvoiceStatus.POSTED,
            number=factory.Sequence(lambda n: f"INV-{n:06d}"),
            posted_date=factory.SelfAttribute("invoice_date"),
            posted_at=POSTED_AT,
            posted_by="factory",
        )
        voided = factory.Trait(
            status=InvoiceStatus.VOIDED,
            number=factory.Sequence(lambda n: f"INV-V{n:06d}"),
            posted_date=factory.SelfAttribute("invoice_date"),
            posted_at=POSTED_AT,
            posted_by="factory",
        )

    account = factory.SubFactory(AccountFactory)
    status = InvoiceStatus.DRAFT
    number = None
    legal_entity = factory.SelfAttribute("account.legal_entity")
    currency = factory.SelfAttribute("account.currency")
    invoice_date = START
    due_date = dt.date(2026, 1, 31)
    total_charges = Decimal("0.00")
    total_adjustments = Decimal("0.00")
    total_tax = Decimal("0.00")
    total = Decimal("0.00")
    balance = Decimal("0.00")


class InvoiceLineFactory(DjangoModelFactory):
    """One month of one unit at 100.00, untaxed so far."""

    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    sort_order = factory.Sequence(lambda n: n)
    type = InvoiceLine.Type.CHARGE
    product = None
    name = factory.Sequence(lambda n: f"Line {n}")
    period_start = START
    period_end = dt.date(2026, 1, 31)
    quantity = Decimal("1")
    unit_price = Decimal("100.00")
    amount = Decimal("100.00")
    tax_amount = Decimal("0.00")


class InvoiceLineTaxFactory(DjangoModelFactory):
    """10 % of the line's amount."""

    class Meta:
        model = InvoiceLineTax

    line = factory.SubFactory(InvoiceLineFactory)
    name = "Sales tax"
    code = ""
    rate = Decimal("10.0000")
    kind = "percentage"
    taxable_amount = factory.SelfAttribute("line.amount")
    amount = factory.LazyAttribute(
        lambda o: round_money(o.taxable_amount * o.rate / 100, o.line.invoice.currency)
    )
    status = InvoiceLineTax.Status.ESTIMATED


class InvoiceAddressFactory(DjangoModelFactory):
    class Meta:
        model = InvoiceAddress

    invoice = factory.SubFactory(InvoiceFactory)
    kind = InvoiceAddress.Kind.BILLING
    name = factory.SelfAttribute("invoice.account.name")
    line1 = "1 Market Street"
    city = "San Francisco"
    region = "CA"
    postal_code = "94105"
    country = "US"


class BillingPeriodItemFactory(DjangoModelFactory):
    """The first full period of its schedule, in draft, not yet on an invoice."""

    class Meta:
        model = BillingPeriodItem

    schedule = factory.SubFactory(BillingScheduleFactory)
    group = factory.SelfAttribute("schedule.group")
    period_start = factory.SelfAttribute("schedule.start_date")
    period_end = factory.LazyAttribute(
        lambda o: o.period_start + relativedelta(months=1) - dt.timedelta(days=1)
    )
    amount = factory.SelfAttribute("schedule.period_amount")
    quantity = factory.SelfAttribute("schedule.quantity")
    unit_price = factory.SelfAttribute("schedule.unit_price")
    proration = Decimal("1")
    invoice_status = BillingPeriodItem.InvoiceStatus.DRAFT
    invoice = None
    invoice_line = None


class SequencePolicyFactory(DjangoModelFactory):
    class Meta:
        model = SequencePolicy

    name = factory.Sequence(lambda n: f"Invoices {n}")
    target = SequencePolicy.Target.INVOICE
    pattern = "INV-{SEQ}"
    start = 1
    increment = 1
    min_width = 6
    legal_entity = factory.SubFactory(LegalEntityFactory)
    currency = ""
    is_active = True


class TaxRateFactory(DjangoModelFactory):
    class Meta:
        model = TaxRate

    legal_entity = factory.SubFactory(LegalEntityFactory)
    country = "US"
    region = ""
    tax_code = ""
    name = factory.Sequence(lambda n: f"Sales tax {n}")
    rate = Decimal("10.0000")
    kind = TaxRate.Kind.PERCENTAGE
    priority = 1
    is_active = True


class ErrorLogFactory(DjangoModelFactory):
    """An open generation error about an account (pass primary_object=... for another row)."""

    class Meta:
        model = ErrorLog
        exclude = ("primary_object",)

    primary_object = factory.SubFactory(AccountFactory)
    category = ErrorLog.Category.GENERATION
    code = "generation_failed"
    message = "Invoice generation failed: the account has no currency. Set one and retry."
    primary_type = factory.LazyAttribute(
        lambda o: ContentType.objects.get_for_model(o.primary_object)
    )
    primary_id = factory.SelfAttribute("primary_object.pk")
    related_type = None
    related_id = None
    request_id = ""
    is_resolved = False
    occurrences = 1


# --- batch runs and lifecycle ---------------------------------------------------------------


class InvoiceSchedulerFactory(DjangoModelFactory):
    """A draft monthly scheduler on the 1st at 02:00 UTC, producing drafts for the run date."""

    class Meta:
        model = InvoiceScheduler

    name = factory.Sequence(lambda n: f"Monthly run {n}")
    status = InvoiceScheduler.Status.DRAFT
    cadence = InvoiceScheduler.Cadence.MONTHLY
    day_of_month = "1"
    time = dt.time(2, 0)
    timezone = "UTC"
    start_date = START
    target_date_offset = 0


class InvoiceBatchRunFactory(DjangoModelFactory):
    class Meta:
        model = InvoiceBatchRun

    target_date = dt.date(2026, 1, 31)
    invoice_date = dt.date(2026, 1, 31)


class InvoiceBatchRunKeyFactory(DjangoModelFactory):
    class Meta:
        model = InvoiceBatchRunKey

    run = factory.SubFactory(InvoiceBatchRunFactory)
    chunk = 0
    key = factory.Sequence(lambda n: f"key-{n}")
    schedule_ids = factory.LazyFunction(list)


class CreditMemoFactory(DjangoModelFactory):
    class Meta:
        model = CreditMemo

    account = factory.SubFactory(AccountFactory)
    legal_entity = factory.SelfAttribute("account.legal_entity")
    currency = factory.SelfAttribute("account.currency")
    memo_date = START
    total_charges = Decimal("100.00")
    total = Decimal("100.00")
    balance = Decimal("100.00")


class CreditMemoLineFactory(DjangoModelFactory):
    class Meta:
        model = CreditMemoLine

    credit_memo = factory.SubFactory(CreditMemoFactory)
    name = "Seat"
    amount = Decimal("100.00")


class CreditMemoLineTaxFactory(DjangoModelFactory):
    class Meta:
        model = CreditMemoLineTax

    line = factory.SubFactory(CreditMemoLineFactory)
    name = "Sales tax"
    rate = Decimal("10")
    amount = Decimal("10.00")


class CreditMemoApplicationFactory(DjangoModelFactory):
    class Meta:
        model = CreditMemoApplication

    credit_memo = factory.SubFactory(CreditMemoFactory)
    invoice = factory.SubFactory(
        InvoiceFactory, posted=True, account=factory.SelfAttribute("..credit_memo.account")
    )
    amount = Decimal("50.00")
    applied_date = START


class DebitMemoFactory(DjangoModelFactory):
    class Meta:
        model = DebitMemo

    account = factory.SubFactory(AccountFactory)
    legal_entity = factory.SelfAttribute("account.legal_entity")
    currency = factory.SelfAttribute("account.currency")
    memo_date = START
    next_billing_date = START
    total = Decimal("25.00")


class DebitMemoLineFactory(DjangoModelFactory):
    class Meta:
        model = DebitMemoLine

    debit_memo = factory.SubFactory(DebitMemoFactory)
    name = "Late fee"
    amount = Decimal("25.00")
    unit_price = Decimal("25.00")


class PaymentFactory(DjangoModelFactory):
    class Meta:
        model = Payment

    invoice = factory.SubFactory(InvoiceFactory, posted=True)
    account = factory.SelfAttribute("invoice.account")
    currency = factory.SelfAttribute("invoice.currency")
    amount = Decimal("10.00")
    payment_date = START


class ReceiptFactory(DjangoModelFactory):
    class Meta:
        model = Receipt

    account = factory.SubFactory(AccountFactory)
    currency = factory.SelfAttribute("account.currency")
    amount = Decimal("10.00")
    unallocated = Decimal("10.00")
    refunded = Decimal("0.00")
    payment_date = START


class RefundFactory(DjangoModelFactory):
    class Meta:
        model = Refund

    receipt = factory.SubFactory(
        ReceiptFactory, unallocated=Decimal("5.00"), refunded=Decimal("5.00")
    )
    amount = Decimal("5.00")
    refund_date = START


class InvoiceDocumentFactory(DjangoModelFactory):
    class Meta:
        model = InvoiceDocument

    invoice = factory.SubFactory(InvoiceFactory, posted=True)
    version = 1


class EmailTemplateFactory(DjangoModelFactory):
    class Meta:
        model = EmailTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    subject = "Invoice {number} from Ledgerline"
    body = "Dear {account}, invoice {number} for {total} is due on {due_date}: {link}"


class InvoiceEmailFactory(DjangoModelFactory):
    class Meta:
        model = InvoiceEmail

    invoice = factory.SubFactory(InvoiceFactory, posted=True)
    to = "ap@example.com"
    subject = "Invoice"


# --- plain builders shared by many tests --------------------------------------------------------


def make_account(name: str, *, seller: LegalEntity, currency: str = "USD", **profile) -> Account:
    """An account of `seller` with a contact (ap@example.com), a default card and a default
    billing profile (billing address in Austin, TX); `profile` sets more profile fields."""
    account = Account.objects.create(name=name, currency=currency, legal_entity=seller)
    contact = Contact.objects.create(account=account, name=f"{name} AP", email="ap@example.com")
    method = SavedPaymentMethod.objects.create(
        account=account, processor_token="pm_test_1", label="Visa •••• 4242", is_default=True
    )
    BillingProfile.objects.create(
        account=account,
        is_default=True,
        bill_to=contact,
        saved_payment_method=method,
        billing_address=Address.objects.create(
            line1="5 Main St", city="Austin", region="TX", postal_code="73301", country="US"
        ),
        **profile,
    )
    return account


def seats(world, **kw) -> dict:
    """An order item: 10 seats at 5.00 a month, billed monthly in advance, anniversary
    periods, Jan 1 – Dec 31 2026. Keyword arguments override any field."""
    item = {
        "product": world.seat,
        "quantity": Decimal("10"),
        "unit_price": Decimal("5.00"),
        "pricing_term": "month",
        "start_date": dt.date(2026, 1, 1),
        "end_date": dt.date(2026, 12, 31),
        "billing_frequency": "monthly",
        "billing_type": "advance",
        "period_boundary": "anniversary",
    }
    item.update(kw)
    return item
