"""Account resources: one API class per path, every write through accounts.services."""

from accounts import services
from accounts.api.serializers import (
    AccountSerializer,
    ContactSerializer,
    LegalEntitySerializer,
    PaymentTermSerializer,
    SavedPaymentMethodSerializer,
)
from accounts.models import Account, Contact, LegalEntity, PaymentTerm, SavedPaymentMethod
from core.api_views import ResourceDetailApi, ResourceListCreateApi


class LegalEntityListCreateApi(ResourceListCreateApi):
    queryset = LegalEntity.objects.select_related("address")
    serializer_class = LegalEntitySerializer
    filterset_fields = ["is_active", "is_default", "name"]
    ordering_fields = ["id", "name", "created_at"]

    def create_service(self, **data):
        return services.legal_entity_create(**data)


class LegalEntityDetailApi(ResourceDetailApi):
    queryset = LegalEntity.objects.select_related("address")
    serializer_class = LegalEntitySerializer

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


_accounts = Account.objects.prefetch_related(
    "billing_profiles__billing_address", "billing_profiles__payment_term"
)


class AccountListCreateApi(ResourceListCreateApi):
    queryset = _accounts
    serializer_class = AccountSerializer
    filterset_fields = [
        "legal_entity",
        "currency",
        "external_id",
        "tax_exempt",
        "bulk_email_opt_out",
    ]
    ordering_fields = ["id", "name", "created_at"]

    def create_service(self, **data):
        return services.account_create(**data)


class AccountDetailApi(ResourceDetailApi):
    queryset = _accounts
    serializer_class = AccountSerializer

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
