"""Admin for accounts, contacts, billing profiles, legal entities, payment terms and saved
payment methods.

The admin parses, calls a service and renders; it holds no business rules. Processor tokens
are shown masked: staff identify a payment method by its label and the token's last
characters.
"""

from django.contrib import admin

from accounts.models import (
    Account,
    Address,
    BillingProfile,
    Contact,
    LegalEntity,
    PaymentTerm,
    SavedPaymentMethod,
)

MASK = "••••"


def mask_token(token: str) -> str:
    """`pm_1NxAbcDef` → `pm_••••cDef`: the processor's prefix and the last four characters."""
    if not token:
        return ""
    if len(token) <= 8:
        return MASK
    prefix, sep, _ = token.partition("_")
    shown_prefix = f"{prefix}_" if sep and len(prefix) <= 4 else ""
    return f"{shown_prefix}{MASK}{token[-4:]}"


# --- inlines of the account ----------------------------------------------------------------


class ContactInline(admin.TabularInline):
    model = Contact
    fields = ("name", "email", "phone")
    extra = 0
    show_change_link = True


class BillingProfileInline(admin.StackedInline):
    model = BillingProfile
    fields = (
        ("name", "is_default"),
        ("payment_term", "bill_day_of_month", "attach_pdf"),
        ("bill_to", "saved_payment_method"),
        ("billing_address", "shipping_address"),
        ("suspension_date", "resumption_date"),
    )
    raw_id_fields = ("bill_to", "saved_payment_method", "billing_address", "shipping_address")
    extra = 0
    show_change_link = True


class SavedPaymentMethodInline(admin.TabularInline):
    """Read-only list on the account: a token is entered on the payment method's own add page
    and never shown in full again."""

    model = SavedPaymentMethod
    fields = ("kind", "label", "masked_processor_token", "is_default")
    readonly_fields = fields
    extra = 0
    show_change_link = True

    @admin.display(description="processor token")
    def masked_processor_token(self, obj: SavedPaymentMethod) -> str:
        return mask_token(obj.processor_token)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# --- model admins --------------------------------------------------------------------------


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ("id", "line1", "postal_code", "city", "region", "country")
    list_filter = ("country",)
    search_fields = ("line1", "line2", "city", "postal_code")
    readonly_fields = ("created_at", "updated_at")


@admin.register(LegalEntity)
class LegalEntityAdmin(admin.ModelAdmin):
    list_display = ("name", "tax_id", "email", "attach_pdf", "is_default", "is_active")
    list_filter = ("is_active", "is_default")
    search_fields = ("name", "tax_id", "email")
    raw_id_fields = ("address",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(PaymentTerm)
class PaymentTermAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "days", "is_default")
    list_filter = ("kind", "is_default")
    search_fields = ("name",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "external_id",
        "currency",
        "legal_entity",
        "email",
        "tax_exempt",
        "timezone",
        "created_at",
    )
    list_filter = ("currency", "legal_entity", "tax_exempt", "bulk_email_opt_out")
    list_select_related = ("legal_entity",)
    search_fields = ("name", "=external_id", "email", "tax_id")
    readonly_fields = ("created_at", "updated_at")
    inlines = (ContactInline, BillingProfileInline, SavedPaymentMethodInline)
    # actions: added by the services work


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "phone", "account")
    list_select_related = ("account",)
    search_fields = ("name", "email", "account__name")
    autocomplete_fields = ("account",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(SavedPaymentMethod)
class SavedPaymentMethodAdmin(admin.ModelAdmin):
    """The token is typed once, on the add page; afterwards it is shown masked and read-only
    (a processor token is replaced, never edited)."""

    list_display = ("label", "account", "kind", "masked_processor_token", "is_default")
    list_filter = ("kind", "is_default")
    list_select_related = ("account",)
    search_fields = ("label", "account__name", "=processor_token")
    autocomplete_fields = ("account",)

    @admin.display(description="processor token")
    def masked_processor_token(self, obj: SavedPaymentMethod) -> str:
        return mask_token(obj.processor_token)

    def get_fields(self, request, obj=None):
        token = "processor_token" if obj is None else "masked_processor_token"
        return ("account", "kind", token, "label", "is_default", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        readonly = ("created_at", "updated_at")
        return readonly if obj is None else ("masked_processor_token", *readonly)


@admin.register(BillingProfile)
class BillingProfileAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "account",
        "is_default",
        "payment_term",
        "bill_day_of_month",
        "suspension_date",
        "resumption_date",
    )
    list_filter = ("is_default", "payment_term")
    list_select_related = ("account", "payment_term")
    search_fields = ("name", "account__name")
    autocomplete_fields = ("account",)
    raw_id_fields = ("bill_to", "saved_payment_method", "billing_address", "shipping_address")
    readonly_fields = ("created_at", "updated_at")
