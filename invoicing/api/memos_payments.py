"""The memos and payments family of the API: credit memos and debit memos (and their PDFs,
`credit-memos/{id}/pdf` and `debit-memos/{id}/pdf`, drawn by invoicing.pdf like the invoice's),
an invoice's void (answered with the credit memo that reverses it) and a payment recorded on an
invoice. One class per operation, each parsing its input, calling one service or selector and
rendering; routes that share a path combine their operation classes in one route class. Field
names follow ../shared/API.md."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_views import method_permissions, request_actor
from invoicing import selectors
from invoicing.api.fields import MoneyField
from invoicing.api.invoices import InvoiceSerializer, invoice_out
from invoicing.exceptions import CreditApplicationNotFound
from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    DebitMemo,
    DebitMemoLine,
    Invoice,
)
from invoicing.pdf import (
    credit_memo_pdf_filename,
    debit_memo_pdf_filename,
    render_credit_memo_pdf,
    render_debit_memo_pdf,
)
from invoicing.services.credits import (
    credit_application_unapply,
    credit_memo_apply,
    invoice_credit,
)
from invoicing.services.memos import (
    credit_memo_create,
    credit_memo_post,
    debit_memo_create,
    debit_memo_invoice,
    debit_memo_post,
)
from invoicing.services.payments import payment_record
from invoicing.services.void import invoice_void
from invoicing.services.writeoffs import invoice_write_off, invoice_write_off_reverse

# --- representation ---------------------------------------------------------------------------


class CreditMemoLineTaxSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = CreditMemoLineTax
        fields = ["name", "code", "rate", "amount"]


class CreditMemoLineSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    tax_amount = MoneyField()
    taxes = CreditMemoLineTaxSerializer(many=True, read_only=True)

    class Meta:
        model = CreditMemoLine
        fields = [
            "id",
            "invoice_line",
            "name",
            "period_start",
            "period_end",
            "quantity",
            "unit_price",
            "amount",
            "tax_amount",
            "taxes",
        ]


class CreditMemoApplicationSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = CreditMemoApplication
        fields = [
            "id",
            "invoice",
            "amount",
            "applied_date",
            "applied_by",
            "unapplied_at",
            "unapplied_by",
        ]


class CreditMemoSerializer(serializers.ModelSerializer):
    total_charges = MoneyField()
    total_tax = MoneyField()
    total = MoneyField()
    balance = MoneyField()
    lines = CreditMemoLineSerializer(many=True, read_only=True)
    applications = CreditMemoApplicationSerializer(many=True, read_only=True)

    class Meta:
        model = CreditMemo
        fields = [
            "id",
            "number",
            "status",
            "account",
            "legal_entity",
            "currency",
            "invoice",
            "reason_code",
            "reason",
            "memo_date",
            "posted_date",
            "total_charges",
            "total_tax",
            "total",
            "balance",
            "lines",
            "applications",
        ]
        read_only_fields = fields


class DebitMemoLineSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = DebitMemoLine
        fields = [
            "id",
            "product",
            "name",
            "description",
            "quantity",
            "unit_price",
            "amount",
            "taxable",
            "tax_code",
            "invoice_line",
        ]
        read_only_fields = fields


class DebitMemoSerializer(serializers.ModelSerializer):
    total = MoneyField()
    lines = DebitMemoLineSerializer(many=True, read_only=True)

    class Meta:
        model = DebitMemo
        fields = [
            "id",
            "number",
            "status",
            "account",
            "legal_entity",
            "currency",
            "reason",
            "memo_date",
            "next_billing_date",
            "total",
            "invoice",
            "lines",
        ]
        read_only_fields = fields


# --- inputs -----------------------------------------------------------------------------------


class VoidInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)
    void_date = serializers.DateField(required=False)


class PaymentInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=19, decimal_places=4)
    date = serializers.DateField()
    saved_payment_method = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100)


class CreditMemoLineInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    quantity = serializers.DecimalField(max_digits=19, decimal_places=6, default="1")
    unit_price = serializers.DecimalField(max_digits=19, decimal_places=6)
    tax_amount = serializers.DecimalField(max_digits=19, decimal_places=4, required=False)
    period_start = serializers.DateField(required=False, allow_null=True)
    period_end = serializers.DateField(required=False, allow_null=True)


class CreditMemoCreateInputSerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1)
    reason_code = serializers.CharField(required=False, default="other")
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3)
    legal_entity = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    invoice = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)
    memo_date = serializers.DateField(required=False)
    post = serializers.BooleanField(default=False)
    lines = CreditMemoLineInputSerializer(many=True, allow_empty=False)


class CreditApplicationInputSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(
        max_digits=19, decimal_places=4, required=False, allow_null=True
    )


class CreditMemoApplyInputSerializer(serializers.Serializer):
    """Either `applications` (several invoices) or `invoice` and `amount` (one)."""

    applications = CreditApplicationInputSerializer(many=True, required=False)
    invoice = serializers.IntegerField(required=False, min_value=1)
    amount = serializers.DecimalField(
        max_digits=19, decimal_places=4, required=False, allow_null=True
    )
    applied_date = serializers.DateField(required=False)

    def validate(self, attrs):
        if ("applications" in attrs) == ("invoice" in attrs):
            raise serializers.ValidationError(
                {
                    "applications": "Give `applications` (a list of {invoice, amount}) or one "
                    "`invoice` with an optional `amount`, not both."
                }
            )
        if "invoice" in attrs:
            attrs["applications"] = [
                {"invoice": attrs.pop("invoice"), "amount": attrs.pop("amount", None)}
            ]
        return attrs


class InvoiceCreditLineInputSerializer(serializers.Serializer):
    invoice_line = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(
        max_digits=19, decimal_places=4, required=False, allow_null=True
    )
    quantity = serializers.DecimalField(
        max_digits=19, decimal_places=6, required=False, allow_null=True
    )


class InvoiceCreditInputSerializer(serializers.Serializer):
    lines = InvoiceCreditLineInputSerializer(many=True)
    reason_code = serializers.CharField(required=False, default="billing_error")
    note = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    credit_date = serializers.DateField(required=False)
    type = serializers.ChoiceField(choices=["draft", "posted"], default="posted")
    apply = serializers.BooleanField(default=True)


class CreditMemoUnapplyInputSerializer(serializers.Serializer):
    application = serializers.IntegerField(min_value=1)


class DebitMemoLineInputSerializer(serializers.Serializer):
    product = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    quantity = serializers.DecimalField(max_digits=19, decimal_places=6, default="1")
    unit_price = serializers.DecimalField(max_digits=19, decimal_places=6)
    taxable = serializers.BooleanField(required=False)
    tax_code = serializers.CharField(required=False, allow_blank=True, max_length=50)


class DebitMemoCreateInputSerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1)
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3)
    legal_entity = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)
    memo_date = serializers.DateField(required=False)
    next_billing_date = serializers.DateField(required=False)
    post = serializers.BooleanField(default=False)
    lines = DebitMemoLineInputSerializer(many=True, allow_empty=False)


class DebitMemoInvoiceInputSerializer(serializers.Serializer):
    invoice_date = serializers.DateField(required=False)
    action = serializers.ChoiceField(choices=["draft", "posted"], default="draft")


# --- an invoice's void and payments ------------------------------------------------------------


class InvoiceVoidApi(APIView):
    required_permissions = method_permissions(post="invoicing.change_invoice")

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
            voided_by=request_actor(request),
            void_date=data.validated_data.get("void_date"),
            reason=data.validated_data.get("reason", ""),
        )
        memo = selectors.credit_memo_get(credit_memo_id=result.credit_memo.pk)
        return Response(
            {"invoice": invoice_out(pk), "credit_memo": CreditMemoSerializer(memo).data}
        )


class InvoiceCreditApi(APIView):
    """Credit lines of a posted invoice (whole, an amount or a quantity each): a credit memo
    referencing it, tax copied from each line, posted and applied to the invoice unless
    `type` is draft or `apply` is false. Answers the memo and the invoice."""

    required_permissions = method_permissions(post="invoicing.add_creditmemo")

    @extend_schema(
        request=InvoiceCreditInputSerializer,
        responses={201: dict},
        examples=[
            OpenApiExample(
                "Two seats of ten, and 5.00 off support",
                value={
                    "reason_code": "quantity",
                    "note": "Two seats were never used",
                    "lines": [
                        {"invoice_line": 41, "quantity": "2"},
                        {"invoice_line": 42, "amount": "5.00"},
                    ],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = InvoiceCreditInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = invoice_credit(
            invoice_id=pk,
            lines=[
                {
                    "invoice_line": line["invoice_line"],
                    "amount": line.get("amount"),
                    "quantity": line.get("quantity"),
                }
                for line in v["lines"]
            ],
            reason_code=v["reason_code"],
            note=v["note"],
            credit_date=v.get("credit_date"),
            action=v["type"],
            apply=v["apply"],
            created_by=request_actor(request),
        )
        memo = selectors.credit_memo_get(credit_memo_id=result.credit_memo.pk)
        return Response(
            {"credit_memo": CreditMemoSerializer(memo).data, "invoice": invoice_out(pk)},
            status=status.HTTP_201_CREATED,
        )


class WriteOffInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    write_off_date = serializers.DateField(required=False)


class InvoiceWriteOffApi(APIView):
    """Write off the invoice's open balance: a posted `write_off` credit memo applied to it."""

    required_permissions = method_permissions(post="invoicing.change_invoice")

    @extend_schema(request=WriteOffInputSerializer, responses={200: dict})
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = WriteOffInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = invoice_write_off(
            invoice_id=pk,
            note=data.validated_data["note"],
            write_off_date=data.validated_data.get("write_off_date"),
            written_off_by=request_actor(request),
        )
        memo = selectors.credit_memo_get(credit_memo_id=result.credit_memo.pk)
        return Response(
            {"invoice": invoice_out(pk), "credit_memo": CreditMemoSerializer(memo).data}
        )


