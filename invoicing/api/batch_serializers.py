"""Schedulers and batch runs in the API. Field names follow ../shared/API.md ("Batch runs")."""

from django.utils import timezone
from rest_framework import serializers

from billing.choices import ChargeType
from invoicing.models import InvoiceBatchRun, InvoiceScheduler
from invoicing.services.scheduling import scheduler_next_run_at


class RunFiltersSerializer(serializers.Serializer):
    """Which schedules a run bills; an empty or missing filter matches every schedule."""

    currencies = serializers.ListField(child=serializers.CharField(max_length=3), required=False)
    legal_entity = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    accounts = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    matching_values = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False
    )
    charge_types = serializers.ListField(
        child=serializers.ChoiceField(choices=ChargeType.choices), required=False
    )

    def to_representation(self, instance):
        # Stored normalised by the service: only the filters that are set.
        return dict(instance or {})


SCHEDULER_FIELDS = (
    "name",
    "status",
    "cadence",
    "weekday",
    "day_of_month",
    "time",
    "timezone",
    "start_date",
    "end_date",
    "exclude_weekends",
    "invoice_status",
    "target_date",
    "target_date_offset",
    "invoice_date",
    "invoice_date_offset",
    "invoice_date_from_run_date",
    "billing_period_count",
    "filters",
)


class InvoiceSchedulerSerializer(serializers.ModelSerializer):
    """A scheduler; `next_run_at` is when beat fires it next (active schedulers only)."""

    filters = RunFiltersSerializer(required=False)
    next_run_at = serializers.SerializerMethodField()

    class Meta:
        model = InvoiceScheduler
        fields = (
            "id",
            *SCHEDULER_FIELDS,
            "next_run_at",
            "last_run_at",
            "periodic_task",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "next_run_at", "last_run_at", "periodic_task")
        # Uniqueness and the domain rules are the service's (one message per rule).
        validators = []
        extra_kwargs = {"name": {"validators": []}}

    def get_next_run_at(self, obj: InvoiceScheduler) -> str | None:
        if obj.status != InvoiceScheduler.Status.ACTIVE:
            return None
        at = scheduler_next_run_at(obj, after=timezone.now())
        return at.isoformat() if at else None


class InvoiceBatchRunSerializer(serializers.ModelSerializer):
    sub_runs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = InvoiceBatchRun
        fields = (
            "id",
            "kind",
            "scheduler",
            "parent_run",
            "status",
            "stage",
            "progress",
            "run_date",
            "target_date",
            "invoice_date",
            "invoice_status",
            "billing_period_count",
            "filters",
            "started_at",
            "completed_at",
            "matching_schedules",
            "schedules_processed",
            "schedules_failed",
            "invoices_generated",
            "invoices_failed",
            "draft_invoices",
            "posted_invoices",
            "amounts",
            "summary",
            "chunks_total",
            "chunks_done",
            "requested_by",
            "sub_runs",
        )
        read_only_fields = fields


class BillingSchedulesRecoverInputSerializer(serializers.Serializer):
    billing_schedule_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=200
    )
