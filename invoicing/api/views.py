"""Invoice API operations: one class per operation, each calling one service."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from invoicing.api.serializers import (
    GenerateInputSerializer,
    InvoiceSerializer,
    PreviewInputSerializer,
    invoices_for_output,
    preview_as_dict,
)
from invoicing.models import Invoice
from invoicing.services.generation import invoices_generate
from invoicing.services.posting import invoice_post
from invoicing.services.preview import invoices_preview


def _actor(request) -> str:
    return getattr(request.user, "username", "") or ""


class InvoiceGenerateApi(APIView):
    @extend_schema(
        request=GenerateInputSerializer,
        responses={200: dict},
        examples=[
            OpenApiExample(
                "Generate posted invoices for an account",
                value={
                    "account": 12,
                    "target_date": "2026-11-30",
                    "invoice_date": "2026-12-01",
                    "action": "posted",
                    "correlation_id": "erp-sync-4711",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = GenerateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = invoices_generate(
            order_id=v.get("order"),
            account_id=v.get("account") if not v.get("order") else None,
            billing_schedule_ids=v.get("billing_schedule_ids"),
            target_date=v["target_date"],
            invoice_date=v.get("invoice_date"),
            action=v["action"],
            correlation_id=v.get("correlation_id", ""),
            requested_by=_actor(request),
        )
        return Response(
            {
                "request_id": result.request_id,
                "invoices": InvoiceSerializer(
                    invoices_for_output(result.invoice_ids), many=True
                ).data,
                "billing_schedules_processed": list(result.schedule_ids),
                "errors": [e.as_dict() for e in result.errors]
                + [{"invoice": e["invoice_id"], **e} for e in result.posting_errors],
            }
        )


class InvoicePreviewApi(APIView):
    @extend_schema(request=PreviewInputSerializer, responses={200: dict})
    def post(self, request):
        data = PreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        previews = invoices_preview(
            order_id=v.get("order"),
            account_id=v.get("account") if not v.get("order") else None,
            periods=v["periods"],
            preview_date=v.get("preview_date"),
        )
        return Response({"invoices": [preview_as_dict(p) for p in previews]})


class InvoicePostApi(APIView):
    @extend_schema(request=None, responses={200: InvoiceSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        invoice = invoice_post(invoice_id=pk, posted_by=_actor(request))
        return Response(
            InvoiceSerializer(invoices_for_output([invoice.pk]).get()).data,
            status=status.HTTP_200_OK,
        )
