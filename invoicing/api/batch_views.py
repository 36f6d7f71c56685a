"""Batch-run API: one class per operation, each parsing input, calling one service and
rendering. Routes that share a path combine their operation classes in one route class.
Errors go through core.api.exception_handler; permissions are the project's default class
(an authenticated user holding what `required_permissions` or the queryset's model asks)."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from invoicing.api.batch_serializers import (
    BillingSchedulesRecoverInputSerializer,
    InvoiceBatchRunSerializer,
    InvoiceSchedulerSerializer,
)
from invoicing.models import InvoiceBatchRun, InvoiceScheduler
from invoicing.services.batch import (
    batch_run_cancel,
    batch_run_draft_to_posted,
    batch_run_recover,
    batch_run_send_email,
    billing_schedules_recover,
    scheduler_run_now,
)
from invoicing.services.scheduling import scheduler_delete, scheduler_save


def _actor(request) -> str:
    return getattr(request.user, "username", "") or ""


def _perm(**methods: str) -> dict[str, list[str]]:
    return {method.upper(): [perm] for method, perm in methods.items()}


def _scheduler_fields(validated: dict) -> dict:
    data = dict(validated)
    if "filters" in data:
        data["filters"] = {
            k: v for k, v in dict(data["filters"] or {}).items() if v not in (None, [])
        }
    return data


def _run_out(run: InvoiceBatchRun) -> dict:
    return InvoiceBatchRunSerializer(InvoiceBatchRun.objects.get(pk=run.pk)).data


# --- schedulers -----------------------------------------------------------------------------


class SchedulerListApi(generics.ListAPIView):
    queryset = InvoiceScheduler.objects.all()
    serializer_class = InvoiceSchedulerSerializer
    filterset_fields = ("status", "cadence", "invoice_status")
    ordering_fields = ("name", "id", "last_run_at")


class SchedulerCreateApi(APIView):
    required_permissions = _perm(post="invoicing.add_invoicescheduler")

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

    required_permissions = _perm(
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
    required_permissions = _perm(delete="invoicing.delete_invoicescheduler")

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
    required_permissions = _perm(post="invoicing.add_invoicebatchrun")

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(description='{"batch_run": id, "status_url": url}'),
        },
    )
    def post(self, request, pk: int):
        get_object_or_404(InvoiceScheduler, pk=pk)
        run = scheduler_run_now(scheduler_id=pk, requested_by=_actor(request))
        url = request.build_absolute_uri(reverse("invoice-batch-run-detail", args=[run.pk]))
        return Response({"batch_run": run.pk, "status_url": url}, status=status.HTTP_202_ACCEPTED)


# --- runs ---------------------------------------------------------------------------------


class BatchRunListApi(generics.ListAPIView):
    """Runs and sub-runs, newest first (filter scheduler, status, kind, parent_run)."""

    queryset = InvoiceBatchRun.objects.prefetch_related("sub_runs")
    serializer_class = InvoiceBatchRunSerializer
    filterset_fields = ("scheduler", "status", "kind", "parent_run", "stage")
    ordering_fields = ("id", "started_at", "completed_at")


class BatchRunRetrieveApi(generics.RetrieveAPIView):
    queryset = InvoiceBatchRun.objects.prefetch_related("sub_runs")
    serializer_class = InvoiceBatchRunSerializer


class _SubRunApi(APIView):
    required_permissions = _perm(post="invoicing.add_invoicebatchrun")
    service = None

    @extend_schema(request=None, responses={202: InvoiceBatchRunSerializer})
    def post(self, request, pk: int):
        get_object_or_404(InvoiceBatchRun, pk=pk)
        sub = type(self).service(run_id=pk, requested_by=_actor(request))
        return Response(_run_out(sub), status=status.HTTP_202_ACCEPTED)


class BatchRunRecoverApi(_SubRunApi):
    """Recovery sub-run: abandon what no worker holds, cancel invoices stuck in
    draft_in_progress, reset schedules left processing or error."""

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
    required_permissions = _perm(post="invoicing.change_invoicebatchrun")

    @extend_schema(request=None, responses={200: InvoiceBatchRunSerializer})
    def post(self, request, pk: int):
        get_object_or_404(InvoiceBatchRun, pk=pk)
        return Response(_run_out(batch_run_cancel(run_id=pk)))


# --- schedules ------------------------------------------------------------------------------


class BillingSchedulesRecoverApi(APIView):
    required_permissions = _perm(post="billing.change_billingschedule")

    @extend_schema(
        request=BillingSchedulesRecoverInputSerializer,
        responses={
            200: OpenApiResponse(
                description='{"results": [{"invoice", "invoice_status", '
                '"billing_schedules": [{"id", "status"}], "errors"}]}'
            )
        },
    )
    def post(self, request):
        data = BillingSchedulesRecoverInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        results = billing_schedules_recover(
            schedule_ids=data.validated_data["billing_schedule_ids"]
        )
        return Response({"results": results})
