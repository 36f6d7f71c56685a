"""Admin for invoices, their lines, taxes and addresses, billed periods, numbering, tax rates
and the error log.

Posted documents are immutable (STYLE.md rule 7): an invoice that is not a draft, and every
line, tax and address of it, is shown read-only and cannot be deleted. Corrections are credit
memos, made by the services. Amounts, numbers and dates that the services compute are
read-only everywhere.

A schedule's billed periods are shown on the schedule's change page: this module replaces
the BillingSchedule admin with a subclass that adds the period-item inline, because invoicing
may import billing but billing may not import invoicing.
"""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from accounts.admin import AccountAdmin
from accounts.models import Account
from billing.admin import BillingScheduleAdmin, OrderAdmin
from billing.models import BillingSchedule, Order
from core.admin_actions import run_service
from invoicing.models import (
    BillingPeriodItem,
    CreditMemo,
    CreditMemoApplication,
    CreditMemoLine,
    CreditMemoLineTax,
    DebitMemo,
    DebitMemoLine,
    EmailTemplate,
    ErrorLog,
    Invoice,
    InvoiceAddress,
    InvoiceBatchRun,
    InvoiceBatchRunKey,
    InvoiceDocument,
    InvoiceEmail,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceScheduler,
    InvoiceStatus,
    Payment,
    SequencePolicy,
    TaxRate,
)
from invoicing.services.generation import invoices_generate
from invoicing.services.posting import invoices_post

TIMESTAMPS = ("created_at", "updated_at")

# A draft can be edited by staff; an errored invoice too, to fix what made it fail. Every
# other status is either final (posted, voided, canceled) or owned by a running service.
EDITABLE_STATUSES = frozenset({InvoiceStatus.DRAFT, InvoiceStatus.ERROR})


def invoice_is_editable(invoice: Invoice | None) -> bool:
    return invoice is None or invoice.status in EDITABLE_STATUSES


def invoice_is_deletable(invoice: Invoice) -> bool:
    """Only a draft with no billed periods. Deleting a generated draft must release its
    period items (otherwise they stay live and the periods can never be billed again): that is
    a service's job, not a bare delete."""
    return invoice.status == InvoiceStatus.DRAFT and not invoice.period_items.exists()


class NoBulkDeleteMixin:
    """The changelist's "delete selected" would skip the per-object checks below."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class InvoiceChildForm(forms.ModelForm):
    """Refuses to attach a row to an invoice that is not editable (e.g. a line added to a
    posted invoice from the line's own add page)."""

    invoice_field = "invoice"

    def clean(self):
        cleaned = super().clean()
        parent = cleaned.get(self.invoice_field)
        invoice = parent if isinstance(parent, Invoice) or parent is None else parent.invoice
        if invoice is not None and not invoice_is_editable(invoice):
            self.add_error(
                self.invoice_field,
                f"{invoice} is {invoice.get_status_display().lower()}: only a draft invoice can "
                "be changed. Correct a posted invoice with a credit memo.",
            )
        return cleaned


class LineTaxForm(InvoiceChildForm):
    invoice_field = "line"


class ReadOnlyInlineMixin:
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- invoices ------------------------------------------------------------------------------


class InvoiceLineInline(admin.TabularInline):
    """Lines come from generation. On a draft staff may reword and reorder them; amounts,
    quantities and periods are the services' (they also keep the invoice totals in step)."""

    model = InvoiceLine
    fk_name = "invoice"
    fields = (
        "sort_order",
        "type",
        "name",
        "description",
        "product",
        "period_start",
        "period_end",
        "quantity",
        "unit_price",
        "amount",
        "tax_amount",
        "taxes",
        "billing_schedule",
    )
    readonly_fields = (
        "type",
        "product",
        "period_start",
        "period_end",
        "quantity",
        "unit_price",
        "amount",
        "tax_amount",
        "taxes",
        "billing_schedule",
    )
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("product", "billing_schedule")
            .prefetch_related("taxes")
        )

    @admin.display(description="taxes")
    def taxes(self, line: InvoiceLine) -> str:
        return "; ".join(f"{t.name} {t.rate}%: {t.amount}" for t in line.taxes.all()) or "—"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return invoice_is_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class InvoiceAddressInline(admin.TabularInline):
    model = InvoiceAddress
    fields = ("kind", "name", "line1", "line2", "postal_code", "city", "region", "country")
    extra = 0
    max_num = len(InvoiceAddress.Kind)

    def has_add_permission(self, request, obj=None) -> bool:
        return invoice_is_editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return invoice_is_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return invoice_is_editable(obj) and super().has_delete_permission(request, obj)


