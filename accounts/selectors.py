"""Reads for accounts. Billing values resolve by precedence:
order (or transaction) → its billing profile → the account's default profile → system default.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from accounts.models import (
    Account,
    Address,
    BillingProfile,
    Contact,
    LegalEntity,
    PaymentTerm,
    SavedPaymentMethod,
)


@dataclass(frozen=True)
class BillingTerms:
    currency: str
    legal_entity: LegalEntity | None
    payment_term: PaymentTerm | None
    bill_to: Contact | None
    saved_payment_method: SavedPaymentMethod | None
    bill_day_of_month: int | None
    billing_address: Address | None
    profile: BillingProfile | None


def _first(*values):
    return next((v for v in values if v not in (None, "")), None)


def default_legal_entity() -> LegalEntity | None:
    return LegalEntity.objects.filter(is_default=True, is_active=True).first()


def default_payment_term() -> PaymentTerm | None:
    return PaymentTerm.objects.filter(is_default=True).first()


def billing_terms_resolve(
    *,
    account: Account,
    profile: BillingProfile | None = None,
    currency: str | None = None,
    legal_entity: LegalEntity | None = None,
    payment_term: PaymentTerm | None = None,
    bill_to: Contact | None = None,
    saved_payment_method: SavedPaymentMethod | None = None,
    bill_day_of_month: int | None = None,
) -> BillingTerms:
    """Resolve each billing value: the explicit (order) value, then `profile`, then the
    account's default profile, then the account, then the system default."""
    default = account.default_profile
    chain = [p for p in (profile, default) if p is not None]
    default_spm = next((m for m in account.payment_methods.all() if m.is_default), None)
    return BillingTerms(
        currency=_first(currency, account.currency, settings.LEDGERLINE["DEFAULT_CURRENCY"]),
        legal_entity=_first(legal_entity, account.legal_entity) or default_legal_entity(),
        payment_term=_first(payment_term, *(p.payment_term for p in chain))
        or default_payment_term(),
        bill_to=_first(bill_to, *(p.bill_to for p in chain)),
        saved_payment_method=_first(
            saved_payment_method, *(p.saved_payment_method for p in chain), default_spm
        ),
        bill_day_of_month=_first(bill_day_of_month, *(p.bill_day_of_month for p in chain)),
        billing_address=_first(*(p.billing_address for p in chain)),
        profile=profile or default,
    )
