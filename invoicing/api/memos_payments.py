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
from core.exceptions import ValidationError
from core.money import money_str
from invoicing import selectors
from invoicing.api.fields import MoneyField
from invoicing.api.invoices import InvoiceSerializer, invoice_out
from invoicing.exceptions import CreditApplicationNotFound
from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    CreditReason,
    DebitMemo,
    DebitMemoLine,
    Invoice,
    Payment,
    PaymentMethod,
    Receipt,
    Refund,
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
    credit_memo_unapply,
    credit_memo_void,
    invoice_credit,
    invoice_negative_lines_convert,
)
from invoicing.services.memos import (
    credit_memo_create,
    credit_memo_draft_delete,
    credit_memo_post,
    credit_memo_update,
    debit_memo_create,
    debit_memo_invoice,
    debit_memo_post,
)
from invoicing.services.payments import (
    payment_allocate,
    payment_receive,
    payment_record,
    payment_refund,
    payment_reverse,
    payment_unallocate,
)
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
    applied_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = CreditMemoApplication
        fields = [
            "id",
            "invoice",
            "invoice_line",
            "amount",
            "applied_date",
            "applied_at",
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
    credit_date = serializers.DateField(source="memo_date", read_only=True)
    reason = serializers.CharField(source="reason_code", read_only=True)
    note = serializers.CharField(source="reason", read_only=True)
    applied_amount = serializers.SerializerMethodField()
    remaining_amount = MoneyField(source="balance", read_only=True)

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
            "credit_date",
            "reason",
            "note",
            "source",
            "memo_date",
            "posted_date",
            "total_charges",
            "total_tax",
            "total",
            "balance",
            "applied_amount",
            "remaining_amount",
            "lines",
            "applications",
        ]
        read_only_fields = fields

    def get_applied_amount(self, memo) -> str:
        """The credit applied to invoices (in force): total − balance once posted."""
        applied = memo.total - memo.balance if memo.status == CreditMemo.Status.POSTED else 0
        return money_str(applied, memo.currency)


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


class ReceiptAllocationSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = Payment
        fields = ["id", "invoice", "amount", "reversed_at"]
        read_only_fields = fields


class RefundSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    date = serializers.DateField(source="refund_date", read_only=True)

    class Meta:
        model = Refund
        fields = ["id", "amount", "date", "reason", "refunded_by"]
        read_only_fields = fields


class ReceiptSerializer(serializers.ModelSerializer):
    """payments/ as API.md states it: money received, its allocations, what is left."""

    amount = MoneyField()
    date = serializers.DateField(source="payment_date", read_only=True)
    allocations = ReceiptAllocationSerializer(many=True, read_only=True)
    unallocated_amount = MoneyField(source="unallocated", read_only=True)
    refunded_amount = MoneyField(source="refunded", read_only=True)
    refunds = RefundSerializer(many=True, read_only=True)

    class Meta:
        model = Receipt
        fields = [
            "id",
            "account",
            "amount",
            "currency",
            "date",
            "method",
            "saved_payment_method",
            "reference",
            "allocations",
            "unallocated_amount",
            "refunded_amount",
            "status",
            "refunds",
            "recorded_by",
            "reversed_at",
            "reversed_by",
            "reversal_reason",
        ]
        read_only_fields = fields


class AllocationInputSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(
        max_digits=19, decimal_places=4, required=False, allow_null=True
    )


class ReceiptCreateInputSerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(max_digits=19, decimal_places=4)
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3)
    date = serializers.DateField(required=False)
    method = serializers.ChoiceField(choices=PaymentMethod.choices, default=PaymentMethod.OTHER)
    saved_payment_method = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100)
    allocations = AllocationInputSerializer(many=True, required=False)


class AllocateInputSerializer(serializers.Serializer):
    allocations = AllocationInputSerializer(many=True)


class RefundInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=19, decimal_places=4)
    date = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)


class ReverseInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)


class VoidInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)
    void_date = serializers.DateField(required=False)


class PaymentInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=19, decimal_places=4)
    date = serializers.DateField()
    method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False)
    saved_payment_method = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100)


class CreditMemoLineInputSerializer(serializers.Serializer):
    invoice_line = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    name = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    quantity = serializers.DecimalField(
        max_digits=19, decimal_places=6, required=False, allow_null=True
    )
    unit_price = serializers.DecimalField(
        max_digits=19, decimal_places=6, required=False, allow_null=True
    )
    amount = serializers.DecimalField(
        max_digits=19, decimal_places=4, required=False, allow_null=True
    )
    tax_amount = serializers.DecimalField(max_digits=19, decimal_places=4, required=False)
    period_start = serializers.DateField(required=False, allow_null=True)
    period_end = serializers.DateField(required=False, allow_null=True)


class CreditMemoWriteInputSerializer(serializers.Serializer):
    """What PATCH changes on a draft: credit_date, reason, note, lines."""

    credit_date = serializers.DateField(required=False)
    reason = serializers.ChoiceField(choices=CreditReason.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=255)
    lines = CreditMemoLineInputSerializer(many=True, required=False, allow_empty=False)


class CreditMemoCreateInputSerializer(CreditMemoWriteInputSerializer):
    account = serializers.IntegerField(min_value=1)
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3)
    legal_entity = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    invoice = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    reason = serializers.ChoiceField(choices=CreditReason.choices, default=CreditReason.OTHER)
    post = serializers.BooleanField(default=False)
    lines = CreditMemoLineInputSerializer(many=True, allow_empty=False)


class CreditApplicationInputSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(min_value=1)
    invoice_line = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    amount = serializers.DecimalField(
        max_digits=19, decimal_places=4, required=False, allow_null=True
    )


class CreditMemoApplyInputSerializer(serializers.Serializer):
    """`applications` (API.md); `invoice` with an optional `amount` is a shorthand for one."""

    applications = CreditApplicationInputSerializer(many=True, required=False)
    invoice = serializers.IntegerField(required=False, min_value=1)
    amount = serializers.DecimalField(
        max_digits=19, decimal_places=4, required=False, allow_null=True
    )
    applied_date = serializers.DateField(required=False)
    level = serializers.ChoiceField(
        choices=[("header", "header"), ("line", "line")],
        default="header",
        help_text="line: spread each application naming no line over the invoice's lines, "
        "the line with the most open first.",
    )

    def validate(self, attrs):
        if ("applications" in attrs) == ("invoice" in attrs):
            raise serializers.ValidationError(
                {
                    "applications": "Give `applications` (a list of {invoice, invoice_line, "
                    "amount}) or one `invoice` with an optional `amount`, not both."
                }
            )
        if "invoice" in attrs:
            attrs["applications"] = [
                {"invoice": attrs.pop("invoice"), "amount": attrs.pop("amount", None)}
            ]
        return attrs


class CreditMemoUnapplyInputSerializer(serializers.Serializer):
    """`invoice` (API.md): every application of the memo to it; or one `application` id."""

    invoice = serializers.IntegerField(required=False, min_value=1)
    application = serializers.IntegerField(required=False, min_value=1)

    def validate(self, attrs):
        if ("invoice" in attrs) == ("application" in attrs):
            raise serializers.ValidationError(
                {"invoice": "Give the `invoice` to unapply the credit from (or one `application`)."}
            )
        return attrs


