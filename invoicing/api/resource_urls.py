"""Invoicing resource routes. `invoices/{id}` (retrieve, PATCH, DELETE) lives in
lifecycle_urls.py."""

from django.urls import path

from invoicing.api import resource_views as views

urlpatterns = [
    path("invoices/", views.InvoiceListApi.as_view(), name="invoice-list"),
    path("invoices/ingest", views.InvoiceIngestApi.as_view(), name="invoice-ingest"),
    path(
        "billing-schedules/",
        views.BillingScheduleListApi.as_view(),
        name="billing-schedule-list",
    ),
    path(
        "billing-schedules/<int:pk>",
        views.BillingScheduleDetailApi.as_view(),
        name="billing-schedule-detail",
    ),
    path("tax-rates/", views.TaxRateListCreateApi.as_view(), name="tax-rate-list"),
    path("tax-rates/<int:pk>", views.TaxRateDetailApi.as_view(), name="tax-rate-detail"),
    path(
        "sequence-policies/",
        views.SequencePolicyListCreateApi.as_view(),
        name="sequence-policy-list",
    ),
    path(
        "sequence-policies/<int:pk>",
        views.SequencePolicyDetailApi.as_view(),
        name="sequence-policy-detail",
    ),
    path("error-logs/", views.ErrorLogListApi.as_view(), name="error-log-list"),
]
