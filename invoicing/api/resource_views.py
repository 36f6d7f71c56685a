"""Invoicing resources: invoice list, billing schedules, tax rates, sequence policies, error
logs, and the Invoice Ingestion API. One API class per path or action; writes go through
services (core.crud for the plain setup records, invoicing.services.ingestion)."""

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import BillingSchedule
from core.api_views import ResourceDetailApi, ResourceListApi, ResourceListCreateApi
from invoicing.api.resource_serializers import (
    BillingScheduleSerializer,
    ErrorLogFilter,
    ErrorLogSerializer,
    IngestInvoiceSerializer,
    InvoiceFilter,
    SequencePolicySerializer,
    TaxRateSerializer,
)
from invoicing.api.serializers import InvoiceSerializer, invoices_for_output
from invoicing.models import BillingPeriodItem, ErrorLog, Invoice, SequencePolicy, TaxRate
from invoicing.services.ingestion import invoice_ingest


class InvoiceListApi(ResourceListApi):
    """Invoices with their lines, taxes and addresses. Filter by account, status, batch_run,
    number and date ranges (invoice_date_after, invoice_date_before, ...)."""

    queryset = Invoice.objects.prefetch_related(
        "lines__taxes__line__invoice", "lines__unit", "lines__invoice", "addresses"
    )
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    ordering_fields = ["id", "number", "invoice_date", "due_date", "posted_date", "total"]


class BillingScheduleListApi(ResourceListApi):
    queryset = BillingSchedule.objects.prefetch_related(
        Prefetch(
            "period_items",
            queryset=BillingPeriodItem.objects.order_by("period_start", "id"),
        )
    )
    serializer_class = BillingScheduleSerializer
    filterset_fields = ["account", "order", "status", "group", "category", "charge_type"]
    ordering_fields = ["id", "next_billing_date", "start_date"]


class BillingScheduleDetailApi(ResourceDetailApi):
    http_method_names = ["get", "head", "options"]
    queryset = BillingScheduleListApi.queryset
    serializer_class = BillingScheduleSerializer


class TaxRateListCreateApi(ResourceListCreateApi):
    queryset = TaxRate.objects.all()
    serializer_class = TaxRateSerializer
    filterset_fields = ["legal_entity", "country", "region", "tax_code", "kind", "is_active"]
    ordering_fields = ["id", "priority", "name"]


class TaxRateDetailApi(ResourceDetailApi):
    queryset = TaxRate.objects.all()
    serializer_class = TaxRateSerializer


class SequencePolicyListCreateApi(ResourceListCreateApi):
    queryset = SequencePolicy.objects.all()
    serializer_class = SequencePolicySerializer
    filterset_fields = ["target", "legal_entity", "currency", "is_active"]
    ordering_fields = ["id", "name"]


class SequencePolicyDetailApi(ResourceDetailApi):
    queryset = SequencePolicy.objects.all()
    serializer_class = SequencePolicySerializer


class ErrorLogListApi(ResourceListApi):
    queryset = ErrorLog.objects.all()
    serializer_class = ErrorLogSerializer
    filterset_class = ErrorLogFilter
    ordering_fields = ["id", "updated_at", "created_at"]


_INGEST_POSTED = {
    "account_external_id": "ERP-4711",
    "status": "posted",
    "invoice_date": "2026-11-01",
    "posted_date": "2026-11-01",
    "due_date": "2026-12-01",
    "currency": "USD",
    "number": "LEGACY-2026-0042",
    "unique_identifier": "erp-invoice-5873af8f",
    "addresses": [
        {
            "kind": "billing",
            "name": "Acme Corp",
            "line1": "5 Main St",
            "city": "Austin",
            "region": "TX",
            "postal_code": "73301",
            "country": "US",
        }
    ],
    "lines": [
        {
            "name": "Consulting, October",
            "period_start": "2026-10-01",
            "period_end": "2026-10-31",
            "quantity": "10",
            "unit_price": "150.00",
            "amount": "1500.00",
            "taxable": True,
            "taxes": [{"name": "TX sales tax", "code": "TX", "rate": "6.25", "amount": "93.75"}],
        },
        {"name": "Travel", "quantity": "1", "unit_price": "80.00", "taxable": False},
    ],
}
_INGEST_DRAFT = {
    "account": 12,
    "invoice_date": "2026-11-01",
    "payment_term": 1,
    "calculate_tax": True,
    "unique_identifier": "portal-order-991",
    "lines": [{"product": 3, "quantity": "2", "unit_price": "49.00"}],
}


class InvoiceIngestApi(APIView):
    """Ingest one standalone, imported or debit-memo invoice, all or nothing.

    201 with the new invoice; 200 with the first invoice when its `unique_identifier` was
    ingested before; 400 naming every bad field (`lines[2].amount`) and nothing written.
    """

    required_permissions = {"POST": ["invoicing.add_invoice"]}

    @extend_schema(
        request=IngestInvoiceSerializer,
        responses={
            201: OpenApiResponse(InvoiceSerializer, description="The invoice was created."),
            200: OpenApiResponse(
                InvoiceSerializer,
                description="An invoice with this unique_identifier exists: it is returned.",
            ),
        },
        examples=[
            OpenApiExample(
                "A posted invoice imported from an ERP, with its number and final tax",
                value=_INGEST_POSTED,
                request_only=True,
            ),
            OpenApiExample(
                "A standalone draft with estimated tax",
                value=_INGEST_DRAFT,
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        data = IngestInvoiceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = invoice_ingest(data=data.validated_data, ingested_by=request.user.get_username())
        return Response(
            InvoiceSerializer(invoices_for_output([result.invoice.pk]).get()).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
