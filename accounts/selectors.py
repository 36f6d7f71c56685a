"""Reads for accounts. Billing values resolve by precedence:
order (or transaction) → its billing profile → the account's default profile → system default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet

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


def _first(*values: Any) -> Any:
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


# --- lists and records ------------------------------------------------------------------------


def account_search_q(value: str, prefix: str = "account") -> Q:
    """A filter on a record's account from a search box: an id or external id, or part of
    the name. `prefix` is the path to the account ("account", "invoice__account")."""
    value = value.strip()
    if value.isdigit():
        return Q(**{f"{prefix}_id": int(value)}) | Q(**{f"{prefix}__external_id": value})
    return Q(**{f"{prefix}__name__icontains": value}) | Q(
        **{f"{prefix}__external_id__iexact": value}
    )


def account_list(*, q: str = "") -> QuerySet[Account]:
    """Accounts by name with their legal entity and how many of their schedules are in error;
    `q` matches the name, external id, email or a contact's email."""
    qs = Account.objects.select_related("legal_entity").annotate(
        schedules_in_error=Count("schedules", filter=Q(schedules__status="error"), distinct=True)
    )
    if q:
        q = q.strip()
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(external_id__icontains=q)
            | Q(email__icontains=q)
            | Q(contacts__email__iexact=q)
        ).distinct()
    return qs.order_by("name", "id")


def account_list_with_profiles() -> QuerySet[Account]:
    """Accounts with their billing profiles' addresses and payment terms (the API's)."""
    return Account.objects.prefetch_related(
        "billing_profiles__billing_address", "billing_profiles__payment_term"
    )


def account_get(*, account_id: int) -> Account:
    """One account with its legal entity, contacts, payment methods and billing profiles."""
    return (
        Account.objects.select_related("legal_entity")
        .prefetch_related(
            "contacts",
            "payment_methods",
            "billing_profiles__payment_term",
            "billing_profiles__bill_to",
            "billing_profiles__saved_payment_method",
            "billing_profiles__billing_address",
            "billing_profiles__shipping_address",
        )
        .get(pk=account_id)
    )


def legal_entity_list() -> QuerySet[LegalEntity]:
    return LegalEntity.objects.select_related("address")