class InvoicePeriodItemInline(ReadOnlyInlineMixin, admin.TabularInline):
    """The billed periods this invoice carries."""

    model = BillingPeriodItem
    fk_name = "invoice"
    fields = ("schedule", "period_start", "period_end", "quantity", "amount", "invoice_status")
    readonly_fields = fields
    verbose_name_plural = "billed periods"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("schedule")


@admin.register(Invoice)
class InvoiceAdmin(NoBulkDeleteMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "account",
        "status",
        "invoice_date",
        "due_date",
        "currency",
        "total",
        "balance",
        "settlement_status",
        "email_status",
    )
    list_filter = (
        "status",
        "settlement_status",
        "email_status",
        "source",
        "currency",
        "legal_entity",
    )
    list_select_related = ("account",)
    search_fields = (
        "=number",
        "account__name",
        "=unique_identifier",
        "=request_id",
        "correlation_id",
        "group_key",
    )
    date_hierarchy = "invoice_date"
    autocomplete_fields = ("account",)
    raw_id_fields = ("bill_to", "reference_order", "saved_payment_method")
    # Set by generation, posting, tax, payments and email: never typed in.
    readonly_fields = (
        "number",
        "status",
        "due_date",
        "posted_date",
        "posted_at",
        "posted_by",
        "total_charges",
        "total_adjustments",
        "total_tax",
        "total",
        "balance",
        "settlement_status",
        "email_status",
        "unique_identifier",
        "request_id",
        "correlation_id",
        "group_key",
        *TIMESTAMPS,
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("number", "status", "source"),
                    ("account", "legal_entity", "currency"),
                    ("bill_to", "payment_term", "saved_payment_method"),
                    ("reference_order", "tax_treatment"),
                    "description",
                )
            },
        ),
        (
            "Dates",
            {
                "fields": (
                    ("invoice_date", "due_date", "target_date"),
                    ("posted_date", "posted_at", "posted_by"),
                )
            },
        ),
        (
            "Totals",
            {
                "fields": (
                    ("total_charges", "total_adjustments", "total_tax"),
                    ("total", "balance"),
                    ("settlement_status", "email_status"),
                )
            },
        ),
        (
            "Generation",
            {
                "classes": ("collapse",),
                "fields": (
                    ("unique_identifier", "group_key"),
                    ("request_id", "correlation_id"),
                    TIMESTAMPS,
                ),
            },
        ),
    )
    inlines = (InvoiceLineInline, InvoiceAddressInline, InvoicePeriodItemInline)
    actions = ("post_invoices",)

    @admin.action(description="Post selected draft invoices", permissions=["change"])
    def post_invoices(self, request, queryset):
        ids = list(queryset.filter(status=InvoiceStatus.DRAFT).values_list("pk", flat=True))
        skipped = queryset.count() - len(ids)
        posted, failures = invoices_post(invoice_ids=ids, posted_by=request.user.username)
        for failure in failures:
            self.message_user(
                request, f"Invoice {failure.invoice_id}: {failure.message}", level=messages.ERROR
            )
        numbers = ", ".join(Invoice.objects.filter(pk__in=posted).values_list("number", flat=True))
        self.message_user(
            request,
            f"{len(posted)} invoice(s) posted"
            + (f": {numbers}" if numbers else ".")
            + (f" {skipped} not draft, skipped." if skipped else ""),
            level=messages.SUCCESS if posted else messages.WARNING,
        )

    def has_change_permission(self, request, obj=None) -> bool:
        return invoice_is_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and not invoice_is_deletable(obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # An invoice made by hand starts as a draft (the model's default status,
        # draft_in_progress, belongs to a generation run).
        if not change:
            obj.status = InvoiceStatus.DRAFT
        super().save_model(request, obj, form, change)


class InvoiceLineTaxInline(ReadOnlyInlineMixin, admin.TabularInline):
    """Computed by the tax engine."""

    model = InvoiceLineTax
    fields = ("name", "code", "rate", "kind", "taxable_amount", "amount", "status")
    readonly_fields = fields
    show_change_link = False


class InvoiceChildAdmin(NoBulkDeleteMixin, admin.ModelAdmin):
    """Lines, taxes and addresses: read-only unless their invoice is editable."""

    form = InvoiceChildForm

    def invoice_of(self, obj) -> Invoice:
        return obj.invoice

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and not invoice_is_editable(self.invoice_of(obj)):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and not invoice_is_editable(self.invoice_of(obj)):
            return False
        return super().has_delete_permission(request, obj)


@admin.register(InvoiceLine)
class InvoiceLineAdmin(InvoiceChildAdmin):
    list_display = (
        "name",
        "invoice",
        "type",
        "product",
        "period_start",
        "period_end",
        "quantity",
        "unit_price",
        "amount",
        "tax_amount",
    )
    list_filter = ("type", "is_usage", "taxable")
    list_select_related = ("invoice", "product")
    search_fields = ("name", "=invoice__number", "product__sku", "billing_schedule__id__exact")
    raw_id_fields = (
        "invoice",
        "product",
        "unit",
        "parent_line",
        "billing_schedule",
        "schedule_group",
    )
    inlines = (InvoiceLineTaxInline,)

    def get_readonly_fields(self, request, obj=None):
        # A manual line's amount is typed on the add page; afterwards it, the line's invoice
        # and its tax are the services'.
        readonly = ("tax_amount", *TIMESTAMPS)
        return readonly if obj is None else ("invoice", "amount", *readonly)


@admin.register(InvoiceLineTax)
class InvoiceLineTaxAdmin(InvoiceChildAdmin):
    form = LineTaxForm
    list_display = ("name", "line", "invoice", "rate", "kind", "taxable_amount", "amount", "status")
    list_filter = ("status", "kind")
    list_select_related = ("line__invoice",)
    search_fields = ("name", "code", "=line__invoice__number")
    raw_id_fields = ("line",)
    readonly_fields = TIMESTAMPS

    def invoice_of(self, obj) -> Invoice:
        return obj.line.invoice

    @admin.display(description="invoice", ordering="line__invoice")
    def invoice(self, obj: InvoiceLineTax) -> Invoice:
        return obj.line.invoice


@admin.register(InvoiceAddress)
class InvoiceAddressAdmin(InvoiceChildAdmin):
    list_display = ("id", "invoice", "kind", "name", "city", "region", "country")
    list_filter = ("kind", "country")
    list_select_related = ("invoice",)
    search_fields = ("=invoice__number", "name", "city", "postal_code")
    raw_id_fields = ("invoice",)
    readonly_fields = TIMESTAMPS


# --- billed periods ------------------------------------------------------------------------


class SchedulePeriodItemInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = BillingPeriodItem
    fk_name = "schedule"
    fields = (
        "period_start",
        "period_end",
        "quantity",
        "unit_price",
        "proration",
        "amount",
        "invoice_status",
        "invoice",
    )
    readonly_fields = fields
    verbose_name_plural = "billed periods"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice")


admin.site.unregister(BillingSchedule)


@admin.register(BillingSchedule)
class BillingScheduleWithPeriodsAdmin(BillingScheduleAdmin):
    inlines = (*BillingScheduleAdmin.inlines, SchedulePeriodItemInline)


@admin.register(BillingPeriodItem)
class BillingPeriodItemAdmin(NoBulkDeleteMixin, admin.ModelAdmin):
    """Written by the period engine; read-only once it exists. A period item that is on no
    invoice may be deleted (e.g. one added here by mistake)."""

    list_display = (
        "__str__",
        "schedule",
        "period_start",
        "period_end",
        "quantity",
        "amount",
        "invoice_status",
        "invoice",
    )
    list_filter = ("invoice_status",)
    list_select_related = ("schedule", "invoice")
    search_fields = ("schedule__id__exact", "=invoice__number", "schedule__account__name")
    date_hierarchy = "period_start"
    raw_id_fields = ("schedule", "group", "usage_summary", "invoice", "invoice_line")
    readonly_fields = (
        "unit_price",
        "proration",
        "amount",
        "consumed_quantity",
        "included_quantity",
        "overage_quantity",
        "invoice_status",
        "invoice",
        "invoice_line",
        *TIMESTAMPS,
    )

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.invoice_id is not None:
            return False
        return super().has_delete_permission(request, obj)


# --- numbering, tax rates, errors ----------------------------------------------------------


@admin.register(SequencePolicy)
class SequencePolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "target",
        "pattern",
        "legal_entity",
        "currency",
        "next_value",
        "effective_from",
        "effective_to",
        "is_active",
    )
    list_filter = ("target", "is_active", "legal_entity")
    list_select_related = ("legal_entity",)
    search_fields = ("name", "pattern")
    # Advanced under a row lock by posting only: editing it by hand breaks gapless numbering.
    readonly_fields = ("next_value", *TIMESTAMPS)


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "legal_entity",
        "country",
        "region",
        "tax_code",
        "rate",
        "kind",
        "priority",
        "is_active",
    )
    list_filter = ("kind", "is_active", "country", "legal_entity")
    list_select_related = ("legal_entity",)
    search_fields = ("name", "tax_code", "region")
    readonly_fields = TIMESTAMPS


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
class ErrorLogAdmin(admin.ModelAdmin):
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


