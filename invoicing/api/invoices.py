"""The invoices family of the API: invoices (list, retrieve, PATCH and DELETE while draft),
generate, preview, ingest, post, send-email, pdf and a draft's adjustment lines. Credits,
voids and payments on an invoice are in memos_payments.py. One class per operation, each
parsing its input, calling one service or selector and rendering; routes that share a path
combine their operation classes in one route class. Field names follow ../shared/API.md."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account, Contact, LegalEntity, PaymentTerm
from billing.api.setup import UnitCodeField, unit_resolve
from billing.models import Order, Product, UnitOfMeasure
from core.api_views import ResourceListApi, method_permissions, request_actor
from core.exceptions import ValidationError
from core.money import money_str
from invoicing import selectors
from invoicing.api.fields import MoneyField
from invoicing.hooks import invoice_api_values, invoice_api_writable
from invoicing.models import (
    DebitMemo,
    Invoice,
    InvoiceAddress,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
    TaxRate,
)
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
from invoicing.services.generation import invoices_generate
from invoicing.services.hosted_links import hosted_link_available, hosted_link_url
from invoicing.services.ingestion import invoice_ingest
from invoicing.services.posting import invoice_post
from invoicing.services.preview import invoices_preview

# --- representation ---------------------------------------------------------------------------


class InvoiceLineTaxSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    taxable_amount = MoneyField()

    class Meta:
        model = InvoiceLineTax
        fields = ["name", "code", "rate", "kind", "taxable_amount", "amount", "status"]


class InvoiceLineSerializer(serializers.ModelSerializer):
    unit = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The unit of measure's id.")
    unit_code = UnitCodeField(read_only=True)
    taxes = InvoiceLineTaxSerializer(many=True, read_only=True)
    amount = MoneyField()
    tax_amount = MoneyField()
    bundle_total = MoneyField()

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "type",
            "name",
            "description",
            "product",
            "period_start",
            "period_end",
            "quantity",
            "unit",
            "unit_code",
            "unit_price",
            "amount",
            "tax_amount",
            "bundle_total",
            "parent_line",
            "billing_schedule",
            "has_multiple_items",
            "is_usage",
            "consumed_quantity",
            "included_quantity",
            "overage_quantity",
            "taxes",
        ]


class InvoiceAddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceAddress
        fields = ["kind", "name", "line1", "line2", "city", "region", "postal_code", "country"]


class InvoiceListSerializer(serializers.ListSerializer):
    """Reads the fields other apps add (invoicing.hooks) once for the whole page."""

    def to_representation(self, data):
        invoices = list(data.all() if hasattr(data, "all") else data)
        self.child.context["extra_values"] = invoice_api_values(invoices)
        return [self.child.to_representation(invoice) for invoice in invoices]


class InvoiceSerializer(serializers.ModelSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)
    addresses = InvoiceAddressSerializer(many=True, read_only=True)
    total_charges = MoneyField()
    total_adjustments = MoneyField()
    total_tax = MoneyField()
    total = MoneyField()
    balance = MoneyField()
    hosted_url = serializers.SerializerMethodField(
        help_text="The customer's hosted page of a posted (or voided) invoice: a signed link "
        "that opens without a login for LEDGERLINE_HOSTED_LINK_MAX_AGE_DAYS days (default "
        "90); a fresh link on every read. Null on a draft."
    )

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "status",
            "account",
            "legal_entity",
            "bill_to",
            "currency",
            "invoice_date",
            "due_date",
            "posted_date",
            "target_date",
            "source",
            "unique_identifier",
            "request_id",
            "correlation_id",
            "reference_order",
            "payment_term",
            "saved_payment_method",
            "description",
            "total_charges",
            "total_adjustments",
            "total_tax",
            "total",
            "balance",
            "settlement_status",
            "email_status",
            "lines",
            "addresses",
            "hosted_url",
        ]
        read_only_fields = fields
        list_serializer_class = InvoiceListSerializer

    def to_representation(self, instance):
        data = super().to_representation(instance)
        values = self.context.get("extra_values") or invoice_api_values([instance])
        data.update(values.get(instance.pk, {}))
        return data

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_hosted_url(self, invoice: Invoice) -> str | None:
        return hosted_link_url(invoice) if hosted_link_available(invoice) else None


def invoice_out(invoice_id: int) -> dict:
    """One invoice as the API shows it."""
    return InvoiceSerializer(selectors.invoice_list_for_ids(ids=[invoice_id]).get()).data


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


# --- inputs -----------------------------------------------------------------------------------


class GenerateInputSerializer(serializers.Serializer):
    order = serializers.IntegerField(required=False, min_value=1)
    account = serializers.IntegerField(required=False, min_value=1)
    billing_schedule_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, allow_empty=False
    )
    target_date = serializers.DateField()
    invoice_date = serializers.DateField(required=False)
    action = serializers.ChoiceField(choices=["draft", "posted"], default="draft")
    correlation_id = serializers.CharField(required=False, allow_blank=True, max_length=255)

    def validate(self, attrs):
        if not any(attrs.get(k) for k in ("order", "account", "billing_schedule_ids")):
            raise serializers.ValidationError(
                "Name one of order, account or billing_schedule_ids (the order wins over the "
                "account, which wins over the list)."
            )
        return attrs


class PreviewInputSerializer(serializers.Serializer):
    order = serializers.IntegerField(required=False, min_value=1)
    account = serializers.IntegerField(required=False, min_value=1)
    periods = serializers.IntegerField(default=2, min_value=1, max_value=24)
    preview_date = serializers.DateField(required=False)

    def validate(self, attrs):
        if not attrs.get("order") and not attrs.get("account"):
            raise serializers.ValidationError("Name an order or an account to preview.")
        return attrs


class InvoiceUpdateInputSerializer(serializers.Serializer):
    invoice_date = serializers.DateField(required=False)
    due_date = serializers.DateField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    bill_to = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    disputed = serializers.BooleanField(
        required=False,
        help_text="Posted invoices: true opens a dispute (dunning pauses), false resolves it.",
    )
    dispute_reason = serializers.CharField(required=False, allow_blank=True, max_length=255)

    def validate(self, attrs):
        if not (set(attrs) - {"dispute_reason"}):
            raise serializers.ValidationError(
                "Send at least one of invoice_date, due_date, description, bill_to, disputed."
            )
        return attrs


class AdjustmentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    quantity = serializers.DecimalField(max_digits=19, decimal_places=6, default="1")
    unit_price = serializers.DecimalField(max_digits=19, decimal_places=6)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    taxable = serializers.BooleanField(default=True)
    tax_code = serializers.CharField(required=False, allow_blank=True, max_length=50)
    product = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    period_start = serializers.DateField(required=False, allow_null=True)
    period_end = serializers.DateField(required=False, allow_null=True)


class AdjustmentUpdateInputSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=255)
    quantity = serializers.DecimalField(required=False, max_digits=19, decimal_places=6)
    unit_price = serializers.DecimalField(required=False, max_digits=19, decimal_places=6)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    taxable = serializers.BooleanField(required=False)
    tax_code = serializers.CharField(required=False, allow_blank=True, max_length=50)


class SendEmailInputSerializer(serializers.Serializer):
    to = serializers.EmailField(required=False, allow_blank=True)


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
    unit = serializers.PrimaryKeyRelatedField(
        queryset=UnitOfMeasure.objects.all(), required=False, help_text="The unit of measure's id."
    )
    unit_code = UnitCodeField()
    unit_price = serializers.DecimalField(**_PRICE)
    amount = serializers.DecimalField(
        **_MONEY,
        required=False,
        help_text="Optional; when sent it must equal quantity × unit price, rounded.",
    )
    taxable = serializers.BooleanField(required=False, allow_null=True, default=None)
    tax_code = serializers.CharField(max_length=50, required=False, allow_blank=True)
    taxes = IngestTaxSerializer(many=True, required=False)

    def validate(self, attrs):
        return unit_resolve(attrs, required=False)


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


# --- answers ----------------------------------------------------------------------------------


def preview_as_dict(preview) -> dict:
    invoice = preview.invoice
    cur = invoice.currency
    index = {id(line): i for i, line in enumerate(preview.lines)}

    def line_dict(line):
        return {
            "index": index[id(line)],
            "parent_index": index.get(id(line.parent_line)) if line.parent_line else None,
            "name": line.name,
            "description": line.description,
            "product": line.product_id,
            "billing_schedule": line.billing_schedule_id,
            "period_start": line.period_start,
            "period_end": line.period_end,
            "quantity": str(line.quantity),
            "unit": line.unit.code if line.unit else None,
            "unit_price": str(line.unit_price),
            "amount": money_str(line.amount, cur),
            "bundle_total": money_str(line.bundle_total, cur),
            "tax_amount": money_str(line.tax_amount, cur),
            "taxes": [
                {
                    "name": t.name,
                    "code": t.code,
                    "rate": str(t.rate),
                    "amount": money_str(t.amount, cur),
                }
                for t in getattr(line, "computed_taxes", [])
            ],
        }

    return {
        "account": invoice.account_id,
        "currency": invoice.currency,
        "legal_entity": invoice.legal_entity_id,
        "invoice_date": invoice.invoice_date,
        "due_date": invoice.due_date,
        "number": None,
        "status": "preview",
        "total_charges": money_str(invoice.total_charges, cur),
        "total_tax": money_str(invoice.total_tax, cur),
        "total": money_str(invoice.total, cur),
        "lines": [line_dict(line) for line in preview.lines],
    }


# --- the collection and its actions -----------------------------------------------------------


class InvoiceListApi(ResourceListApi):
    """Invoices with their lines, taxes and addresses. Filter by account, status, batch_run,
    number and date ranges (invoice_date_after, invoice_date_before, ...)."""

    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    ordering_fields = ["id", "number", "invoice_date", "due_date", "posted_date", "total"]

    def get_queryset(self):
        return selectors.invoice_list_with_lines()


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
            account_id=v.get("account"),
            billing_schedule_ids=v.get("billing_schedule_ids"),
            target_date=v["target_date"],
            invoice_date=v.get("invoice_date"),
            action=v["action"],
            correlation_id=v.get("correlation_id", ""),
            requested_by=request_actor(request),
        )
        return Response(
            {
                "request_id": result.request_id,
                "invoices": InvoiceSerializer(
                    selectors.invoice_list_for_ids(ids=result.invoice_ids), many=True
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
            account_id=v.get("account"),
            periods=v["periods"],
            preview_date=v.get("preview_date"),
        )
        return Response({"invoices": [preview_as_dict(p) for p in previews]})


class InvoicePostApi(APIView):
    @extend_schema(request=None, responses={200: InvoiceSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        invoice = invoice_post(invoice_id=pk, posted_by=request_actor(request))
        return Response(invoice_out(invoice.pk), status=status.HTTP_200_OK)


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
        result = invoice_ingest(data=data.validated_data, ingested_by=request_actor(request))
        return Response(
            invoice_out(result.invoice.pk),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


# --- one invoice ------------------------------------------------------------------------------


class InvoiceRetrieveApi(APIView):
    required_permissions = method_permissions(get="invoicing.view_invoice")

    @extend_schema(responses={200: InvoiceSerializer})
    def get(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        return Response(invoice_out(pk))


class InvoiceUpdateApi(APIView):
    required_permissions = method_permissions(patch="invoicing.change_invoice")

    @extend_schema(request=InvoiceUpdateInputSerializer, responses={200: InvoiceSerializer})
    def patch(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = InvoiceUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        draft_fields = {"invoice_date", "due_date", "description", "bill_to"} & set(v)
        if "disputed" in v:
            writer = invoice_api_writable().get("disputed")
            if writer is None:
                raise ValidationError({"disputed": "Disputes are not installed."})
            writer(
                invoice_id=pk,
                value=v["disputed"],
                reason=v.get("dispute_reason", ""),
                actor=request_actor(request),
            )
        if draft_fields:
            invoice_update(
                invoice_id=pk,
                invoice_date=v.get("invoice_date", KEEP),
                due_date=v.get("due_date", KEEP),
                description=v.get("description", KEEP),
                bill_to_id=v.get("bill_to", KEEP),
            )
        return Response(invoice_out(pk))


class InvoiceDeleteApi(APIView):
    required_permissions = method_permissions(delete="invoicing.delete_invoice")

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
    required_permissions = method_permissions(post="invoicing.change_invoice")

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
        return Response(invoice_out(pk), status=status.HTTP_201_CREATED)


class InvoiceAdjustmentUpdateApi(APIView):
    required_permissions = method_permissions(patch="invoicing.change_invoice")

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
        return Response(invoice_out(pk))


class InvoiceAdjustmentRemoveApi(APIView):
    required_permissions = method_permissions(delete="invoicing.change_invoice")

    @extend_schema(responses={200: InvoiceSerializer})
    def delete(self, request, pk: int, line_id: int):
        get_object_or_404(Invoice, pk=pk)
        invoice_adjustment_remove(invoice_id=pk, line_id=line_id)
        return Response(invoice_out(pk))


class InvoiceAdjustmentDetailApi(InvoiceAdjustmentUpdateApi, InvoiceAdjustmentRemoveApi):
    required_permissions = {
        **InvoiceAdjustmentUpdateApi.required_permissions,
        **InvoiceAdjustmentRemoveApi.required_permissions,
    }


class InvoiceSendEmailApi(APIView):
    required_permissions = method_permissions(post="invoicing.change_invoice")

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
    required_permissions = method_permissions(get="invoicing.view_invoice")

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiResponse(description="The invoice PDF.")}
    )
    def get(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        pdf, filename = invoice_pdf_bytes(invoice_id=pk)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        return response
