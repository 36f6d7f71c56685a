"""Account resources as the API shows and accepts them. Field names follow ../shared/API.md."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rest_framework import serializers

from accounts.models import (
    Account,
    Address,
    Contact,
    LegalEntity,
    PaymentTerm,
    SavedPaymentMethod,
)


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


def mask_token(token: str) -> str:
    """'pm_1NxAbcdef4242' → 'pm_••••4242': the processor prefix and the last four only."""
    if not token:
        return ""
    prefix = token.split("_", 1)[0] + "_" if "_" in token[:8] else ""
    tail = token[-4:] if len(token) - len(prefix) >= 8 else ""
    return f"{prefix}••••{tail}"


class MaskedTokenField(serializers.CharField):
    """Written in full; read back masked, so a token never leaves Ledgerline."""

    def to_representation(self, value) -> str:
        return mask_token(str(value))


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
