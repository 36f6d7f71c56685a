"""Invoicing resources as the API shows and accepts them: invoices (list), billing schedules
with their period items, tax rates, sequence policies, error logs, and the ingestion input.
Field names follow ../shared/API.md."""

from django.contrib.contenttypes.models import ContentType
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Account, Contact, LegalEntity, PaymentTerm
from billing.models import BillingSchedule, Order, Product, UnitOfMeasure
from core.api_fields import CurrencyAmountField
from invoicing.api.serializers import MoneyField
from invoicing.models import (
    BillingPeriodItem,
    DebitMemo,
    ErrorLog,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
    SequencePolicy,
    TaxRate,
)

# --- invoices ---------------------------------------------------------------------------------


class InvoiceFilter(filters.FilterSet):
    invoice_date = filters.DateFromToRangeFilter(
        help_text="invoice_date_after / invoice_date_before (inclusive)."
    )
    due_date = filters.DateFromToRangeFilter()
    posted_date = filters.DateFromToRangeFilter()

    class Meta:
        model = Invoice
        fields = [
            "account",
            "status",
            "batch_run",
            "number",
            "source",
            "currency",
            "legal_entity",
            "unique_identifier",
            "settlement_status",
            "email_status",
            "invoice_date",
            "due_date",
            "posted_date",
        ]


# --- billing schedules ------------------------------------------------------------------------


class BillingPeriodItemSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = BillingPeriodItem
        fields = [
            "id",
            "period_start",
            "period_end",
            "quantity",
            "unit_price",
            "amount",
            "proration",
            "invoice_status",
            "invoice",
            "invoice_line",
            "usage_summary",
        ]


class BillingScheduleSerializer(serializers.ModelSerializer):
    period_amount = CurrencyAmountField()
    total_amount = CurrencyAmountField()
    billed_amount = CurrencyAmountField()
    pending_amount = CurrencyAmountField()
    period_items = serializers.SerializerMethodField()

    class Meta:
        model = BillingSchedule
        fields = [
            "id",
            "group",
            "account",
            "order",
            "order_item",
            "product",
            "charge_type",
            "category",
            "status",
            "start_date",
            "end_date",
            "next_billing_date",
            "next_charge_from_date",
            "cancellation_date",
            "quantity",
            "unit_price",
            "pricing_term",
            "billing_frequency",
            "billing_type",
            "period_boundary",
            "period_amount",
            "total_amount",
            "billed_amount",
            "pending_amount",
            "currency",
            "legal_entity",
            "period_items",
        ]

    @extend_schema_field(BillingPeriodItemSerializer(many=True))
    def get_period_items(self, schedule: BillingSchedule) -> list[dict]:
        items = schedule.period_items.all()  # prefetched, in period order
        for item in items:
            item.currency = schedule.currency  # for the amount's minor unit
        return BillingPeriodItemSerializer(items, many=True).data


# --- setup ------------------------------------------------------------------------------------


class TaxRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxRate
        fields = [
            "id",
            "legal_entity",
            "country",
            "region",
            "tax_code",
            "name",
            "rate",
            "kind",
            "priority",
            "is_active",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"rate": {"min_value": 0}}


class SequencePolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = SequencePolicy
        fields = [
            "id",
            "name",
            "target",
            "pattern",
            "date_format",
            "start",
            "increment",
            "min_width",
            "legal_entity",
            "currency",
            "is_active",
            "effective_from",
            "effective_to",
            "next_value",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["next_value", "created_at", "updated_at"]
        extra_kwargs = {"increment": {"min_value": 1}}

    def validate_pattern(self, value: str) -> str:
        if "{SEQ}" not in value:
            raise serializers.ValidationError(
                "The pattern needs {SEQ}, where the number goes (e.g. INV-{DATE}-{SEQ})."
            )
        return value


# --- error logs -------------------------------------------------------------------------------


class ErrorLogFilter(filters.FilterSet):
    primary = filters.CharFilter(
        method="filter_primary",
        help_text="The record the error is about, as <model>:<id>, e.g. invoice:12 or "
        "billingschedule:7.",
    )

    class Meta:
        model = ErrorLog
        fields = ["batch_run", "category", "code", "is_resolved", "request_id", "primary"]

    def filter_primary(self, queryset, name, value):
        model, _, pk = value.partition(":")
        model = model.rsplit(".", 1)[-1].lower()
        if not pk.isdigit():
            return queryset.none()
        types = ContentType.objects.filter(model=model)
        return queryset.filter(primary_type__in=types, primary_id=int(pk))


class _RecordRefSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="app_label.model, e.g. invoicing.invoice.")
    id = serializers.IntegerField()