# --- actions that generate and post -------------------------------------------------------


class GenerateInvoicesForm(forms.Form):
    target_date = forms.DateField(
        help_text="Bill every period due on or before this date (YYYY-MM-DD)."
    )
    invoice_date = forms.DateField(required=False, help_text="Empty: the target date.")
    output = forms.ChoiceField(
        choices=[("draft", "Draft invoices"), ("posted", "Posted invoices (numbered)")],
        initial="draft",
    )


def _generate_action(scope_field: str, label: str):
    """An admin action asking target date, invoice date and draft/posted, then generating
    for each selected account or order through invoices_generate."""

    @admin.action(description=f"Generate invoices for selected {label}", permissions=["change"])
    def generate(modeladmin, request, queryset):
        form = GenerateInvoicesForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "admin/action_form.html",
                {
                    **modeladmin.admin_site.each_context(request),
                    "title": "Generate invoices",
                    "intro": f"Generate invoices for these {label}:",
                    "opts": modeladmin.model._meta,
                    "queryset": queryset,
                    "form": form,
                    "action_name": "generate_invoices",
                    "submit_label": "Generate invoices",
                },
            )
        created, failed = [], 0
        for obj in queryset.order_by("id"):
            result = run_service(
                modeladmin,
                request,
                str(obj),
                lambda obj=obj: invoices_generate(
                    **{scope_field: obj.pk},
                    target_date=form.cleaned_data["target_date"],
                    invoice_date=form.cleaned_data["invoice_date"],
                    action=form.cleaned_data["output"],
                    requested_by=request.user.username,
                ),
            )
            if result is None:
                continue
            created += result.invoice_ids
            for error in result.errors:
                failed += 1
                modeladmin.message_user(request, f"{obj}: {error.message}", level=messages.ERROR)
            for error in result.posting_errors:
                modeladmin.message_user(
                    request,
                    f"Invoice {error['invoice_id']} left draft: {error['message']}",
                    level=messages.WARNING,
                )
        numbers = ", ".join(
            i.number or f"draft #{i.pk}" for i in Invoice.objects.filter(pk__in=created)
        )
        modeladmin.message_user(
            request,
            f"{len(created)} invoice(s) generated" + (f": {numbers}" if numbers else "."),
            level=messages.SUCCESS if created or not failed else messages.WARNING,
        )
        return None

    generate.__name__ = "generate_invoices"
    return generate


