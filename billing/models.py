"""What is sold and when it is due: units, products, orders, billing schedules, usage."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

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
    BundlePricing,
    ChargeType,
    InvoiceGroupType,
    ItemAction,
    PeriodBoundary,
    PricingTerm,
    ScheduleCategory,
    ScheduleStatus,
    ZeroAmountHandling,
)
from core.models import CurrencyField, MoneyAmountField, PriceField, QuantityField, TimeStampedModel
from core.money import round_quantity


class UnitOfMeasure(TimeStampedModel):
    class Rounding(models.TextChoices):
        HALF_UP = "half_up", "Half up"
        UP = "up", "Up"
        DOWN = "down", "Down"

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    scale = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(6)], help_text="Decimal places of a quantity."
    )
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.HALF_UP)
    unece_code = models.CharField(
        "UN/ECE code",
        max_length=3,
        default="C62",
        validators=[
            RegexValidator(
                r"^[A-Z0-9]{2,3}$",
                "Use a UN/ECE Recommendation 20 code, e.g. C62 (one), HUR (hour), MON (month).",
            )
        ],
        help_text="UN/ECE Recommendation 20 unit code on e-invoices (BT-130): C62 one, HUR "
        "hour, DAY day, MON month, ANN year, GB gigabyte, KWH kilowatt hour.",
    )

    class Meta:
        ordering = ["code"]
        verbose_name = "unit of measure"
        verbose_name_plural = "units of measure"
        constraints = [models.CheckConstraint(condition=Q(scale__lte=6), name="uom_scale_max_6")]

    def __str__(self) -> str:
        return self.code

    def round(self, quantity):
        return round_quantity(quantity, scale=self.scale, rounding=self.rounding)


class BillingTreatment(TimeStampedModel):
    """How an item is billed when the order item does not say: billing type, zero amounts."""

    name = models.CharField(max_length=100, unique=True)
    billing_type = models.CharField(
        max_length=10, choices=BillingType.choices, default=BillingType.ADVANCE
    )
    zero_amount_handling = models.CharField(
        max_length=20, choices=ZeroAmountHandling.choices, default=ZeroAmountHandling.CREATE_LINE
    )
    exclude_from_billing = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SupplyKind(models.TextChoices):
    SERVICES = "services", "Services"
    GOODS = "goods", "Goods"


class Product(TimeStampedModel):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    charge_type = models.CharField(max_length=20, choices=ChargeType.choices)
    unit = models.ForeignKey(UnitOfMeasure, on_delete=models.PROTECT, related_name="products")
    taxable = models.BooleanField(default=True)
    tax_code = models.CharField(max_length=50, blank=True)
    supply_kind = models.CharField(
        max_length=10,
        choices=SupplyKind.choices,
        default=SupplyKind.SERVICES,
        help_text="Goods or services: decides the EU VAT rule of a cross-border sale (services "
        "to an EU business are reverse-charged, goods are an intra-community supply).",
    )
    is_bundle = models.BooleanField(default=False, help_text="Sold as a bundle of child products.")
    billing_treatment = models.ForeignKey(
        BillingTreatment, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"


class Order(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVATED = "activated", "Activated"

    number = models.CharField(max_length=40, unique=True, null=True, blank=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="orders")
    billing_profile = models.ForeignKey(
        BillingProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    currency = CurrencyField(blank=True, help_text="Empty: the account's currency.")
    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    payment_term = models.ForeignKey(
        PaymentTerm, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    bill_to = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    saved_payment_method = models.ForeignKey(
        SavedPaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    invoice_group_type = models.CharField(
        max_length=20, choices=InvoiceGroupType.choices, default=InvoiceGroupType.DEFAULT
    )
    custom_group_key = models.CharField(max_length=100, blank=True)
    matching_value = models.CharField(
        max_length=100, blank=True, help_text="Invoice run matching value ('batch')."
    )
    tax_treatment = models.CharField(max_length=50, default="standard")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    activated_at = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)
    purchase_order = models.CharField(
        "purchase order reference",
        max_length=100,
        blank=True,
        help_text="The customer's purchase order number, quoted on its invoices (BT-13).",
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(invoice_group_type="custom") | ~Q(custom_group_key=""),
                name="order_custom_group_needs_key",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Order #{self.pk}"


class OrderItem(TimeStampedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    line_number = models.PositiveIntegerField(default=1)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    action = models.CharField(max_length=20, choices=ItemAction.choices, default=ItemAction.ADD)
    amends_item = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="amendments"
    )
    effective_date = models.DateField(
        null=True, blank=True, help_text="First day an amendment is in force."
    )
    quantity = QuantityField(help_text="On an amendment, the change (+5, -3).")
    unit_price = PriceField()
    pricing_term = models.CharField(
        max_length=20, choices=PricingTerm.choices, default=PricingTerm.MONTH
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Empty: evergreen.")
    billing_frequency = models.CharField(
        max_length=20, choices=BillingFrequency.choices, default=BillingFrequency.MONTHLY
    )
    billing_type = models.CharField(
        max_length=10, choices=BillingType.choices, default=BillingType.ADVANCE
    )
    period_boundary = models.CharField(
        max_length=20, choices=PeriodBoundary.choices, default=PeriodBoundary.ANNIVERSARY
    )
    bill_day_of_month = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    parent_item = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    bundle_pricing = models.CharField(
        max_length=20, choices=BundlePricing.choices, blank=True, help_text="For bundle children."
    )
    included_quantity = QuantityField(null=True, blank=True)
    overage_unit_price = PriceField(null=True, blank=True)
    billing_treatment = models.ForeignKey(
        BillingTreatment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["order_id", "line_number", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="item_end_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(action="add") | Q(quantity__gt=0),
                name="item_original_quantity_positive",
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="item_unit_price_nonneg"),
            models.CheckConstraint(
                condition=Q(action="add") | Q(amends_item__isnull=False),
                name="item_amendment_has_target",
            ),
            models.CheckConstraint(
                condition=Q(action="add") | Q(effective_date__isnull=False),
                name="item_amendment_has_effective_date",
            ),
            models.CheckConstraint(
                condition=Q(bill_day_of_month__isnull=True)
                | Q(bill_day_of_month__gte=1, bill_day_of_month__lte=31),
                name="item_bill_day_range",
            ),
            models.UniqueConstraint(fields=["order", "line_number"], name="item_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.order} / {self.line_number}: {self.product.sku}"

    def clean(self) -> None:
        if self.end_date and self.start_date and self.end_date < self.start_date:
            raise ValidationError(
                {
                    "end_date": f"The end date {self.end_date} is before the start date "
                    f"{self.start_date}; leave it empty for an evergreen item."
                }
            )


class BillingScheduleGroup(TimeStampedModel):
    """Every schedule of one asset (a source order item): original, amendments,
    cancellations and renewals."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="schedule_groups")
    source_item = models.OneToOneField(
        OrderItem, on_delete=models.PROTECT, related_name="schedule_group"
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="schedule_groups")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    bundle_group = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="child_groups",
        help_text="For a bundle child: the group of its bundle.",
    )
    bundle_pricing = models.CharField(max_length=20, choices=BundlePricing.choices, blank=True)
    currency = CurrencyField()
    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    cancellation_date = models.DateField(null=True, blank=True)
    suspension_date = models.DateField(null=True, blank=True)
    resumption_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="group_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"BSG-{self.pk:06d} {self.product.sku}" if self.pk else "new group"


