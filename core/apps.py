from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.contrib import admin

        from core.admin_actions import third_party_admins_text_checked
        from core.permissions import roles_sync_after_migrate

        # The API roles (Django groups) are re-synced after every migrate.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="core.roles_sync")
        # The admin (first in INSTALLED_APPS) has registered every app's admins by now.
        third_party_admins_text_checked(admin.site)
