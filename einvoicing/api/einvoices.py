"""The e-invoice family of the API (../shared/API.md, "E-invoices"): an invoice's or a credit
memo's e-invoice as a file, and the check of its e-invoice against the rules.

- `GET invoices/{id}/einvoice?format=ubl|xrechnung|cii|facturx` and
  `GET credit-memos/{id}/einvoice?format=…` → the file (`application/xml`, or
  `application/pdf` for Factur-X) as a download named by the service; without `format`, the
  account's preferred format, else Peppol UBL. Only a posted (or voided) document has one:
  a draft answers `409 einvoice_not_posted`; a document EN 16931 cannot express answers
  `422 einvoice_invalid` with the findings in the details.
- `POST invoices/{id}/einvoice/validate` and `POST credit-memos/{id}/einvoice/validate`, body
  `{"format": …}` (optional) → the findings of every rule that applies (200 whether the
  document passes or not); drafts included; nothing is stored.

Every role may download and check (they read only: `view_invoice` / `view_creditmemo`).
An unknown format is `400 invalid` on `format` (the service's message, naming the formats).

`format` is read by these views, not by the REST framework's content negotiation (which would
answer 404 for a format it has no renderer for, and 406 to `Accept: application/xml`): every
answer the framework renders (the check, the errors) is JSON; the file is the view's own.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_views import method_permissions
from einvoicing.services import (
    FORMATS,
    CheckResult,
    EInvoiceFile,
    credit_memo_einvoice_check,
    credit_memo_einvoice_render,
    invoice_einvoice_check,
    invoice_einvoice_render,
)

FORMAT_HELP = (
    "The e-invoice format: ubl (Peppol BIS Billing 3.0), xrechnung (XRechnung 3.0, UBL), "
    "cii (UN/CEFACT CII, EN 16931) or facturx (the PDF with the CII embedded). Default: the "
    "account's preferred format, else ubl."
)

# --- representation ---------------------------------------------------------------------------


@extend_schema_field({"type": "string", "enum": list(FORMATS)})
class FormatField(serializers.CharField):
    """A format name; the service checks it (so the API, the admin and the command refuse an
    unknown one with the same message)."""


class CheckInputSerializer(serializers.Serializer):
    format = FormatField(required=False, allow_blank=True, help_text=FORMAT_HELP)


class FindingSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="The rule's id, e.g. BR-CO-26 or PEPPOL-EN16931-R010.")
    flag = serializers.CharField(help_text="fatal or warning (a finding without a flag is fatal).")
    severity = serializers.CharField(help_text="The same as flag (../shared/API.md's name).")
    message = serializers.CharField(help_text="What the rule says is wrong.")
    location = serializers.CharField(
        allow_blank=True, help_text="Where in the XML (an XPath), when the rule says."
    )
    fix = serializers.CharField(allow_blank=True, help_text="What data to change, in plain words.")
    source = serializers.CharField(
        help_text="Who says so: CEN EN 16931, XML Schema, Peppol, XRechnung or Ledgerline."
    )


class CheckResultSerializer(serializers.Serializer):
    format = serializers.CharField(help_text="The format checked.")
    valid = serializers.BooleanField(help_text="True when no finding is fatal.")
    fatal = serializers.IntegerField(help_text="The number of fatal findings.")
    warnings = serializers.IntegerField(help_text="The number of warnings.")
    findings = FindingSerializer(many=True, help_text="Fatal findings first, then by rule.")


def check_out(result: CheckResult) -> dict:
    """The check as the API answers it: CheckResult.as_dict(), each finding also carrying the
    contract's `severity` (its flag)."""
    data = result.as_dict()
    data["findings"] = [{**f, "severity": f["flag"]} for f in data["findings"]]
    return CheckResultSerializer(data).data


class ErrorShapeSerializer(serializers.Serializer):
    """The one error shape (core/api.py)."""

    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


def file_response(file: EInvoiceFile) -> HttpResponse:
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = content_disposition_header(True, file.filename)
    return response


# --- views ------------------------------------------------------------------------------------


class _JsonAnswers(DefaultContentNegotiation):
    """`format` is the e-invoice format here, not a renderer's: whatever the client asks for,
    what the framework renders (the check, an error) is JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _EInvoiceApi(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JsonAnswers


def _errors(kind: str) -> dict:
    return {
        400: OpenApiResponse(ErrorShapeSerializer, description="`invalid`: an unknown `format`."),
        404: OpenApiResponse(ErrorShapeSerializer, description=f"`not_found`: no such {kind}."),
    }


def _file_schema(kind: str) -> dict:
    file = (
        f"The {kind}'s e-invoice as a download: XML (ubl, xrechnung, cii) or the Factur-X PDF "
        "(facturx)."
    )
    return {
        "parameters": [
            OpenApiParameter("format", str, enum=list(FORMATS), description=FORMAT_HELP)
        ],
        "responses": {
            (200, "application/xml"): OpenApiResponse(OpenApiTypes.STR, description=file),
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description=file),
            **_errors(kind),
            409: OpenApiResponse(
                ErrorShapeSerializer,
                description=f"`einvoice_not_posted`: the {kind} is a draft (check it instead).",
            ),
            422: OpenApiResponse(
                ErrorShapeSerializer,
                description="`einvoice_invalid`: EN 16931 cannot express the document; the "
                "details list the findings.",
            ),
        },
    }


def _check_schema(kind: str) -> dict:
    return {
        "request": CheckInputSerializer,
        "responses": {200: CheckResultSerializer, **_errors(kind)},
    }


def _format_in(request) -> str | None:
    data = CheckInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data.get("format") or None


class InvoiceEInvoiceApi(_EInvoiceApi):
    """The invoice's e-invoice file."""

    required_permissions = method_permissions(get="invoicing.view_invoice")

    @extend_schema(**_file_schema("invoice"))
    def get(self, request, pk: int):
        return file_response(invoice_einvoice_render(pk, request.query_params.get("format")))


class InvoiceEInvoiceValidateApi(_EInvoiceApi):
    """Every rule that applies to the invoice's e-invoice (drafts included)."""

    required_permissions = method_permissions(post="invoicing.view_invoice")

    @extend_schema(**_check_schema("invoice"))
    def post(self, request, pk: int):
        return Response(check_out(invoice_einvoice_check(pk, _format_in(request))))


class CreditMemoEInvoiceApi(_EInvoiceApi):
    """The credit memo's e-invoice file (a UBL CreditNote, or CII / Factur-X type 381)."""

    required_permissions = method_permissions(get="invoicing.view_creditmemo")

    @extend_schema(**_file_schema("credit memo"))
    def get(self, request, pk: int):
        return file_response(credit_memo_einvoice_render(pk, request.query_params.get("format")))


class CreditMemoEInvoiceValidateApi(_EInvoiceApi):
    """Every rule that applies to the credit memo's e-invoice (drafts included)."""

    required_permissions = method_permissions(post="invoicing.view_creditmemo")

    @extend_schema(**_check_schema("credit memo"))
    def post(self, request, pk: int):
        return Response(check_out(credit_memo_einvoice_check(pk, _format_in(request))))
