"""Roles and the permission class: every write of the schema is 403 for a read-only token,
setup resources are admin-only, and the role groups and commands."""

import re
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.permissions import BILLING_ADMIN, BILLING_OPERATIONS, READ_ONLY, ROLES
from tests.api.conftest import token_client

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


def _operations(methods):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in sorted(schema["paths"].items()):
        for method in item:
            if method in methods:
                yield method, re.sub(r"\{[^}]+\}", "1", path)


def test_the_schema_has_the_write_operations():
    ops = set(_operations(WRITE_METHODS))
    assert ("post", "/api/v1/invoices/ingest") in ops
    assert ("post", "/api/v1/orders/1/activate") in ops
    assert ("delete", "/api/v1/legal-entities/1") in ops
    assert len(ops) >= 30


# POSTs that read only: a preview stores nothing, so a read-only token may run it.
READ_ONLY_POSTS = {("post", "/api/v1/invoices/preview")}


def test_read_only_token_gets_403_on_every_write(reader, billed):
    refused = []
    for method, path in _operations(WRITE_METHODS):
        if (method, path) in READ_ONLY_POSTS:
            continue
        response = getattr(reader, method)(path, {}, format="json")
        if response.status_code != 403 or response.json()["code"] != "permission_denied":
            refused.append((method, path, response.status_code))
    assert refused == []


def test_read_only_token_may_preview(reader, billed):
    response = reader.post(
        "/api/v1/invoices/preview", {"account": billed.account.pk}, format="json"
    )
    assert response.status_code == 200
    assert len(response.json()["invoices"]) >= 1


def test_read_only_token_reads_every_list(reader, billed):
    for _method, path in _operations(("get",)):
        if path.endswith("/") and not re.search(r"/1(/|$)", path):
            response = reader.get(path)
            assert response.status_code == 200, (path, response.content[:300])


def test_operations_cannot_edit_setup_resources_but_can_run_billing(ops, billed):
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


def test_admin_edits_setup_resources(admin, world):
    response = admin.patch(f"/api/v1/products/{world.seat.pk}", {"name": "Seat+"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Seat+"


def test_unauthenticated_is_401_and_user_without_role_403(roles):
    anonymous = APIClient()
    response = anonymous.get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.get("/api/v1/accounts/").json()["code"] == "authentication_failed"

    nobody = token_client("nobody")
    response = nobody.get("/api/v1/accounts/")
    assert response.status_code == 403
    assert "has no API role" in response.json()["message"]


def test_unassigned_staff_and_superuser_have_full_access(roles, world):
    staff = token_client("staff", is_staff=True)
    assert staff.patch(f"/api/v1/products/{world.seat.pk}", {"name": "A"}).status_code == 200
    # Once in a role, the role decides.
    staff.user.groups.add(Group.objects.get(name=READ_ONLY))
    assert staff.patch(f"/api/v1/products/{world.seat.pk}", {"name": "B"}).status_code == 403
    superuser = token_client("root", READ_ONLY, is_superuser=True)
    assert superuser.patch(f"/api/v1/products/{world.seat.pk}", {"name": "C"}).status_code == 200


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


def test_setup_roles_command_restores_the_roles(roles):
    Group.objects.get(name=BILLING_OPERATIONS).permissions.clear()
    Group.objects.get(name=READ_ONLY).delete()
    out = StringIO()
    call_command("setup_roles", stdout=out)
    assert "read_only:" in out.getvalue()
    assert Group.objects.get(name=BILLING_OPERATIONS).permissions.count() > 20


def test_create_api_token_prints_the_token_and_gives_the_role(roles):
    User.objects.create_user("erp")
    out = StringIO()
    call_command("create_api_token", "erp", "--role", READ_ONLY, stdout=out, stderr=StringIO())
    key = out.getvalue().strip()
    assert Token.objects.get(user__username="erp").key == key
    assert list(User.objects.get(username="erp").groups.values_list("name", flat=True)) == [
        READ_ONLY
    ]
    # Again: the same token; a new role replaces the old one.
    out = StringIO()
    call_command(
        "create_api_token", "erp", "--role", BILLING_OPERATIONS, stdout=out, stderr=StringIO()
    )
    assert out.getvalue().strip() == key
    assert list(User.objects.get(username="erp").groups.values_list("name", flat=True)) == [
        BILLING_OPERATIONS
    ]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/accounts/").status_code == 200


def test_create_api_token_for_a_missing_user(roles):
    with pytest.raises(CommandError, match="No user 'ghost'"):
        call_command("create_api_token", "ghost", stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("create_api_token", "ghost", "--create-user", stdout=out, stderr=StringIO())
    user = User.objects.get(username="ghost")
    assert not user.has_usable_password()
    assert Token.objects.get(user=user).key == out.getvalue().strip()
    out2 = StringIO()
    call_command("create_api_token", "ghost", "--rotate", stdout=out2, stderr=StringIO())
    assert out2.getvalue().strip() != out.getvalue().strip()
