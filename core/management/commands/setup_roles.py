"""`manage.py setup_roles`: create the billing role groups and set their permissions.

`migrate` does this by itself (post_migrate); run it by hand after editing permissions in the
admin to restore the roles' defined permissions.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS

from core.permissions import roles_sync


class Command(BaseCommand):
    help = "Create or reset the groups billing_admin, billing_operations and read_only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **options: Any) -> None:
        counts = roles_sync(using=options["database"])
        for role, count in counts.items():
            self.stdout.write(f"{role}: {count} permissions")
