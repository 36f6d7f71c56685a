"""The documents: billing period items, invoices, lines, taxes, numbering, tax rates, errors."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from accounts.models import Account, Contact, LegalEntity, PaymentTerm, SavedPaymentMethod
from billing.models import (
    BillingSchedule,
    BillingScheduleGroup,
    Order,
    Product,
    UnitOfMeasure,
    UsageSummary,
)
from core.cards import card_data_errors
from core.models import CurrencyField, MoneyAmountField, PriceField, QuantityField, TimeStampedModel
from core.money import money_display, plain, price_display, quantity_display
from core.vat import REASON_CATEGORIES, ZERO_RATE_CATEGORIES, VatCategory

if TYPE_CHECKING:
    from invoicing.tax import TaxResult


class InvoiceStatus(models.TextChoices):
    DRAFT_IN_PROGRESS = "draft_in_progress", "Draft in progress"
    DRAFT = "draft", "Draft"
    POSTING_IN_PROGRESS = "posting_in_progress", "Posting in progress"
    POSTED = "posted", "Posted"
    VOID_IN_PROGRESS = "void_in_progress", "Void in progress"
    VOIDED = "voided", "Voided"
    CANCELED = "canceled", "Canceled"
    ERROR = "error", "Error"


class Invoice(TimeStampedModel):
    class Source(models.TextChoices):
        GENERATED = "generated", "Generated"
        INGESTED = "ingested", "Ingested"
        DEBIT_MEMO = "debit_memo", "Debit memo"

    class Settlement(models.TextChoices):
        NOT_SETTLED = "not_settled", "Not settled"
        PARTIALLY_SETTLED = "partially_settled", "Partially settled"
        SETTLED = "settled", "Settled"

    class EmailStatus(models.TextChoices):
        NOT_SENT = "not_sent", "Not sent"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (opted out)"

    number = models.CharField(max_length=64, null=True, blank=True, unique=True)
    status = models.CharField(
        max_length=30, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT_IN_PROGRESS
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="invoices")
    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    bill_to = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    currency = CurrencyField()
    invoice_date = models.DateField()
    due_date = models.DateField(null=True, blank=True)
    posted_date = models.DateField(null=True, blank=True)
    target_date = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.GENERATED)
    unique_identifier = models.CharField(max_length=255, null=True, blank=True, unique=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    correlation_id = models.CharField(max_length=255, blank=True)
    reference_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    payment_term = models.ForeignKey(
        PaymentTerm, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    saved_payment_method = models.ForeignKey(
        SavedPaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tax_treatment = models.CharField(max_length=50, default="standard")
    group_key = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    total_charges = MoneyAmountField()
    total_adjustments = MoneyAmountField()
    total_tax = MoneyAmountField()
    total = MoneyAmountField(help_text="Total with tax.")
    balance = MoneyAmountField()
    settlement_status = models.CharField(
        max_length=20, choices=Settlement.choices, default=Settlement.NOT_SETTLED
    )
    email_status = models.CharField(
        max_length=20, choices=EmailStatus.choices, default=EmailStatus.NOT_SENT
    )
    posted_at = models.DateTimeField(null=True, blank=True)
    posted_by = models.CharField(max_length=150, blank=True)
    batch_run = models.ForeignKey(
        "invoicing.InvoiceBatchRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invoices",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "status"], name="invoice_account_status"),
            models.Index(fields=["status", "invoice_date"], name="invoice_status_date"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["posted", "void_in_progress", "voided"])
                | Q(number__isnull=True),
                name="invoice_number_only_when_posted",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["posted", "void_in_progress", "voided"])
                | (Q(number__isnull=False) & Q(posted_date__isnull=False)),
                name="invoice_posted_has_number_and_date",
            ),
            models.CheckConstraint(
                condition=Q(due_date__isnull=True) | Q(due_date__gte=F("invoice_date")),
                name="invoice_due_on_or_after_invoice_date",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft invoice #{self.pk}"

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT


class InvoiceLine(TimeStampedModel):
    class Type(models.TextChoices):
        CHARGE = "charge", "Charge"
        ADJUSTMENT = "adjustment", "Adjustment"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    sort_order = models.PositiveIntegerField(default=0)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.CHARGE)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=500, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    quantity = QuantityField(default=1)
    unit = models.ForeignKey(
        UnitOfMeasure, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unit_price = PriceField(default=0)
    amount = MoneyAmountField()
    tax_amount = MoneyAmountField()
    taxable = models.BooleanField(default=True)
    tax_code = models.CharField(max_length=50, blank=True)
    parent_line = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="child_lines"
    )
    billing_schedule = models.ForeignKey(
        BillingSchedule,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
    )
    schedule_group = models.ForeignKey(
        BillingScheduleGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bundle_total = MoneyAmountField(
        null=True,
        blank=True,
        default=None,
        help_text="On a bundle line: its own amount plus its children's.",
    )
    has_multiple_items = models.BooleanField(default=False)
    is_usage = models.BooleanField(default=False)
    consumed_quantity = QuantityField(null=True, blank=True)
    included_quantity = QuantityField(null=True, blank=True)
    overage_quantity = QuantityField(null=True, blank=True)
    # Not a column: the tax engine's results, set by invoicing.services.taxing.lines_tax().
    computed_taxes: "Sequence[TaxResult]"

    class Meta:
        ordering = ["invoice_id", "sort_order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__isnull=True)
                | Q(period_start__isnull=True)
                | Q(period_end__gte=F("period_start")),
                name="line_end_after_start",
            ),
        ]

    def clean(self) -> None:
        errors = card_data_errors(self, ["name", "description"])  # never a customer's card
        if errors:
            raise ValidationError(errors)

    def __str__(self) -> str:
        return line_label(self, self.invoice.currency if self.invoice_id else "")


def line_label(line, currency: str) -> str:
    """A document line for people: 'Line 3: Analytics seats (10 × 5.00)'."""
    price = price_display(line.unit_price, currency) if currency else plain(line.unit_price)
    return f"Line {line.sort_order}: {line.name} ({quantity_display(line.quantity)} × {price})"


def tax_label(tax, currency: str) -> str:
    """A tax row for people: 'TX state tax 6.25 %: 3.13 USD' (a flat tax: no rate)."""
    rate = f" {plain(tax.rate)} %" if tax.rate else ""
    amount = money_display(tax.amount, currency) if currency else plain(tax.amount)
    return f"{tax.name}{rate}: {amount}"


class InvoiceLineTax(TimeStampedModel):
    class Status(models.TextChoices):
        ESTIMATED = "estimated", "Estimated"
        POSTED = "posted", "Posted"

    line = models.ForeignKey(InvoiceLine, on_delete=models.CASCADE, related_name="taxes")
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=50, blank=True)
    rate = models.DecimalField(max_digits=9, decimal_places=4, help_text="Percent, or 0 for flat.")
    kind = models.CharField(max_length=20, default="percentage")
    taxable_amount = MoneyAmountField()
    amount = MoneyAmountField()
    vat_category = models.CharField("VAT category", max_length=2, blank=True)
    exemption_reason_code = models.CharField(max_length=30, blank=True)
    exemption_reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ESTIMATED)

    class Meta:
        ordering = ["line_id", "id"]
        verbose_name_plural = "invoice line taxes"

    def __str__(self) -> str:
        return tax_label(self, self.line.invoice.currency if self.line_id else "")


class InvoiceAddress(TimeStampedModel):
    class Kind(models.TextChoices):
        BILLING = "billing", "Billing"
        SHIPPING = "shipping", "Shipping"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True)
    line1 = models.CharField(max_length=200, blank=True)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)

    class Meta:
        verbose_name_plural = "invoice addresses"
        constraints = [
            models.UniqueConstraint(fields=["invoice", "kind"], name="one_address_per_kind")
        ]

    def __str__(self) -> str:
        parts = (self.line1, self.city, self.region, self.country)
        return f"{self.get_kind_display()}: " + ", ".join(p for p in parts if p)


class BillingPeriodItem(TimeStampedModel):
    """One billed period of a schedule. See docs/adr/0002 for why it lives in invoicing.

    The partial unique constraint on (schedule, period_start) among live items is what makes
    double billing impossible, whatever the retries or races.
    """

    class InvoiceStatus(models.TextChoices):
        DRAFT = "draft", "Draft"
        POSTED = "posted", "Posted"
        VOIDED = "voided", "Voided"
        CANCELED = "canceled", "Canceled"

    schedule = models.ForeignKey(
        BillingSchedule, on_delete=models.PROTECT, related_name="period_items"
    )
    group = models.ForeignKey(BillingScheduleGroup, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    amount = MoneyAmountField()
    quantity = QuantityField()
    unit_price = PriceField(default=0)
    proration = models.DecimalField(max_digits=12, decimal_places=10, default=1)
    usage_summary = models.ForeignKey(
        UsageSummary, null=True, blank=True, on_delete=models.PROTECT, related_name="period_items"
    )
    consumed_quantity = QuantityField(null=True, blank=True)
    included_quantity = QuantityField(null=True, blank=True)
    overage_quantity = QuantityField(null=True, blank=True)
    invoice_status = models.CharField(
        max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    # PROTECT: deleting a draft goes through the service that releases its period items and
    # rolls its schedules back; a raw delete would leave periods billed by nothing.
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="period_items"
    )
    invoice_line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="period_items"
    )
    batch_run = models.ForeignKey(
        "invoicing.InvoiceBatchRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="period_items",
    )

    class Meta:
        ordering = ["schedule_id", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "period_start"],
                condition=Q(invoice_status__in=["draft", "posted"]),
                name="period_billed_once",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="period_item_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.schedule} {self.period_start}–{self.period_end}: "
            f"{money_display(self.amount, self.schedule.currency)}"
        )


class DateStampFormat(models.TextChoices):
    """The reference's date stamp formats for {DATE} (ADR 0006); nothing else is stamped."""

    YEAR = "YYYY", "YYYY (2026)"
    MONTH_YEAR = "MM-YYYY", "MM-YYYY (04-2026)"
    MONTH_DAY_YEAR = "MM-DD-YYYY", "MM-DD-YYYY (04-15-2026)"
    FISCAL_YEAR = "YYYY-YY", "YYYY-YY fiscal year (2025-26)"


