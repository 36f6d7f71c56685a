"""`manage.py create_api_token USER`: print USER's API token, creating it if needed.

Standard error says what the token can do: the user's effective role by the rule of
core/permissions.py (a superuser is a billing admin, a user in no role group has no access),
never merely the role asked for. A role the user's flags would override (`--role read_only`
for a superuser) is refused, and nothing changes.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from core.permissions import (
    BILLING_ADMIN,
    ROLE_SUMMARIES,
    ROLES,
    role_permissions,
    roles_sync,
    user_role,
)


class Command(BaseCommand):
    help = (
        "Print the API token of USER (Authorization: Token <key>), creating the token when the "
        "user has none. Only the key goes to standard output; standard error says what the "
        "token can do."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", metavar="USER")
        parser.add_argument(
            "--role",
            choices=ROLES,
            help=(
                "Also make USER a member of this API role (and of no other role). A superuser "
                f"is always {BILLING_ADMIN}: any other role is refused for one."
            ),
        )
        parser.add_argument(
            "--create-user",
            action="store_true",
            help="Create USER (without a password: it signs in with the token only) if missing.",
        )
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="Replace an existing token with a new one (the old key stops working).",
        )

    def handle(
        self,
        *args: Any,
        username: str,
        role: str | None,
        create_user: bool,
        rotate: bool,
        **options: Any,
    ) -> None:
        user_model = get_user_model()
        with transaction.atomic():
            user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
            if user is None:
                if not create_user:
                    raise CommandError(
                        f"No user '{username}'. Create it first, or pass --create-user."
                    )
                user = user_model.objects.create_user(**{user_model.USERNAME_FIELD: username})
                user.set_unusable_password()
                user.save()
                self.stderr.write(f"Created user '{username}'.")
            if role:
                if user.is_superuser and role != BILLING_ADMIN:
                    raise CommandError(
                        f"'{username}' is a superuser, and a superuser is a {BILLING_ADMIN} "
                        f"whatever its groups: its token cannot be {role}. Give the {role} token "
                        f"to a user that is not a superuser (`create_api_token NAME "
                        f"--create-user --role {role}`)."
                    )
                if not Group.objects.filter(name=role).exists():
                    roles_sync()
                others = user.groups.filter(name__in=ROLES).exclude(name=role)
                user.groups.remove(*others)
                user.groups.add(Group.objects.get(name=role))
            if rotate:
                Token.objects.filter(user=user).delete()
            token, created = Token.objects.get_or_create(user=user)
        if created:
            self.stderr.write(f"Created a token for '{username}'.")
        for line in token_abilities(user):
            self.stderr.write(line)
        self.stdout.write(token.key)


def token_abilities(user: AbstractUser) -> list[str]:
    """What a token of `user` can do, in sentences: its effective role and any permission it
    holds beyond that role."""
    name = user.get_username()
    role = user_role(user)
    if not user.is_active:
        return [f"'{name}' is inactive: its token is refused until the user is active again."]
    if role is None:
        return [
            f"'{name}' has no billing role, so its token is refused (403) on every request, "
            "reads included. Give it a role with --role ROLE."
        ]
    if user.is_superuser:
        lines = [f"'{name}' is a superuser, so a {role}: its token {ROLE_SUMMARIES[role]}."]
    else:
        lines = [f"'{name}' has the role {role}: its token {ROLE_SUMMARIES[role]}."]
    extra = sorted(user.get_all_permissions() - role_permissions(role))
    if extra and not user.is_superuser:
        lines.append(
            f"'{name}' also holds, beyond its role (granted in the Django admin): "
            f"{', '.join(extra)}."
        )
    return lines