class ErrorLogSerializer(serializers.ModelSerializer):
    primary = serializers.SerializerMethodField()
    related = serializers.SerializerMethodField()

    class Meta:
        model = ErrorLog
        fields = [
            "id",
            "category",
            "code",
            "message",
            "primary",
            "related",
            "request_id",
            "batch_run",
            "is_resolved",
            "occurrences",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(_RecordRefSerializer)
    def get_primary(self, log: ErrorLog) -> dict:
        ct = ContentType.objects.get_for_id(log.primary_type_id)
        return {"type": f"{ct.app_label}.{ct.model}", "id": log.primary_id}

    @extend_schema_field(_RecordRefSerializer(allow_null=True))
    def get_related(self, log: ErrorLog) -> dict | None:
        if log.related_type_id is None:
            return None
        ct = ContentType.objects.get_for_id(log.related_type_id)
        return {"type": f"{ct.app_label}.{ct.model}", "id": log.related_id}


# --- ingestion input --------------------------------------------------------------------------

_MONEY = {"max_digits": 19, "decimal_places": 4}
_PRICE = {"max_digits": 19, "decimal_places": 6}


class IngestTaxSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    code = serializers.CharField(max_length=50, required=False, allow_blank=True)
    rate = serializers.DecimalField(max_digits=9, decimal_places=4, help_text="Percent.")
    kind = serializers.ChoiceField(choices=TaxRate.Kind.choices, required=False)
    taxable_amount = serializers.DecimalField(**_MONEY, required=False)
    amount = serializers.DecimalField(**_MONEY)
    status = serializers.ChoiceField(
        choices=InvoiceLineTax.Status.choices,
        required=False,
        help_text="posted (final) on a posted invoice, estimated on a draft; the default.",
    )


class IngestLineSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=InvoiceLine.Type.choices, required=False)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all(), required=False)
    period_start = serializers.DateField(required=False, allow_null=True)
    period_end = serializers.DateField(required=False, allow_null=True)
    quantity = serializers.DecimalField(**_PRICE)
    unit = serializers.SlugRelatedField(
        slug_field="code", queryset=UnitOfMeasure.objects.all(), required=False
    )
    unit_price = serializers.DecimalField(**_PRICE)
    amount = serializers.DecimalField(
        **_MONEY,
        required=False,
        help_text="Optional; when sent it must equal quantity × unit price, rounded.",
    )
    taxable = serializers.BooleanField(required=False, allow_null=True, default=None)
    tax_code = serializers.CharField(max_length=50, required=False, allow_blank=True)
    taxes = IngestTaxSerializer(many=True, required=False)


class IngestAddressSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=InvoiceAddress.Kind.choices)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)


class IngestInvoiceSerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(), required=False, allow_null=True
    )
    account_external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    bill_to = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(), required=False, allow_null=True
    )
    legal_entity = serializers.PrimaryKeyRelatedField(
        queryset=LegalEntity.objects.all(), required=False, allow_null=True
    )
    status = serializers.ChoiceField(
        choices=[InvoiceStatus.DRAFT, InvoiceStatus.POSTED], default=InvoiceStatus.DRAFT
    )
    invoice_date = serializers.DateField()
    due_date = serializers.DateField(required=False, allow_null=True)
    posted_date = serializers.DateField(
        required=False, allow_null=True, help_text="Posted invoices only; default today."
    )
    payment_term = serializers.PrimaryKeyRelatedField(
        queryset=PaymentTerm.objects.all(), required=False, allow_null=True
    )
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    number = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="Posted invoices only; empty: the next number of the sequence policy.",
    )
    unique_identifier = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text="The same value again returns the invoice first ingested with it (200).",
    )
    reference_order = serializers.PrimaryKeyRelatedField(
        queryset=Order.objects.all(), required=False, allow_null=True
    )
    debit_memo = serializers.PrimaryKeyRelatedField(
        queryset=DebitMemo.objects.all(),
        required=False,
        allow_null=True,
        help_text="A posted debit memo: the invoice is a draft of its lines.",
    )
    calculate_tax = serializers.BooleanField(
        default=False, help_text="Drafts only: estimate the tax with the tax engine."
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    correlation_id = serializers.CharField(required=False, allow_blank=True, max_length=255)
    addresses = IngestAddressSerializer(many=True, required=False)
    lines = IngestLineSerializer(many=True, required=False)
