"""The accounts family of the API: accounts (with their default billing profile's address,
bill day and payment term), contacts and saved payment methods. One API class per path; every
write through accounts.services. Field names follow ../shared/API.md."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rest_framework import serializers

from accounts import selectors, services
from accounts.api.setup import AddressSerializer
from accounts.models import (
    Account,
    Contact,
    PaymentTerm,
    SavedPaymentMethod,
    processor_token_masked,
)
from core.api_views import ResourceDetailApi, ResourceListCreateApi

# --- representation ---------------------------------------------------------------------------


class AccountSerializer(serializers.ModelSerializer):
    """`billing_address`, `bill_day_of_month` and `payment_term` are the account's default
    billing profile's."""

    billing_address = AddressSerializer(required=False, allow_null=True)
    bill_day_of_month = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=31
    )
    payment_term = serializers.PrimaryKeyRelatedField(
        queryset=PaymentTerm.objects.all(), required=False, allow_null=True
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
            "tax_exempt",
            "timezone",
            "billing_address",
            "bill_day_of_month",
            "payment_term",
            "bulk_email_opt_out",
            "created_at",
            "updated_at",
        ]

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
