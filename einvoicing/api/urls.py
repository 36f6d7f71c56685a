"""E-invoicing's routes of /api/v1/ (actions on invoices and credit memos: no slash)."""

from django.urls import path

from einvoicing.api import einvoices

urlpatterns = [
    path(
        "invoices/<int:pk>/einvoice",
        einvoices.InvoiceEInvoiceApi.as_view(),
        name="invoice-einvoice",
    ),
    path(
        "invoices/<int:pk>/einvoice/validate",
        einvoices.InvoiceEInvoiceValidateApi.as_view(),
        name="invoice-einvoice-validate",
    ),
    path(
        "credit-memos/<int:pk>/einvoice",
        einvoices.CreditMemoEInvoiceApi.as_view(),
        name="credit-memo-einvoice",
    ),
    path(
        "credit-memos/<int:pk>/einvoice/validate",
        einvoices.CreditMemoEInvoiceValidateApi.as_view(),
        name="credit-memo-einvoice-validate",
    ),
]
