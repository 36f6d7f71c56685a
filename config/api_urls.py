"""Every /api/v1/ route: one urls module per app."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("invoicing.api.urls")),
]
