"""The accounts family of the API: accounts (with their default billing profile's address,
bill day and payment term), contacts and saved payment methods. One API class per path; every
write through accounts.services. Field names follow ../shared/API.md."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import selectors, services
from accounts.api.setup import ENDPOINT_SCHEME_INVALID, AddressSerializer
from accounts.models import (
    Account,
    Contact,
    PaymentTerm,
    SavedPaymentMethod,
    processor_token_masked,
)
from core.api_views import ResourceDetailApi, ResourceListCreateApi
from core.einvoice_codes import EInvoiceFormat

# --- representation ---------------------------------------------------------------------------

NO_EINVOICE = "none"
EINVOICE_FORMATS = [NO_EINVOICE, *EInvoiceFormat.values]


@extend_schema_field({"type": "string", "enum": EINVOICE_FORMATS})
class EInvoiceFormatField(serializers.ChoiceField):
    """`einvoice_format`: `none` (stored empty: the customer receives no e-invoice) or one of
    the e-invoice formats."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "error_messages",
            {
                "invalid_choice": (
                    "“{input}” is not an e-invoice format: use one of "
                    + ", ".join(EINVOICE_FORMATS)
                    + "."
                )
            },
        )
        super().__init__(choices=EINVOICE_FORMATS, **kwargs)

    def to_internal_value(self, data):
        if data in ("", None):
            return ""
        value = super().to_internal_value(data)
        return "" if value == NO_EINVOICE else value

    def to_representation(self, value):
        return value or NO_EINVOICE


class AccountSerializer(serializers.ModelSerializer):
    """`billing_address`, `bill_day_of_month` and `payment_term` are the account's default
    billing profile's. The e-invoicing fields (VAT id, electronic address, buyer reference,
    preferred format) are checked by the model, through the service, like every door's: a
    VAT id is checked against its country's format and check digits and stored compact."""

    billing_address = AddressSerializer(required=False, allow_null=True)
    bill_day_of_month = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=31
    )
    payment_term = serializers.PrimaryKeyRelatedField(
        queryset=PaymentTerm.objects.all(), required=False, allow_null=True
    )
    registration_id = serializers.CharField(
        source="legal_registration_id",
        max_length=50,
        required=False,
        allow_blank=True,
        help_text="The customer's company registration number (BT-47).",
    )
    einvoice_format = EInvoiceFormatField(
        required=False,
        help_text="The e-invoice this customer receives: none, ubl (Peppol BIS Billing 3.0), "
        "cii, facturx or xrechnung.",
    )

    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "external_id",
            "currency",
            "legal_entity",
            "email",
            "tax_id",
            "vat_id",
            "registration_id",
            "tax_exempt",
            "tax_exemption_reason_code",
            "tax_exemption_reason",
            "endpoint_id",
            "endpoint_scheme",
            "buyer_reference",
            "einvoice_format",
            "einvoice_required",
            "einvoice_attach",
            "timezone",
            "billing_address",
            "bill_day_of_month",
            "payment_term",
            "bulk_email_opt_out",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "endpoint_scheme": {"error_messages": {"invalid_choice": ENDPOINT_SCHEME_INVALID}}
        }

    def validate_timezone(self, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError(
                f"'{value}' is not an IANA time zone; use e.g. UTC or Europe/Berlin."
            )
        return value

    def to_representation(self, instance: Account) -> dict:
        data = super().to_representation(instance)
        profile = instance.default_profile
        address = profile.billing_address if profile else None
        data["billing_address"] = AddressSerializer(address).data if address else None
        data["bill_day_of_month"] = profile.bill_day_of_month if profile else None
        data["payment_term"] = profile.payment_term_id if profile else None
        return data


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "account", "name", "email", "phone", "created_at", "updated_at"]


class MaskedTokenField(serializers.CharField):
    """Written in full; read back masked, so a token never leaves Ledgerline."""

    def to_representation(self, value) -> str:
        return processor_token_masked(str(value))


class SavedPaymentMethodSerializer(serializers.ModelSerializer):
    processor_token = MaskedTokenField(
        max_length=200,
        help_text="The payment processor's token (pm_..., cus_.../src_...). Shown masked.",
    )

    class Meta:
        model = SavedPaymentMethod
        fields = [
            "id",
            "account",
            "kind",
            "processor_token",
            "label",
            "is_default",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"is_default": {"validators": []}, "account": {"validators": []}}
        validators = []


# --- operations -------------------------------------------------------------------------------


class AccountListCreateApi(ResourceListCreateApi):
    serializer_class = AccountSerializer
    filterset_fields = [
        "legal_entity",
        "currency",
        "external_id",
        "tax_exempt",
        "bulk_email_opt_out",
        "vat_id",
        "einvoice_required",
    ]
    ordering_fields = ["id", "name", "created_at"]

    def get_queryset(self):
        return selectors.account_list_with_profiles()

    def create_service(self, **data):
        return services.account_create(**data)


class AccountDetailApi(ResourceDetailApi):
    serializer_class = AccountSerializer

    def get_queryset(self):
        return selectors.account_list_with_profiles()

    def update_service(self, instance, **data):
        return services.account_update(account=instance, **data)

    def delete_service(self, instance) -> None:
        services.account_delete(account=instance)


class ContactListCreateApi(ResourceListCreateApi):
    queryset = Contact.objects.all()
    serializer_class = ContactSerializer
    filterset_fields = ["account", "email"]
    ordering_fields = ["id", "name"]

    def create_service(self, **data):
        return services.contact_create(**data)


class ContactDetailApi(ResourceDetailApi):
    queryset = Contact.objects.all()
    serializer_class = ContactSerializer

    def update_service(self, instance, **data):
        return services.contact_update(contact=instance, **data)


class SavedPaymentMethodListCreateApi(ResourceListCreateApi):
    queryset = SavedPaymentMethod.objects.all()
    serializer_class = SavedPaymentMethodSerializer
    filterset_fields = ["account", "kind", "is_default"]
    ordering_fields = ["id"]

    def create_service(self, **data):
        return services.saved_payment_method_create(**data)


class SavedPaymentMethodDetailApi(ResourceDetailApi):
    queryset = SavedPaymentMethod.objects.all()
    serializer_class = SavedPaymentMethodSerializer

    def update_service(self, instance, **data):
        return services.saved_payment_method_update(saved_payment_method=instance, **data)
