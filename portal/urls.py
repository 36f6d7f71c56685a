"""The customer's hosted document pages, included at the site root by config/urls.py:
`/d/<token>/` (the page) and `/d/<token>/pdf` (its PDF, downloaded)."""

from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("d/<str:token>/", views.document_page, name="document"),
    path("d/<str:token>/pdf", views.document_pdf, name="document_pdf"),
]
