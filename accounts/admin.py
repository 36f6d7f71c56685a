"""Admin for accounts, contacts, billing profiles, legal entities, payment terms and saved
payment methods.

The admin parses, calls a service (accounts/services.py) and renders; it holds no business
rules. Processor tokens are shown masked: staff identify a payment method by its label and the
token's last characters.

`AccountAdmin` is registered by invoicing/admin/generation.py, which adds the "Generate
invoices" action to it (accounts may not import invoicing).
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
    processor_token_masked,
)
from accounts.services import (
    account_create,
    account_delete,
    account_update,
    billing_profile_create,
    billing_profile_update,
    contact_create,
    contact_update,
    legal_entity_create,
    legal_entity_update,
    payment_term_create,
    payment_term_update,
    saved_payment_method_create,
    saved_payment_method_update,
)
from core.admin_actions import (
    TIMESTAMPS,
    DefaultRecordForm,
    ReadOnlyInline,
    ServiceAdmin,
    ServiceInline,
    model_values,
)

# --- inlines of the account ----------------------------------------------------------------


class ContactInline(ServiceInline, admin.TabularInline):
    model = Contact
    fields = ("name", "email", "phone")
    extra = 0
    show_change_link = True

    def service_create(self, request, parent, obj, fields):
        return contact_create(**{**fields, "account": parent})

    def service_update(self, request, parent, obj, fields):
        return contact_update(contact=obj, **fields)


class BillingProfileInline(ServiceInline, admin.StackedInline):
    """On the account's change page: its default profile is created with the account."""

    model = BillingProfile
    form = DefaultRecordForm
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

    def service_create(self, request, parent, obj, fields):
        return billing_profile_create(**{**fields, "account": parent})

    def service_update(self, request, parent, obj, fields):
        return billing_profile_update(billing_profile=obj, **fields)


class SavedPaymentMethodInline(ReadOnlyInline, admin.TabularInline):
    """Read-only list on the account: a token is entered on the payment method's own add page
    and never shown in full again."""

    model = SavedPaymentMethod
    fields = ("kind", "label", "masked_processor_token", "is_default")
    readonly_fields = fields

    @admin.display(description="processor token")
    def masked_processor_token(self, obj: SavedPaymentMethod) -> str:
        return processor_token_masked(obj.processor_token)


# --- fieldsets ----------------------------------------------------------------------------


def _names(rows: tuple) -> list[str]:
    return [name for row in rows for name in (row if isinstance(row, tuple) else (row,))]


class GroupedFieldsMixin:
    """Fieldsets: one untitled block of every field not in `field_groups`, then the groups
    (title, rows), then the time stamps; a field added to the model is never left off."""

    field_groups: tuple[tuple[str, tuple], ...] = ()

    def get_fieldsets(self, request, obj=None):
        fields = list(self.get_fields(request, obj))
        grouped = {name for _, rows in self.field_groups for name in _names(rows)}
        rest = [f for f in fields if f not in grouped and f not in TIMESTAMPS]
        fieldsets = [(None, {"fields": rest})]
        fieldsets += [
            (title, {"fields": rows})
            for title, rows in self.field_groups
            if set(_names(rows)) <= set(fields)
        ]
        stamps = [f for f in fields if f in TIMESTAMPS]
        if stamps:
            fieldsets.append(("Record", {"fields": stamps}))
        return fieldsets


# --- model admins --------------------------------------------------------------------------


@admin.register(Address)
class AddressAdmin(ServiceAdmin):
    list_display = ("id", "line1", "postal_code", "city", "region", "country")
    list_filter = ("country",)
    search_fields = ("line1", "line2", "city", "postal_code")
    readonly_fields = TIMESTAMPS


@admin.register(LegalEntity)
class LegalEntityAdmin(GroupedFieldsMixin, ServiceAdmin):
    """The VAT id, IBAN and BIC are checked and written compact by the model (the form shows
    its message on the field), the electronic address against its scheme."""

    form = DefaultRecordForm
    list_display = (
        "name",
        "vat_id",
        "tax_id",
        "email",
        "payment_means",
        "attach_pdf",
        "is_default",
        "is_active",
    )
    list_filter = ("is_active", "is_default", "payment_means")
    search_fields = ("name", "tax_id", "vat_id", "legal_registration_id", "endpoint_id", "email")
    field_groups = (
        (
            "Tax and registration (on invoices and e-invoices)",
            ("vat_id", "tax_id", ("legal_registration_id", "legal_registration_scheme")),
        ),
        ("Electronic address (e-invoices)", (("endpoint_scheme", "endpoint_id"),)),
        ("Payment", ("payment_means", ("iban", "bic"))),
    )
    raw_id_fields = ("address",)
    readonly_fields = TIMESTAMPS

    def service_create(self, request, obj, form):
        return legal_entity_create(**_address_by_id(model_values(obj, form.cleaned_data)))

    def service_update(self, request, obj, form):
        return legal_entity_update(
            legal_entity=LegalEntity.objects.get(pk=obj.pk),
            **_address_by_id(model_values(obj, form.changed_data)),
        )


def _address_by_id(fields: dict) -> dict:
    """The admin picks an existing address (raw id); the services take it as `address_id`
    (their `address` argument is the address's own fields)."""
    if "address" in fields:
        address = fields.pop("address")
        fields["address_id"] = address.pk if address else None
    return fields


