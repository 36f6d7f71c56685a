"""Every /api/v1/ route, gathered from the apps' api/urls.py modules."""

from django.urls import include, path

urlpatterns = [
    path("", include("invoicing.api.urls")),
    path("", include("invoicing.api.lifecycle_urls")),
    path("", include("accounts.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("invoicing.api.resource_urls")),
    path("", include("invoicing.api.batch_urls")),
]
