from django.urls import path

from accounts.api import views

urlpatterns = [
    path("legal-entities/", views.LegalEntityListCreateApi.as_view(), name="legal-entity-list"),
    path(
        "legal-entities/<int:pk>",
        views.LegalEntityDetailApi.as_view(),
        name="legal-entity-detail",
    ),
    path("payment-terms/", views.PaymentTermListCreateApi.as_view(), name="payment-term-list"),
    path(
        "payment-terms/<int:pk>",
        views.PaymentTermDetailApi.as_view(),
        name="payment-term-detail",
    ),
    path("accounts/", views.AccountListCreateApi.as_view(), name="account-list"),
    path("accounts/<int:pk>", views.AccountDetailApi.as_view(), name="account-detail"),
    path("contacts/", views.ContactListCreateApi.as_view(), name="contact-list"),
    path("contacts/<int:pk>", views.ContactDetailApi.as_view(), name="contact-detail"),
    path(
        "saved-payment-methods/",
        views.SavedPaymentMethodListCreateApi.as_view(),
        name="saved-payment-method-list",
    ),
    path(
        "saved-payment-methods/<int:pk>",
        views.SavedPaymentMethodDetailApi.as_view(),
        name="saved-payment-method-detail",
    ),
]
