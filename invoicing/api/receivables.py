"""The receivables family of the API, read only (invoicing/receivables.py): an account's
balance and statement, and the AR aging report. Every role reads them (they need
`invoicing.view_invoice`).

- `GET accounts/{id}/balance?as_of=` → one row per currency;
- `GET accounts/{id}/statement?from=&to=&currency=&format=` → the statement as JSON, or
  `format=csv` (a download) or `format=pdf` (the statement PDF);
- `GET reports/aging?as_of=&currency=&legal_entity=&format=` → JSON, or `format=csv`.

`format` is read by these views, not by the REST framework's content negotiation (which would
answer 404 for a format it has no renderer for): a bad value is `400 invalid` on `format`, and
every error is JSON whatever was asked.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account, LegalEntity
from core.api_views import method_permissions
from invoicing.api.fields import MoneyField
from invoicing.pdf.statement import render_statement_pdf, statement_pdf_filename
from invoicing.receivables import (
    AGING_BUCKETS,
    AGING_COLUMNS,
    STATEMENT_COLUMNS,
    EntryType,
    account_balances,
    account_statement,
    aging_filename,
    aging_report,
    aging_table,
    csv_text,
    receivables_today,
    statement_filename,
    statement_table,
)

READ = method_permissions(get="invoicing.view_invoice")

# --- representation ---------------------------------------------------------------------------


class CurrencyBalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    invoiced = MoneyField()
    credited = MoneyField()
    paid = MoneyField()
    balance = MoneyField()


class StatementEntrySerializer(serializers.Serializer):
    date = serializers.DateField()
    type = serializers.ChoiceField(choices=EntryType.choices)
    document = serializers.CharField(
        help_text="The invoice's or memo's number; a payment's reference (else #id)."
    )
    description = serializers.CharField()
    debit = MoneyField()
    credit = MoneyField()
    balance = MoneyField(help_text="The running balance after this entry.")
    invoice = serializers.IntegerField(source="invoice_id", allow_null=True)
    credit_memo = serializers.IntegerField(source="credit_memo_id", allow_null=True)
    debit_memo = serializers.IntegerField(source="debit_memo_id", allow_null=True)
    payment = serializers.IntegerField(
        source="payment_id", allow_null=True, help_text="The payment received (payments/)."
    )


class StatementCurrencySerializer(serializers.Serializer):
    currency = serializers.CharField()
    opening_balance = MoneyField()
    debits = MoneyField()
    credits = MoneyField()
    closing_balance = MoneyField()


class _MainAmount(MoneyField):
    """An amount of the statement's main section, in that section's currency."""

    currency_paths = ("main.currency",)


class StatementSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account.pk")
    account_name = serializers.CharField(source="account.name")
    to = serializers.DateField(source="date_to")
    currency = serializers.CharField(source="main.currency")
    opening_balance = _MainAmount(source="main.opening_balance")
    debits = _MainAmount(source="main.debits")
    credits = _MainAmount(source="main.credits")
    closing_balance = _MainAmount(source="main.closing_balance")
    entries = StatementEntrySerializer(source="main.entries", many=True)
    currencies = StatementCurrencySerializer(source="sections", many=True)

    def get_fields(self):
        fields = super().get_fields()
        ordered = {"account": fields.pop("account"), "account_name": fields.pop("account_name")}
        ordered["from"] = serializers.DateField(source="date_from")
        return {**ordered, **fields}


class _BucketAmount(MoneyField):
    """One bucket's amount of an aging row."""

    def __init__(self, bucket: str, **kwargs):
        self.bucket = bucket
        super().__init__(source="*", **kwargs)

    def get_attribute(self, instance):
        return (instance.amount(self.bucket), instance.currency)


class AgingTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        for bucket in AGING_BUCKETS:
            fields[bucket] = _BucketAmount(bucket)
        fields["total"] = MoneyField()
        return fields


class AgingRowSerializer(AgingTotalSerializer):
    account = serializers.IntegerField(source="account_id")
    account_name = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        return {
            "account": fields.pop("account"),
            "account_name": fields.pop("account_name"),
            **fields,
        }


class AgingReportSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    buckets = serializers.SerializerMethodField()
    rows = AgingRowSerializer(many=True)
    totals = AgingTotalSerializer(many=True)

    def get_buckets(self, report) -> list[str]:
        return list(AGING_BUCKETS)


# --- input ------------------------------------------------------------------------------------