DATE_FORMATS_ACCEPTED = "YYYY, MM-YYYY, MM-DD-YYYY, YYYY-YY (fiscal year)"
DATE_FORMAT_INVALID = f'"%(value)s" is not a date stamp format. Accepted: {DATE_FORMATS_ACCEPTED}.'


# The fields a person edits on a sequence policy (the admin's form, the API's writable fields).
SEQUENCE_POLICY_EDITABLE_FIELDS = (
    "name",
    "target",
    "pattern",
    "date_format",
    "fiscal_year_start_month",
    "start",
    "increment",
    "min_width",
    "legal_entity",
    "currency",
    "is_active",
    "effective_from",
    "effective_to",
)


class SequencePolicy(TimeStampedModel):
    """Gapless numbering. The next value is taken under a row lock in the posting transaction."""

    class Target(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_MEMO = "credit_memo", "Credit memo"

    DateFormat = DateStampFormat

    name = models.CharField(max_length=100, unique=True)
    target = models.CharField(max_length=20, choices=Target.choices, default=Target.INVOICE)
    pattern = models.CharField(max_length=100, default="INV-{SEQ}")
    date_format = models.CharField(
        max_length=20,
        choices=DateFormat.choices,
        default=DateFormat.YEAR,
        error_messages={"invalid_choice": DATE_FORMAT_INVALID},
        help_text=(
            "How {DATE} is stamped from the document's date: YYYY (2026), MM-YYYY (04-2026), "
            "MM-DD-YYYY (04-15-2026) or YYYY-YY, the fiscal year holding that date (first "
            "year, then the last two digits of the year it ends in: 2025-26)."
        ),
    )
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text="First month (1-12) of the fiscal year stamped by YYYY-YY; 4 is April.",
    )
    start = models.PositiveBigIntegerField(default=1)
    increment = models.PositiveIntegerField(default=1)
    min_width = models.PositiveSmallIntegerField(default=6)
    legal_entity = models.ForeignKey(
        LegalEntity,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sequence_policies",
    )
    currency = CurrencyField(blank=True)
    is_active = models.BooleanField(default=True)
    effective_from = models.DateField(null=True, blank=True)
    effective_to = models.DateField(null=True, blank=True)
    next_value = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "sequence policies"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(increment__gte=1), name="sequence_increment_positive"
            ),
            models.CheckConstraint(
                condition=Q(pattern__contains="{SEQ}"), name="sequence_pattern_has_seq"
            ),
            models.CheckConstraint(
                condition=Q(date_format__in=DateStampFormat.values),
                name="sequence_date_format_valid",
            ),
            models.CheckConstraint(
                condition=Q(fiscal_year_start_month__gte=1, fiscal_year_start_month__lte=12),
                name="sequence_fiscal_year_start_month_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TaxRate(TimeStampedModel):
    class Kind(models.TextChoices):
        PERCENTAGE = "percentage", "Percentage of the line"
        COMPOUND = "compound", "Percentage of the line plus earlier taxes"
        FLAT = "flat", "Flat amount per line"

    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="tax_rates"
    )
    country = models.CharField(max_length=2, blank=True, help_text="Empty: any country.")
    region = models.CharField(max_length=100, blank=True, help_text="Empty: any region.")
    tax_code = models.CharField(max_length=50, blank=True, help_text="Empty: any tax code.")
    name = models.CharField(max_length=100)
    rate = models.DecimalField(
        max_digits=12, decimal_places=4, help_text="Percent, or the flat amount."
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PERCENTAGE)
    priority = models.PositiveSmallIntegerField(default=1, help_text="Lower applies first.")
    vat_category = models.CharField(
        "VAT category",
        max_length=2,
        choices=VatCategory.choices,
        default=VatCategory.STANDARD,
        help_text="EN 16931 VAT category of what this rate taxes (BT-151).",
    )
    exemption_reason_code = models.CharField(
        max_length=30, blank=True, help_text="VATEX code for an exempt or zero category."
    )
    exemption_reason = models.CharField(
        max_length=200, blank=True, help_text="The exemption in words, printed on the document."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0), name="tax_rate_nonneg"),
            models.CheckConstraint(
                condition=~Q(vat_category__in=sorted(ZERO_RATE_CATEGORIES)) | Q(rate=0),
                name="tax_rate_zero_categories_zero",
            ),
        ]

    def clean(self) -> None:
        errors = {}
        if self.vat_category in ZERO_RATE_CATEGORIES and self.rate:
            errors["rate"] = (
                f"A rate of VAT category {self.vat_category} is 0: set the rate to 0 or choose "
                "category S."
            )
        if (
            self.vat_category == VatCategory.STANDARD
            and self.kind == self.Kind.PERCENTAGE
            and self.rate is not None
            and self.rate <= 0
        ):
            errors["rate"] = "A standard-rated (S) rate is above 0: use category Z for 0 %."
        if (
            self.vat_category in REASON_CATEGORIES
            and not self.exemption_reason_code
            and not self.exemption_reason
        ):
            errors["exemption_reason"] = (
                f"VAT category {self.vat_category} needs the exemption reason on the document: "
                "give a VATEX code or the reason in words."
            )
        if errors:
            raise ValidationError(errors)

    def __str__(self) -> str:
        return f"{self.name} ({self.rate}{'%' if self.kind != 'flat' else ''})"