admin.site.unregister(Account)
admin.site.unregister(Order)


@admin.register(Account)
class AccountWithInvoicingAdmin(AccountAdmin):
    actions = (*(AccountAdmin.actions or ()), _generate_action("account_id", "accounts"))


@admin.register(Order)
class OrderWithInvoicingAdmin(OrderAdmin):
    actions = (*(OrderAdmin.actions or ()), _generate_action("order_id", "orders"))


# --- batch runs and lifecycle records (read-mostly; the services write them) --------------


@admin.register(InvoiceScheduler)
class InvoiceSchedulerAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "status",
        "cadence",
        "time",
        "timezone",
        "invoice_status",
        "last_run_at",
    )
    list_filter = ("status", "cadence", "invoice_status")
    search_fields = ("name",)
    readonly_fields = ("periodic_task", "last_run_at", *TIMESTAMPS)


@admin.register(InvoiceBatchRun)
class InvoiceBatchRunAdmin(NoBulkDeleteMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "scheduler",
        "status",
        "stage",
        "progress",
        "target_date",
        "matching_schedules",
        "invoices_generated",
        "schedules_failed",
        "started_at",
        "completed_at",
    )
    list_filter = ("kind", "status", "stage")
    list_select_related = ("scheduler",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(InvoiceBatchRunKey)
class InvoiceBatchRunKeyAdmin(admin.ModelAdmin):
    list_display = ("run", "chunk", "key", "status")
    list_filter = ("status",)
    raw_id_fields = ("run",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CreditMemoLineInline(admin.TabularInline):
    model = CreditMemoLine
    extra = 0
    fields = (
        "name",
        "period_start",
        "period_end",
        "quantity",
        "unit_price",
        "amount",
        "tax_amount",
    )
    readonly_fields = fields
    can_delete = False


@admin.register(CreditMemo)
class CreditMemoAdmin(NoBulkDeleteMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "account",
        "invoice",
        "status",
        "memo_date",
        "currency",
        "total",
        "balance",
    )
    list_filter = ("status", "currency")
    list_select_related = ("account", "invoice")
    search_fields = ("=number", "account__name", "invoice__number")
    raw_id_fields = ("account", "invoice", "legal_entity")
    inlines = (CreditMemoLineInline,)

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CreditMemoLine, CreditMemoLineTax, CreditMemoApplication, DebitMemoLine)
class MemoChildAdmin(admin.ModelAdmin):
    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_raw_id_fields(self, request):
        return [f.name for f in self.model._meta.fields if f.is_relation]


class DebitMemoLineInline(admin.TabularInline):
    model = DebitMemoLine
    extra = 0
    fields = ("product", "name", "quantity", "unit_price", "amount", "taxable", "tax_code")
    raw_id_fields = ("product",)


@admin.register(DebitMemo)
class DebitMemoAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "account",
        "status",
        "memo_date",
        "next_billing_date",
        "currency",
        "total",
        "invoice",
    )
    list_filter = ("status", "currency")
    list_select_related = ("account", "invoice")
    raw_id_fields = ("account", "invoice", "legal_entity")
    readonly_fields = ("number", "total", "invoice", *TIMESTAMPS)
    inlines = (DebitMemoLineInline,)


@admin.register(Payment)
class PaymentAdmin(NoBulkDeleteMixin, admin.ModelAdmin):
    list_display = ("invoice", "account", "payment_date", "amount", "currency", "reference")
    list_select_related = ("invoice", "account")
    raw_id_fields = ("invoice", "account", "saved_payment_method")
    search_fields = ("invoice__number", "reference")

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(InvoiceDocument)
class InvoiceDocumentAdmin(admin.ModelAdmin):
    list_display = ("invoice", "version", "status", "size", "page_count", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("invoice",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "legal_entity", "billing_profile", "is_default", "is_active")
    list_filter = ("is_default", "is_active")
    raw_id_fields = ("billing_profile", "legal_entity")


@admin.register(InvoiceEmail)
class InvoiceEmailAdmin(admin.ModelAdmin):
    list_display = ("invoice", "to", "status", "bulk", "sent_at")
    list_filter = ("status", "bulk")
    raw_id_fields = ("invoice", "batch_run", "template")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# Admin subclasses with the batch-run and lifecycle actions (they re-register models above).
from invoicing import admin_batch, admin_lifecycle  # noqa: E402,F401, I001
