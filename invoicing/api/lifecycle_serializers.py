"""Representations and inputs of the invoice lifecycle endpoints (../shared/API.md)."""

from rest_framework import serializers

from invoicing.api.serializers import MoneyField
from invoicing.models import (
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    DebitMemo,
    DebitMemoLine,
    Payment,
)

# --- outputs --------------------------------------------------------------------------------


class _MemoMoneyField(MoneyField):
    """An amount of a memo line or tax: the currency is its memo's."""

    def get_attribute(self, instance):
        amount = serializers.Field.get_attribute(self, instance)
        memo = getattr(instance, "credit_memo", None) or getattr(instance, "debit_memo", None)
        if memo is None and hasattr(instance, "line"):
            memo = instance.line.credit_memo
        return (amount, memo.currency)


class CreditMemoLineTaxSerializer(serializers.ModelSerializer):
    amount = _MemoMoneyField()

    class Meta:
        model = CreditMemoLineTax
        fields = ["name", "code", "rate", "amount"]


class CreditMemoLineSerializer(serializers.ModelSerializer):
    amount = _MemoMoneyField()
    tax_amount = _MemoMoneyField()
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
    amount = _MemoMoneyField()

    class Meta:
        model = CreditMemoApplication
        fields = ["invoice", "amount", "applied_date"]


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
    amount = _MemoMoneyField()

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


class PaymentSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "amount",
            "currency",
            "payment_date",
            "saved_payment_method",
            "reference",
        ]
        read_only_fields = fields


# --- inputs ---------------------------------------------------------------------------------


class InvoiceUpdateInputSerializer(serializers.Serializer):
    invoice_date = serializers.DateField(required=False)
    due_date = serializers.DateField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    bill_to = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(
                "Send at least one of invoice_date, due_date, description, bill_to."
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


class VoidInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)
    void_date = serializers.DateField(required=False)


class SendEmailInputSerializer(serializers.Serializer):
    to = serializers.EmailField(required=False, allow_blank=True)


class PaymentInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=19, decimal_places=4)
    date = serializers.DateField()
    saved_payment_method = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100)


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
