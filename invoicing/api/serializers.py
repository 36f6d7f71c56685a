"""Invoice representations and action inputs. Field names follow ../shared/API.md."""

from rest_framework import serializers

from core.money import money_str
from invoicing.models import Invoice, InvoiceAddress, InvoiceLine, InvoiceLineTax


class MoneyField(serializers.Field):
    """An amount as a decimal string in its currency's minor unit ("12.50", JPY "1235").

    The currency comes from the object (`currency`) or, for lines and taxes, their invoice.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return (super().get_attribute(instance), _currency_of(instance))

    def to_representation(self, value):
        amount, currency = value
        return money_str(amount, currency)


def _currency_of(obj) -> str:
    for path in ("currency", "invoice.currency", "line.invoice.currency"):
        target = obj
        for part in path.split("."):
            target = getattr(target, part, None)
        if target:
            return target
    return "USD"


class InvoiceLineTaxSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    taxable_amount = MoneyField()

    class Meta:
        model = InvoiceLineTax
        fields = ["name", "code", "rate", "kind", "taxable_amount", "amount", "status"]


class InvoiceLineSerializer(serializers.ModelSerializer):
    unit = serializers.SlugRelatedField(slug_field="code", read_only=True)
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


class InvoiceSerializer(serializers.ModelSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)
    addresses = InvoiceAddressSerializer(many=True, read_only=True)
    total_charges = MoneyField()
    total_adjustments = MoneyField()
    total_tax = MoneyField()
    total = MoneyField()
    balance = MoneyField()

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
        ]
        read_only_fields = fields


def invoices_for_output(ids):
    """The invoices with everything the serializer reads, in a fixed number of queries."""
    return (
        Invoice.objects.filter(pk__in=list(ids))
        .prefetch_related(
            "lines__taxes__line__invoice", "lines__unit", "lines__invoice", "addresses"
        )
        .order_by("id")
    )


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