class _OurFormat(BaseContentNegotiation):
    """JSON for every answer the REST framework renders (the views answer CSV and PDF
    themselves): the `format` query parameter is the views' own."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _FormatQuery(serializers.Serializer):
    FORMATS: tuple[str, ...] = ("json", "csv")

    format = serializers.CharField(required=False, allow_blank=True)

    def validate_format(self, value: str) -> str:
        value = (value or "json").strip().lower()
        if value not in self.FORMATS:
            raise serializers.ValidationError(f"Use {', '.join(self.FORMATS)} (default json).")
        return value


class BalanceQuery(serializers.Serializer):
    as_of = serializers.DateField(required=False)


class StatementQuery(_FormatQuery):
    FORMATS = ("json", "csv", "pdf")

    to = serializers.DateField(required=False)
    currency = serializers.CharField(required=False, allow_blank=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        return fields


class AgingQuery(_FormatQuery):
    as_of = serializers.DateField(required=False)
    currency = serializers.CharField(required=False, allow_blank=True)
    legal_entity = serializers.IntegerField(required=False, min_value=1)

    def validate_legal_entity(self, value: int) -> int:
        if not LegalEntity.objects.filter(pk=value).exists():
            raise serializers.ValidationError(f"Legal entity {value} does not exist.")
        return value


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _download(text: str, content_type: str, filename: str, *, inline: bool = False):
    response = HttpResponse(text, content_type=content_type)
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


_DATE = OpenApiTypes.DATE
_FORMAT_HELP = "json (default), csv"


class _ReceivablesApi(APIView):
    required_permissions = READ
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _OurFormat


# --- views ------------------------------------------------------------------------------------


class AccountBalanceApi(_ReceivablesApi):
    """What the account owes per currency as of a date: invoiced − credited − paid."""

    @extend_schema(
        parameters=[
            OpenApiParameter("as_of", _DATE, description="Default: today."),
        ],
        responses={200: CurrencyBalanceSerializer(many=True)},
    )
    def get(self, request, pk: int):
        account = get_object_or_404(Account, pk=pk)
        query = _query(BalanceQuery, request)
        balances = account_balances(
            account=account, as_of=query.get("as_of") or receivables_today()
        )
        return Response(CurrencyBalanceSerializer(balances, many=True).data)


class AccountStatementApi(_ReceivablesApi):
    """The account's statement: the opening balance (the day before `from`), every invoice,
    credit memo and payment dated from `from` to `to` with the running balance, the closing
    balance. The top-level figures and `entries` are those of `currency`, else the account's
    currency (else its only one); `currencies` sums up every currency of the statement."""

    @extend_schema(
        parameters=[
            OpenApiParameter("from", _DATE, description="Default: the first day of `to`'s month."),
            OpenApiParameter("to", _DATE, description="Default: today."),
            OpenApiParameter("currency", str, description="Only this currency."),
            OpenApiParameter(
                "format", str, enum=["json", "csv", "pdf"], description=f"{_FORMAT_HELP}, pdf"
            ),
        ],
        responses={
            (200, "application/json"): StatementSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="The statement as CSV."
            ),
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The statement PDF."
            ),
        },
    )
    def get(self, request, pk: int):
        account = get_object_or_404(Account, pk=pk)
        query = _query(StatementQuery, request)
        statement = account_statement(
            account=account,
            date_from=query.get("from"),
            date_to=query.get("to"),
            currency=(query.get("currency") or "").strip(),
        )
        if query.get("format") == "csv":
            return _download(
                csv_text(STATEMENT_COLUMNS, statement_table(statement)),
                "text/csv; charset=utf-8",
                statement_filename(statement, "csv"),
            )
        if query.get("format") == "pdf":
            return _download(
                render_statement_pdf(statement),
                "application/pdf",
                statement_pdf_filename(statement),
                inline=True,
            )
        return Response(StatementSerializer(statement).data)


class AgingReportApi(_ReceivablesApi):
    """The AR aging as of a date: per account and currency, what is open by days past due
    (current, 1-30, 31-60, 61-90, 90+; credit not yet applied is a negative current amount),
    and each currency's totals. An account's total is its balance."""

    @extend_schema(
        parameters=[
            OpenApiParameter("as_of", _DATE, description="Default: today."),
            OpenApiParameter("currency", str, description="Only this currency."),
            OpenApiParameter("legal_entity", int, description="Only this seller's documents."),
            OpenApiParameter("format", str, enum=["json", "csv"], description=_FORMAT_HELP),
        ],
        responses={
            (200, "application/json"): AgingReportSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="The aging report as CSV."
            ),
        },
    )
    def get(self, request):
        query = _query(AgingQuery, request)
        currency = (query.get("currency") or "").strip()
        report = aging_report(
            as_of=query.get("as_of") or receivables_today(),
            currency=currency,
            legal_entity_id=query.get("legal_entity"),
        )
        if query.get("format") == "csv":
            return _download(
                csv_text(AGING_COLUMNS, aging_table(report)),
                "text/csv; charset=utf-8",
                aging_filename(report, "csv", currency=currency.upper()),
            )
        return Response(AgingReportSerializer(report).data)
