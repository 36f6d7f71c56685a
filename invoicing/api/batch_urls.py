from django.urls import path

from invoicing.api import batch_views as views

urlpatterns = [
    path(
        "invoice-schedulers/",
        views.SchedulerCollectionApi.as_view(),
        name="invoice-scheduler-list",
    ),
    path(
        "invoice-schedulers/<int:pk>",
        views.SchedulerDetailApi.as_view(),
        name="invoice-scheduler-detail",
    ),
    path(
        "invoice-schedulers/<int:pk>/run-now",
        views.SchedulerRunNowApi.as_view(),
        name="invoice-scheduler-run-now",
    ),
    path("invoice-batch-runs/", views.BatchRunListApi.as_view(), name="invoice-batch-run-list"),
    path(
        "invoice-batch-runs/<int:pk>",
        views.BatchRunRetrieveApi.as_view(),
        name="invoice-batch-run-detail",
    ),
    path(
        "invoice-batch-runs/<int:pk>/recover",
        views.BatchRunRecoverApi.as_view(),
        name="invoice-batch-run-recover",
    ),
    path(
        "invoice-batch-runs/<int:pk>/draft-to-posted",
        views.BatchRunDraftToPostedApi.as_view(),
        name="invoice-batch-run-draft-to-posted",
    ),
    path(
        "invoice-batch-runs/<int:pk>/send-email",
        views.BatchRunSendEmailApi.as_view(),
        name="invoice-batch-run-send-email",
    ),
    path(
        "invoice-batch-runs/<int:pk>/cancel",
        views.BatchRunCancelApi.as_view(),
        name="invoice-batch-run-cancel",
    ),
    path(
        "billing-schedules/recover",
        views.BillingSchedulesRecoverApi.as_view(),
        name="billing-schedule-recover",
    ),
]
