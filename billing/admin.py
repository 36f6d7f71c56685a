"""Admin for units, billing treatments, products, orders, schedules and usage.

Every write goes through a service: an order is added through `order_create` (which numbers
it `ORD-`), changed through `order_update` and deleted through `order_delete` while it is a
draft, and activated through `order_activate`; an activated order is read-only. Usage is
recorded through `usage_summary_create`. Units, treatments and products are plain records
(core.crud).

Schedules and their groups are written by order activation and the period engine only: they
are shown, never added, changed or deleted here. `OrderAdmin` and `BillingScheduleAdmin` are
registered by invoicing/admin/generation.py, which adds the "Generate invoices" action to
orders and the billed periods (invoicing.BillingPeriodItem) to a schedule's page: billing does
not import invoicing.
"""

from django.contrib import admin, messages

from billing.models import (
    BillingSchedule,
    BillingScheduleGroup,
    BillingTreatment,
    Order,
    OrderItem,
    Product,
    UnitOfMeasure,
    UsageSummary,
)
from billing.services.order_drafts import order_delete, order_update
from billing.services.orders import ITEM_FIELDS, ORDER_FIELDS, order_activate, order_create
from billing.services.usage import usage_summary_create
from core.admin_actions import (
    TIMESTAMPS,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAdmin,
    adopt,
    kept_rows,
    model_values,
    run_service,
)
from core.admin_money import MoneyAdminMixin


@admin.register(UnitOfMeasure)
class UnitOfMeasureAdmin(ServiceAdmin):
    list_display = ("code", "name", "unece_code", "scale", "rounding")
    list_filter = ("rounding",)
    search_fields = ("code", "name", "unece_code")
    readonly_fields = TIMESTAMPS


@admin.register(BillingTreatment)
class BillingTreatmentAdmin(ServiceAdmin):
    list_display = ("name", "billing_type", "zero_amount_handling", "exclude_from_billing")
    list_filter = ("billing_type", "zero_amount_handling", "exclude_from_billing")
    search_fields = ("name",)
    readonly_fields = TIMESTAMPS


@admin.register(Product)
class ProductAdmin(ServiceAdmin):
    list_display = (
        "sku",
        "name",
        "charge_type",
        "unit",
        "taxable",
        "supply_kind",
        "billing_treatment",
        "is_active",
    )
    list_filter = (
        "charge_type",
        "supply_kind",
        "is_active",
        "is_bundle",
        "taxable",
        "billing_treatment",
    )
    list_select_related = ("unit", "billing_treatment")
    search_fields = ("sku", "name", "tax_code")
    readonly_fields = TIMESTAMPS


# --- orders --------------------------------------------------------------------------------


def order_item_currency(item: OrderItem) -> str:
    """An item's prices are in its order's currency, else its account's."""
    return item.order.currency or item.order.account.currency


class OrderItemInline(MoneyAdminMixin, admin.StackedInline):
    """Editable while the order is a draft (written with the order by order_create /
    order_update). Once activated, its items have schedules; a change is a new amendment
    item made by the order services, so the inline turns read-only. Stacked, four rows per
    item, so the order's page fits 1440 px."""

    model = OrderItem
    fk_name = "order"
    money_currency = staticmethod(order_item_currency)
    fields = (
        ("line_number", "product", "action", "amends_item", "effective_date"),
        ("quantity", "unit_price", "pricing_term"),
        ("start_date", "end_date"),
        ("billing_frequency", "billing_type", "period_boundary", "bill_day_of_month"),
    )
    autocomplete_fields = ("product",)
    raw_id_fields = ("amends_item",)
    extra = 0
    show_change_link = True

    def _order_is_draft(self, order) -> bool:
        return order is None or order.status == Order.Status.DRAFT

    def has_add_permission(self, request, obj=None) -> bool:
        return self._order_is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._order_is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._order_is_draft(obj) and super().has_delete_permission(request, obj)


def _is_draft(order: Order | None) -> bool:
    return order is None or order.status == Order.Status.DRAFT


