"""The role rule (core/permissions.py) and the API's permission class: deny by default (a
user in no role has no access, staff or not: 403 on reads and writes), a superuser is a
billing admin, every write route of the URL conf is 403 for a read-only user, setup resources
are admin-only, and the role groups are kept in sync.

The permission walk: every route under /api/ of the URL conf and every operation of the
OpenAPI schema, with every method, refuses an anonymous caller (401) and a signed-in user
without a role (403), and every write refuses a read-only user (403). A view added without the
role permission (AllowAny, IsAuthenticated, a plain Django view under /api/) fails it."""

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

from accounts.models import Account
from core.api import api_not_found
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
from invoicing.models import SequencePolicy, TaxRate

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


ALL_METHODS = ("get", "post", "put", "patch", "delete")


def api_routes() -> list[tuple[str, str, object]]:
    """(path, url name, view) of every route under /api/ of the URL conf (the API's views,
    their other slash forms, the schema and its docs page, the catch-all), every URL argument
    set to 1."""
    routes = []
    for regex, pattern in _patterns(get_resolver().url_patterns):
        fmt, params = normalize(regex)[0]
        path = "/" + fmt % {name: "json" if name == "format" else "1" for name in params}
        if path.startswith("/api"):
            routes.append((path, pattern.name or "", pattern.callback))
    return sorted(routes, key=lambda r: r[0])


def _refusals(client, routes, expected_status: int, expected_code: str) -> list:
    """The (method, path, status) of every route and method not refused as expected."""
    passed = []
    for path, _name, callback in routes:
        if callback is api_not_found:
            continue  # the JSON 404 of paths no route matches
        for method in ALL_METHODS:
            response = getattr(client, method)(path, {}, format="json")
            code = (
                response.json().get("code")
                if response.get("Content-Type", "").startswith("application/json")
                else None
            )
            if response.status_code != expected_status or code != expected_code:
                passed.append((method.upper(), path, response.status_code))
    return passed


def test_the_walk_covers_the_schema_and_every_api_view():
    routes = api_routes()
    walked = {path for path, _name, _view in routes}
    schema_paths = {path for _method, path in _schema_operations(ALL_METHODS)}
    assert schema_paths <= walked
    assert {"/api/schema/", "/api/docs/", "/api/v1/invoices/ingest"} <= walked
    # Under /api/ only REST framework views (behind the role permission), their other slash
    # forms and the catch-all 404: a plain Django view there would escape the rule.
    for path, _name, callback in routes:
        view_class = getattr(callback, "cls", None)
        assert (
            (view_class is not None and issubclass(view_class, APIView))
            or callback.__name__ == "same_view"
            or callback is api_not_found
        ), path
    assert len(routes) >= 150


def test_every_api_route_refuses_an_anonymous_caller():
    assert _refusals(APIClient(), api_routes(), 401, "not_authenticated") == []


@pytest.mark.parametrize("flags", [{}, {"is_staff": True}])
def test_every_api_route_refuses_a_user_without_role(token_client, flags):
    nobody = token_client("nobody", **flags)
    assert _refusals(nobody, api_routes(), 403, "permission_denied") == []


def test_every_schema_operation_refuses_anonymous_and_role_less_callers(token_client):
    nobody = token_client("nobody")
    passed = []
    for method, path in sorted(_schema_operations(ALL_METHODS)):
        for client, expected in ((APIClient(), 401), (nobody, 403)):
            status = getattr(client, method)(path, {}, format="json").status_code
            if status != expected:
                passed.append((method, path, status))
    assert passed == []


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
        "staff_no_role": None,  # no role group: no access, staff or not
        "no_role": None,
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
        "staff_no_role": (False, False, False),
        "no_role": (False, False, False),
        "inactive_admin": (False, False, False),
    }
    # A permission granted in the Django admin adds to a role, and to nothing else.
    add = Permission.objects.get(codename="add_invoice")
    rita, nora = users["read_only"], users["no_role"]
    rita.user_permissions.add(add)
    nora.user_permissions.add(add)
    assert user_has_permissions(User.objects.get(pk=rita.pk), add_invoice)
    assert not user_has_permissions(User.objects.get(pk=nora.pk), add_invoice)
    assert not user_has_permissions(User.objects.get(pk=nora.pk), view_invoice)


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
    for response in (
        nobody.post("/api/v1/accounts/", {}, format="json"),
        nobody.get("/api/v1/accounts/"),
    ):
        assert response.status_code == 403
        assert response.json() == {
            "code": "permission_denied",
            "message": "The user nobody has no billing role, so it may neither read nor change "
            "anything here. An administrator can give it one: add it to one of the groups "
            "billing_admin, billing_operations, read_only (Django admin, Users), or run "
            "`manage.py create_api_token nobody --role ROLE`.",
            "details": {},
        }
    reader = token_client("reader", READ_ONLY)
    response = reader.delete("/api/v1/products/1")
    assert response.json()["message"] == (
        "The role read_only may not DELETE here (needs billing.delete_product). The read_only "
        "role can change nothing."
    )


@pytest.mark.parametrize(("role", "flags"), [(READ_ONLY, {}), (READ_ONLY, {"is_staff": True})])
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


def test_staff_without_role_can_neither_read_nor_write(token_client, world):
    staff = token_client("staff", is_staff=True)
    assert staff.get(f"/api/v1/products/{world.seat.pk}").status_code == 403
    response = staff.patch(f"/api/v1/products/{world.seat.pk}", {"name": "A"}, format="json")
    assert response.status_code == 403
    for path, body in (
        ("/api/v1/accounts/", {"name": "Staff Corp", "currency": "USD"}),
        ("/api/v1/sequence-policies/", {"name": "P", "pattern": "X-{SEQ}"}),
        ("/api/v1/tax-rates/", {"name": "T", "rate": "1.00", "country": "US"}),
    ):
        assert staff.post(path, body, format="json").status_code == 403, path
    world.seat.refresh_from_db()
    assert world.seat.name == "Seat"
    assert Account.objects.count() == 1  # the world's own
    assert not SequencePolicy.objects.exists() and not TaxRate.objects.exists()
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
