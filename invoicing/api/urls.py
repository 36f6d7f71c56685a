"""Every invoicing route of /api/v1/, by resource family (one module per family)."""

from django.urls import path

from invoicing.api import (
    billing_schedules,
    invoices,
    memos_payments,
    receivables,
    runs_schedulers,
    setup,
)

urlpatterns = [
    # invoices
    path("invoices/", invoices.InvoiceListApi.as_view(), name="invoice-list"),
    path("invoices/generate", invoices.InvoiceGenerateApi.as_view(), name="invoice-generate"),
    path("invoices/preview", invoices.InvoicePreviewApi.as_view(), name="invoice-preview"),
    path("invoices/ingest", invoices.InvoiceIngestApi.as_view(), name="invoice-ingest"),
    path("invoices/<int:pk>", invoices.InvoiceDetailApi.as_view(), name="invoice-edit"),
    path("invoices/<int:pk>/post", invoices.InvoicePostApi.as_view(), name="invoice-post"),
    path(
        "invoices/<int:pk>/send-email",
        invoices.InvoiceSendEmailApi.as_view(),
        name="invoice-send-email",
    ),
    path("invoices/<int:pk>/pdf", invoices.InvoicePdfApi.as_view(), name="invoice-pdf"),
    path(
        "invoices/<int:pk>/adjustments",
        invoices.InvoiceAdjustmentAddApi.as_view(),
        name="invoice-adjustments",
    ),
    path(
        "invoices/<int:pk>/adjustments/<int:line_id>",
        invoices.InvoiceAdjustmentDetailApi.as_view(),
        name="invoice-adjustment-detail",
    ),
    # memos and payments
    path("invoices/<int:pk>/void", memos_payments.InvoiceVoidApi.as_view(), name="invoice-void"),
    path(
        "invoices/<int:pk>/credit", memos_payments.InvoiceCreditApi.as_view(), name="invoice-credit"
    ),
    path(
        "invoices/<int:pk>/convert-negative-lines",
        memos_payments.InvoiceNegativeLinesConvertApi.as_view(),
        name="invoice-convert-negative-lines",
    ),
    path(
        "invoices/<int:pk>/write-off",
        memos_payments.InvoiceWriteOffApi.as_view(),
        name="invoice-write-off",
    ),
    path(
        "invoices/<int:pk>/write-off/reverse",
        memos_payments.InvoiceWriteOffReverseApi.as_view(),
        name="invoice-write-off-reverse",
    ),
    path(
        "invoices/<int:pk>/payments",
        memos_payments.InvoicePaymentRecordApi.as_view(),
        name="invoice-payments",
    ),
    path("payments/", memos_payments.ReceiptCollectionApi.as_view(), name="payment-list"),
    path("payments/<int:pk>", memos_payments.ReceiptRetrieveApi.as_view(), name="payment-detail"),
    path(
        "payments/<int:pk>/allocate",
        memos_payments.ReceiptAllocateApi.as_view(),
        name="payment-allocate",
    ),
    path(
        "payments/<int:pk>/unallocate",
        memos_payments.ReceiptUnallocateApi.as_view(),
        name="payment-unallocate",
    ),
    path(
        "payments/<int:pk>/refund", memos_payments.ReceiptRefundApi.as_view(), name="payment-refund"
    ),
    path(
        "payments/<int:pk>/reverse",
        memos_payments.ReceiptReverseApi.as_view(),
        name="payment-reverse",
    ),
    path(
        "credit-memos/", memos_payments.CreditMemoCollectionApi.as_view(), name="credit-memo-list"
    ),
    path(
        "credit-memos/<int:pk>/post",
        memos_payments.CreditMemoPostApi.as_view(),
        name="credit-memo-post",
    ),
    path(
        "credit-memos/<int:pk>/apply",
        memos_payments.CreditMemoApplyApi.as_view(),
        name="credit-memo-apply",
    ),
    path(
        "credit-memos/<int:pk>/unapply",
        memos_payments.CreditMemoUnapplyApi.as_view(),
        name="credit-memo-unapply",
    ),
    path(
        "credit-memos/<int:pk>/void",
        memos_payments.CreditMemoVoidApi.as_view(),
        name="credit-memo-void",
    ),
    path(
        "credit-memos/<int:pk>",
        memos_payments.CreditMemoRetrieveApi.as_view(),
        name="credit-memo-detail",
    ),
    path(
        "credit-memos/<int:pk>/pdf",
        memos_payments.CreditMemoPdfApi.as_view(),
        name="credit-memo-pdf",
    ),
    path(
        "debit-memos/",
        memos_payments.DebitMemoCollectionApi.as_view(),
        name="debit-memo-list",
    ),
    path(
        "debit-memos/<int:pk>",
        memos_payments.DebitMemoRetrieveApi.as_view(),
        name="debit-memo-detail",
    ),
    path(
        "debit-memos/<int:pk>/pdf",
        memos_payments.DebitMemoPdfApi.as_view(),
        name="debit-memo-pdf",
    ),
    path(
        "debit-memos/<int:pk>/post",
        memos_payments.DebitMemoPostApi.as_view(),
        name="debit-memo-post",
    ),
    path(
        "debit-memos/<int:pk>/invoice",
        memos_payments.DebitMemoInvoiceApi.as_view(),
        name="debit-memo-invoice",
    ),
    # billing schedules
    path(
        "billing-schedules/",
        billing_schedules.BillingScheduleListApi.as_view(),
        name="billing-schedule-list",
    ),
    path(
        "billing-schedules/<int:pk>",
        billing_schedules.BillingScheduleDetailApi.as_view(),
        name="billing-schedule-detail",
    ),
    path(
        "billing-schedules/recover",
        billing_schedules.BillingSchedulesRecoverApi.as_view(),
        name="billing-schedule-recover",
    ),
    # runs and schedulers
    path(
        "invoice-schedulers/",
        runs_schedulers.SchedulerCollectionApi.as_view(),
        name="invoice-scheduler-list",
    ),
    path(
        "invoice-schedulers/<int:pk>",
        runs_schedulers.SchedulerDetailApi.as_view(),
        name="invoice-scheduler-detail",
    ),
    path(
        "invoice-schedulers/<int:pk>/run-now",
        runs_schedulers.SchedulerRunNowApi.as_view(),
        name="invoice-scheduler-run-now",
    ),
    path(
        "invoice-batch-runs/",
        runs_schedulers.BatchRunListApi.as_view(),
        name="invoice-batch-run-list",
    ),
    path(
        "invoice-batch-runs/<int:pk>",
        runs_schedulers.BatchRunRetrieveApi.as_view(),
        name="invoice-batch-run-detail",
    ),
    path(
        "invoice-batch-runs/<int:pk>/recover",
        runs_schedulers.BatchRunRecoverApi.as_view(),
        name="invoice-batch-run-recover",
    ),
    path(
        "invoice-batch-runs/<int:pk>/draft-to-posted",
        runs_schedulers.BatchRunDraftToPostedApi.as_view(),
        name="invoice-batch-run-draft-to-posted",
    ),
    path(
        "invoice-batch-runs/<int:pk>/send-email",
        runs_schedulers.BatchRunSendEmailApi.as_view(),
        name="invoice-batch-run-send-email",
    ),
    path(
        "invoice-batch-runs/<int:pk>/cancel",
        runs_schedulers.BatchRunCancelApi.as_view(),
        name="invoice-batch-run-cancel",
    ),
    path("error-logs/", runs_schedulers.ErrorLogListApi.as_view(), name="error-log-list"),
    # setup
    path("tax-rates/", setup.TaxRateListCreateApi.as_view(), name="tax-rate-list"),
    path("tax-rates/<int:pk>", setup.TaxRateDetailApi.as_view(), name="tax-rate-detail"),
    path(
        "sequence-policies/",
        setup.SequencePolicyListCreateApi.as_view(),
        name="sequence-policy-list",
    ),
    path(
        "sequence-policies/<int:pk>",
        setup.SequencePolicyDetailApi.as_view(),
        name="sequence-policy-detail",
    ),
    # receivables (read only)
    path(
        "accounts/<int:pk>/balance",
        receivables.AccountBalanceApi.as_view(),
        name="account-balance",
    ),
    path(
        "accounts/<int:pk>/statement",
        receivables.AccountStatementApi.as_view(),
        name="account-statement",
    ),
    path("reports/aging", receivables.AgingReportApi.as_view(), name="report-aging"),
]
