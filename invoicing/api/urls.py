from django.urls import path

from invoicing.api import views

urlpatterns = [
    path("invoices/generate", views.InvoiceGenerateApi.as_view(), name="invoice-generate"),
    path("invoices/preview", views.InvoicePreviewApi.as_view(), name="invoice-preview"),
    path("invoices/<int:pk>/post", views.InvoicePostApi.as_view(), name="invoice-post"),
]
