"""The accounts setup family of the API: legal entities (sellers, with their address) and
payment terms. One API class per path; every write through accounts.services. Field names
follow ../shared/API.md."""

from rest_framework import serializers

from accounts import selectors, services
from accounts.models import Address, LegalEntity, PaymentTerm
from core.api_views import ResourceDetailApi, ResourceListCreateApi

# The refusals of the e-invoicing code lists say which codes exist (DRF's default names none).
ENDPOINT_SCHEME_INVALID = (
    "“{input}” is not an electronic address scheme: use a CEF EAS code, e.g. 9930 (German VAT "
    "id), 0088 (GLN), 0204 (Leitweg-ID), 0208 (Belgian enterprise number) or EM (email)."
)
PAYMENT_MEANS_INVALID = (
    "“{input}” is not a payment means: use a UNCL 4461 code, e.g. 58 (SEPA credit transfer), "
    "30 (credit transfer), 59 (SEPA direct debit) or 54 (credit card)."
)

# --- representation ---------------------------------------------------------------------------


class AddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = ["line1", "line2", "city", "region", "postal_code", "country"]


class LegalEntitySerializer(serializers.ModelSerializer):
    """The seller, with what its e-invoices state: VAT id (checked per country, written
    compact: `de 136 695 976` is stored as DE136695976), registration, electronic address
    and the bank account customers pay into. The checks are the model's, run by the service
    (accounts.services.legal_entity_create / _update), so the admin refuses the same."""

    address = AddressSerializer(required=False, allow_null=True)
    registration_id = serializers.CharField(
        source="legal_registration_id",
        max_length=50,
        required=False,
        allow_blank=True,
        help_text="Company registration number, e.g. HRB 12345 or a SIREN (BT-30).",
    )
    registration_scheme = serializers.CharField(
        source="legal_registration_scheme",
        max_length=4,
        required=False,
        allow_blank=True,
        help_text="ISO 6523 scheme of the registration number, e.g. 0002 (SIREN); optional.",
    )

    class Meta:
        model = LegalEntity
        fields = [
            "id",
            "name",
            "address",
            "tax_id",
            "vat_id",
            "registration_id",
            "registration_scheme",
            "endpoint_id",
            "endpoint_scheme",
            "payment_means",
            "iban",
            "bic",
            "email",
            "attach_pdf",
            "is_default",
            "is_active",
            "created_at",
            "updated_at",
        ]
        # One default: the service unmarks the previous default instead of refusing.
        extra_kwargs = {
            "is_default": {"validators": []},
            "endpoint_scheme": {"error_messages": {"invalid_choice": ENDPOINT_SCHEME_INVALID}},
            "payment_means": {"error_messages": {"invalid_choice": PAYMENT_MEANS_INVALID}},
        }
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
