"""Writes for accounts and their setup: legal entities, payment terms, accounts (with their
default billing profile), contacts and saved payment methods.

An account's `billing_address`, `bill_day_of_month` and `payment_term` live on its default
BillingProfile (accounts.selectors.billing_terms_resolve reads them there); the account
services create and update that profile. Marking a legal entity, payment term or payment
method the default unmarks the previous one in the same transaction.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, transaction

from accounts.locks import account_lock_get, defaults_lock
from accounts.models import (
    Account,
    Address,
    BillingProfile,
    Contact,
    LegalEntity,
    PaymentTerm,
    SavedPaymentMethod,
)
from core.crud import full_clean_or_raise, instance_delete, save_or_conflict
from core.exceptions import ValidationError

_M = TypeVar("_M", bound=models.Model)
# The records with one default per scope (an `is_default` flag backed by a unique constraint).
_D = TypeVar("_D", LegalEntity, PaymentTerm, SavedPaymentMethod, BillingProfile)

UNSET: Any = object()
PROFILE_FIELDS = ("billing_address", "bill_day_of_month", "payment_term")


def _address_write(current: Address | None, data: dict | None, *, field: str) -> Address | None:
    """Create, update or drop (None) an address; its errors are reported as `field.x`."""
    if data is None:
        return None
    address = current or Address()
    for name in Address.FIELDS:
        if name in data:
            setattr(address, name, data[name] or "")
    if address.country:
        address.country = address.country.upper()
    full_clean_or_raise(address, prefix=f"{field}.")
    address.save()
    return address


def _unset_other_defaults(instance: _D, **scope: Any) -> None:
    """Before saving `instance` as the default: unmark the current default (rows locked)."""
    if not instance.is_default:
        return
    ids = defaults_lock(type(instance), exclude_pk=instance.pk, **scope)
    if ids:
        type(instance).objects.filter(pk__in=ids).update(is_default=False)


def _save(instance: _M, fields: dict[str, Any]) -> _M:
    for name, value in fields.items():
        setattr(instance, name, value)
    full_clean_or_raise(instance)
    save_or_conflict(instance)
    return instance


def _save_default(instance: _D, fields: dict[str, Any], *, default_scope: dict[str, Any]) -> _D:
    """_save() for a record that may be marked the default within `default_scope`."""
    for name, value in fields.items():
        setattr(instance, name, value)
    full_clean_or_raise(instance, exclude=["is_default"])
    _unset_other_defaults(instance, **default_scope)
    save_or_conflict(instance)
    return instance


# --- legal entities ---------------------------------------------------------------------------


def legal_entity_create(*, address: dict | None = None, **fields: Any) -> LegalEntity:
    with transaction.atomic():
        entity = LegalEntity(address=_address_write(None, address, field="address"))
        return _save_default(entity, fields, default_scope={})


def legal_entity_update(
    *, legal_entity: LegalEntity, address: Any = UNSET, **fields: Any
) -> LegalEntity:
    with transaction.atomic():
        if address is not UNSET:
            fields["address"] = _address_write(legal_entity.address, address, field="address")
        return _save_default(legal_entity, fields, default_scope={})


# --- payment terms ----------------------------------------------------------------------------


def payment_term_create(**fields: Any) -> PaymentTerm:
    with transaction.atomic():
        return _save_default(PaymentTerm(), fields, default_scope={})


def payment_term_update(*, payment_term: PaymentTerm, **fields: Any) -> PaymentTerm:
    with transaction.atomic():
        return _save_default(payment_term, fields, default_scope={})


# --- accounts ---------------------------------------------------------------------------------


def account_create(
    *,
    billing_address: dict | None = None,
    bill_day_of_month: int | None = None,
    payment_term: PaymentTerm | None = None,
    **fields: Any,
) -> Account:
    """An account and its default billing profile."""
    with transaction.atomic():
        account = _save(Account(), fields)
        profile = BillingProfile(account=account, is_default=True, name="Default")
        _profile_write(
            profile,
            billing_address=billing_address,
            bill_day_of_month=bill_day_of_month,
            payment_term=payment_term,
        )
    return account


def account_update(
    *,
    account: Account,
    billing_address: Any = UNSET,
    bill_day_of_month: Any = UNSET,
    payment_term: Any = UNSET,
    **fields: Any,
) -> Account:
    """Update the account and, for the profile fields given, its default billing profile
    (created when the account has none)."""
    with transaction.atomic():
        account = account_lock_get(account.pk)
        if fields:
            _save(account, fields)
        profile_changes = {
            k: v
            for k, v in (
                ("billing_address", billing_address),
                ("bill_day_of_month", bill_day_of_month),
                ("payment_term", payment_term),
            )
            if v is not UNSET
        }
        if profile_changes:
            profile = account.billing_profiles.filter(is_default=True).first() or BillingProfile(
                account=account, is_default=True, name="Default"
            )
            _profile_write(profile, **profile_changes)
    return account


def _profile_write(profile: BillingProfile, **changes: Any) -> BillingProfile:
    if "billing_address" in changes:
        profile.billing_address = _address_write(
            profile.billing_address, changes.pop("billing_address"), field="billing_address"
        )
    for name, value in changes.items():
        setattr(profile, name, value)
    full_clean_or_raise(profile)
    save_or_conflict(profile)
    return profile


def account_delete(*, account: Account) -> None:
    """Delete an account that nothing was billed to (its profiles, contacts and payment
    methods go with it); otherwise 409 in_use."""
    instance_delete(account)


# --- contacts ---------------------------------------------------------------------------------


def contact_create(**fields: Any) -> Contact:
    with transaction.atomic():
        return _save(Contact(), fields)


def contact_update(*, contact: Contact, **fields: Any) -> Contact:
    _refuse_account_change(contact, fields)
    with transaction.atomic():
        return _save(contact, fields)


def _refuse_account_change(
    obj: Contact | SavedPaymentMethod | BillingProfile, fields: dict[str, Any]
) -> None:
    account = fields.pop("account", None)
    if account is not None and account.pk != obj.account_id:
        raise ValidationError(
            {"account": "A record cannot move to another account; create a new one there."}
        )


# --- saved payment methods --------------------------------------------------------------------


def saved_payment_method_create(**fields: Any) -> SavedPaymentMethod:
    with transaction.atomic():
        method = SavedPaymentMethod()
        return _save_default(method, fields, default_scope={"account": fields.get("account")})


def saved_payment_method_update(
    *, saved_payment_method: SavedPaymentMethod, **fields: Any
) -> SavedPaymentMethod:
    method = saved_payment_method
    _refuse_account_change(method, fields)
    with transaction.atomic():
        return _save_default(method, fields, default_scope={"account_id": method.account_id})


# --- billing profiles -------------------------------------------------------------------------


def billing_profile_create(**fields: Any) -> BillingProfile:
    """A billing profile of an account; marked the default, it unmarks the previous one."""
    with transaction.atomic():
        profile = BillingProfile()
        return _save_default(profile, fields, default_scope={"account": fields.get("account")})


def billing_profile_update(*, billing_profile: BillingProfile, **fields: Any) -> BillingProfile:
    profile = billing_profile
    _refuse_account_change(profile, fields)
    with transaction.atomic():
        return _save_default(profile, fields, default_scope={"account_id": profile.account_id})