class InvoiceWriteOffReverseApi(APIView):
    """Reverse the invoice's write-off: its balance is open again, the write-off memo voided."""

    required_permissions = method_permissions(post="invoicing.change_invoice")

    @extend_schema(request=None, responses={200: dict})
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        result = invoice_write_off_reverse(invoice_id=pk, reversed_by=request_actor(request))
        memo = selectors.credit_memo_get(credit_memo_id=result.credit_memo.pk)
        return Response(
            {"invoice": invoice_out(pk), "credit_memo": CreditMemoSerializer(memo).data}
        )


class InvoicePaymentRecordApi(APIView):
    required_permissions = method_permissions(post="invoicing.add_payment")

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
            recorded_by=request_actor(request),
        )
        return Response(invoice_out(pk), status=status.HTTP_201_CREATED)


# --- credit memos -----------------------------------------------------------------------------


class CreditMemoListApi(generics.ListAPIView):
    """Credit memos with lines, taxes and applications; filter by account, invoice, status,
    currency."""

    required_permissions = method_permissions(get="invoicing.view_creditmemo")
    serializer_class = CreditMemoSerializer
    filterset_fields = ["account", "invoice", "status", "currency"]
    ordering_fields = ["id", "memo_date", "total"]

    def get_queryset(self):
        return selectors.credit_memo_list()


