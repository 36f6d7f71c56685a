"""The invoicing setup family of the API: tax rates and sequence policies (CRUD through
core.crud's plain services). Field names follow ../shared/API.md."""

from rest_framework import serializers

from core.api_views import ResourceDetailApi, ResourceListCreateApi
from invoicing.models import SequencePolicy, TaxRate


class TaxRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxRate
        fields = [
            "id",
            "legal_entity",
            "country",
            "region",
            "tax_code",
            "name",
            "rate",
            "kind",
            "priority",
            "is_active",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"rate": {"min_value": 0}}


class SequencePolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = SequencePolicy
        fields = [
            "id",
            "name",
            "target",
            "pattern",
            "date_format",
            "start",
            "increment",
            "min_width",
            "legal_entity",
            "currency",
            "is_active",
            "effective_from",
            "effective_to",
            "next_value",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["next_value", "created_at", "updated_at"]
        extra_kwargs = {"increment": {"min_value": 1}}

    def validate_pattern(self, value: str) -> str:
        if "{SEQ}" not in value:
            raise serializers.ValidationError(
                "The pattern needs {SEQ}, where the number goes (e.g. INV-{DATE}-{SEQ})."
            )
        return value


class TaxRateListCreateApi(ResourceListCreateApi):
    queryset = TaxRate.objects.all()
    serializer_class = TaxRateSerializer
    filterset_fields = ["legal_entity", "country", "region", "tax_code", "kind", "is_active"]
    ordering_fields = ["id", "priority", "name"]


class TaxRateDetailApi(ResourceDetailApi):
    queryset = TaxRate.objects.all()
    serializer_class = TaxRateSerializer


class SequencePolicyListCreateApi(ResourceListCreateApi):
    queryset = SequencePolicy.objects.all()
    serializer_class = SequencePolicySerializer
    filterset_fields = ["target", "legal_entity", "currency", "is_active"]
    ordering_fields = ["id", "name"]


class SequencePolicyDetailApi(ResourceDetailApi):
    queryset = SequencePolicy.objects.all()
    serializer_class = SequencePolicySerializer