def credit_memo_lines_in(lines) -> list[dict]:
    """API lines → credit_memo_create's: `amount` alone is one unit at that price."""
    out = []
    for i, line in enumerate(lines):
        unit_price, amount, quantity = (
            line.get("unit_price"),
            line.get("amount"),
            line.get("quantity"),
        )
        if unit_price is None and amount is None:
            raise ValidationError({f"lines[{i}].unit_price": "Give a unit_price or an amount."})
        if unit_price is None:
            if quantity not in (None, 1):
                raise ValidationError(
                    {f"lines[{i}].unit_price": "With a quantity, give the unit_price."}
                )
            unit_price, quantity = amount, 1
        out.append(
            {
                "name": line.get("name", ""),
                "quantity": quantity if quantity is not None else 1,
                "unit_price": unit_price,
                **({"tax_amount": line["tax_amount"]} if "tax_amount" in line else {}),
                **{k: line[k] for k in ("period_start", "period_end") if line.get(k)},
            }
        )
    return out


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
    reason = serializers.ChoiceField(
        choices=CreditReason.choices, default=CreditReason.BILLING_ERROR
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    credit_date = serializers.DateField(required=False)
    type = serializers.ChoiceField(choices=["draft", "posted"], default="posted")
    apply = serializers.BooleanField(default=True)


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
                    "reason": "billing_error",
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
            reason_code=v["reason"],
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
    amount = serializers.DecimalField(
        max_digits=19, decimal_places=4, required=False, allow_null=True
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
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
            amount=data.validated_data.get("amount"),
            note=data.validated_data["reason"],
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


class NegativeLinesInputSerializer(serializers.Serializer):
    effective_date = serializers.DateField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=255)
    invoice_lines = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, allow_empty=False
    )


class InvoiceNegativeLinesConvertApi(APIView):
    """Convert the invoice's negative charge lines (all, or `invoice_lines`) into a posted
    credit memo applied back to it (the reference's convert-to-credit)."""

    required_permissions = method_permissions(post="invoicing.add_creditmemo")

    @extend_schema(request=NegativeLinesInputSerializer, responses={200: dict})
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = NegativeLinesInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = invoice_negative_lines_convert(
            invoice_id=pk,
            line_ids=v.get("invoice_lines"),
            effective_date=v.get("effective_date"),
            description=v.get("description", ""),
            converted_by=request_actor(request),
        )
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
            method=v.get("method"),
        )
        return Response(invoice_out(pk), status=status.HTTP_201_CREATED)


# --- payments (receipts) -------------------------------------------------------------------------


def _receipt_out(receipt_id: int) -> dict:
    return ReceiptSerializer(selectors.receipt_get(receipt_id=receipt_id)).data


class ReceiptListApi(generics.ListAPIView):
    """Payments received; filter by account, currency, method, status."""

    required_permissions = method_permissions(get="invoicing.view_payment")
    serializer_class = ReceiptSerializer
    filterset_fields = ["account", "currency", "method", "status"]
    ordering_fields = ["id", "payment_date", "amount"]

    def get_queryset(self):
        return selectors.receipt_list()


