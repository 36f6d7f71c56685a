"""The runs and schedulers family of the API: invoice schedulers, batch runs and their
sub-runs (recover, draft to posted, send email, cancel), and the error log that runs and
generation write. One class per operation, each parsing its input, calling one service or
selector and rendering; routes that share a path combine their operation classes in one route
class. Field names follow ../shared/API.md ("Batch runs")."""

from django.contrib.contenttypes.models import ContentType
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.choices import ChargeType
from core.api_views import ResourceListApi, method_permissions, request_actor
from invoicing import selectors
from invoicing.models import ErrorLog, InvoiceBatchRun, InvoiceScheduler
from invoicing.services.recovery import batch_run_recover
from invoicing.services.runs import (
    batch_run_cancel,
    batch_run_draft_to_posted,
    batch_run_send_email,
)
from invoicing.services.schedulers import (
    EDITABLE_FIELDS,
    scheduler_delete,
    scheduler_run_now,
    scheduler_save,
)

# --- representation and inputs ----------------------------------------------------------------


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


SCHEDULER_FIELDS = ("name", "status", *EDITABLE_FIELDS[1:])


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
        runs = selectors.scheduler_next_runs(scheduler=obj, count=1, after=timezone.now())
        return runs[0].isoformat() if runs else None


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
            "redispatches",
            "events",
            "requested_by",
            "sub_runs",
        )
        read_only_fields = fields


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
        if not pk.isdigit():
            return queryset.none()
        return selectors.error_log_list_for_primary(queryset, model=model, record_id=int(pk))


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


def _scheduler_fields(validated: dict) -> dict:
    data = dict(validated)
    if "filters" in data:
        data["filters"] = {
            k: v for k, v in dict(data["filters"] or {}).items() if v not in (None, [])
        }
    return data


def _run_out(run: InvoiceBatchRun) -> dict:
    """The run as the API shows it, re-read (a sub-run's service returns it before its
    task ran)."""
    return InvoiceBatchRunSerializer(selectors.batch_run_list_with_sub_runs().get(pk=run.pk)).data


class SchedulerListApi(generics.ListAPIView):
    queryset = InvoiceScheduler.objects.all()
    serializer_class = InvoiceSchedulerSerializer
    filterset_fields = ("status", "cadence", "invoice_status")
    ordering_fields = ("name", "id", "last_run_at")


class SchedulerCreateApi(APIView):
    required_permissions = method_permissions(post="invoicing.add_invoicescheduler")

    @extend_schema(request=InvoiceSchedulerSerializer, responses={201: InvoiceSchedulerSerializer})
    def post(self, request):
        data = InvoiceSchedulerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scheduler = scheduler_save(**_scheduler_fields(data.validated_data))
        return Response(InvoiceSchedulerSerializer(scheduler).data, status=status.HTTP_201_CREATED)


class SchedulerCollectionApi(SchedulerListApi, SchedulerCreateApi):
    """GET: list (filter status, cadence, invoice_status). POST: create."""

    required_permissions = {
        "GET": ["invoicing.view_invoicescheduler"],
        **SchedulerCreateApi.required_permissions,
    }


class SchedulerRetrieveApi(generics.RetrieveAPIView):
    queryset = InvoiceScheduler.objects.all()
    serializer_class = InvoiceSchedulerSerializer


class SchedulerUpdateApi(APIView):
    """Only a draft or inactive scheduler can be edited; an active one accepts a status change
    (to inactive or canceled)."""

    required_permissions = method_permissions(
        put="invoicing.change_invoicescheduler", patch="invoicing.change_invoicescheduler"
    )

    def _update(self, request, pk: int, *, partial: bool):
        scheduler = get_object_or_404(InvoiceScheduler, pk=pk)
        data = InvoiceSchedulerSerializer(scheduler, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        scheduler = scheduler_save(scheduler_id=pk, **_scheduler_fields(data.validated_data))
        return Response(InvoiceSchedulerSerializer(scheduler).data)

    @extend_schema(request=InvoiceSchedulerSerializer, responses={200: InvoiceSchedulerSerializer})
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(request=InvoiceSchedulerSerializer, responses={200: InvoiceSchedulerSerializer})
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)


