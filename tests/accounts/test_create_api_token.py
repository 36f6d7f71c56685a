"""`manage.py create_api_token`: prints the token, sets the role, and says on standard error
what the token can do, never a role it cannot act as."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.permissions import BILLING_ADMIN, BILLING_OPERATIONS, READ_ONLY, roles_sync

pytestmark = pytest.mark.django_db

READ_ONLY_SAYS = "its token reads everything and writes nothing (every write answers 403)."


@pytest.fixture(autouse=True)
def roles(db) -> None:
    roles_sync()


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def groups_of(username: str) -> list[str]:
    return list(User.objects.get(username=username).groups.values_list("name", flat=True))


def test_prints_the_token_and_gives_the_role():
    User.objects.create_user("erp")
    out, err = run("erp", "--role", READ_ONLY)
    key = Token.objects.get(user__username="erp").key
    assert out == f"{key}\n"
    assert err == f"Created a token for 'erp'.\n'erp' has the role read_only: {READ_ONLY_SAYS}\n"
    assert groups_of("erp") == [READ_ONLY]
    # Again: the same token; a new role replaces the old one.
    out, err = run("erp", "--role", BILLING_OPERATIONS)
    assert out == f"{key}\n"
    assert err == (
        "'erp' has the role billing_operations: its token reads everything and writes the "
        "operational records, not the setup resources.\n"
    )
    assert groups_of("erp") == [BILLING_OPERATIONS]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/accounts/").status_code == 200
    assert client.post("/api/v1/accounts/", {}, format="json").status_code == 400  # may write


def test_a_user_without_role_is_told_its_token_is_refused():
    User.objects.create_user("bot", is_staff=True)
    out, err = run("bot")
    assert err == (
        "Created a token for 'bot'.\n"
        "'bot' has no billing role, so its token is refused (403) on every request, reads "
        "included. Give it a role with --role ROLE.\n"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.strip()}")
    assert client.post("/api/v1/accounts/", {}, format="json").status_code == 403
    assert client.get("/api/v1/accounts/").status_code == 403


def test_refuses_a_role_a_superuser_cannot_act_as_and_changes_nothing():
    User.objects.create_superuser("admin", "admin@example.com", "pw")
    for role in (READ_ONLY, BILLING_OPERATIONS):
        with pytest.raises(CommandError) as refused:
            run("admin", "--role", role)
        assert str(refused.value) == (
            f"'admin' is a superuser, and a superuser is a billing_admin whatever its groups: "
            f"its token cannot be {role}. Give the {role} token to a user that is not a "
            f"superuser (`create_api_token NAME --create-user --role {role}`)."
        )
    assert groups_of("admin") == []
    assert not Token.objects.exists()


def test_a_superuser_is_reported_as_billing_admin():
    User.objects.create_superuser("admin", "admin@example.com", "pw")
    out, err = run("admin")
    assert err == (
        "Created a token for 'admin'.\n"
        "'admin' is a superuser, so a billing_admin: its token reads and writes everything.\n"
    )
    out2, err2 = run("admin", "--role", BILLING_ADMIN)
    assert out2 == out
    assert err2 == (
        "'admin' is a superuser, so a billing_admin: its token reads and writes everything.\n"
    )
    assert groups_of("admin") == [BILLING_ADMIN]


def test_reports_permissions_held_beyond_the_role():
    user = User.objects.create_user("erp")
    user.user_permissions.add(Permission.objects.get(codename="add_invoice"))
    _out, err = run("erp", "--role", READ_ONLY)
    assert err == (
        f"Created a token for 'erp'.\n'erp' has the role read_only: {READ_ONLY_SAYS}\n"
        "'erp' also holds, beyond its role (granted in the Django admin): "
        "invoicing.add_invoice.\n"
    )


def test_an_inactive_user_is_told_its_token_is_refused():
    User.objects.create_user("old", is_active=False).groups.add(
        Group.objects.get(name=BILLING_ADMIN)
    )
    _out, err = run("old")
    assert err == (
        "Created a token for 'old'.\n"
        "'old' is inactive: its token is refused until the user is active again.\n"
    )


def test_a_missing_user_is_refused_or_created():
    with pytest.raises(CommandError, match="No user 'ghost'"):
        run("ghost")
    out, err = run("ghost", "--create-user")
    user = User.objects.get(username="ghost")
    assert not user.has_usable_password()
    assert out == f"{Token.objects.get(user=user).key}\n"
    assert err.startswith("Created user 'ghost'.\nCreated a token for 'ghost'.\n")
    out2, _err = run("ghost", "--rotate")
    assert out2 != out
    assert Token.objects.get(user=user).key == out2.strip()
