"""Who may do what in the staff web UI: the role rule of core/permissions.py, shown.

- billing admin (`billing_admin`, or a superuser) and billing operations
  (`billing_operations`): every page and every action;
- read-only (`read_only`): every page, no action. Action buttons are not shown, and a POST to
  an action answers 403 whatever the form says;
- a signed-in user in no role group, staff or not: no page at all. Deny by default:
  `RoleRequiredMiddleware` answers 403 for every view of the `web` URL namespace (but login and
  logout) before the view runs, so a view added later is covered without doing anything.

Every page needs a login. The role is read from the group names (`core.permissions.user_role`),
so it works whether or not the groups exist yet; `migrate` and `manage.py setup_roles` create
them.

A 403 of the UI (and of the Django admin) is rendered by the project's handler403 with its
message, and logged as one line ("Forbidden: /path"), not as a traceback: a refusal is the
rule working, not an error.
"""

from __future__ import annotations

from functools import cached_property

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from core.api import is_api_path, permission_denied
from core.permissions import (
    BILLING_ADMIN,
    BILLING_OPERATIONS,
    READ_ONLY,
    AnyUser,
    no_role_message,
    user_may_act,
    user_role,
)

__all__ = [
    "BILLING_ADMIN",
    "BILLING_OPERATIONS",
    "READ_ONLY",
    "ROLE_LABELS",
    "Role",
    "RoleRequiredMiddleware",
    "require_act",
]

WEB_NAMESPACE = "web"
OPEN_VIEWS = frozenset({"login", "logout"})  # a user without a role may still change user

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


class RoleRequiredMiddleware:
    """Deny by default in the staff UI (module docstring): a signed-in user without a role gets
    403 on every view of the `web` namespace but login and logout. Anonymous users pass on to
    the view, whose login requirement sends them to the login page.

    It also renders a PermissionDenied raised by a view outside /api/ (a read-only user's
    forged POST, a Django admin refusal) itself, so Django logs the 403 as one line instead of
    a traceback."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.namespace != WEB_NAMESPACE or match.url_name in OPEN_VIEWS:
            return None
        user = request.user
        if user.is_authenticated and user_role(user) is None:
            return permission_denied(request, PermissionDenied(no_role_message(user)))
        return None

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, PermissionDenied) and not is_api_path(request.path_info):
            return permission_denied(request, exception)
        return None
