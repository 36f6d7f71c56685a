from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core.permissions import roles_sync_after_migrate

        # The API roles (Django groups) are re-synced after every migrate.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="core.roles_sync")
