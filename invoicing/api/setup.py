"""The invoicing setup family of the API: tax rates (CRUD through core.crud's plain
services) and sequence policies (through invoicing/services/sequence_policies.py: a used
policy keeps its numbering settings and is never deleted). Field names follow
../shared/API.md."""

from rest_framework import serializers

from core.api_views import ResourceDetailApi, ResourceListCreateApi
from invoicing.models import (
    DATE_FORMAT_INVALID,
    SEQUENCE_POLICY_EDITABLE_FIELDS,
    SequencePolicy,
    TaxRate,
)
from invoicing.services.sequence_policies import (
    sequence_policy_create,
    sequence_policy_delete,
    sequence_policy_update,
)


class TaxRateSerializer(serializers.ModelSerializer):
    """A tax rate with its EN 16931 VAT category (S by default) and, for the exempt and zero
    categories, the exemption reason the documents print. The model checks the category
    against the rate (core.crud's services run its full_clean)."""

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
            "vat_category",
            "exemption_reason_code",
            "exemption_reason",
            "is_active",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "rate": {"min_value": 0},
            "vat_category": {
                "error_messages": {
                    "invalid_choice": (
                        "“{input}” is not a VAT category: use S (standard), Z (zero rated), "
                        "E (exempt), AE (reverse charge), K (intra-community supply), G "
                        "(export), O (outside the scope of VAT), L (IGIC) or M (IPSI)."
                    )
                }
            },
        }


class DateFormatField(serializers.ChoiceField):
    """A date stamp format (SequencePolicy.DateFormat), matched regardless of case: the
    reference writes both MM-DD-YYYY and MM-dd-yyyy. Any other value is refused with the
    model's message, which names the value and the accepted formats."""

    def __init__(self, **kwargs):
        invalid = DATE_FORMAT_INVALID.replace("%(value)s", "{input}")
        super().__init__(
            choices=SequencePolicy.DateFormat.choices,
            error_messages={"invalid_choice": invalid},
            **kwargs,
        )

    def to_internal_value(self, data):
        if isinstance(data, str) and data.upper() in self.choice_strings_to_values:
            data = data.upper()
        return super().to_internal_value(data)  # the refusal quotes the value as sent


class SequencePolicySerializer(serializers.ModelSerializer):
    date_format = DateFormatField(
        required=False, help_text=SequencePolicy._meta.get_field("date_format").help_text
    )

    class Meta:
        model = SequencePolicy
        fields = [
            "id",
            *SEQUENCE_POLICY_EDITABLE_FIELDS,
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
    filterset_fields = [
        "legal_entity",
        "country",
        "region",
        "tax_code",
        "kind",
        "vat_category",
        "is_active",
    ]
    ordering_fields = ["id", "priority", "name"]


class TaxRateDetailApi(ResourceDetailApi):
    queryset = TaxRate.objects.all()
    serializer_class = TaxRateSerializer


class SequencePolicyListCreateApi(ResourceListCreateApi):
    """A new policy may not start where documents already hold its numbers, nor share its
    pattern with another active policy over the same dates (400 naming the field)."""

    queryset = SequencePolicy.objects.all()
    serializer_class = SequencePolicySerializer
    filterset_fields = ["target", "legal_entity", "currency", "is_active"]
    ordering_fields = ["id", "name"]

    def create_service(self, **data):
        return sequence_policy_create(**data)


class SequencePolicyDetailApi(ResourceDetailApi):
    """A policy that has issued numbers (next_value set) keeps its numbering settings (400
    naming the field) and is never deleted (409 sequence_policy_in_use): deactivate it."""

    queryset = SequencePolicy.objects.all()
    serializer_class = SequencePolicySerializer

    def update_service(self, instance, **data):
        return sequence_policy_update(policy_id=instance.pk, **data)

    def delete_service(self, instance) -> None:
        sequence_policy_delete(policy_id=instance.pk)
