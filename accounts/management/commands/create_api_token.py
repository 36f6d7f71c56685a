"""`manage.py create_api_token USER`: print USER's API token, creating it if needed."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from core.permissions import ROLES, roles_sync


class Command(BaseCommand):
    help = (
        "Print the API token of USER (Authorization: Token <key>), creating the token when the "
        "user has none. Only the key goes to standard output."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", metavar="USER")
        parser.add_argument(
            "--role",
            choices=ROLES,
            help="Also make USER a member of this API role (and of no other role).",
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

    def handle(self, *args, username, role, create_user, rotate, **options):
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
                if not Group.objects.filter(name=role).exists():
                    roles_sync()
                others = user.groups.filter(name__in=ROLES).exclude(name=role)
                user.groups.remove(*others)
                user.groups.add(Group.objects.get(name=role))
                self.stderr.write(f"'{username}' has the role {role}.")
            if rotate:
                Token.objects.filter(user=user).delete()
            token, created = Token.objects.get_or_create(user=user)
        if created:
            self.stderr.write(f"Created a token for '{username}'.")
        self.stdout.write(token.key)
