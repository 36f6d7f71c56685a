"""The reminders family of the API: the reminders sent (`dunning-reminders/`), what is due on a
date (`dunning/due`), the run (`dunning/run`), an invoice's dunning (`invoices/{id}/dunning`:
its history, disputes, why it stopped, the next reminder) and its dispute
(`invoices/{id}/dispute`, `invoices/{id}/resolve-dispute`). One class per operation, each
parsing its input, calling one service or selector and rendering."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_views import ResourceListApi, method_permissions, request_actor
from dunning import selectors
from dunning.models import DunningReminder, InvoiceDispute
from dunning.services.disputes import invoice_dispute_open, invoice_dispute_resolve
from dunning.services.reminders import dunning_run
from invoicing.models import Invoice

# --- representation ---------------------------------------------------------------------------


class DunningReminderSerializer(serializers.ModelSerializer):
    number = serializers.CharField(
        source="invoice.number", read_only=True, help_text="The invoice's number."
    )
    account = serializers.IntegerField(source="invoice.account_id", read_only=True)
    step_label = serializers.CharField(read_only=True, help_text="'7 days after due'.")
    to = serializers.CharField(
        source="email.to", read_only=True, allow_null=True, help_text="The recipient."
    )
    sent_at = serializers.DateTimeField(
        source="email.sent_at",
        read_only=True,
        allow_null=True,
        help_text="When the email went (null: not sent).",
    )

    class Meta:
        model = DunningReminder
        fields = [
            "id",
            "invoice",
            "number",
            "account",
            "step",
            "days_after_due",
            "step_label",
            "sent_on",
            "sent_at",
            "status",
            "email",
            "to",
            "error",
            "requested_by",
            "created_at",
        ]
        read_only_fields = fields


class DueReminderSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(source="invoice.pk")
    number = serializers.CharField(source="invoice.number")
    account = serializers.IntegerField(source="invoice.account_id")
    account_name = serializers.CharField(source="invoice.account.name")
    due_date = serializers.DateField(source="invoice.due_date")
    step = serializers.IntegerField(source="step.pk")
    days_after_due = serializers.IntegerField(source="step.days_after_due")
    step_date = serializers.DateField(help_text="The step's date: due date + days_after_due.")
    to = serializers.CharField(source="recipient", help_text="Empty: no recipient (it fails).")
    opted_out = serializers.BooleanField(
        help_text="The account opted out of bulk email: the reminder is recorded as skipped."
    )


class DueSerializer(serializers.Serializer):
    date = serializers.DateField()
    due = DueReminderSerializer(many=True)


class RunCountsSerializer(serializers.Serializer):
    sent = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Opted out of bulk email.")
    failed = serializers.IntegerField()
    not_due = serializers.IntegerField(
        help_text="Taken by another run meanwhile, or stopped since (paid, disputed, …)."
    )


class RunSerializer(serializers.Serializer):
    date = serializers.DateField(source="on")
    dry_run = serializers.BooleanField()
    summary = serializers.CharField()
    counts = RunCountsSerializer(
        source="counts_or_none", allow_null=True, help_text="Null on a dry run."
    )
    due = DueReminderSerializer(many=True, help_text="What was due when the run started.")
    reminders = DunningReminderSerializer(many=True, help_text="What the run wrote.")


class RunInputSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="The run date (not after today).")
    dry_run = serializers.BooleanField(default=False, help_text="Say what would go; send nothing.")


class DueQuerySerializer(serializers.Serializer):
    date = serializers.DateField(required=False)


class InvoiceDisputeSerializer(serializers.ModelSerializer):
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = InvoiceDispute
        fields = [
            "id",
            "reason",
            "opened_at",
            "opened_by",
            "is_open",
            "resolved_at",
            "resolved_by",
            "resolution",
        ]
        read_only_fields = fields


class NextReminderSerializer(serializers.Serializer):
    step = serializers.IntegerField(source="step.pk")
    days_after_due = serializers.IntegerField(source="step.days_after_due")
    on = serializers.DateField(help_text="Today when it is due now (the next run sends it).")


class InvoiceDunningSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(source="invoice.pk")
    number = serializers.CharField(source="invoice.number", allow_null=True)
    policy = serializers.IntegerField(source="policy.pk", allow_null=True)
    disputed = serializers.BooleanField(help_text="An open dispute pauses its dunning.")
    dispute = InvoiceDisputeSerializer(
        source="open_dispute", allow_null=True, help_text="The open dispute, if any."
    )
    stopped = serializers.ChoiceField(
        source="stop_or_none",
        choices=list(selectors.STOP_MESSAGES),
        allow_null=True,
        help_text="Why the invoice is not dunned; null while it is.",
    )
    stop_message = serializers.CharField()
    next = NextReminderSerializer(
        allow_null=True, help_text="The next reminder if nothing changes; null: none."
    )
    dunning = DunningReminderSerializer(many=True, source="reminders")
    disputes = InvoiceDisputeSerializer(many=True)


class DisputeInputSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="What the customer disputes.")


class ResolveInputSerializer(serializers.Serializer):
    resolution = serializers.CharField(required=False, allow_blank=True, default="")


def invoice_dunning_out(invoice_id: int) -> dict:
    invoice = get_object_or_404(Invoice, pk=invoice_id)
    state = selectors.dunning_for_invoice(invoice=invoice, today=timezone.localdate())
    return InvoiceDunningSerializer(state).data


# --- operations -------------------------------------------------------------------------------


class DunningReminderListApi(ResourceListApi):
    """The reminders sent (the dunning history of every invoice), newest run date first;
    filter by invoice, status and sent_on."""

    serializer_class = DunningReminderSerializer
    filterset_fields = ["invoice", "status", "sent_on"]
    ordering_fields = ["id", "sent_on"]

    def get_queryset(self):
        return selectors.dunning_reminder_list()


class DunningDueApi(APIView):
    """What a run on `date` (default: today) would send, to whom; nothing is written."""

    required_permissions = method_permissions(get="dunning.view_dunningreminder")

    @extend_schema(
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, description="Default: today.")],
        responses={200: DueSerializer},
    )
    def get(self, request):
        query = DueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        on = query.validated_data.get("date") or timezone.localdate()
        return Response(DueSerializer({"date": on, "due": selectors.dunning_due(on=on)}).data)


class DunningRunApi(APIView):
    """Send the reminders due on `date` (not after today) through the invoice email outbox;
    `dry_run`: say what would go and send nothing. Each reminder goes at most once per invoice
    and step, whoever runs it and however often."""

    required_permissions = method_permissions(post="dunning.add_dunningreminder")

    @extend_schema(
        request=RunInputSerializer,
        responses={200: RunSerializer},
        examples=[
            OpenApiExample("Today's reminders", value={"date": "2026-02-07"}, request_only=True),
            OpenApiExample(
                "What would go", value={"date": "2026-02-07", "dry_run": True}, request_only=True
            ),
        ],
    )
    def post(self, request):
        data = RunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = dunning_run(
            on=data.validated_data["date"],
            dry_run=data.validated_data["dry_run"],
            requested_by=request_actor(request),
        )
        return Response(RunSerializer(result).data)


class InvoiceDunningApi(APIView):
    """The invoice's dunning: reminders sent, disputes, why it is not dunned, the next one."""

    required_permissions = method_permissions(get="dunning.view_dunningreminder")

    @extend_schema(responses={200: InvoiceDunningSerializer})
    def get(self, request, pk: int):
        return Response(invoice_dunning_out(pk))


class InvoiceDisputeApi(APIView):
    """Open a dispute of a posted invoice: its dunning pauses until it is resolved."""

    required_permissions = method_permissions(post="dunning.add_invoicedispute")

    @extend_schema(request=DisputeInputSerializer, responses={201: InvoiceDunningSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = DisputeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invoice_dispute_open(
            invoice_id=pk, reason=data.validated_data["reason"], opened_by=request_actor(request)
        )
        return Response(invoice_dunning_out(pk), status=status.HTTP_201_CREATED)


class InvoiceResolveDisputeApi(APIView):
    """Resolve the invoice's open dispute: dunning resumes (with the latest step whose day has
    come)."""

    required_permissions = method_permissions(post="dunning.change_invoicedispute")

    @extend_schema(request=ResolveInputSerializer, responses={200: InvoiceDunningSerializer})
    def post(self, request, pk: int):
        get_object_or_404(Invoice, pk=pk)
        data = ResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invoice_dispute_resolve(
            invoice_id=pk,
            resolution=data.validated_data["resolution"],
            resolved_by=request_actor(request),
        )
        return Response(invoice_dunning_out(pk))
