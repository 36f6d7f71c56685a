"""The billing schedules family of the API: schedules with their period items (read) and
the recovery of schedules left in error. Field names follow ../shared/API.md."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import BillingSchedule
from core.api_fields import CurrencyAmountField
from core.api_views import ResourceDetailApi, ResourceListApi, method_permissions
from invoicing import selectors
from invoicing.api.fields import MoneyField
from invoicing.models import BillingPeriodItem
from invoicing.services.recovery import billing_schedules_recover

# --- representation and inputs ----------------------------------------------------------------


class BillingPeriodItemSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = BillingPeriodItem
        fields = [
            "id",
            "period_start",
            "period_end",
            "quantity",
            "unit_price",
            "amount",
            "proration",
            "invoice_status",
            "invoice",
            "invoice_line",
            "usage_summary",
        ]


class BillingScheduleSerializer(serializers.ModelSerializer):
    period_amount = CurrencyAmountField()
    total_amount = CurrencyAmountField()
    billed_amount = CurrencyAmountField()
    pending_amount = CurrencyAmountField()
    period_items = serializers.SerializerMethodField()

    class Meta:
        model = BillingSchedule
        fields = [
            "id",
            "group",
            "account",
            "order",
            "order_item",
            "product",
            "charge_type",
            "category",
            "status",
            "start_date",
            "end_date",
            "next_billing_date",
            "next_charge_from_date",
            "cancellation_date",
            "quantity",
            "unit_price",
            "pricing_term",
            "billing_frequency",
            "billing_type",
            "period_boundary",
            "period_amount",
            "total_amount",
            "billed_amount",
            "pending_amount",
            "currency",
            "legal_entity",
            "period_items",
        ]

    @extend_schema_field(BillingPeriodItemSerializer(many=True))
    def get_period_items(self, schedule: BillingSchedule) -> list[dict]:
        items = schedule.period_items.all()  # prefetched, in period order
        for item in items:
            item.currency = schedule.currency  # for the amount's minor unit
        return BillingPeriodItemSerializer(items, many=True).data


class BillingSchedulesRecoverInputSerializer(serializers.Serializer):
    billing_schedule_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=200
    )


# --- operations -------------------------------------------------------------------------------


class BillingScheduleListApi(ResourceListApi):
    serializer_class = BillingScheduleSerializer
    filterset_fields = ["account", "order", "status", "group", "category", "charge_type"]
    ordering_fields = ["id", "next_billing_date", "start_date"]

    def get_queryset(self):
        return selectors.billing_schedule_list_with_periods()


class BillingScheduleDetailApi(ResourceDetailApi):
    http_method_names = ["get", "head", "options"]
    serializer_class = BillingScheduleSerializer

    def get_queryset(self):
        return selectors.billing_schedule_list_with_periods()


class BillingSchedulesRecoverApi(APIView):
    required_permissions = method_permissions(post="billing.change_billingschedule")

    @extend_schema(
        request=BillingSchedulesRecoverInputSerializer,
        responses={
            200: OpenApiResponse(
                description='{"results": [{"invoice", "invoice_status", '
                '"billing_schedules": [{"id", "status"}], "errors"}]}'
            )
        },
    )
    def post(self, request):
        data = BillingSchedulesRecoverInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        results = billing_schedules_recover(
            schedule_ids=data.validated_data["billing_schedule_ids"]
        )
        return Response({"results": results})
