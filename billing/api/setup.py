"""The billing setup family of the API: units of measure and products (CRUD through
core.crud's plain services). Field names follow ../shared/API.md."""

from rest_framework import serializers

from billing import selectors
from billing.models import Product, UnitOfMeasure
from core.api_views import ResourceDetailApi, ResourceListCreateApi

# --- representation ---------------------------------------------------------------------------


class UnitOfMeasureSerializer(serializers.ModelSerializer):
    class Meta:
        model = UnitOfMeasure
        fields = ["id", "code", "name", "scale", "rounding", "created_at", "updated_at"]


class ProductSerializer(serializers.ModelSerializer):
    unit = serializers.SlugRelatedField(
        slug_field="code", queryset=UnitOfMeasure.objects.all(), help_text="The unit's code."
    )

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "charge_type",
            "unit",
            "taxable",
            "tax_code",
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
    filterset_fields = ["code", "rounding"]
    ordering_fields = ["id", "code", "name"]


class UnitOfMeasureDetailApi(ResourceDetailApi):
    queryset = UnitOfMeasure.objects.all()
    serializer_class = UnitOfMeasureSerializer


class ProductListCreateApi(ResourceListCreateApi):
    serializer_class = ProductSerializer
    filterset_fields = ["sku", "charge_type", "taxable", "is_bundle", "is_active"]
    ordering_fields = ["id", "sku", "name"]

    def get_queryset(self):
        return selectors.product_list()


class ProductDetailApi(ResourceDetailApi):
    serializer_class = ProductSerializer

    def get_queryset(self):
        return selectors.product_list()
