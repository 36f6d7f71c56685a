"""The customer's hosted document pages, included at the site root by config/urls.py:
`/d/<token>/` (the page), `/d/<token>/pdf` (its PDF, downloaded) and `/d/<token>/einvoice`
(its e-invoice in the customer's format, when the customer has one)."""

from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("d/<str:token>/", views.document_page, name="document"),
    path("d/<str:token>/pdf", views.document_pdf, name="document_pdf"),
    path("d/<str:token>/einvoice", views.document_einvoice, name="document_einvoice"),
]
