"""Every /api/v1/ route, gathered from the apps' api/urls.py modules."""

from django.urls import include, path

urlpatterns = [
    path("", include("invoicing.api.urls")),
]
