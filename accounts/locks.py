"""Row locks for accounts. The complete lock order of Ledgerline is written at the top of
invoicing/locks.py: the account comes first."""

from __future__ import annotations

from typing import Any

from django.db import models

from accounts.models import Account


def account_lock(account_id: int) -> None:
    """Lock one account row (the first lock of any change to its documents or terms)."""
    list(Account.objects.select_for_update().filter(pk=account_id).values_list("pk", flat=True))


def account_lock_get(account_id: int) -> Account:
    """Lock one account and return it freshly read (Account.DoesNotExist when gone)."""
    return Account.objects.select_for_update().get(pk=account_id)


def defaults_lock(model: type[models.Model], *, exclude_pk: Any = None, **scope: Any) -> list[Any]:
    """Lock the rows of `model` marked default within `scope` (one default per scope), in id
    order, and return their ids."""
    rows = (
        model._default_manager.select_for_update().filter(is_default=True, **scope).order_by("pk")
    )
    if exclude_pk:
        rows = rows.exclude(pk=exclude_pk)
    return list(rows.values_list("pk", flat=True))