class ErrorLog(TimeStampedModel):
    """One current row per (category, primary record, related record): a retry updates it."""

    class Category(models.TextChoices):
        GENERATION = "generation", "Invoice generation"
        POSTING = "posting", "Posting"
        TAX = "tax", "Tax"
        VOID = "void", "Void"
        EMAIL = "email", "Email"
        DOCUMENT = "document", "Document"
        BATCH_RUN = "batch_run", "Batch run"
        INGESTION = "ingestion", "Ingestion"

    category = models.CharField(max_length=20, choices=Category.choices)
    code = models.CharField(max_length=64)
    message = models.TextField(help_text="What failed and how to fix it.")
    primary_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    primary_id = models.PositiveBigIntegerField()
    primary = GenericForeignKey("primary_type", "primary_id")
    related_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    related_id = models.PositiveBigIntegerField(null=True, blank=True)
    related = GenericForeignKey("related_type", "related_id")
    request_id = models.CharField(max_length=64, blank=True)
    batch_run = models.ForeignKey(
        "invoicing.InvoiceBatchRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="error_logs",
    )
    is_resolved = models.BooleanField(default=False)
    occurrences = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "primary_type", "primary_id", "related_type", "related_id"],
                name="one_error_per_record",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"[{self.code}] {self.message[:80]}"


