"""Serializer fields shared by the apps' APIs, and their OpenAPI descriptions."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from core.money import money_str


class CurrencyAmountField(serializers.Field):
    """A stored amount as a decimal string in its currency's minor unit ("12.50"; JPY
    "1235"), read-only. The currency is the first of `currency_paths` (dotted attribute paths
    from the serialized object) that is set, else USD."""

    currency_paths: tuple[str, ...] = ("currency",)

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return (super().get_attribute(instance), self.currency_of(instance))

    def currency_of(self, obj) -> str:
        for path in self.currency_paths:
            target = obj
            for part in path.split("."):
                target = getattr(target, part, None)
            if target:
                return target
        return "USD"

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
    match_subclasses = True

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
