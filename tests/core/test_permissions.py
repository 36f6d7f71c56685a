"""The role rule (core/permissions.py) and the API's permission class: deny by default (a
user in no role is read-only, staff or not), a superuser is a billing admin, every write
route of the URL conf is 403 for a read-only user, setup resources are admin-only, and the
role groups are kept in sync."""

import re
from io import StringIO

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework.views import APIView

from core.permissions import (
    BILLING_ADMIN,
    BILLING_OPERATIONS,
    READ_ONLY,
    ROLES,
    role_permissions,
    user_has_permissions,
    user_may_act,
    user_role,
)

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")
SETUP_PATHS = (
    "/api/v1/legal-entities/",
    "/api/v1/payment-terms/",
    "/api/v1/units-of-measure/",
    "/api/v1/products/",
    "/api/v1/tax-rates/",
    "/api/v1/sequence-policies/",
)
# Routes with a write method that only read: a preview stores nothing.
READ_ONLY_WRITES = {
    ("post", "invoice-preview"),
    # Checking an e-invoice reads only (every role may check).
    ("post", "invoice-einvoice-validate"),
    ("post", "credit-memo-einvoice-validate"),
}


def _patterns(patterns, prefix: str = ""):
    for pattern in patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, regex)
        elif isinstance(pattern, URLPattern):
            yield regex, pattern


def api_write_routes() -> list[tuple[str, str, str]]:
    """(method, path, url name) of every write method of every REST framework view in the
    URL conf, with every URL argument set to 1 (the permission check runs before any
    lookup, so the row need not exist)."""
    routes = []
    for regex, pattern in _patterns(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "cls", None)
        if view_class is None or not issubclass(view_class, APIView):
            continue
        actions = getattr(pattern.callback, "actions", None)  # a viewset: method -> action
        fmt, params = normalize(regex)[0]
        path = "/" + fmt % {name: "json" if name == "format" else "1" for name in params}
        for method in WRITE_METHODS:
            if (method in actions) if actions else hasattr(view_class, method):
                routes.append((method, path, pattern.name or ""))
    return sorted(routes)


def _schema_operations(methods) -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method, re.sub(r"\{[^}]+\}", "1", path))
        for path, item in schema["paths"].items()
        for method in item
        if method in methods
    }


def test_the_url_walk_finds_every_write_of_the_schema():
    walked = {(method, path) for method, path, _name in api_write_routes()}
    schema = _schema_operations(WRITE_METHODS)
    assert schema <= walked
    assert ("post", "/api/v1/invoices/ingest") in walked
    assert ("post", "/api/v1/orders/1/activate") in walked
    assert ("delete", "/api/v1/legal-entities/1") in walked
    assert len(walked) >= 60


# --- the rule ----------------------------------------------------------------------------------


@pytest.fixture
def users(roles) -> dict[str, User]:
    def make(name: str, *groups: str, **flags) -> User:
        user = User.objects.create_user(name, **flags)
        user.groups.add(*Group.objects.filter(name__in=groups))
        return User.objects.get(pk=user.pk)  # no cached role

    return {
        "superuser": make("root", is_superuser=True, is_staff=True),
        "superuser_in_read_only": make("root2", READ_ONLY, is_superuser=True),
        "admin": make("alice", BILLING_ADMIN),
        "admin_and_read_only": make("ann", READ_ONLY, BILLING_ADMIN),
        "operations": make("olga", BILLING_OPERATIONS),
        "read_only": make("rita", READ_ONLY),
        "staff_no_role": make("sam", is_staff=True),
        "no_role": make("nora"),
        "inactive_admin": make("ivan", BILLING_ADMIN, is_active=False),
    }


def test_user_role_is_deny_by_default_and_superusers_are_admins(users):
    roles = {key: user_role(user) for key, user in users.items()}
    assert roles == {
        "superuser": BILLING_ADMIN,
        "superuser_in_read_only": BILLING_ADMIN,
        "admin": BILLING_ADMIN,
        "admin_and_read_only": BILLING_ADMIN,  # the strongest role wins
        "operations": BILLING_OPERATIONS,
        "read_only": READ_ONLY,
        "staff_no_role": READ_ONLY,
        "no_role": READ_ONLY,
        "inactive_admin": None,
    }
    assert user_role(AnonymousUser()) is None
    assert user_role(None) is None
    assert {key for key, user in users.items() if user_may_act(user)} == {
        "superuser",
        "superuser_in_read_only",
        "admin",
        "admin_and_read_only",
        "operations",
    }