# --- Batch runs ---------------------------------------------------------------------------


class InvoiceScheduler(TimeStampedModel):
    """A recurring (or one-off) invoice batch run, fired by Celery beat."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        CANCELED = "canceled", "Canceled"

    class Cadence(models.TextChoices):
        ONCE = "once", "Once"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    name = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    cadence = models.CharField(max_length=20, choices=Cadence.choices, default=Cadence.MONTHLY)
    weekday = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="0 = Monday … 6 = Sunday (weekly cadence)."
    )
    day_of_month = models.CharField(
        max_length=4,
        blank=True,
        help_text="1–28, L (last day), L-1 (second to last) or L-2 (monthly cadence).",
    )
    time = models.TimeField(default="02:00")
    timezone = models.CharField(max_length=64, default="UTC")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    exclude_weekends = models.BooleanField(
        default=False, help_text="A run falling on a weekend moves to the next Monday."
    )
    invoice_status = models.CharField(
        max_length=10, choices=[("draft", "Draft"), ("posted", "Posted")], default="draft"
    )
    target_date = models.DateField(null=True, blank=True, help_text="Explicit (cadence once).")
    target_date_offset = models.IntegerField(
        null=True, blank=True, help_text="Target date = run date + this many days."
    )
    invoice_date = models.DateField(null=True, blank=True)
    invoice_date_offset = models.IntegerField(null=True, blank=True)
    invoice_date_from_run_date = models.BooleanField(
        default=False,
        help_text="The invoice date offset counts from the run date (else from the target date).",
    )
    billing_period_count = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Bill at most this many periods per schedule (1–12)."
    )
    filters = models.JSONField(
        default=dict,
        blank=True,
        help_text="currencies, legal_entity, accounts, matching_values, charge_types.",
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invoice_scheduler",
    )
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(billing_period_count__isnull=True)
                | Q(billing_period_count__gte=1, billing_period_count__lte=12),
                name="scheduler_period_count_range",
            ),
            models.CheckConstraint(
                condition=Q(weekday__isnull=True) | Q(weekday__lte=6),
                name="scheduler_weekday_range",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="scheduler_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class InvoiceBatchRun(TimeStampedModel):
    """One execution of a scheduler (or an ad hoc run), or a sub-run of one."""

    class Kind(models.TextChoices):
        GENERATION = "generation", "Invoice generation"
        DRAFT_TO_POSTED = "draft_to_posted", "Draft to posted"
        RECOVERY = "recovery", "Recovery"
        EMAIL = "email", "Email send"

    class Status(models.TextChoices):
        STARTED = "started", "Started"
        COMPLETED = "completed", "Completed"
        COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    class Stage(models.TextChoices):
        QUEUED = "queued", "Queued"
        FILTERING = "filtering", "Filtering"
        GENERATING = "generating", "Generating"
        TAX = "tax", "Tax"
        UPDATING_SCHEDULES = "updating_schedules", "Updating schedules"
        SUMMARIZING = "summarizing", "Summarizing"
        DONE = "done", "Done"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.GENERATION)
    scheduler = models.ForeignKey(
        InvoiceScheduler, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    parent_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="sub_runs"
    )
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.STARTED)
    stage = models.CharField(max_length=30, choices=Stage.choices, default=Stage.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    run_date = models.DateField(null=True, blank=True)
    target_date = models.DateField(null=True, blank=True)
    invoice_date = models.DateField(null=True, blank=True)
    invoice_status = models.CharField(max_length=10, default="draft")
    billing_period_count = models.PositiveSmallIntegerField(null=True, blank=True)
    filters = models.JSONField(default=dict, blank=True)
    matching_schedules = models.PositiveIntegerField(default=0)
    schedules_processed = models.PositiveIntegerField(default=0)
    schedules_failed = models.PositiveIntegerField(default=0)
    invoices_generated = models.PositiveIntegerField(default=0)
    invoices_failed = models.PositiveIntegerField(default=0)
    draft_invoices = models.PositiveIntegerField(default=0)
    posted_invoices = models.PositiveIntegerField(default=0)
    amounts = models.JSONField(
        default=list, blank=True, help_text='[{"currency", "draft", "posted"}] as strings.'
    )
    summary = models.JSONField(default=dict, blank=True, help_text="What a sub-run did.")
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    task_id = models.CharField(max_length=255, blank=True)
    redispatches = models.PositiveIntegerField(
        default=0, help_text="Chunks (or the plan) the supervisor queued again."
    )
    events = models.JSONField(
        default=list,
        blank=True,
        help_text='What the supervisor and recovery did: [{"at", "event", "chunk", "detail"}], '
        "the latest 100.",
    )
    # A sub-run's claim (docs/batch-runs.md, "Self-healing"): the task working on it writes
    # its name and an expiry, renews the expiry while it works and clears both when it ends.
    # A started sub-run whose lease expired was lost with its worker; the supervisor queues
    # it again. (A generation run's leases are on its keys.)
    lease_owner = models.CharField(
        max_length=255, blank=True, help_text="The sub-run's task holding it; empty: queued."
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker claimed the sub-run."
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="run_progress_max_100")
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.get_kind_display()})"


class InvoiceBatchRunKey(TimeStampedModel):
    """A planned grouping key of a run: the unit of work chunk tasks claim.

    A claim is a lease (docs/batch-runs.md, "Self-healing"): the worker that claims a
    chunk's keys writes its name and an expiry, renews the expiry while it works (a
    heartbeat) and clears it when it commits. A pending key whose lease has expired was lost
    with its worker; the supervisor queues its chunk again."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(InvoiceBatchRun, on_delete=models.CASCADE, related_name="keys")
    chunk = models.PositiveIntegerField(db_index=True)
    key = models.CharField(max_length=500)
    schedule_ids = models.JSONField(default=list)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    invoice_ids = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    lease_owner = models.CharField(
        max_length=255, blank=True, help_text="The chunk task holding the key; empty: queued."
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker claimed the key."
    )

    class Meta:
        ordering = ["run_id", "chunk", "id"]
        indexes = [models.Index(fields=["run", "status", "chunk"], name="run_key_claim")]

    def __str__(self) -> str:
        key = self.key if len(self.key) <= 60 else f"{self.key[:59]}…"
        return f"Run {self.run_id}, chunk {self.chunk}: {key} ({self.get_status_display().lower()})"


