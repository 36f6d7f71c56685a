from django.urls import path

from invoicing.api import lifecycle_views as views

urlpatterns = [
    path("invoices/<int:pk>", views.InvoiceDetailApi.as_view(), name="invoice-edit"),
    path("invoices/<int:pk>/void", views.InvoiceVoidApi.as_view(), name="invoice-void"),
    path(
        "invoices/<int:pk>/send-email",
        views.InvoiceSendEmailApi.as_view(),
        name="invoice-send-email",
    ),
    path("invoices/<int:pk>/pdf", views.InvoicePdfApi.as_view(), name="invoice-pdf"),
    path(
        "invoices/<int:pk>/payments",
        views.InvoicePaymentRecordApi.as_view(),
        name="invoice-payments",
    ),
    path(
        "invoices/<int:pk>/adjustments",
        views.InvoiceAdjustmentAddApi.as_view(),
        name="invoice-adjustments",
    ),
    path(
        "invoices/<int:pk>/adjustments/<int:line_id>",
        views.InvoiceAdjustmentDetailApi.as_view(),
        name="invoice-adjustment-detail",
    ),
    path("credit-memos/", views.CreditMemoListApi.as_view(), name="credit-memo-list"),
    path(
        "credit-memos/<int:pk>/",
        views.CreditMemoRetrieveApi.as_view(),
        name="credit-memo-detail",
    ),
    path("debit-memos/", views.DebitMemoCollectionApi.as_view(), name="debit-memo-list"),
    path("debit-memos/<int:pk>/", views.DebitMemoRetrieveApi.as_view(), name="debit-memo-detail"),
    path("debit-memos/<int:pk>/post", views.DebitMemoPostApi.as_view(), name="debit-memo-post"),
    path(
        "debit-memos/<int:pk>/invoice",
        views.DebitMemoInvoiceApi.as_view(),
        name="debit-memo-invoice",
    ),
]
