"""The billing setup family of the API: units of measure and products (CRUD through
core.crud's plain services). Field names follow ../shared/API.md."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing import selectors
from billing.models import Product, UnitOfMeasure
from core.api_views import ResourceDetailApi, ResourceListCreateApi

# --- representation ---------------------------------------------------------------------------


class UnitOfMeasureSerializer(serializers.ModelSerializer):
    class Meta:
        model = UnitOfMeasure
        fields = [
            "id",
            "code",
            "name",
            "scale",
            "rounding",
            "unece_code",
            "created_at",
            "updated_at",
        ]


@extend_schema_field(OpenApiTypes.STR)
class UnitCodeField(serializers.SlugRelatedField):
    """`unit_code`: a unit of measure by its (unique) code, next to `unit` (its id). Reads the
    record's unit; a write lands in `unit_code`, which the serializer resolves into `unit`
    (`unit_resolve`)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        kwargs.setdefault("help_text", "The unit of measure's code; an alternative to `unit`.")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", UnitOfMeasure.objects.all())
            kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return instance.unit


def unit_resolve(attrs: dict, *, required: bool) -> dict:
    """Fold `unit_code` into `unit`: either names the unit; when both are sent they must name
    the same one. `required`: one of them must be sent (a create)."""
    by_code = attrs.pop("unit_code", None)
    if by_code is not None:
        if attrs.get("unit") is not None and attrs["unit"] != by_code:
            raise serializers.ValidationError(
                {
                    "unit_code": [
                        f"Unit code '{by_code.code}' is not unit {attrs['unit'].pk}; "
                        "send one of unit and unit_code, or two that agree."
                    ]
                }
            )
        attrs["unit"] = by_code
    if required and attrs.get("unit") is None:
        raise serializers.ValidationError(
            {"unit": ["Give the unit of measure's id (or its code as unit_code)."]}
        )
    return attrs


class ProductSerializer(serializers.ModelSerializer):
    unit = serializers.PrimaryKeyRelatedField(
        queryset=UnitOfMeasure.objects.all(),
        required=False,
        help_text="The unit of measure's id (required on create, or `unit_code`).",
    )
    unit_code = UnitCodeField()

    def validate(self, attrs):
        return unit_resolve(attrs, required=self.instance is None)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "charge_type",
            "unit",
            "unit_code",
            "taxable",
            "tax_code",
            "supply_kind",
            "is_bundle",
            "billing_treatment",
            "is_active",
            "created_at",
            "updated_at",
        ]


# --- operations -------------------------------------------------------------------------------


class UnitOfMeasureListCreateApi(ResourceListCreateApi):
    queryset = UnitOfMeasure.objects.all()
    serializer_class = UnitOfMeasureSerializer
    filterset_fields = ["code", "rounding", "unece_code"]
    ordering_fields = ["id", "code", "name"]


class UnitOfMeasureDetailApi(ResourceDetailApi):
    queryset = UnitOfMeasure.objects.all()
    serializer_class = UnitOfMeasureSerializer


class ProductListCreateApi(ResourceListCreateApi):
    serializer_class = ProductSerializer
    filterset_fields = ["sku", "charge_type", "taxable", "supply_kind", "is_bundle", "is_active"]
    ordering_fields = ["id", "sku", "name"]

    def get_queryset(self):
        return selectors.product_list()


class ProductDetailApi(ResourceDetailApi):
    serializer_class = ProductSerializer

    def get_queryset(self):
        return selectors.product_list()
