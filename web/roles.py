"""Who may do what in the staff web UI.

Three roles, the Django groups of core/permissions.py:

- billing admin (`billing_admin`, or a superuser): every page and every action;
- billing operations (`billing_operations`): every page and every action;
- read-only (`read_only`, or a user in neither group above): every page, no action. Action
  buttons are not shown, and a POST to an action answers 403 whatever the form says.

Every page needs a login. The role is read from the group names, so it works whether or not
the groups exist yet; `manage.py setup_roles` creates them.
"""

from __future__ import annotations

from functools import cached_property

from django.core.exceptions import PermissionDenied

try:  # the role names are defined once, in core; fall back to the same names
    from core.permissions import BILLING_ADMIN, BILLING_OPERATIONS, READ_ONLY
except ImportError:  # pragma: no cover - core.permissions not installed
    BILLING_ADMIN, BILLING_OPERATIONS, READ_ONLY = (
        "billing_admin",
        "billing_operations",
        "read_only",
    )

ADMIN = "admin"
OPERATIONS = "operations"
READ_ONLY_ROLE = "read_only"

ROLE_LABELS = {
    ADMIN: "Billing admin",
    OPERATIONS: "Billing operations",
    READ_ONLY_ROLE: "Read-only",
}


def user_role(user) -> str | None:
    """The user's web role, or None for an anonymous user. Admin wins over operations."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return ADMIN
    cached = getattr(user, "_web_role", None)
    if cached is not None:
        return cached
    names = set(
        user.groups.filter(name__in=(BILLING_ADMIN, BILLING_OPERATIONS)).values_list(
            "name", flat=True
        )
    )
    if BILLING_ADMIN in names:
        role = ADMIN
    elif BILLING_OPERATIONS in names:
        role = OPERATIONS
    else:
        role = READ_ONLY_ROLE
    user._web_role = role
    return role


def can_act(user) -> bool:
    """May the user run actions (generate, post, void, runs, schedulers…)?"""
    return user_role(user) in (ADMIN, OPERATIONS)


def require_act(user) -> None:
    """Raise 403 unless the user may run actions."""
    if not can_act(user):
        raise PermissionDenied("Your role is read-only: you can look, not change anything.")


class Role:
    """The current user's role for templates: `role.can_act`, `role.label`."""

    def __init__(self, user) -> None:
        self.user = user

    @cached_property
    def name(self) -> str | None:
        return user_role(self.user)

    @property
    def label(self) -> str:
        return ROLE_LABELS.get(self.name or "", "")

    @property
    def can_act(self) -> bool:
        return self.name in (ADMIN, OPERATIONS)
