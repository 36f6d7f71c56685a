"""Every dunning route of /api/v1/, by resource family (one module per family)."""

from django.urls import path

from dunning.api import policies, reminders

urlpatterns = [
    # policies
    path(
        "dunning-policies/",
        policies.DunningPolicyListCreateApi.as_view(),
        name="dunning-policy-list",
    ),
    path(
        "dunning-policies/<int:pk>",
        policies.DunningPolicyDetailApi.as_view(),
        name="dunning-policy-detail",
    ),
    # reminders and runs
    path(
        "dunning-reminders/",
        reminders.DunningReminderListApi.as_view(),
        name="dunning-reminder-list",
    ),
    path("dunning/due", reminders.DunningDueApi.as_view(), name="dunning-due"),
    path("dunning/run", reminders.DunningRunApi.as_view(), name="dunning-run"),
    # one invoice
    path(
        "invoices/<int:pk>/dunning",
        reminders.InvoiceDunningApi.as_view(),
        name="invoice-dunning",
    ),
    path(
        "invoices/<int:pk>/dispute",
        reminders.InvoiceDisputeApi.as_view(),
        name="invoice-dispute",
    ),
    path(
        "invoices/<int:pk>/resolve-dispute",
        reminders.InvoiceResolveDisputeApi.as_view(),
        name="invoice-resolve-dispute",
    ),
]
