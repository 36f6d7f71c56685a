"""Billing roles: the one rule of who may do what, used by the API and the staff web UI.

Three roles, each a Django group holding model permissions:

- `billing_admin`: everything: view, add, change and delete every Ledgerline model.
- `billing_operations`: view everything; add, change and delete the operational records
  (accounts, contacts, payment methods, orders, usage, invoices, memos, payments, batch
  runs and schedulers, dunning policies, reminders and disputes), so it runs generation,
  posting, ingestion and dunning; it cannot edit the setup resources (SETUP_MODELS: legal
  entities, payment terms, units, products, billing treatments, sequence policies, tax
  rates, email templates).
- `read_only`: view everything, change nothing: every write answers 403.

The rule (`user_role`), deny by default:

- nobody signed in, or an inactive user: no role, no access;
- a superuser is a billing admin, whatever its groups;
- a member of role groups has the strongest of them (admin, then operations, then read-only);
- any other signed-in user, staff or not, has no role and no access: every page of the staff
  UI and every API request, reads included, answers 403 with `no_role_message` (which says
  how an administrator gives it a role). Django permissions granted to such a user in the
  admin add nothing: they only add to a role.

Who calls it: the API's permission class (`RolePermission`, the REST framework default) and
the web UI (`web/roles.py`: which buttons show, and the 403 on a forged POST), and
`create_api_token` to report what a token can do.

What a role may do is defined here, in code (`role_permission_codes`). The groups mirror it,
so the Django admin grants the same; they are (re)created after every `migrate`
(post_migrate, see CoreConfig.ready) and by `manage.py setup_roles`, so a model added later
joins the roles at the next migrate. `manage.py create_api_token USER --role ROLE` gives a
user a token and a role.

The API asks for the Django model permissions a request needs:

- a view with a queryset: GET/HEAD/OPTIONS need `view_<model>`, POST `add_<model>`,
  PUT/PATCH `change_<model>`, DELETE `delete_<model>`;
- a view may instead name what it needs in `required_permissions` ({method: [perms]}), and
  ACTION_PERMISSIONS does so by URL name for the action endpoints;
- anything else needs `invoicing.view_invoice` to read and `invoicing.change_invoice` to
  write.

A request passes when the user has a role and that role holds every permission it needs, or
the user (with a role) holds them through Django's own grants (a permission given to the user
or to one of its groups in the Django admin, which the Django admin honours as well). The web
UI has no per-permission buttons: there the role alone decides (admin and operations act,
read-only looks).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.contrib.auth.models import AbstractUser, AnonymousUser, Group, Permission
from django.db import DEFAULT_DB_ALIAS, transaction
from rest_framework.permissions import SAFE_METHODS, BasePermission

if TYPE_CHECKING:  # rest_framework.views reads its settings, which name this module, on import
    from rest_framework.request import Request
    from rest_framework.views import APIView

BILLING_ADMIN = "billing_admin"
BILLING_OPERATIONS = "billing_operations"
READ_ONLY = "read_only"
ROLES = (BILLING_ADMIN, BILLING_OPERATIONS, READ_ONLY)  # strongest first
ACTING_ROLES = frozenset({BILLING_ADMIN, BILLING_OPERATIONS})
ROLE_SUMMARIES = {
    BILLING_ADMIN: "reads and writes everything",
    BILLING_OPERATIONS: (
        "reads everything and writes the operational records, not the setup resources"
    ),
    READ_ONLY: "reads everything and writes nothing (every write answers 403)",
}

LEDGERLINE_APPS = ("accounts", "billing", "invoicing", "dunning")

# Setup resources: only billing admins change them.
SETUP_MODELS = {
    "accounts.legalentity",
    "accounts.paymentterm",
    "billing.unitofmeasure",
    "billing.product",
    "billing.billingtreatment",
    "invoicing.sequencepolicy",
    "invoicing.taxrate",
    "invoicing.emailtemplate",
}

_METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}

# What the action endpoints need, by URL name, when their view does not say.
ACTION_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    "invoice-generate": {"POST": ["invoicing.add_invoice"]},
    "invoice-preview": {"POST": ["invoicing.view_invoice"]},  # reads only, stores nothing
    "invoice-post": {"POST": ["invoicing.change_invoice"]},
}
DEFAULT_READ_PERMISSION = "invoicing.view_invoice"
DEFAULT_WRITE_PERMISSION = "invoicing.change_invoice"

AnyUser = AbstractUser | AnonymousUser  # what request.user holds

_ROLE_CACHE = "_billing_role_cache"


# --- what each role may do -------------------------------------------------------------------


def role_permission_codes() -> dict[str, set[tuple[str, str]]]:
    """(app_label, codename) of every permission each role holds, from the installed models."""
    out: dict[str, set[tuple[str, str]]] = {role: set() for role in ROLES}
    for app_label in LEDGERLINE_APPS:
        for model in global_apps.get_app_config(app_label).get_models():
            label = f"{app_label}.{model._meta.model_name}"
            codes = {
                action: f"{action}_{model._meta.model_name}"
                for action in model._meta.default_permissions
            }
            every = {(app_label, c) for c in codes.values()}
            out[BILLING_ADMIN] |= every
            if "view" in codes:
                out[READ_ONLY].add((app_label, codes["view"]))
            if label in SETUP_MODELS:
                if "view" in codes:
                    out[BILLING_OPERATIONS].add((app_label, codes["view"]))
            else:
                out[BILLING_OPERATIONS] |= every
    return out


@cache
def role_permissions(role: str) -> frozenset[str]:
    """'app_label.codename' of every permission the role holds (the installed models do not
    change while the process runs, so this is computed once per role)."""
    return frozenset(f"{a}.{c}" for a, c in role_permission_codes()[role])


def roles_sync(*, using: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """Create the role groups and set each one's permissions exactly. Idempotent.

    Permissions that do not exist yet (a model not migrated) are skipped; the next migrate
    adds them. Returns the number of permissions per role.
    """
    wanted = role_permission_codes()
    counts = {}
    with transaction.atomic(using=using):
        available = {
            (app_label, codename): pk
            for pk, app_label, codename in Permission.objects.using(using)
            .filter(content_type__app_label__in=LEDGERLINE_APPS)
            .values_list("pk", "content_type__app_label", "codename")
        }
        for role, codes in wanted.items():
            group, _ = Group.objects.using(using).get_or_create(name=role)
            ids = [available[c] for c in sorted(codes) if c in available]
            group.permissions.set(ids)
            counts[role] = len(ids)
    return counts


def roles_sync_after_migrate(
    sender: AppConfig, *, using: str = DEFAULT_DB_ALIAS, **kwargs: Any
) -> None:
    """post_migrate receiver: runs once, after the last app's permissions exist (migrate
    signals the apps that have a models module, in INSTALLED_APPS order)."""
    with_models = [a for a in global_apps.get_app_configs() if a.models_module is not None]
    if not with_models or sender.label != with_models[-1].label:
        return
    roles_sync(using=using)


# --- the rule ----------------------------------------------------------------------------------


def user_role_groups(user: AnyUser) -> list[str]:
    """The role groups the user is a member of, strongest first (none for anonymous)."""
    if not user.is_authenticated:
        return []
    held = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    return [role for role in ROLES if role in held]


_NO_ROLE = ""  # cached: the user is in no role group


def user_role(user: AnyUser | None) -> str | None:
    """The user's billing role, by the rule of the module docstring: None (no access) for
    nobody, an anonymous or an inactive user, and a user in no role group (deny by default);
    BILLING_ADMIN for a superuser; else the strongest role group it is in.

    Cached on the user object for the request, as Django caches permissions."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_superuser", False):
        return BILLING_ADMIN
    role = getattr(user, _ROLE_CACHE, None)
    if role is None:
        role = next(iter(user_role_groups(user)), _NO_ROLE)
        setattr(user, _ROLE_CACHE, role)
    return role or None


