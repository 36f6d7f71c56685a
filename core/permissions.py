"""API roles and the API's permission class.

Three roles, each a Django group holding model permissions:

- `billing_admin`: everything: view, add, change and delete every Ledgerline model.
- `billing_operations`: view everything; add, change and delete the operational records
  (accounts, contacts, payment methods, orders, usage, invoices, memos, payments, batch
  runs and schedulers), so it runs generation, posting and ingestion; it cannot edit the
  setup resources (SETUP_MODELS: legal entities, payment terms, units, products, billing
  treatments, sequence policies, tax rates, email templates).
- `read_only`: view everything, change nothing: every write answers 403.

The groups and their permissions are (re)created after every `migrate` (post_migrate, see
CoreConfig.ready) and by `manage.py setup_roles`, so a model added later joins the roles at
the next migrate. `manage.py create_api_token USER --role ROLE` gives a user a token and a
role.

The permission class checks the Django model permission a request needs (so a user may also
hold single permissions instead of a role):

- a view with a queryset: GET/HEAD/OPTIONS need `view_<model>`, POST `add_<model>`,
  PUT/PATCH `change_<model>`, DELETE `delete_<model>`;
- a view may instead name what it needs in `required_permissions` ({method: [perms]}), and
  ACTION_PERMISSIONS does so by URL name for the action endpoints;
- anything else needs `invoicing.view_invoice` to read and `invoicing.change_invoice` to
  write.

Superusers pass. A staff user who holds no role and no permission at all is treated as a
billing admin (the staff session the browsable API is used with); give such a user a role
to restrict it. Any other user without the permission gets 403.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, transaction
from rest_framework.permissions import SAFE_METHODS, BasePermission

BILLING_ADMIN = "billing_admin"
BILLING_OPERATIONS = "billing_operations"
READ_ONLY = "read_only"
ROLES = (BILLING_ADMIN, BILLING_OPERATIONS, READ_ONLY)

LEDGERLINE_APPS = ("accounts", "billing", "invoicing")

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


# --- roles ------------------------------------------------------------------------------------


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


def roles_sync_after_migrate(sender, *, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate receiver: runs once, after the last app's permissions exist (migrate
    signals the apps that have a models module, in INSTALLED_APPS order)."""
    with_models = [a for a in global_apps.get_app_configs() if a.models_module is not None]
    if not with_models or sender.label != with_models[-1].label:
        return
    roles_sync(using=using)


def user_roles(user) -> list[str]:
    if not getattr(user, "is_authenticated", False):
        return []
    return sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))


# --- the DRF permission -------------------------------------------------------------------------


def _view_model(view):
    # Imported here: rest_framework.generics imports the API settings, which import this module.
    from rest_framework.generics import GenericAPIView

    queryset = getattr(view, "queryset", None)
    if queryset is None and isinstance(view, GenericAPIView):
        try:
            queryset = view.get_queryset()
        except Exception:  # a view whose queryset needs more than the URL: no model
            queryset = None
    return getattr(queryset, "model", None)


def required_permissions(request, view) -> list[str]:
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


def _is_unassigned_staff(user) -> bool:
    return (
        user.is_staff
        and not user.groups.exists()
        and not user.user_permissions.exists()
        and not user.is_superuser
    )


class RolePermission(BasePermission):
    """Grants a request when the user holds every permission it needs (see module doc)."""

    message = "You do not have permission to perform this action."
    code = "permission_denied"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_superuser or _is_unassigned_staff(user):
            return True
        needed = required_permissions(request, view)
        if user.has_perms(needed):
            return True
        roles = user_roles(user)
        if not roles:
            self.message = (
                "This user has no API role. An administrator can give it one: "
                f"`manage.py create_api_token {user.get_username()} --role ROLE` with ROLE one "
                f"of {', '.join(ROLES)}."
            )
        elif request.method in SAFE_METHODS:
            self.message = f"The role {', '.join(roles)} may not read this resource."
        else:
            self.message = (
                f"The role {', '.join(roles)} may not {request.method} here (needs "
                f"{', '.join(needed)})."
                + (" The read_only role can change nothing." if roles == [READ_ONLY] else "")
            )
        return False


def permissions_of(roles: Iterable[str]) -> set[str]:
    """'app_label.codename' strings the roles hold (for tests and docs)."""
    wanted = role_permission_codes()
    return {f"{a}.{c}" for role in roles for a, c in wanted.get(role, set())}