class SchedulerDeleteApi(APIView):
    required_permissions = method_permissions(delete="invoicing.delete_invoicescheduler")

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        get_object_or_404(InvoiceScheduler, pk=pk)
        scheduler_delete(scheduler_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SchedulerDetailApi(SchedulerRetrieveApi, SchedulerUpdateApi, SchedulerDeleteApi):
    required_permissions = {
        "GET": ["invoicing.view_invoicescheduler"],
        **SchedulerUpdateApi.required_permissions,
        **SchedulerDeleteApi.required_permissions,
    }


class SchedulerRunNowApi(APIView):
    required_permissions = method_permissions(post="invoicing.add_invoicebatchrun")

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(description='{"batch_run": id, "status_url": url}'),
        },
    )
    def post(self, request, pk: int):
        get_object_or_404(InvoiceScheduler, pk=pk)
        run = scheduler_run_now(scheduler_id=pk, requested_by=request_actor(request))
        url = request.build_absolute_uri(reverse("invoice-batch-run-detail", args=[run.pk]))
        return Response({"batch_run": run.pk, "status_url": url}, status=status.HTTP_202_ACCEPTED)


# --- runs ---------------------------------------------------------------------------------


class BatchRunListApi(generics.ListAPIView):
    """Runs and sub-runs, newest first (filter scheduler, status, kind, parent_run)."""

    serializer_class = InvoiceBatchRunSerializer
    filterset_fields = ("scheduler", "status", "kind", "parent_run", "stage")
    ordering_fields = ("id", "started_at", "completed_at")

    def get_queryset(self):
        return selectors.batch_run_list_with_sub_runs()


class BatchRunRetrieveApi(generics.RetrieveAPIView):
    serializer_class = InvoiceBatchRunSerializer

    def get_queryset(self):
        return selectors.batch_run_list_with_sub_runs()


class _SubRunApi(APIView):
    required_permissions = method_permissions(post="invoicing.add_invoicebatchrun")
    service = None

    @extend_schema(request=None, responses={202: InvoiceBatchRunSerializer})
    def post(self, request, pk: int):
        get_object_or_404(InvoiceBatchRun, pk=pk)
        sub = type(self).service(run_id=pk, requested_by=request_actor(request))
        return Response(_run_out(sub), status=status.HTTP_202_ACCEPTED)


class BatchRunRecoverApi(_SubRunApi):
    """Recovery sub-run: cancel invoices stuck in draft_in_progress, reset schedules left
    processing or error, and bill what the run left billable (its keys no worker holds)."""

    service = staticmethod(batch_run_recover)


class BatchRunDraftToPostedApi(_SubRunApi):
    """Draft-to-posted sub-run: post every draft invoice of a finished run."""

    required_permissions = {
        "POST": ["invoicing.add_invoicebatchrun", "invoicing.change_invoice"],
    }
    service = staticmethod(batch_run_draft_to_posted)


class BatchRunSendEmailApi(_SubRunApi):
    """Email sub-run: email every posted invoice of a finished run (bulk: opt-outs honoured,
    nothing sent twice)."""

    required_permissions = {
        "POST": ["invoicing.add_invoicebatchrun", "invoicing.change_invoice"],
    }
    service = staticmethod(batch_run_send_email)


class BatchRunCancelApi(APIView):
    required_permissions = method_permissions(post="invoicing.change_invoicebatchrun")

    @extend_schema(request=None, responses={200: InvoiceBatchRunSerializer})
    def post(self, request, pk: int):
        get_object_or_404(InvoiceBatchRun, pk=pk)
        return Response(_run_out(batch_run_cancel(run_id=pk)))


# --- error logs -------------------------------------------------------------------------------


class ErrorLogListApi(ResourceListApi):
    queryset = ErrorLog.objects.all()
    serializer_class = ErrorLogSerializer
    filterset_class = ErrorLogFilter
    ordering_fields = ["id", "updated_at", "created_at"]
