"""The admins of accounts, orders and billing schedules, registered here with what invoicing
adds to them: the "Generate invoices" action on accounts and orders (invoices_generate) and a
schedule's billed periods. Their classes live in accounts/admin.py and billing/admin.py;
they are registered here, once, because billing and accounts may not import invoicing.
"""

from django import forms
from django.contrib import admin, messages

from accounts.admin import AccountAdmin
from accounts.models import Account
from billing.admin import BillingScheduleAdmin, OrderAdmin
from billing.models import BillingSchedule, Order
from core.admin_actions import ReadOnlyInline, action_form_page, run_service
from core.text import TextCheckedForm
from invoicing.models import BillingPeriodItem, Invoice
from invoicing.services.generation import invoices_generate


class GenerateInvoicesForm(TextCheckedForm):
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
            return action_form_page(
                modeladmin,
                request,
                queryset,
                title="Generate invoices",
                intro=f"Generate invoices for these {label}:",
                form=form,
                action_name="generate_invoices",
                submit="Generate invoices",
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


@admin.register(Account)
class AccountWithInvoicingAdmin(AccountAdmin):
    actions = (*(AccountAdmin.actions or ()), _generate_action("account_id", "accounts"))


@admin.register(Order)
class OrderWithInvoicingAdmin(OrderAdmin):
    """Orders may generate their invoices, whatever their status (the action needs the change
    permission of the model, not of each order)."""

    actions = (*(OrderAdmin.actions or ()), _generate_action("order_id", "orders"))


class SchedulePeriodItemInline(ReadOnlyInline, admin.TabularInline):
    model = BillingPeriodItem
    fk_name = "schedule"
    money_currency = "schedule.currency"
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


@admin.register(BillingSchedule)
class BillingScheduleWithPeriodsAdmin(BillingScheduleAdmin):
    inlines = (*BillingScheduleAdmin.inlines, SchedulePeriodItemInline)