@admin.register(PaymentTerm)
class PaymentTermAdmin(ServiceAdmin):
    form = DefaultRecordForm
    list_display = ("name", "kind", "days", "is_default")
    list_filter = ("kind", "is_default")
    search_fields = ("name",)
    readonly_fields = TIMESTAMPS

    def service_create(self, request, obj, form):
        return payment_term_create(**model_values(obj, form.cleaned_data))

    def service_update(self, request, obj, form):
        return payment_term_update(
            payment_term=PaymentTerm.objects.get(pk=obj.pk),
            **model_values(obj, form.changed_data),
        )


class AccountAdmin(GroupedFieldsMixin, ServiceAdmin):
    """Added through account_create (which creates its default billing profile), changed
    through account_update, deleted through account_delete (refused once billed). The VAT id
    and the electronic address are checked by the model (the form shows its message on the
    field); a valid EU VAT id of another member state than the seller's makes the account's
    services reverse-charged."""

    list_display = ("name", "external_id", "currency", "legal_entity", "vat_id", "email")
    list_filter = (
        "currency",
        "legal_entity",
        "tax_exempt",
        "einvoice_format",
        "einvoice_required",
        "bulk_email_opt_out",
    )
    list_select_related = ("legal_entity",)
    search_fields = ("name", "=external_id", "email", "tax_id", "vat_id", "endpoint_id")
    field_groups = (
        (
            "Tax",
            (
                ("vat_id", "tax_id"),
                "legal_registration_id",
                "tax_exempt",
                ("tax_exemption_reason_code", "tax_exemption_reason"),
            ),
        ),
        (
            "E-invoicing",
            (
                ("einvoice_format", "einvoice_required", "einvoice_attach"),
                ("endpoint_scheme", "endpoint_id"),
                "buyer_reference",
            ),
        ),
    )
    readonly_fields = TIMESTAMPS
    inlines = (ContactInline, BillingProfileInline, SavedPaymentMethodInline)

    def get_inlines(self, request, obj):
        # account_create makes the default billing profile; it is edited once the account exists.
        return self.inlines if obj is not None else (ContactInline,)

    def service_create(self, request, obj, form):
        return account_create(**model_values(obj, form.cleaned_data))

    def service_update(self, request, obj, form):
        return account_update(
            account=Account.objects.get(pk=obj.pk), **model_values(obj, form.changed_data)
        )

    def service_delete(self, request, obj):
        account_delete(account=obj)


@admin.register(Contact)
class ContactAdmin(ServiceAdmin):
    list_display = ("name", "email", "phone", "account")
    list_select_related = ("account",)
    search_fields = ("name", "email", "account__name")
    autocomplete_fields = ("account",)
    readonly_fields = TIMESTAMPS

    def service_create(self, request, obj, form):
        return contact_create(**model_values(obj, form.cleaned_data))

    def service_update(self, request, obj, form):
        return contact_update(
            contact=Contact.objects.get(pk=obj.pk), **model_values(obj, form.changed_data)
        )


@admin.register(SavedPaymentMethod)
class SavedPaymentMethodAdmin(ServiceAdmin):
    """The token is typed once, on the add page; afterwards it is shown masked and read-only
    (a processor token is replaced, never edited)."""

    form = DefaultRecordForm
    list_display = ("label", "account", "kind", "masked_processor_token", "is_default")
    list_filter = ("kind", "is_default")
    list_select_related = ("account",)
    search_fields = ("label", "account__name", "=processor_token")
    autocomplete_fields = ("account",)

    @admin.display(description="processor token")
    def masked_processor_token(self, obj: SavedPaymentMethod) -> str:
        return processor_token_masked(obj.processor_token)

    def get_fields(self, request, obj=None):
        token = "processor_token" if obj is None else "masked_processor_token"
        return ("account", "kind", token, "label", "is_default", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return TIMESTAMPS if obj is None else ("masked_processor_token", *TIMESTAMPS)

    def service_create(self, request, obj, form):
        return saved_payment_method_create(**model_values(obj, form.cleaned_data))

    def service_update(self, request, obj, form):
        return saved_payment_method_update(
            saved_payment_method=SavedPaymentMethod.objects.get(pk=obj.pk),
            **model_values(obj, form.changed_data),
        )


@admin.register(BillingProfile)
class BillingProfileAdmin(ServiceAdmin):
    form = DefaultRecordForm
    list_display = (
        "name",
        "account",
        "is_default",
        "payment_term",
        "bill_day_of_month",
        "suspension_date",
    )
    list_filter = ("is_default", "payment_term")
    list_select_related = ("account", "payment_term")
    search_fields = ("name", "account__name")
    autocomplete_fields = ("account",)
    raw_id_fields = ("bill_to", "saved_payment_method", "billing_address", "shipping_address")
    readonly_fields = TIMESTAMPS

    def service_create(self, request, obj, form):
        return billing_profile_create(**model_values(obj, form.cleaned_data))

    def service_update(self, request, obj, form):
        return billing_profile_update(
            billing_profile=BillingProfile.objects.get(pk=obj.pk),
            **model_values(obj, form.changed_data),
        )
