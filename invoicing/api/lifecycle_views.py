"""Invoice lifecycle API: one class per operation, each parsing input, calling one service
(or selector) and rendering. Routes that share a path (a collection's list and create, an
invoice's retrieve, update and delete) combine their operation classes in one route class.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from invoicing.api.lifecycle_serializers import (
    AdjustmentInputSerializer,
    AdjustmentUpdateInputSerializer,
    CreditMemoSerializer,
    DebitMemoCreateInputSerializer,
    DebitMemoInvoiceInputSerializer,
    DebitMemoSerializer,
    InvoiceUpdateInputSerializer,
    PaymentInputSerializer,
    SendEmailInputSerializer,
    VoidInputSerializer,
)
from invoicing.api.serializers import InvoiceSerializer, invoices_for_output
from invoicing.models import CreditMemo, DebitMemo, Invoice
from invoicing.services.documents import invoice_pdf_bytes
from invoicing.services.drafts import (
    KEEP,
    invoice_adjustment_add,
    invoice_adjustment_remove,
    invoice_adjustment_update,
    invoice_draft_delete,
    invoice_update,
)
from invoicing.services.email import invoice_email_send
from invoicing.services.memos import (
    debit_memo_create,
    debit_memo_invoice,
    debit_memo_post,
)
from invoicing.services.payments import payment_record
from invoicing.services.void import invoice_void


def _actor(request) -> str:
    return getattr(request.user, "username", "") or ""


def _invoice_out(invoice_id: int) -> dict:
    return InvoiceSerializer(invoices_for_output([invoice_id]).get()).data


def _perm(**methods: str) -> dict[str, list[str]]:
    return {method.upper(): [perm] for method, perm in methods.items()}


# --- one invoice ----------------------------------------------------------------------------


class InvoiceRetrieveApi(APIView):
    required_permissions = _perm(get="invoicing.view_invoice")

    @extend_schema(responses={200: InvoiceSerializer})
    def get(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        return Response(_invoice_out(pk))


class InvoiceUpdateApi(APIView):
    required_permissions = _perm(patch="invoicing.change_invoice")

    @extend_schema(request=InvoiceUpdateInputSerializer, responses={200: InvoiceSerializer})
    def patch(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = InvoiceUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        invoice_update(
            invoice_id=pk,
            invoice_date=v.get("invoice_date", KEEP),
            due_date=v.get("due_date", KEEP),
            description=v.get("description", KEEP),
            bill_to_id=v.get("bill_to", KEEP),
        )
        return Response(_invoice_out(pk))


class InvoiceDeleteApi(APIView):
    required_permissions = _perm(delete="invoicing.delete_invoice")

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        invoice_draft_delete(invoice_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvoiceDetailApi(InvoiceRetrieveApi, InvoiceUpdateApi, InvoiceDeleteApi):
    """invoices/{id}: retrieve; PATCH and DELETE while draft."""

    required_permissions = {
        **InvoiceRetrieveApi.required_permissions,
        **InvoiceUpdateApi.required_permissions,
        **InvoiceDeleteApi.required_permissions,
    }


class InvoiceAdjustmentAddApi(APIView):
    required_permissions = _perm(post="invoicing.change_invoice")

    @extend_schema(request=AdjustmentInputSerializer, responses={201: InvoiceSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = AdjustmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        invoice_adjustment_add(
            invoice_id=pk,
            name=v["name"],
            quantity=v["quantity"],
            unit_price=v["unit_price"],
            description=v.get("description", ""),
            taxable=v["taxable"],
            tax_code=v.get("tax_code", ""),
            product_id=v.get("product"),
            period_start=v.get("period_start"),
            period_end=v.get("period_end"),
        )
        return Response(_invoice_out(pk), status=status.HTTP_201_CREATED)


class InvoiceAdjustmentUpdateApi(APIView):
    required_permissions = _perm(patch="invoicing.change_invoice")

    @extend_schema(request=AdjustmentUpdateInputSerializer, responses={200: InvoiceSerializer})
    def patch(self, request, pk: int, line_id: int):
        get_object_or_404(Invoice, pk=pk)
        data = AdjustmentUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        invoice_adjustment_update(
            invoice_id=pk,
            line_id=line_id,
            **{k: v.get(k, KEEP) for k in AdjustmentUpdateInputSerializer().fields},
        )
        return Response(_invoice_out(pk))


class InvoiceAdjustmentRemoveApi(APIView):
    required_permissions = _perm(delete="invoicing.change_invoice")

    @extend_schema(responses={200: InvoiceSerializer})
    def delete(self, request, pk: int, line_id: int):
        get_object_or_404(Invoice, pk=pk)
        invoice_adjustment_remove(invoice_id=pk, line_id=line_id)
        return Response(_invoice_out(pk))


class InvoiceAdjustmentDetailApi(InvoiceAdjustmentUpdateApi, InvoiceAdjustmentRemoveApi):
    required_permissions = {
        **InvoiceAdjustmentUpdateApi.required_permissions,
        **InvoiceAdjustmentRemoveApi.required_permissions,
    }


# --- actions --------------------------------------------------------------------------------


class InvoiceVoidApi(APIView):
    required_permissions = _perm(post="invoicing.change_invoice")

    @extend_schema(
        request=VoidInputSerializer,
        responses={200: dict},
        examples=[
            OpenApiExample(
                "Void answer",
                value={
                    "invoice": {
                        "id": 7,
                        "number": "INV-0001",
                        "status": "voided",
                        "balance": "0.00",
                    },
                    "credit_memo": {"id": 3, "number": "CM-0001", "total": "106.26"},
                },
                response_only=True,
            )
        ],
    )
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = VoidInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = invoice_void(
            invoice_id=pk,
            voided_by=_actor(request),
            void_date=data.validated_data.get("void_date"),
            reason=data.validated_data.get("reason", ""),
        )
        memo = CreditMemo.objects.prefetch_related(
            "lines__taxes__line__credit_memo", "lines__credit_memo", "applications__credit_memo"
        ).get(pk=result.credit_memo.pk)
        return Response(
            {"invoice": _invoice_out(pk), "credit_memo": CreditMemoSerializer(memo).data}
        )


class InvoiceSendEmailApi(APIView):
    required_permissions = _perm(post="invoicing.change_invoice")

    @extend_schema(request=SendEmailInputSerializer, responses={200: dict})
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = SendEmailInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = invoice_email_send(invoice_id=pk, to=data.validated_data.get("to") or None)
        body = {"status": email.status, "email": email.pk, "to": email.to}
        if email.error:
            body["error"] = email.error
        return Response(body)


class InvoicePdfApi(APIView):
    required_permissions = _perm(get="invoicing.view_invoice")

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiResponse(description="The invoice PDF.")}
    )
    def get(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        pdf, filename = invoice_pdf_bytes(invoice_id=pk)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        return response


class InvoicePaymentRecordApi(APIView):
    required_permissions = _perm(post="invoicing.add_payment")

    @extend_schema(request=PaymentInputSerializer, responses={201: InvoiceSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = PaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        payment_record(
            invoice_id=pk,
            amount=v["amount"],
            payment_date=v["date"],
            saved_payment_method_id=v.get("saved_payment_method"),
            reference=v.get("reference", ""),
            recorded_by=_actor(request),
        )
        return Response(_invoice_out(pk), status=status.HTTP_201_CREATED)


# --- credit memos ---------------------------------------------------------------------------


def _credit_memos():
    return CreditMemo.objects.select_related("account").prefetch_related(
        "lines__taxes__line__credit_memo", "lines__credit_memo", "applications__credit_memo"
    )


class CreditMemoListApi(generics.ListAPIView):
    """Credit memos with lines, taxes and applications; filter by account, invoice, status,
    currency."""

    required_permissions = _perm(get="invoicing.view_creditmemo")
    queryset = _credit_memos().order_by("-id")
    serializer_class = CreditMemoSerializer
    filterset_fields = ["account", "invoice", "status", "currency"]
    ordering_fields = ["id", "memo_date", "total"]


class CreditMemoRetrieveApi(APIView):
    required_permissions = _perm(get="invoicing.view_creditmemo")

    @extend_schema(responses={200: CreditMemoSerializer})
    def get(self, request, pk: int):
        return Response(CreditMemoSerializer(get_object_or_404(_credit_memos(), pk=pk)).data)


# --- debit memos ----------------------------------------------------------------------------


def _debit_memos():
    return DebitMemo.objects.prefetch_related("lines__debit_memo")


class DebitMemoListApi(generics.ListAPIView):
    """Debit memos with their lines; filter by account, invoice, status, currency."""

    required_permissions = _perm(get="invoicing.view_debitmemo")
    queryset = _debit_memos().order_by("-id")
    serializer_class = DebitMemoSerializer
    filterset_fields = ["account", "invoice", "status", "currency"]
    ordering_fields = ["id", "memo_date", "next_billing_date", "total"]


class DebitMemoCreateApi(APIView):
    required_permissions = _perm(post="invoicing.add_debitmemo")

    @extend_schema(
        request=DebitMemoCreateInputSerializer,
        responses={201: DebitMemoSerializer},
        examples=[
            OpenApiExample(
                "A late fee billed with the next invoice",
                value={
                    "account": 12,
                    "reason": "Late payment of INV-2026-000042",
                    "next_billing_date": "2026-03-01",
                    "post": True,
                    "lines": [{"name": "Late fee", "quantity": "1", "unit_price": "25.00"}],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = DebitMemoCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        memo = debit_memo_create(
            account_id=v["account"],
            currency=v.get("currency", ""),
            legal_entity_id=v.get("legal_entity"),
            reason=v.get("reason", ""),
            memo_date=v.get("memo_date"),
            next_billing_date=v.get("next_billing_date"),
            post=v["post"],
            lines=[
                {
                    "product_id": line.get("product"),
                    "name": line.get("name", ""),
                    "description": line.get("description", ""),
                    "quantity": line["quantity"],
                    "unit_price": line["unit_price"],
                    **({"taxable": line["taxable"]} if "taxable" in line else {}),
                    **({"tax_code": line["tax_code"]} if "tax_code" in line else {}),
                }
                for line in v["lines"]
            ],
        )
        return Response(
            DebitMemoSerializer(_debit_memos().get(pk=memo.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class DebitMemoCollectionApi(DebitMemoListApi, DebitMemoCreateApi):
    """debit-memos/: list, and create with lines."""

    required_permissions = {
        **DebitMemoListApi.required_permissions,
        **DebitMemoCreateApi.required_permissions,
    }


class DebitMemoRetrieveApi(APIView):
    required_permissions = _perm(get="invoicing.view_debitmemo")

    @extend_schema(responses={200: DebitMemoSerializer})
    def get(self, request, pk: int):
        return Response(DebitMemoSerializer(get_object_or_404(_debit_memos(), pk=pk)).data)


class DebitMemoPostApi(APIView):
    required_permissions = _perm(post="invoicing.change_debitmemo")

    @extend_schema(request=None, responses={200: DebitMemoSerializer})
    def post(self, request, pk: int):
        get_object_or_404(DebitMemo, pk=pk)
        debit_memo_post(debit_memo_id=pk)
        return Response(DebitMemoSerializer(_debit_memos().get(pk=pk)).data)


class DebitMemoInvoiceApi(APIView):
    required_permissions = _perm(post="invoicing.add_invoice")

    @extend_schema(request=DebitMemoInvoiceInputSerializer, responses={201: InvoiceSerializer})
    def post(self, request, pk: int):
        get_object_or_404(DebitMemo, pk=pk)
        data = DebitMemoInvoiceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invoice = debit_memo_invoice(
            debit_memo_id=pk,
            invoice_date=data.validated_data.get("invoice_date"),
            post=data.validated_data["action"] == "posted",
            posted_by=_actor(request),
        )
        return Response(_invoice_out(invoice.pk), status=status.HTTP_201_CREATED)