# --- Lifecycle: memos, payments, documents, email ----------------------------------------


class CreditReason(models.TextChoices):
    """Why a credit memo credits (API.md's `reason`): a fixed list, so reports count credits
    by cause; the memo's note says more."""

    BILLING_ERROR = "billing_error", "Billing error"
    SERVICE_ISSUE = "service_issue", "Service issue"
    GOODWILL = "goodwill", "Goodwill"
    CANCELLATION = "cancellation", "Cancellation"
    OTHER = "other", "Other"


class CreditSource(models.TextChoices):
    """How a credit memo was made (the reference's source action)."""

    STANDALONE = "standalone", "Standalone"
    INVOICE = "invoice", "Credit of invoice lines"
    VOID = "void", "Void of an invoice"
    WRITE_OFF = "write_off", "Write-off"
    NEGATIVE_LINES = "negative_lines", "Negative invoice lines"


class CreditMemo(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        POSTED = "posted", "Posted"
        VOIDED = "voided", "Voided"  # a reversed write-off: its credit is taken back

    number = models.CharField(max_length=64, null=True, blank=True, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="credit_memos")
    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    currency = CurrencyField()
    invoice = models.ForeignKey(
        Invoice,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_memos",
        help_text="The invoice it credits (a void's mirror), if any.",
    )
    reason_code = models.CharField(
        max_length=20,
        choices=CreditReason.choices,
        default=CreditReason.OTHER,
        help_text="Why the credit was given (the API's `reason`); `reason` is the note that "
        "explains it (the API's `note`).",
    )
    source = models.CharField(
        max_length=20, choices=CreditSource.choices, default=CreditSource.STANDALONE
    )
    reason = models.CharField(max_length=255, blank=True)
    memo_date = models.DateField()
    posted_date = models.DateField(null=True, blank=True)
    total_charges = MoneyAmountField()
    total_tax = MoneyAmountField()
    total = MoneyAmountField(help_text="Positive: the credit given.")
    balance = MoneyAmountField(help_text="Credit not yet applied.")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="credit_memo_total_nonneg"),
            models.CheckConstraint(
                condition=Q(balance__gte=0) & Q(balance__lte=F("total")),
                name="credit_memo_balance_range",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Credit memo #{self.pk}"


class CreditMemoLine(TimeStampedModel):
    credit_memo = models.ForeignKey(CreditMemo, on_delete=models.CASCADE, related_name="lines")
    invoice_line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sort_order = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=255)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    quantity = QuantityField(default=1)
    unit_price = PriceField(default=0)
    amount = MoneyAmountField(help_text="Positive for a credit of a charge.")
    tax_amount = MoneyAmountField()

    class Meta:
        ordering = ["credit_memo_id", "sort_order", "id"]

    def __str__(self) -> str:
        return line_label(self, self.credit_memo.currency if self.credit_memo_id else "")


