"""The orders family of the API: orders (CRUD while draft) with their items, activation
(answered with the billing schedule groups it made) and usage summaries. One API class per
path or action, every write through a service. Field names follow ../shared/API.md.

Money and quantities are decimal strings. On order items, `parent_item` is the 0-based index
of the bundle item in the same order's `items` list (on input and on output), so an order
read from the API can be sent back unchanged.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account
from billing import selectors
from billing.models import BillingSchedule, BillingScheduleGroup, Order, OrderItem, UsageSummary
from billing.services.order_drafts import order_delete, order_update
from billing.services.orders import order_activate, order_create
from billing.services.usage import usage_summary_create
from core.api_fields import CurrencyAmountField
from core.api_views import ResourceDetailApi, ResourceListCreateApi, request_actor

# --- representation ---------------------------------------------------------------------------


class OrderItemSerializer(serializers.ModelSerializer):
    parent_item = serializers.IntegerField(
        source="parent_item_id",
        required=False,
        allow_null=True,
        min_value=0,
        help_text="For a bundle child: the index (0-based) of its bundle item in `items`.",
    )

    class Meta:
        model = OrderItem
        fields = [
            "id",
            "line_number",
            "product",
            "action",
            "amends_item",
            "effective_date",
            "quantity",
            "unit_price",
            "pricing_term",
            "start_date",
            "end_date",
            "billing_frequency",
            "billing_type",
            "period_boundary",
            "bill_day_of_month",
            "parent_item",
            "bundle_pricing",
            "included_quantity",
            "overage_unit_price",
            "billing_treatment",
        ]
        read_only_fields = ["id", "line_number"]


class OrderSerializer(serializers.ModelSerializer):
    items = OrderItemSerializer(many=True, required=False)

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "account",
            "billing_profile",
            "currency",
            "legal_entity",
            "payment_term",
            "bill_to",
            "saved_payment_method",
            "invoice_group_type",
            "custom_group_key",
            "matching_value",
            "tax_treatment",
            "description",
            "purchase_order",
            "status",
            "activated_at",
            "items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "number", "status", "activated_at", "created_at", "updated_at"]

    def to_representation(self, instance: Order) -> dict:
        data = super().to_representation(instance)
        index = {item["id"]: i for i, item in enumerate(data["items"])}
        for item in data["items"]:
            if item["parent_item"] is not None:
                item["parent_item"] = index.get(item["parent_item"])
        return data


def order_service_fields(validated: dict) -> dict:
    """validated_data → the order services' keyword arguments (`parent_item` as index)."""
    data = dict(validated)
    if "items" in data:
        items = []
        for item in data["items"]:
            item = dict(item)
            if "parent_item_id" in item:
                item["parent_item"] = item.pop("parent_item_id")
            items.append(item)
        data["items"] = items
    return data


class BillingScheduleBriefSerializer(serializers.ModelSerializer):
    period_amount = CurrencyAmountField()
    total_amount = CurrencyAmountField()

    class Meta:
        model = BillingSchedule
        fields = [
            "id",
            "order",
            "order_item",
            "category",
            "status",
            "start_date",
            "end_date",
            "next_billing_date",
            "quantity",
            "unit_price",
            "period_amount",
            "total_amount",
            "currency",
        ]


class BillingScheduleGroupSerializer(serializers.ModelSerializer):
    billing_schedules = BillingScheduleBriefSerializer(
        source="schedules", many=True, read_only=True
    )

    class Meta:
        model = BillingScheduleGroup
        fields = [
            "id",
            "source_item",
            "product",
            "currency",
            "legal_entity",
            "start_date",
            "end_date",
            "cancellation_date",
            "billing_schedules",
        ]


class OrderActivatedSerializer(OrderSerializer):
    billing_schedule_groups = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "billing_schedule_groups"]

    @extend_schema_field(BillingScheduleGroupSerializer(many=True))
    def get_billing_schedule_groups(self, order: Order) -> list[dict]:
        groups = selectors.schedule_group_list_for_order(order=order)
        return BillingScheduleGroupSerializer(groups, many=True).data


class UsageSummarySerializer(serializers.ModelSerializer):
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(),
        required=False,
        help_text="Defaults to the order item's account.",
    )

    class Meta:
        model = UsageSummary
        fields = [
            "id",
            "account",
            "order_item",
            "schedule",
            "period_start",
            "period_end",
            "quantity",
            "status",
            "created_at",
        ]
        read_only_fields = ["id", "schedule", "created_at"]


# --- operations -------------------------------------------------------------------------------


class OrderListCreateApi(ResourceListCreateApi):
    serializer_class = OrderSerializer
    filterset_fields = ["account", "status", "number", "matching_value", "purchase_order"]
    ordering_fields = ["id", "number", "created_at", "activated_at"]

    def get_queryset(self):
        return selectors.order_list_with_items()

    def create_service(self, **data):
        data = order_service_fields(data)
        return order_create(account=data.pop("account"), items=data.pop("items", []), **data)


class OrderDetailApi(ResourceDetailApi):
    """GET an order; PUT / PATCH / DELETE only while it is a draft (else 409 order_not_draft).
    Sending `items` replaces all of the order's items."""

    serializer_class = OrderSerializer

    def get_queryset(self):
        return selectors.order_list_with_items()

    def update_service(self, instance, **data):
        return order_update(order_id=instance.pk, **order_service_fields(data))

    def delete_service(self, instance) -> None:
        order_delete(order_id=instance.pk)


class OrderActivateApi(APIView):
    """Activate a draft order: its billing schedule groups and schedules are created."""

    required_permissions = {"POST": ["billing.change_order"]}

    @extend_schema(request=None, responses={200: OrderActivatedSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Order, pk=pk)
        order_activate(order_id=pk, activated_by=request_actor(request))
        return Response(OrderActivatedSerializer(selectors.order_list_with_items().get(pk=pk)).data)


class UsageSummaryListCreateApi(ResourceListCreateApi):
    queryset = UsageSummary.objects.all()
    serializer_class = UsageSummarySerializer
    filterset_fields = ["account", "order_item", "status", "period_start", "period_end"]
    ordering_fields = ["id", "period_start", "period_end"]

    def create_service(self, **data):
        return usage_summary_create(**data)
