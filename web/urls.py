from django.urls import path, re_path

from web.views import (
    accounts,
    dashboard,
    documents,
    dunning,
    einvoices,
    errors,
    invoices,
    orders,
    payments,
    receivables,
    runs,
    schedulers,
    schedules,
)

app_name = "web"

urlpatterns = [
    path("login/", dashboard.LoginView.as_view(), name="login"),
    path("logout/", dashboard.LogoutView.as_view(), name="logout"),
    path("", dashboard.DashboardView.as_view(), name="dashboard"),
    # accounts
    path("accounts/", accounts.AccountListView.as_view(), name="account_list"),
    path("accounts/<int:pk>/", accounts.AccountDetailView.as_view(), name="account_detail"),
    path("accounts/<int:pk>/generate", accounts.GenerateView.as_view(), name="account_generate"),
    path(
        "generations/<str:request_id>/",
        accounts.GenerationResultView.as_view(),
        name="generation_result",
    ),
    # orders
    path("orders/", orders.OrderListView.as_view(), name="order_list"),
    path("orders/<int:pk>/", orders.OrderDetailView.as_view(), name="order_detail"),
    path("orders/<int:pk>/activate", orders.OrderActivateView.as_view(), name="order_activate"),
    path("orders/<int:pk>/generate", orders.OrderGenerateView.as_view(), name="order_generate"),
    # billing schedules
    path("schedules/", schedules.ScheduleListView.as_view(), name="schedule_list"),
    path("schedules/<int:pk>/", schedules.ScheduleDetailView.as_view(), name="schedule_detail"),
    # invoices
    path("invoices/", invoices.InvoiceListView.as_view(), name="invoice_list"),
    path("invoices/<int:pk>/", invoices.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("invoices/<int:pk>/pdf", invoices.InvoicePdfView.as_view(), name="invoice_pdf"),
    path(
        "invoices/<int:pk>/einvoice",
        einvoices.InvoiceEInvoiceView.as_view(),
        name="invoice_einvoice",
    ),
    path(
        "invoices/<int:pk>/einvoice/check",
        einvoices.InvoiceEInvoiceCheckView.as_view(),
        name="invoice_einvoice_check",
    ),
    path("invoices/<int:pk>/post", invoices.InvoicePostView.as_view(), name="invoice_post"),
    path("invoices/<int:pk>/void", invoices.InvoiceVoidView.as_view(), name="invoice_void"),
    path("invoices/<int:pk>/email", invoices.InvoiceEmailView.as_view(), name="invoice_email"),
    path(
        "invoices/<int:pk>/payment", invoices.InvoicePaymentView.as_view(), name="invoice_payment"
    ),
    path("invoices/<int:pk>/credit", invoices.InvoiceCreditView.as_view(), name="invoice_credit"),
    path(
        "invoices/<int:pk>/write-off",
        invoices.InvoiceWriteOffView.as_view(),
        name="invoice_write_off",
    ),
    path(
        "invoices/<int:pk>/reverse-write-off",
        invoices.InvoiceWriteOffReverseView.as_view(),
        name="invoice_write_off_reverse",
    ),
    path(
        "invoices/<int:pk>/credit-lines",
        invoices.InvoiceCreditLinesView.as_view(),
        name="invoice_credit_lines",
    ),
    path(
        "invoices/<int:pk>/convert-negative-lines",
        invoices.InvoiceNegativeLinesView.as_view(),
        name="invoice_convert_negative_lines",
    ),
    path(
        "credit-memos/<int:pk>/post", invoices.CreditMemoPostView.as_view(), name="credit_memo_post"
    ),
    path(
        "credit-memos/<int:pk>/void", invoices.CreditMemoVoidView.as_view(), name="credit_memo_void"
    ),
    path(
        "credit-applications/<int:pk>/unapply",
        invoices.CreditApplicationUnapplyView.as_view(),
        name="credit_application_unapply",
    ),
    path("invoices/<int:pk>/edit", invoices.InvoiceEditView.as_view(), name="invoice_edit"),
    path(
        "accounts/<int:pk>/payments/new",
        payments.ReceiptNewView.as_view(),
        name="receipt_new",
    ),
    path("payments/<int:pk>/", payments.ReceiptDetailView.as_view(), name="receipt_detail"),
    path(
        "accounts/<int:pk>/credit-memos/new",
        invoices.CreditMemoNewView.as_view(),
        name="credit_memo_new",
    ),
    path(
        "payments/<int:pk>/allocate",
        payments.ReceiptAllocateView.as_view(),
        name="receipt_allocate",
    ),
    path("payments/<int:pk>/refund", payments.ReceiptRefundView.as_view(), name="receipt_refund"),
    path(
        "payments/<int:pk>/unallocate/<int:invoice_id>",
        payments.ReceiptUnallocateView.as_view(),
        name="receipt_unallocate",
    ),
    path(
        "payments/<int:pk>/reverse", payments.ReceiptReverseView.as_view(), name="receipt_reverse"
    ),
    path(
        "invoices/<int:pk>/adjustments",
        invoices.AdjustmentAddView.as_view(),
        name="invoice_adjustment_add",
    ),
    path(
        "invoices/<int:pk>/adjustments/<int:line_pk>/remove",
        invoices.AdjustmentRemoveView.as_view(),
        name="invoice_adjustment_remove",
    ),
    path("invoices/<int:pk>/delete", invoices.DraftDeleteView.as_view(), name="invoice_delete"),
    # memo documents
    path(
        "credit-memos/<int:pk>/pdf", documents.CreditMemoPdfView.as_view(), name="credit_memo_pdf"
    ),
    path(
        "credit-memos/<int:pk>/einvoice",
        einvoices.CreditMemoEInvoiceView.as_view(),
        name="credit_memo_einvoice",
    ),
    path(
        "credit-memos/<int:pk>/einvoice/check",
        einvoices.CreditMemoEInvoiceCheckView.as_view(),
        name="credit_memo_einvoice_check",
    ),
    path("debit-memos/<int:pk>/pdf", documents.DebitMemoPdfView.as_view(), name="debit_memo_pdf"),
    # batch runs
    path("runs/", runs.RunListView.as_view(), name="run_list"),
    path("runs/start", runs.RunStartView.as_view(), name="run_start"),
    path("runs/<int:pk>/", runs.RunDetailView.as_view(), name="run_detail"),
    path("runs/<int:pk>/progress.json", runs.RunProgressView.as_view(), name="run_progress"),
    path("runs/<int:pk>/recover", runs.RunRecoverView.as_view(), name="run_recover"),
    path(
        "runs/<int:pk>/draft-to-posted",
        runs.RunDraftToPostedView.as_view(),
        name="run_draft_to_posted",
    ),
    path("runs/<int:pk>/send-emails", runs.RunSendEmailsView.as_view(), name="run_send_emails"),
    # schedulers
    path("schedulers/", schedulers.SchedulerListView.as_view(), name="scheduler_list"),
    path("schedulers/new", schedulers.SchedulerFormView.as_view(), name="scheduler_new"),
    path("schedulers/<int:pk>/", schedulers.SchedulerFormView.as_view(), name="scheduler_edit"),
    path(
        "schedulers/<int:pk>/run-now",
        schedulers.SchedulerRunNowView.as_view(),
        name="scheduler_run_now",
    ),
    re_path(
        r"^schedulers/(?P<pk>[0-9]+)/(?P<to>activate|deactivate|cancel)$",
        schedulers.SchedulerStatusView.as_view(),
        name="scheduler_status",
    ),
    # error logs
    path("errors/", errors.ErrorListView.as_view(), name="error_list"),
    # receivables (read only)
    path("receivables/", receivables.AgingReportView.as_view(), name="receivables_aging"),
    path(
        "receivables/aging.csv",
        receivables.AgingCsvView.as_view(),
        name="receivables_aging_csv",
    ),
    path(
        "accounts/<int:pk>/statement/",
        receivables.AccountStatementView.as_view(),
        name="account_statement",
    ),
    path(
        "accounts/<int:pk>/statement.pdf",
        receivables.AccountStatementFileView.as_view(file_format="pdf"),
        name="account_statement_pdf",
    ),
    path(
        "accounts/<int:pk>/statement.csv",
        receivables.AccountStatementFileView.as_view(file_format="csv"),
        name="account_statement_csv",
    ),
    # dunning: reminders, policies, an invoice's dispute
    path("dunning/", dunning.DunningView.as_view(), name="dunning"),
    path("dunning/run", dunning.DunningRunView.as_view(), name="dunning_run"),
    path("dunning/policies/", dunning.PolicyListView.as_view(), name="dunning_policy_list"),
    path("dunning/policies/new", dunning.PolicyFormView.as_view(), name="dunning_policy_new"),
    path(
        "dunning/policies/<int:pk>/",
        dunning.PolicyFormView.as_view(),
        name="dunning_policy_edit",
    ),
    path(
        "dunning/policies/<int:pk>/delete",
        dunning.PolicyDeleteView.as_view(),
        name="dunning_policy_delete",
    ),
    path("invoices/<int:pk>/dispute", dunning.InvoiceDisputeView.as_view(), name="invoice_dispute"),
    path(
        "invoices/<int:pk>/resolve-dispute",
        dunning.InvoiceResolveDisputeView.as_view(),
        name="invoice_resolve_dispute",
    ),
]