class OrderAdmin(ServiceAdmin):
    """A draft order and its items are written together: order_create on the add page (the
    order gets its ORD- number), order_update on the change page (the items shown replace the
    order's items), order_delete on the delete page. Activated and canceled orders are
    read-only; they change through amendment orders."""

    list_display = (
        "__str__",
        "account",
        "status",
        "currency",
        "invoice_group_type",
        "activated_at",
    )
    list_filter = ("status", "invoice_group_type", "currency", "legal_entity")
    list_select_related = ("account",)
    search_fields = (
        "=number",
        "account__name",
        "matching_value",
        "description",
        "purchase_order",
    )
    autocomplete_fields = ("account",)
    raw_id_fields = ("billing_profile", "bill_to", "saved_payment_method")
    readonly_fields = ("number", "status", "activated_at", *TIMESTAMPS)
    date_hierarchy = "created_at"
    inlines = (OrderItemInline,)
    actions = ("activate_orders",)

    def has_change_permission(self, request, obj=None) -> bool:
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return _is_draft(obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        """Nothing yet: the order is written with its items, in save_related."""

    def save_related(self, request, form, formsets, change):
        order = form.instance
        (items_formset,) = formsets
        items = kept_rows(items_formset, ITEM_FIELDS, order_by="line_number")
        if change:
            fields = model_values(order, [f for f in form.changed_data if f in ORDER_FIELDS])
            if "account" in form.changed_data:
                fields["account"] = order.account
            items_changed = items_formset.has_changed() or bool(items_formset.deleted_forms)
            saved = order_update(
                order_id=order.pk, items=items if items_changed else None, **fields
            )
        else:
            fields = model_values(order, [f for f in form.cleaned_data if f in ORDER_FIELDS])
            saved = order_create(account=order.account, items=items, **fields)
        adopt(order, saved)

    def service_delete(self, request, obj):
        order_delete(order_id=obj.pk)

    @admin.action(description="Activate selected draft orders", permissions=["change"])
    def activate_orders(self, request, queryset):
        done = 0
        for order in queryset.order_by("id"):
            activated = run_service(
                self,
                request,
                f"Order {order}",
                lambda order=order: order_activate(
                    order_id=order.pk, activated_by=request.user.username
                ),
            )
            done += activated is not None
        if done:
            self.message_user(request, f"{done} order(s) activated.", level=messages.SUCCESS)


@admin.register(OrderItem)
class OrderItemAdmin(ReadOnlyAdmin):
    """Items are written with their order, on the order's page (order_create, order_update)."""

    money_currency = staticmethod(order_item_currency)

    list_display = (
        "__str__",
        "action",
        "quantity",
        "unit_price",
        "billing_frequency",
        "start_date",
        "end_date",
    )
    list_filter = ("action", "billing_frequency", "billing_type", "pricing_term", "period_boundary")
    list_select_related = ("order__account", "product")
    search_fields = ("=order__number", "product__sku", "order__account__name")
    raw_id_fields = ("order", "amends_item", "parent_item")
    readonly_fields = TIMESTAMPS


# --- schedules -----------------------------------------------------------------------------


class BillingScheduleInline(ReadOnlyInline, admin.TabularInline):
    """The group's schedules, read-only: they are created and updated by the services."""

    model = BillingSchedule
    fk_name = "group"
    fields = (
        "category",
        "status",
        "start_date",
        "end_date",
        "quantity",
        "unit_price",
        "period_amount",
        "billed_amount",
        "next_billing_date",
        "cancellation_date",
    )
    readonly_fields = fields


@admin.register(BillingScheduleGroup)
class BillingScheduleGroupAdmin(ReadOnlyAdmin):
    """Written by order activation only."""

    list_display = ("__str__", "account", "order", "currency", "start_date", "end_date")
    list_filter = ("currency", "bundle_pricing")
    list_select_related = ("account", "order", "product")
    search_fields = ("id__exact", "account__name", "=order__number", "product__sku")
    autocomplete_fields = ("account", "product")
    raw_id_fields = ("source_item", "order", "bundle_group")
    readonly_fields = TIMESTAMPS
    inlines = (BillingScheduleInline,)


class BillingScheduleAdmin(ReadOnlyAdmin):
    """Written by order activation, the period engine and the invoicing services only."""

    list_display = (
        "__str__",
        "account",
        "product_sku",
        "status",
        "next_billing_date",
        "period_amount",
        "billed_amount",
    )
    list_filter = (
        "status",
        "category",
        "charge_type",
        "billing_frequency",
        "billing_type",
        "invoice_group_type",
        "currency",
    )
    list_select_related = ("account", "product")
    search_fields = (
        "id__exact",
        "account__name",
        "=order__number",
        "product__sku",
        "matching_value",
    )
    date_hierarchy = "next_billing_date"
    autocomplete_fields = ("account", "product")

    @admin.display(description="product", ordering="product__sku")
    def product_sku(self, schedule: BillingSchedule) -> str:
        return schedule.product.sku

    raw_id_fields = (
        "group",
        "order",
        "order_item",
        "original_schedule",
        "parent_schedule",
        "bill_to",
        "saved_payment_method",
        "billing_address",
    )
    # Written by the period engine and the invoicing services only.
    readonly_fields = (
        "status",
        "next_billing_date",
        "next_charge_from_date",
        "period_amount",
        "total_amount",
        "billed_amount",
        "pending_amount",
        *TIMESTAMPS,
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("group", "category", "status"),
                    ("account", "order", "order_item"),
                    ("product", "charge_type", "unit"),
                    ("original_schedule", "parent_schedule", "bundle_pricing"),
                )
            },
        ),
        (
            "Dates",
            {
                "fields": (
                    ("start_date", "end_date", "cancellation_date"),
                    ("next_billing_date", "next_charge_from_date"),
                )
            },
        ),
        (
            "Price and amounts",
            {
                "fields": (
                    ("quantity", "unit_price", "currency"),
                    ("pricing_term", "billing_frequency", "billing_type"),
                    ("period_boundary", "bill_day_of_month"),
                    ("included_quantity", "overage_unit_price"),
                    ("period_amount", "total_amount"),
                    ("billed_amount", "pending_amount"),
                    "zero_amount_handling",
                )
            },
        ),
        (
            "Invoice terms",
            {
                "fields": (
                    ("legal_entity", "payment_term", "tax_treatment"),
                    ("bill_to", "saved_payment_method", "billing_address"),
                    ("invoice_group_type", "custom_group_key", "matching_value"),
                )
            },
        ),
        ("Record", {"fields": (TIMESTAMPS,)}),
    )


@admin.register(UsageSummary)
class UsageSummaryAdmin(ServiceAdmin):
    """Usage is recorded through usage_summary_create (quantity rounded by the unit, linked to
    the usage schedule). A recorded summary is not edited: one not yet invoiced is deleted
    and recorded again."""

    list_display = (
        "id",
        "account",
        "order_item",
        "period_start",
        "period_end",
        "quantity",
        "status",
    )
    list_filter = ("status",)
    list_select_related = ("account", "order_item__order", "order_item__product", "schedule")
    search_fields = ("account__name", "=order_item__order__number", "schedule__id__exact")
    date_hierarchy = "period_start"
    autocomplete_fields = ("account",)
    raw_id_fields = ("order_item", "schedule")
    fields = ("account", "order_item", "period_start", "period_end", "quantity", "status")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.fields

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status == UsageSummary.Status.INVOICED:
            return False
        return super().has_delete_permission(request, obj)

    def service_create(self, request, obj, form):
        data = form.cleaned_data
        return usage_summary_create(
            order_item=data["order_item"],
            period_start=data["period_start"],
            period_end=data["period_end"],
            quantity=data["quantity"],
            account=data.get("account"),
            status=data["status"],
        )
