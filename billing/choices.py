"""Enumerations shared by orders, schedules and the period engine."""

from django.db import models


class ChargeType(models.TextChoices):
    ONE_TIME = "one_time", "One-time"
    RECURRING = "recurring", "Recurring"
    USAGE = "usage", "Usage"


class PricingTerm(models.TextChoices):
    ONE_TIME = "one_time", "One-time"
    MONTH = "month", "Per month"
    QUARTER = "quarter", "Per quarter"
    YEAR = "year", "Per year"


class BillingFrequency(models.TextChoices):
    ONE_TIME = "one_time", "One-time"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMIANNUAL = "semiannual", "Semiannual"
    ANNUAL = "annual", "Annual"


class BillingType(models.TextChoices):
    ADVANCE = "advance", "Advance"
    ARREARS = "arrears", "Arrears"


class PeriodBoundary(models.TextChoices):
    ANNIVERSARY = "anniversary", "Anniversary"
    ALIGN_TO_CALENDAR = "align_to_calendar", "Align to calendar"
    DAY_OF_PERIOD = "day_of_period", "Day of period"


class InvoiceGroupType(models.TextChoices):
    DEFAULT = "default", "Default"
    PER_SCHEDULE = "per_schedule", "Billing schedule (own invoice)"
    CUSTOM = "custom", "Custom key"


class BundlePricing(models.TextChoices):
    INCLUDED = "included", "Included in bundle price"
    NOT_INCLUDED = "not_included", "Not included in bundle price"


class ItemAction(models.TextChoices):
    ADD = "add", "Add"
    CHANGE_QUANTITY = "change_quantity", "Change quantity"
    CANCEL = "cancel", "Cancel"
    RENEW = "renew", "Renew"


class ScheduleCategory(models.TextChoices):
    ORIGINAL = "original", "Original"
    AMENDMENT = "amendment", "Amendment (quantity)"
    CANCELLATION = "cancellation", "Cancellation"
    RENEWAL = "renewal", "Renewal"


class ScheduleStatus(models.TextChoices):
    READY = "ready_for_invoicing", "Ready for invoicing"
    PROCESSING = "processing", "Processing"
    COMPLETELY_BILLED = "completely_billed", "Completely billed"
    ERROR = "error", "Error"


class ZeroAmountHandling(models.TextChoices):
    CREATE_LINE = "create_line", "Create an invoice line"
    SKIP = "skip", "Skip zero-amount periods"


# Months in a billing frequency / pricing term (None: one-time).
FREQUENCY_MONTHS = {
    BillingFrequency.ONE_TIME: None,
    BillingFrequency.MONTHLY: 1,
    BillingFrequency.QUARTERLY: 3,
    BillingFrequency.SEMIANNUAL: 6,
    BillingFrequency.ANNUAL: 12,
}
PRICING_TERM_MONTHS = {
    PricingTerm.ONE_TIME: None,
    PricingTerm.MONTH: 1,
    PricingTerm.QUARTER: 3,
    PricingTerm.YEAR: 12,
}