def no_role_message(user: AnyUser) -> str:
    """What a signed-in user in no role group is told, on every page and API request."""
    return (
        f"The user {user.get_username()} has no billing role, so it may neither read nor change "
        "anything here. An administrator can give it one: add it to one of the groups "
        f"{', '.join(ROLES)} (Django admin, Users), or run `manage.py create_api_token "
        f"{user.get_username()} --role ROLE`."
    )


def user_may_act(user: AnyUser | None) -> bool:
    """May the user change anything at all (the web UI's actions)? Admin and operations."""
    return user_role(user) in ACTING_ROLES


def user_has_permissions(user: AnyUser | None, permissions: Iterable[str]) -> bool:
    """Does the user's role hold every one of `permissions` ('app_label.codename'), or does
    the user hold them through Django's own grants?"""
    role = user_role(user)
    if user is None or role is None:
        return False
    needed = set(permissions)
    return needed <= role_permissions(role) or user.has_perms(needed)


# --- the DRF permission -------------------------------------------------------------------------


def _view_model(view: APIView) -> Any:
    queryset = getattr(view, "queryset", None)
    get_queryset = getattr(view, "get_queryset", None)  # a GenericAPIView
    if queryset is None and get_queryset is not None:
        try:
            queryset = get_queryset()
        except Exception:  # a view whose queryset needs more than the URL: no model
            queryset = None
    return getattr(queryset, "model", None)


def required_permissions(request: Request, view: APIView) -> list[str]:
    """The permissions a request needs (see the module docstring)."""
    method = request.method.upper()
    declared = getattr(view, "required_permissions", None)
    if declared is None:
        match = getattr(request, "resolver_match", None)
        declared = ACTION_PERMISSIONS.get(getattr(match, "url_name", None) or "")
    if declared is not None:
        if method in declared:
            return list(declared[method])
        if method in ("HEAD", "OPTIONS") and "GET" in declared:
            return list(declared["GET"])
    model = _view_model(view)
    if model is not None and method in _METHOD_ACTIONS:
        opts = model._meta
        return [f"{opts.app_label}.{_METHOD_ACTIONS[method]}_{opts.model_name}"]
    return [DEFAULT_READ_PERMISSION if method in SAFE_METHODS else DEFAULT_WRITE_PERMISSION]


class RolePermission(BasePermission):
    """Grants a request when `user_has_permissions` holds for what it needs (module doc)."""

    message = "You do not have permission to perform this action."
    code = "permission_denied"

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if user_role(user) is None:
            if user is not None and user.is_authenticated and user.is_active:
                self.message = no_role_message(user)
            return False
        needed = required_permissions(request, view)
        if user_has_permissions(user, needed):
            return True
        self.message = _denial_message(user, request.method, needed)
        return False


def _denial_message(user: AnyUser, method: str, needed: list[str]) -> str:
    held = user_role_groups(user)  # a user with a role (no role is refused before)
    names = ", ".join(held)
    if method in SAFE_METHODS:
        return f"The role {names} may not read this resource (needs {', '.join(needed)})."
    return f"The role {names} may not {method} here (needs {', '.join(needed)})." + (
        " The read_only role can change nothing." if held == [READ_ONLY] else ""
    )
