"""Billing resources: one API class per path or action, every write through a service."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers import (
    OrderActivatedSerializer,
    OrderSerializer,
    ProductSerializer,
    UnitOfMeasureSerializer,
    UsageSummarySerializer,
    order_service_fields,
)
from billing.models import Order, OrderItem, Product, UnitOfMeasure, UsageSummary
from billing.services.order_drafts import order_delete, order_update
from billing.services.orders import order_activate, order_create
from billing.services.usage import usage_summary_create
from core.api_views import ResourceDetailApi, ResourceListCreateApi


class UnitOfMeasureListCreateApi(ResourceListCreateApi):
    queryset = UnitOfMeasure.objects.all()
    serializer_class = UnitOfMeasureSerializer
    filterset_fields = ["code", "rounding"]
    ordering_fields = ["id", "code", "name"]


class UnitOfMeasureDetailApi(ResourceDetailApi):
    queryset = UnitOfMeasure.objects.all()
    serializer_class = UnitOfMeasureSerializer


_products = Product.objects.select_related("unit")


class ProductListCreateApi(ResourceListCreateApi):
    queryset = _products
    serializer_class = ProductSerializer
    filterset_fields = ["sku", "charge_type", "taxable", "is_bundle", "is_active"]
    ordering_fields = ["id", "sku", "name"]


class ProductDetailApi(ResourceDetailApi):
    queryset = _products
    serializer_class = ProductSerializer


_orders = Order.objects.prefetch_related(
    Prefetch("items", queryset=OrderItem.objects.order_by("line_number", "id"))
)


class OrderListCreateApi(ResourceListCreateApi):
    queryset = _orders
    serializer_class = OrderSerializer
    filterset_fields = ["account", "status", "number", "matching_value"]
    ordering_fields = ["id", "number", "created_at", "activated_at"]

    def create_service(self, **data):
        data = order_service_fields(data)
        return order_create(account=data.pop("account"), items=data.pop("items", []), **data)


class OrderDetailApi(ResourceDetailApi):
    """GET an order; PUT / PATCH / DELETE only while it is a draft (else 409 order_not_draft).
    Sending `items` replaces all of the order's items."""

    queryset = _orders
    serializer_class = OrderSerializer

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
        order_activate(order_id=pk, activated_by=request.user.get_username())
        return Response(OrderActivatedSerializer(_orders.get(pk=pk)).data)


class UsageSummaryListCreateApi(ResourceListCreateApi):
    queryset = UsageSummary.objects.all()
    serializer_class = UsageSummarySerializer
    filterset_fields = ["account", "order_item", "status", "period_start", "period_end"]
    ordering_fields = ["id", "period_start", "period_end"]

    def create_service(self, **data):
        return usage_summary_create(**data)