class BillingSchedule(TimeStampedModel):
    group = models.ForeignKey(
        BillingScheduleGroup, on_delete=models.PROTECT, related_name="schedules"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="schedules")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="schedules")
    order_item = models.ForeignKey(OrderItem, on_delete=models.PROTECT, related_name="schedules")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    charge_type = models.CharField(max_length=20, choices=ChargeType.choices)
    category = models.CharField(
        max_length=20, choices=ScheduleCategory.choices, default=ScheduleCategory.ORIGINAL
    )
    original_schedule = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derived_schedules"
    )
    parent_schedule = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="child_schedules",
        help_text="For a bundle child: its bundle's original schedule.",
    )
    bundle_pricing = models.CharField(max_length=20, choices=BundlePricing.choices, blank=True)
    status = models.CharField(
        max_length=20, choices=ScheduleStatus.choices, default=ScheduleStatus.READY
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    next_billing_date = models.DateField(null=True, blank=True)
    next_charge_from_date = models.DateField(null=True, blank=True)
    cancellation_date = models.DateField(null=True, blank=True)
    quantity = QuantityField()
    unit = models.ForeignKey(UnitOfMeasure, on_delete=models.PROTECT, related_name="+")
    unit_price = PriceField()
    pricing_term = models.CharField(max_length=20, choices=PricingTerm.choices)
    billing_frequency = models.CharField(max_length=20, choices=BillingFrequency.choices)
    billing_type = models.CharField(max_length=10, choices=BillingType.choices)
    period_boundary = models.CharField(max_length=20, choices=PeriodBoundary.choices)
    bill_day_of_month = models.PositiveSmallIntegerField(null=True, blank=True)
    period_amount = MoneyAmountField(help_text="Amount of one full billing period.")
    total_amount = MoneyAmountField(null=True, blank=True, help_text="Empty for evergreen.")
    billed_amount = MoneyAmountField()
    pending_amount = MoneyAmountField(null=True, blank=True)
    included_quantity = QuantityField(null=True, blank=True)
    overage_unit_price = PriceField(null=True, blank=True)
    currency = CurrencyField()
    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment_term = models.ForeignKey(
        PaymentTerm, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bill_to = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    saved_payment_method = models.ForeignKey(
        SavedPaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    billing_address = models.ForeignKey(
        Address, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tax_treatment = models.CharField(max_length=50, default="standard")
    invoice_group_type = models.CharField(
        max_length=20, choices=InvoiceGroupType.choices, default=InvoiceGroupType.DEFAULT
    )
    custom_group_key = models.CharField(max_length=100, blank=True)
    matching_value = models.CharField(max_length=100, blank=True)
    zero_amount_handling = models.CharField(
        max_length=20, choices=ZeroAmountHandling.choices, default=ZeroAmountHandling.CREATE_LINE
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_billing_date"], name="schedule_eligibility"),
            models.Index(fields=["account", "status"], name="schedule_account_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="schedule_end_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(category="original") | Q(quantity__gt=0),
                name="schedule_original_quantity_positive",
            ),
            models.CheckConstraint(
                condition=Q(category="original") | Q(original_schedule__isnull=False),
                name="schedule_derived_has_original",
            ),
            models.CheckConstraint(
                condition=~Q(invoice_group_type="custom") | ~Q(custom_group_key=""),
                name="schedule_custom_group_needs_key",
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="schedule_price_nonneg"),
        ]

    def __str__(self) -> str:
        return f"BS-{self.pk:07d}" if self.pk else "new schedule"


class UsageSummary(TimeStampedModel):
    class Status(models.TextChoices):
        NEW = "new", "New"
        READY = "ready_for_invoicing", "Ready for invoicing"
        INVOICED = "invoiced", "Invoiced"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="usage_summaries")
    order_item = models.ForeignKey(
        OrderItem, on_delete=models.PROTECT, related_name="usage_summaries"
    )
    schedule = models.ForeignKey(
        BillingSchedule,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="usage_summaries",
    )
    period_start = models.DateField()
    period_end = models.DateField()
    quantity = QuantityField(help_text="Consumed quantity in the item's unit.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.READY)

    class Meta:
        ordering = ["period_start", "id"]
        verbose_name_plural = "usage summaries"
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="usage_end_after_start"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="usage_quantity_nonneg"),
            models.UniqueConstraint(
                fields=["order_item", "period_start"], name="usage_one_summary_per_period"
            ),
        ]

    def __str__(self) -> str:
        return f"Usage {self.order_item_id} {self.period_start}–{self.period_end}"