class ReceiptCreateApi(APIView):
    required_permissions = method_permissions(post="invoicing.add_payment")

    @extend_schema(
        request=ReceiptCreateInputSerializer,
        responses={201: ReceiptSerializer},
        examples=[
            OpenApiExample(
                "A bank transfer over two invoices, the rest kept as credit",
                value={
                    "account": 12,
                    "amount": "500.00",
                    "date": "2026-03-02",
                    "method": "bank_transfer",
                    "reference": "SEPA 2026-03-02 0042",
                    "allocations": [{"invoice": 7, "amount": "300.00"}, {"invoice": 9}],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = ReceiptCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        receipt = payment_receive(
            account_id=v["account"],
            amount=v["amount"],
            currency=v.get("currency", ""),
            payment_date=v.get("date"),
            method=v["method"],
            saved_payment_method_id=v.get("saved_payment_method"),
            reference=v.get("reference", ""),
            allocations=[dict(a) for a in v.get("allocations", [])],
            recorded_by=request_actor(request),
        )
        return Response(_receipt_out(receipt.pk), status=status.HTTP_201_CREATED)


class ReceiptCollectionApi(ReceiptListApi, ReceiptCreateApi):
    """payments/: list, and record money received."""

    required_permissions = {
        **ReceiptListApi.required_permissions,
        **ReceiptCreateApi.required_permissions,
    }


class ReceiptRetrieveApi(APIView):
    required_permissions = method_permissions(get="invoicing.view_payment")

    @extend_schema(responses={200: ReceiptSerializer})
    def get(self, request, pk: int):
        return Response(ReceiptSerializer(get_object_or_404(selectors.receipt_list(), pk=pk)).data)


class ReceiptAllocateApi(APIView):
    required_permissions = method_permissions(post="invoicing.add_payment")

    @extend_schema(request=AllocateInputSerializer, responses={200: ReceiptSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Receipt, pk=pk)
        data = AllocateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment_allocate(
            receipt_id=pk,
            allocations=[dict(a) for a in data.validated_data["allocations"]],
            allocated_by=request_actor(request),
        )
        return Response(_receipt_out(pk))


class UnallocateInputSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(min_value=1)


class ReceiptUnallocateApi(APIView):
    """Take back the payment's allocations to one invoice: the money is unallocated again."""

    required_permissions = method_permissions(post="invoicing.change_payment")

    @extend_schema(request=UnallocateInputSerializer, responses={200: ReceiptSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Receipt, pk=pk)
        data = UnallocateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment_unallocate(
            receipt_id=pk,
            invoice_id=data.validated_data["invoice"],
            unallocated_by=request_actor(request),
        )
        return Response(_receipt_out(pk))


class ReceiptRefundApi(APIView):
    required_permissions = method_permissions(post="invoicing.change_payment")

    @extend_schema(request=RefundInputSerializer, responses={200: ReceiptSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Receipt, pk=pk)
        data = RefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        payment_refund(
            receipt_id=pk,
            amount=v["amount"],
            refund_date=v.get("date"),
            reason=v.get("reason", ""),
            refunded_by=request_actor(request),
        )
        return Response(_receipt_out(pk))


class ReceiptReverseApi(APIView):
    required_permissions = method_permissions(post="invoicing.change_payment")

    @extend_schema(request=ReverseInputSerializer, responses={200: ReceiptSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Receipt, pk=pk)
        data = ReverseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment_reverse(
            receipt_id=pk,
            reason=data.validated_data.get("reason", ""),
            reversed_by=request_actor(request),
        )
        return Response(_receipt_out(pk))


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
    """Create a credit memo (a draft, or posted with `post`): standalone lines, or lines of
    the `invoice` it credits (each with `invoice_line`; held to what is left of each line and
    taxed at its rates, as invoices/{id}/credit). Applying is a separate action."""

    required_permissions = method_permissions(post="invoicing.add_creditmemo")

    @extend_schema(
        request=CreditMemoCreateInputSerializer,
        responses={201: CreditMemoSerializer},
        examples=[
            OpenApiExample(
                "A goodwill credit, posted at once",
                value={
                    "account": 12,
                    "reason": "goodwill",
                    "note": "Outage on 3 March",
                    "post": True,
                    "lines": [{"name": "Goodwill credit", "amount": "25.00"}],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Two seats of an invoice line",
                value={
                    "account": 12,
                    "invoice": 7,
                    "reason": "billing_error",
                    "lines": [{"invoice_line": 41, "quantity": "2"}],
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        data = CreditMemoCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        with_lines = [line.get("invoice_line") is not None for line in v["lines"]]
        if any(with_lines):
            if not all(with_lines) or not v.get("invoice"):
                raise ValidationError(
                    {
                        "lines": "Give `invoice` and an `invoice_line` on every line to credit "
                        "an invoice's lines, or no `invoice_line` at all for a standalone memo."
                    }
                )
            if not Invoice.objects.filter(pk=v["invoice"], account_id=v["account"]).exists():
                raise ValidationError(
                    {
                        "invoice": (
                            f"Invoice {v['invoice']} is not an invoice of account {v['account']}."
                        )
                    }
                )
            result = invoice_credit(
                invoice_id=v["invoice"],
                lines=[
                    {
                        "invoice_line": line["invoice_line"],
                        "amount": line.get("amount"),
                        "quantity": line.get("quantity") if line.get("amount") is None else None,
                    }
                    for line in v["lines"]
                ],
                reason_code=v["reason"],
                note=v.get("note", ""),
                credit_date=v.get("credit_date"),
                action="posted" if v["post"] else "draft",
                apply=False,
                created_by=request_actor(request),
            )
            memo = result.credit_memo
        else:
            memo = credit_memo_create(
                account_id=v["account"],
                currency=v.get("currency", ""),
                legal_entity_id=v.get("legal_entity"),
                invoice_id=v.get("invoice"),
                reason_code=v["reason"],
                reason=v.get("note", ""),
                memo_date=v.get("credit_date"),
                lines=credit_memo_lines_in(v["lines"]),
                post=v["post"],
            )
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
                {
                    "invoice": a["invoice"],
                    "amount": a.get("amount"),
                    "invoice_line": a.get("invoice_line"),
                }
                for a in v["applications"]
            ],
            applied_date=v.get("applied_date"),
            applied_by=request_actor(request),
            level=v["level"],
        )
        return Response(CreditMemoSerializer(selectors.credit_memo_get(credit_memo_id=pk)).data)


class CreditMemoUnapplyApi(APIView):
    """Take back the memo's credit from an `invoice` (every application to it), or one
    `application`: it is open on the invoice and credit left on the memo again."""

    required_permissions = method_permissions(post="invoicing.change_creditmemoapplication")

    @extend_schema(request=CreditMemoUnapplyInputSerializer, responses={200: CreditMemoSerializer})
    def post(self, request, pk: int):
        get_object_or_404(CreditMemo, pk=pk)
        data = CreditMemoUnapplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        actor = request_actor(request)
        if "invoice" in v:
            credit_memo_unapply(credit_memo_id=pk, invoice_id=v["invoice"], unapplied_by=actor)
        else:
            application_id = v["application"]
            if not CreditMemoApplication.objects.filter(
                pk=application_id, credit_memo_id=pk
            ).exists():
                raise CreditApplicationNotFound(
                    f"Credit memo {pk} has no application {application_id}.",
                    details={"application": application_id},
                )
            credit_application_unapply(application_id=application_id, unapplied_by=actor)
        return Response(CreditMemoSerializer(selectors.credit_memo_get(credit_memo_id=pk)).data)


class CreditMemoVoidApi(APIView):
    """Void a posted, unapplied credit memo: an offsetting debit memo records it."""

    required_permissions = method_permissions(post="invoicing.change_creditmemo")

    @extend_schema(request=None, responses={200: dict})
    def post(self, request, pk: int):
        get_object_or_404(CreditMemo, pk=pk)
        result = credit_memo_void(credit_memo_id=pk, voided_by=request_actor(request))
        return Response(
            {
                "credit_memo": CreditMemoSerializer(
                    selectors.credit_memo_get(credit_memo_id=pk)
                ).data,
                "debit_memo": DebitMemoSerializer(
                    selectors.debit_memo_get(debit_memo_id=result.debit_memo.pk)
                ).data,
            }
        )


class CreditMemoRetrieveApi(APIView):
    """credit-memos/{id}: read; PATCH (credit_date, reason, note, lines) and DELETE while
    draft."""

    required_permissions = method_permissions(
        get="invoicing.view_creditmemo",
        patch="invoicing.change_creditmemo",
        delete="invoicing.delete_creditmemo",
    )

    @extend_schema(responses={200: CreditMemoSerializer})
    def get(self, request, pk: int):
        return Response(
            CreditMemoSerializer(get_object_or_404(selectors.credit_memo_list(), pk=pk)).data
        )

    @extend_schema(request=CreditMemoWriteInputSerializer, responses={200: CreditMemoSerializer})
    def patch(self, request, pk: int):
        get_object_or_404(CreditMemo, pk=pk)
        data = CreditMemoWriteInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        credit_memo_update(
            credit_memo_id=pk,
            memo_date=v.get("credit_date"),
            reason_code=v.get("reason"),
            reason=v.get("note"),
            lines=credit_memo_lines_in(v["lines"]) if "lines" in v else None,
        )
        return Response(CreditMemoSerializer(selectors.credit_memo_get(credit_memo_id=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        get_object_or_404(CreditMemo, pk=pk)
        credit_memo_draft_delete(credit_memo_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