class CreditMemoCreateApi(APIView):
    required_permissions = method_permissions(post="invoicing.add_creditmemo")

    @extend_schema(
        request=CreditMemoCreateInputSerializer,
        responses={201: CreditMemoSerializer},
        examples=[
            OpenApiExample(
                "A goodwill credit, posted at once",
                value={
                    "account": 12,
                    "reason": "Outage on 3 March",
                    "post": True,
                    "lines": [{"name": "Goodwill credit", "unit_price": "25.00"}],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = CreditMemoCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        memo = credit_memo_create(
            account_id=v["account"],
            currency=v.get("currency", ""),
            legal_entity_id=v.get("legal_entity"),
            invoice_id=v.get("invoice"),
            reason_code=v["reason_code"],
            reason=v.get("reason", ""),
            memo_date=v.get("memo_date"),
            lines=[dict(line) for line in v["lines"]],
        )
        if v["post"]:
            credit_memo_post(credit_memo_id=memo.pk)
        return Response(
            CreditMemoSerializer(selectors.credit_memo_get(credit_memo_id=memo.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class CreditMemoCollectionApi(CreditMemoListApi, CreditMemoCreateApi):
    """credit-memos/: list, and create with lines (optionally posted at once)."""

    required_permissions = {
        **CreditMemoListApi.required_permissions,
        **CreditMemoCreateApi.required_permissions,
    }


class CreditMemoPostApi(APIView):
    required_permissions = method_permissions(post="invoicing.change_creditmemo")

    @extend_schema(request=None, responses={200: CreditMemoSerializer})
    def post(self, request, pk: int):
        get_object_or_404(CreditMemo, pk=pk)
        credit_memo_post(credit_memo_id=pk)
        return Response(CreditMemoSerializer(selectors.credit_memo_get(credit_memo_id=pk)).data)


class CreditMemoApplyApi(APIView):
    """Apply a posted credit memo to posted invoices of its account (one or several)."""

    required_permissions = method_permissions(post="invoicing.add_creditmemoapplication")

    @extend_schema(
        request=CreditMemoApplyInputSerializer,
        responses={200: CreditMemoSerializer},
        examples=[
            OpenApiExample(
                "Over two invoices",
                value={"applications": [{"invoice": 7, "amount": "40.00"}, {"invoice": 9}]},
                request_only=True,
            ),
            OpenApiExample(
                "To one invoice, as much as both allow",
                value={"invoice": 7},
                request_only=True,
            ),
        ],
    )
    def post(self, request, pk: int):
        get_object_or_404(CreditMemo, pk=pk)
        data = CreditMemoApplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        credit_memo_apply(
            credit_memo_id=pk,
            applications=[
                {"invoice": a["invoice"], "amount": a.get("amount")} for a in v["applications"]
            ],
            applied_date=v.get("applied_date"),
            applied_by=request_actor(request),
        )
        return Response(CreditMemoSerializer(selectors.credit_memo_get(credit_memo_id=pk)).data)


class CreditMemoUnapplyApi(APIView):
    """Take back one application of the credit memo (`application`: its id)."""

    required_permissions = method_permissions(post="invoicing.change_creditmemoapplication")

    @extend_schema(request=CreditMemoUnapplyInputSerializer, responses={200: CreditMemoSerializer})
    def post(self, request, pk: int):
        get_object_or_404(CreditMemo, pk=pk)
        data = CreditMemoUnapplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application_id = data.validated_data["application"]
        if not CreditMemoApplication.objects.filter(pk=application_id, credit_memo_id=pk).exists():
            raise CreditApplicationNotFound(
                f"Credit memo {pk} has no application {application_id}.",
                details={"application": application_id},
            )
        credit_application_unapply(
            application_id=application_id, unapplied_by=request_actor(request)
        )
        return Response(CreditMemoSerializer(selectors.credit_memo_get(credit_memo_id=pk)).data)


class CreditMemoRetrieveApi(APIView):
    required_permissions = method_permissions(get="invoicing.view_creditmemo")

    @extend_schema(responses={200: CreditMemoSerializer})
    def get(self, request, pk: int):
        return Response(
            CreditMemoSerializer(get_object_or_404(selectors.credit_memo_list(), pk=pk)).data
        )


class CreditMemoPdfApi(APIView):
    """The credit memo as a PDF (rendered on request: a posted memo never changes)."""

    required_permissions = method_permissions(get="invoicing.view_creditmemo")

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiResponse(description="The credit memo PDF.")}
    )
    def get(self, request, pk: int):
        memo = get_object_or_404(CreditMemo, pk=pk)
        return _pdf_response(render_credit_memo_pdf(memo), credit_memo_pdf_filename(memo))


def _pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# --- debit memos ------------------------------------------------------------------------------


class DebitMemoListApi(generics.ListAPIView):
    """Debit memos with their lines; filter by account, invoice, status, currency."""

    required_permissions = method_permissions(get="invoicing.view_debitmemo")
    serializer_class = DebitMemoSerializer
    filterset_fields = ["account", "invoice", "status", "currency"]
    ordering_fields = ["id", "memo_date", "next_billing_date", "total"]

    def get_queryset(self):
        return selectors.debit_memo_list()


class DebitMemoCreateApi(APIView):
    required_permissions = method_permissions(post="invoicing.add_debitmemo")

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
            DebitMemoSerializer(selectors.debit_memo_get(debit_memo_id=memo.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class DebitMemoCollectionApi(DebitMemoListApi, DebitMemoCreateApi):
    """debit-memos/: list, and create with lines."""

    required_permissions = {
        **DebitMemoListApi.required_permissions,
        **DebitMemoCreateApi.required_permissions,
    }


class DebitMemoRetrieveApi(APIView):
    required_permissions = method_permissions(get="invoicing.view_debitmemo")

    @extend_schema(responses={200: DebitMemoSerializer})
    def get(self, request, pk: int):
        return Response(
            DebitMemoSerializer(get_object_or_404(selectors.debit_memo_list(), pk=pk)).data
        )


class DebitMemoPostApi(APIView):
    required_permissions = method_permissions(post="invoicing.change_debitmemo")

    @extend_schema(request=None, responses={200: DebitMemoSerializer})
    def post(self, request, pk: int):
        get_object_or_404(DebitMemo, pk=pk)
        debit_memo_post(debit_memo_id=pk)
        return Response(DebitMemoSerializer(selectors.debit_memo_get(debit_memo_id=pk)).data)


class DebitMemoInvoiceApi(APIView):
    required_permissions = method_permissions(post="invoicing.add_invoice")

    @extend_schema(request=DebitMemoInvoiceInputSerializer, responses={201: InvoiceSerializer})
    def post(self, request, pk: int):
        get_object_or_404(DebitMemo, pk=pk)
        data = DebitMemoInvoiceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invoice = debit_memo_invoice(
            debit_memo_id=pk,
            invoice_date=data.validated_data.get("invoice_date"),
            post=data.validated_data["action"] == "posted",
            posted_by=request_actor(request),
        )
        return Response(invoice_out(invoice.pk), status=status.HTTP_201_CREATED)


class DebitMemoPdfApi(APIView):
    """The debit memo as a PDF (rendered on request)."""

    required_permissions = method_permissions(get="invoicing.view_debitmemo")

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiResponse(description="The debit memo PDF.")}
    )
    def get(self, request, pk: int):
        memo = get_object_or_404(DebitMemo, pk=pk)
        return _pdf_response(render_debit_memo_pdf(memo), debit_memo_pdf_filename(memo))