class CreditMemoLineTax(TimeStampedModel):
    line = models.ForeignKey(CreditMemoLine, on_delete=models.CASCADE, related_name="taxes")
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=50, blank=True)
    rate = models.DecimalField(max_digits=9, decimal_places=4)
    amount = MoneyAmountField()
    vat_category = models.CharField("VAT category", max_length=2, blank=True)
    exemption_reason_code = models.CharField(max_length=30, blank=True)
    exemption_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "credit memo line taxes"

    def __str__(self) -> str:
        return tax_label(self, self.line.credit_memo.currency if self.line_id else "")


class CreditMemoApplicationQuerySet(models.QuerySet):
    def active(self):
        """The applications in force (not unapplied): what lowers invoice and memo balances."""
        return self.filter(unapplied_at__isnull=True)


class CreditMemoApplication(TimeStampedModel):
    """A part of a posted credit memo applied to a posted invoice, with who and when; an
    unapply keeps the row and stamps it (`unapplied_at`, `unapplied_by`)."""

    credit_memo = models.ForeignKey(
        CreditMemo, on_delete=models.PROTECT, related_name="applications"
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="credit_applications"
    )
    invoice_line = models.ForeignKey(
        InvoiceLine,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The line credited, for an application at line level; else the header.",
    )
    amount = MoneyAmountField()
    applied_date = models.DateField()
    applied_by = models.CharField(max_length=150, blank=True)
    unapplied_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was unapplied; its amount is credit again."
    )
    unapplied_by = models.CharField(max_length=150, blank=True)

    objects = CreditMemoApplicationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_application_positive")
        ]

    @property
    def is_active(self) -> bool:
        return self.unapplied_at is None

    def __str__(self) -> str:
        return (
            f"{money_display(self.amount, self.credit_memo.currency)} of {self.credit_memo} "
            f"applied to {self.invoice} on {self.applied_date}"
        )


