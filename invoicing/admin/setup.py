"""Admin for invoicing setup: numbering (sequence policies), tax rates, email templates, and
the error log. Sequence policies are written through invoicing/services/sequence_policies.py
(as in the API: a used policy keeps its numbering settings and is never deleted); the others
are plain records written through core.crud (validated, 409 when still in use), like their
API. A policy's next value is advanced under a row lock by posting only.
"""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from core.admin_actions import TIMESTAMPS, ServiceAdmin, model_values
from core.text import TextCheckedModelForm
from invoicing.models import (
    DATE_FORMAT_INVALID,
    SEQUENCE_POLICY_EDITABLE_FIELDS,
    EmailTemplate,
    ErrorLog,
    SequencePolicy,
    TaxRate,
)
from invoicing.services.sequence_policies import (
    NUMBERING_FIELDS,
    sequence_policy_create,
    sequence_policy_delete,
    sequence_policy_update,
)


class SequencePolicyForm(TextCheckedModelForm):
    class Meta:
        model = SequencePolicy
        fields = list(SEQUENCE_POLICY_EDITABLE_FIELDS)
        # The model's message (the value and the accepted formats), not "Select a valid choice".
        error_messages = {"date_format": {"invalid_choice": DATE_FORMAT_INVALID}}


@admin.register(SequencePolicy)
class SequencePolicyAdmin(ServiceAdmin):
    form = SequencePolicyForm
    list_display = (
        "name",
        "target",
        "pattern",
        "legal_entity",
        "currency",
        "next_value",
        "effective_from",
        "is_active",
    )
    list_filter = ("target", "is_active", "legal_entity")
    list_select_related = ("legal_entity",)
    search_fields = ("name", "pattern")
    # Advanced under a row lock by posting only: editing it by hand breaks gapless numbering.
    readonly_fields = ("next_value", *TIMESTAMPS)

    def get_readonly_fields(self, request, obj=None):
        """A used policy (it has issued numbers) shows its numbering settings read-only: the
        service keeps them (deactivate it and create a new policy to number differently)."""
        if obj is not None and obj.next_value is not None:
            return (*NUMBERING_FIELDS, *self.readonly_fields)
        return self.readonly_fields

    def service_create(self, request, obj, form):
        return sequence_policy_create(**model_values(obj, form.cleaned_data))

    def service_update(self, request, obj, form):
        return sequence_policy_update(policy_id=obj.pk, **model_values(obj, form.changed_data))

    def service_delete(self, request, obj) -> None:
        sequence_policy_delete(policy_id=obj.pk)


@admin.register(TaxRate)
class TaxRateAdmin(ServiceAdmin):
    list_display = (
        "name",
        "legal_entity",
        "country",
        "region",
        "tax_code",
        "rate",
        "kind",
        "vat_category",
    )
    list_filter = ("kind", "vat_category", "is_active", "country", "legal_entity")
    list_select_related = ("legal_entity",)
    search_fields = ("name", "tax_code", "region", "exemption_reason_code")
    readonly_fields = TIMESTAMPS


@admin.register(EmailTemplate)
class EmailTemplateAdmin(ServiceAdmin):
    list_display = ("name", "legal_entity", "billing_profile", "is_default", "is_active")
    list_filter = ("is_default", "is_active")
    raw_id_fields = ("billing_profile", "legal_entity")


def _admin_link(content_type, object_id) -> str:
    if content_type is None or object_id is None:
        return "—"
    label = f"{content_type.name} #{object_id}"
    try:
        url = reverse(
            f"admin:{content_type.app_label}_{content_type.model}_change", args=[object_id]
        )
    except NoReverseMatch:
        return label
    return format_html('<a href="{}">{}</a>', url, label)


@admin.register(ErrorLog)
class ErrorLogAdmin(ServiceAdmin):
    """Written by the services (one current row per record; a retry updates it). Staff mark
    an error resolved."""

    list_display = (
        "code",
        "category",
        "primary_link",
        "related_link",
        "short_message",
        "occurrences",
        "is_resolved",
        "updated_at",
    )
    list_filter = ("category", "is_resolved", "primary_type")
    list_select_related = ("primary_type", "related_type")
    search_fields = ("code", "message", "=request_id", "primary_id__exact")
    date_hierarchy = "updated_at"

    @admin.display(description="record", ordering="primary_id")
    def primary_link(self, obj: ErrorLog) -> str:
        return _admin_link(obj.primary_type, obj.primary_id)

    @admin.display(description="related record")
    def related_link(self, obj: ErrorLog) -> str:
        return _admin_link(obj.related_type, obj.related_id)

    @admin.display(description="message")
    def short_message(self, obj: ErrorLog) -> str:
        return obj.message if len(obj.message) <= 100 else f"{obj.message[:99]}…"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return TIMESTAMPS
        return (
            "category",
            "code",
            "message",
            "primary_link",
            "related_link",
            "request_id",
            "occurrences",
            *TIMESTAMPS,
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return (
                "category",
                "code",
                "message",
                ("primary_type", "primary_id"),
                ("related_type", "related_id"),
                "request_id",
                "is_resolved",
                "occurrences",
            )
        return (
            ("category", "code"),
            "message",
            ("primary_link", "related_link"),
            "request_id",
            ("occurrences", "is_resolved"),
            TIMESTAMPS,
        )
