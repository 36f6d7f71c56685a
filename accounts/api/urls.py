"""Every accounts route of /api/v1/, by resource family (one module per family)."""

from django.urls import path

from accounts.api import accounts, setup

urlpatterns = [
    # setup
    path("legal-entities/", setup.LegalEntityListCreateApi.as_view(), name="legal-entity-list"),
    path(
        "legal-entities/<int:pk>",
        setup.LegalEntityDetailApi.as_view(),
        name="legal-entity-detail",
    ),
    path("payment-terms/", setup.PaymentTermListCreateApi.as_view(), name="payment-term-list"),
    path(
        "payment-terms/<int:pk>",
        setup.PaymentTermDetailApi.as_view(),
        name="payment-term-detail",
    ),
    # accounts
    path("accounts/", accounts.AccountListCreateApi.as_view(), name="account-list"),
    path("accounts/<int:pk>", accounts.AccountDetailApi.as_view(), name="account-detail"),
    path("contacts/", accounts.ContactListCreateApi.as_view(), name="contact-list"),
    path("contacts/<int:pk>", accounts.ContactDetailApi.as_view(), name="contact-detail"),
    path(
        "saved-payment-methods/",
        accounts.SavedPaymentMethodListCreateApi.as_view(),
        name="saved-payment-method-list",
    ),
    path(
        "saved-payment-methods/<int:pk>",
        accounts.SavedPaymentMethodDetailApi.as_view(),
        name="saved-payment-method-detail",
    ),
]
