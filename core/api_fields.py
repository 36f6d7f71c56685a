"""Serializer fields shared by the apps' APIs, and their OpenAPI descriptions."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from core.money import money_str


class CurrencyAmountField(serializers.Field):
    """A stored amount as a decimal string in its row's currency minor unit ("12.50";
    JPY "1235"), read-only. The currency is the object's `currency` attribute."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return (super().get_attribute(instance), getattr(instance, "currency", None) or "USD")

    def to_representation(self, value):
        amount, currency = value
        return money_str(amount, currency)


def _nullable(field) -> bool:
    """Whether the model column behind a read-only amount field may be empty."""
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    if model is None or not field.source or "." in field.source:
        return True
    try:
        return model._meta.get_field(field.source).null
    except Exception:
        return True


class _AmountFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "core.api_fields.CurrencyAmountField"

    def map_serializer_field(self, auto_schema, direction):
        schema = {
            "type": "string",
            "format": "decimal",
            "pattern": r"^-?\d+(\.\d+)?$",
            "description": "Amount in the currency's minor unit, as a decimal string.",
        }
        if _nullable(self.target):
            schema["nullable"] = True
        return schema


class _InvoiceMoneyFieldSchema(_AmountFieldSchema):
    """The same description for invoicing.api.serializers.MoneyField and its subclasses."""

    target_class = "invoicing.api.serializers.MoneyField"
    match_subclasses = True
