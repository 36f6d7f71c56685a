"""Who may do what in the staff web UI: the role rule of core/permissions.py, shown.

- billing admin (`billing_admin`, or a superuser) and billing operations
  (`billing_operations`): every page and every action;
- read-only (`read_only`, or any signed-in user in no role group, staff or not): every page,
  no action. Action buttons are not shown, and a POST to an action answers 403 whatever the
  form says.

Every page needs a login. The role is read from the group names (`core.permissions.user_role`),
so it works whether or not the groups exist yet; `migrate` and `manage.py setup_roles` create
them.
"""

from __future__ import annotations

from functools import cached_property

from django.core.exceptions import PermissionDenied

from core.permissions import (
    BILLING_ADMIN,
    BILLING_OPERATIONS,
    READ_ONLY,
    AnyUser,
    user_may_act,
    user_role,
)

__all__ = [
    "BILLING_ADMIN",
    "BILLING_OPERATIONS",
    "READ_ONLY",
    "ROLE_LABELS",
    "Role",
    "require_act",
]

ROLE_LABELS = {
    BILLING_ADMIN: "Billing admin",
    BILLING_OPERATIONS: "Billing operations",
    READ_ONLY: "Read-only",
}


def require_act(user: AnyUser) -> None:
    """Raise 403 unless the user's role may run actions."""
    if not user_may_act(user):
        raise PermissionDenied("Your role is read-only: you can look, not change anything.")


class Role:
    """The current user's role for templates: `role.can_act`, `role.label`."""

    def __init__(self, user: AnyUser) -> None:
        self.user = user

    @cached_property
    def name(self) -> str | None:
        return user_role(self.user)

    @property
    def label(self) -> str:
        return ROLE_LABELS.get(self.name or "", "")

    @property
    def can_act(self) -> bool:
        return user_may_act(self.user)
