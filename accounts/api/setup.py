"""The accounts setup family of the API: legal entities (sellers, with their address) and
payment terms. One API class per path; every write through accounts.services. Field names
follow ../shared/API.md."""

from rest_framework import serializers

from accounts import selectors, services
from accounts.models import Address, LegalEntity, PaymentTerm
from core.api_views import ResourceDetailApi, ResourceListCreateApi

# --- representation ---------------------------------------------------------------------------


class AddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = ["line1", "line2", "city", "region", "postal_code", "country"]


class LegalEntitySerializer(serializers.ModelSerializer):
    address = AddressSerializer(required=False, allow_null=True)

    class Meta:
        model = LegalEntity
        fields = [
            "id",
            "name",
            "address",
            "tax_id",
            "email",
            "attach_pdf",
            "is_default",
            "is_active",
            "created_at",
            "updated_at",
        ]
        # One default: the service unmarks the previous default instead of refusing.
        extra_kwargs = {"is_default": {"validators": []}}
        validators = []


class PaymentTermSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentTerm
        fields = ["id", "name", "kind", "days", "is_default", "created_at", "updated_at"]
        extra_kwargs = {"is_default": {"validators": []}}
        validators = []


# --- operations -------------------------------------------------------------------------------


class LegalEntityListCreateApi(ResourceListCreateApi):
    serializer_class = LegalEntitySerializer
    filterset_fields = ["is_active", "is_default", "name"]
    ordering_fields = ["id", "name", "created_at"]

    def get_queryset(self):
        return selectors.legal_entity_list()

    def create_service(self, **data):
        return services.legal_entity_create(**data)


class LegalEntityDetailApi(ResourceDetailApi):
    serializer_class = LegalEntitySerializer

    def get_queryset(self):
        return selectors.legal_entity_list()

    def update_service(self, instance, **data):
        return services.legal_entity_update(legal_entity=instance, **data)


class PaymentTermListCreateApi(ResourceListCreateApi):
    queryset = PaymentTerm.objects.all()
    serializer_class = PaymentTermSerializer
    filterset_fields = ["kind", "is_default", "name"]
    ordering_fields = ["id", "name", "days"]

    def create_service(self, **data):
        return services.payment_term_create(**data)


class PaymentTermDetailApi(ResourceDetailApi):
    queryset = PaymentTerm.objects.all()
    serializer_class = PaymentTermSerializer

    def update_service(self, instance, **data):
        return services.payment_term_update(payment_term=instance, **data)