def test_user_has_permissions_follows_the_role(users):
    change_product = ["billing.change_product"]
    add_invoice = ["invoicing.add_invoice"]
    view_invoice = ["invoicing.view_invoice"]
    allowed = {
        key: (
            user_has_permissions(user, view_invoice),
            user_has_permissions(user, add_invoice),
            user_has_permissions(user, change_product),
        )
        for key, user in users.items()
    }
    assert allowed == {
        "superuser": (True, True, True),
        "superuser_in_read_only": (True, True, True),
        "admin": (True, True, True),
        "admin_and_read_only": (True, True, True),
        "operations": (True, True, False),
        "read_only": (True, False, False),
        "staff_no_role": (True, False, False),
        "no_role": (True, False, False),
        "inactive_admin": (False, False, False),
    }
    # A permission granted in the Django admin adds to the role.
    nora = users["no_role"]
    nora.user_permissions.add(Permission.objects.get(codename="add_invoice"))
    assert user_has_permissions(User.objects.get(pk=nora.pk), add_invoice)


def test_role_permissions_read_only_is_every_view_and_nothing_else():
    read_only = role_permissions(READ_ONLY)
    assert "invoicing.view_invoice" in read_only and "billing.view_product" in read_only
    assert all(p.split(".")[1].startswith("view_") for p in read_only)
    assert role_permissions(BILLING_OPERATIONS) < role_permissions(BILLING_ADMIN)
    assert "billing.change_product" not in role_permissions(BILLING_OPERATIONS)


# --- the API -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "flags"),
    [
        (None, {}),  # signed in, no role
        (None, {"is_staff": True}),  # staff, no role: no longer a billing admin
        (READ_ONLY, {}),
        (READ_ONLY, {"is_staff": True}),
    ],
)
def test_a_read_only_user_gets_403_on_every_api_write(token_client, role, flags):
    client = token_client("reader", role, **flags)
    passed = []
    for method, path, name in api_write_routes():
        if (method, name) in READ_ONLY_WRITES:
            continue
        response = getattr(client, method)(path, {}, format="json")
        if response.status_code != 403 or response.json()["code"] != "permission_denied":
            passed.append((method, path, response.status_code))
    assert passed == []


def test_the_403_of_a_user_without_role_says_how_to_give_one(token_client):
    nobody = token_client("nobody")
    response = nobody.post("/api/v1/accounts/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == (
        "This user has no billing role, so it may only read: it may not POST here. An "
        "administrator can give it one: `manage.py create_api_token nobody --role ROLE` with "
        "ROLE one of billing_admin, billing_operations, read_only."
    )
    reader = token_client("reader", READ_ONLY)
    response = reader.delete("/api/v1/products/1")
    assert response.json()["message"] == (
        "The role read_only may not DELETE here (needs billing.delete_product). The read_only "
        "role can change nothing."
    )


@pytest.mark.parametrize(
    ("role", "flags"), [(None, {}), (None, {"is_staff": True}), (READ_ONLY, {})]
)
def test_a_read_only_user_reads_every_list_and_may_preview(token_client, billed, role, flags):
    client = token_client("reader", role, **flags)
    for method, path in sorted(_schema_operations(("get",))):
        if path.endswith("/") and not re.search(r"/1(/|$)", path):
            response = client.get(path)
            assert response.status_code == 200, (method, path, response.content[:300])
    response = client.post(
        "/api/v1/invoices/preview", {"account": billed.account.pk}, format="json"
    )
    assert response.status_code == 200
    assert len(response.json()["invoices"]) == 1