class DebitMemo(TimeStampedModel):
    """Extra charges (late fees, undercharges), invoiced by the next generation whose target
    date reaches next_billing_date, or turned into a draft invoice directly."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        POSTED = "posted", "Posted"
        INVOICED = "invoiced", "Invoiced"
        CANCELED = "canceled", "Canceled"
        OFFSET = "offset", "Offsets a voided credit memo (not billed)"

    number = models.CharField(max_length=64, null=True, blank=True, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="debit_memos")
    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    currency = CurrencyField()
    reason = models.CharField(max_length=255, blank=True)
    memo_date = models.DateField()
    next_billing_date = models.DateField()
    total = MoneyAmountField()
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="debit_memos"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_billing_date"], name="debit_memo_due")]

    def __str__(self) -> str:
        return self.number or f"Debit memo #{self.pk}"


class DebitMemoLine(TimeStampedModel):
    debit_memo = models.ForeignKey(DebitMemo, on_delete=models.CASCADE, related_name="lines")
    sort_order = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=500, blank=True)
    quantity = QuantityField(default=1)
    unit_price = PriceField(default=0)
    amount = MoneyAmountField()
    taxable = models.BooleanField(default=True)
    tax_code = models.CharField(max_length=50, blank=True)
    invoice_line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["debit_memo_id", "sort_order", "id"]

    def __str__(self) -> str:
        return line_label(self, self.debit_memo.currency if self.debit_memo_id else "")


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CHEQUE = "cheque", "Cheque"
    CASH = "cash", "Cash"
    OTHER = "other", "Other"


class Receipt(TimeStampedModel):
    """Money received from a customer (API.md's `payments/`): allocated to invoices (its
    Payment rows), the rest unallocated account credit that can be allocated later or
    refunded. A receipt recorded in error is reversed: its allocations are taken back."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        REVERSED = "reversed", "Reversed"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="receipts")
    amount = MoneyAmountField()
    currency = CurrencyField()
    payment_date = models.DateField()
    method = models.CharField(
        max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.OTHER
    )
    saved_payment_method = models.ForeignKey(
        SavedPaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    unallocated = MoneyAmountField(help_text="Received and neither allocated nor refunded.")
    refunded = MoneyAmountField()
    recorded_by = models.CharField(max_length=150, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.CharField(max_length=150, blank=True)
    reversal_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-payment_date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="receipt_positive"),
            models.CheckConstraint(
                condition=Q(unallocated__gte=0) & Q(refunded__gte=0),
                name="receipt_parts_nonneg",
            ),
            models.CheckConstraint(
                condition=Q(unallocated__lte=F("amount") - F("refunded")),
                name="receipt_unallocated_within",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"Payment #{self.pk} of {money_display(self.amount, self.currency)} "
            f"({self.payment_date})"
        )


class PaymentQuerySet(models.QuerySet):
    def active(self):
        """Allocations in force (not reversed): what lowers invoice balances."""
        return self.filter(reversed_at__isnull=True)


class Payment(TimeStampedModel):
    """A payment on an invoice: the part of a receipt allocated to it."""

    receipt = models.ForeignKey(
        Receipt, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments")
    amount = MoneyAmountField()
    currency = CurrencyField()
    payment_date = models.DateField()
    saved_payment_method = models.ForeignKey(
        SavedPaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reference = models.CharField(max_length=100, blank=True)
    recorded_by = models.CharField(max_length=150, blank=True)
    reversed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the allocation was taken back."
    )
    reversed_by = models.CharField(max_length=150, blank=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["-payment_date", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive")]

    def __str__(self) -> str:
        return (
            f"Payment of {money_display(self.amount, self.currency)} on {self.invoice} "
            f"({self.payment_date})"
        )


class Refund(TimeStampedModel):
    """Money paid back to the customer out of a receipt's unallocated part."""

    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="refunds")
    amount = MoneyAmountField()
    refund_date = models.DateField()
    reason = models.CharField(max_length=255, blank=True)
    refunded_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["receipt_id", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive")]

    def __str__(self) -> str:
        return f"Refund of {money_display(self.amount, self.receipt.currency)} ({self.refund_date})"


class InvoiceDocument(TimeStampedModel):
    """A rendered PDF of an invoice. Versioned: a regeneration adds a version."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="documents")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to="invoices/%Y/%m/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    page_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["invoice_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "version"], name="one_document_version")
        ]

    def __str__(self) -> str:
        return f"{self.invoice} PDF v{self.version} ({self.get_status_display().lower()})"


class EmailTemplate(TimeStampedModel):
    """Subject and body with merge fields {number}, {account}, {total}, {balance},
    {due_date}, {link}. Resolved: the billing profile's → the legal entity's → the default."""

    name = models.CharField(max_length=100, unique=True)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    billing_profile = models.ForeignKey(
        "accounts.BillingProfile",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="email_templates",
    )
    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.CASCADE, related_name="email_templates"
    )
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="one_default_email_template",
            )
        ]

    def __str__(self) -> str:
        return self.name


class InvoiceEmail(TimeStampedModel):
    """The dispatch history of an invoice's emails."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (opted out)"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="emails")
    to = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attached_pdf = models.BooleanField(default=False)
    bulk = models.BooleanField(default=False)
    batch_run = models.ForeignKey(
        InvoiceBatchRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Email of {self.invoice} to {self.to or '(no recipient)'} ({self.status})"