def test_operations_cannot_edit_setup_resources_but_can_run_billing(token_client, billed):
    ops = token_client("ops", BILLING_OPERATIONS)
    for path in SETUP_PATHS:
        response = ops.post(path, {}, format="json")
        assert response.status_code == 403, path
        assert ops.get(path).status_code == 200
    response = ops.patch(f"/api/v1/products/{billed.seat.pk}", {"name": "X"}, format="json")
    assert response.status_code == 403
    assert "needs billing.change_product" in response.json()["message"]
    # Operational writes pass the permission check (and reach validation).
    assert ops.post("/api/v1/accounts/", {}, format="json").status_code == 400
    assert ops.post("/api/v1/invoices/ingest", {}, format="json").status_code == 400
    response = ops.post(
        "/api/v1/invoices/generate",
        {"account": billed.account.pk, "target_date": "2026-01-31"},
        format="json",
    )
    assert response.status_code == 200
    assert len(response.json()["invoices"]) == 1


def test_admin_edits_setup_resources(token_client, world):
    admin = token_client("admin", BILLING_ADMIN)
    response = admin.patch(f"/api/v1/products/{world.seat.pk}", {"name": "Seat+"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Seat+"


def test_a_superuser_is_a_billing_admin_whatever_its_groups(token_client, world):
    root = token_client("root", READ_ONLY, is_superuser=True)
    response = root.patch(f"/api/v1/products/{world.seat.pk}", {"name": "C"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "C"


def test_staff_without_role_reads_but_cannot_write(token_client, world):
    staff = token_client("staff", is_staff=True)
    assert staff.get(f"/api/v1/products/{world.seat.pk}").status_code == 200
    response = staff.patch(f"/api/v1/products/{world.seat.pk}", {"name": "A"}, format="json")
    assert response.status_code == 403
    world.seat.refresh_from_db()
    assert world.seat.name == "Seat"
    # A role decides from then on.
    staff.user.groups.add(Group.objects.get(name=BILLING_ADMIN))
    response = staff.patch(f"/api/v1/products/{world.seat.pk}", {"name": "B"}, format="json")
    assert response.status_code == 200


def test_unauthenticated_is_401_and_inactive_users_are_refused(token_client):
    anonymous = APIClient()
    response = anonymous.get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.get("/api/v1/accounts/").json()["code"] == "authentication_failed"
    inactive = token_client("gone", BILLING_ADMIN, is_active=False)
    assert inactive.get("/api/v1/accounts/").status_code == 401


# --- the groups --------------------------------------------------------------------------------


def test_roles_exist_with_model_permissions(roles):
    groups = {g.name: g for g in Group.objects.filter(name__in=ROLES)}
    assert set(groups) == set(ROLES)
    perms = {
        name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()}
        for name, g in groups.items()
    }
    assert "invoicing.view_invoice" in perms[READ_ONLY]
    assert not any(
        p.split(".")[1].startswith(("add_", "change_", "delete_")) for p in perms[READ_ONLY]
    )
    assert {"invoicing.add_invoice", "billing.change_order", "accounts.add_account"} <= perms[
        BILLING_OPERATIONS
    ]
    assert "accounts.view_legalentity" in perms[BILLING_OPERATIONS]
    assert not {"accounts.add_legalentity", "invoicing.change_taxrate"} & perms[BILLING_OPERATIONS]
    assert perms[BILLING_OPERATIONS] < perms[BILLING_ADMIN]
    assert {"invoicing.change_sequencepolicy", "billing.delete_product"} <= perms[BILLING_ADMIN]
    # The groups hold exactly what the code says each role may do.
    for role in ROLES:
        assert perms[role] == set(role_permissions(role)), role


def test_setup_roles_command_restores_the_roles(roles):
    Group.objects.get(name=BILLING_OPERATIONS).permissions.clear()
    Group.objects.get(name=READ_ONLY).delete()
    out = StringIO()
    call_command("setup_roles", stdout=out)
    counts = {role: len(role_permissions(role)) for role in ROLES}
    assert out.getvalue() == "".join(f"{role}: {counts[role]} permissions\n" for role in ROLES)
    assert (
        Group.objects.get(name=BILLING_OPERATIONS).permissions.count() == counts[BILLING_OPERATIONS]
    )
    assert Group.objects.get(name=READ_ONLY).permissions.count() == counts[READ_ONLY]
