"""`manage.py ensure_demo_staff`: a staff login for the demo (idempotent)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "admin"
PASSWORD = "ledgerline-demo"


class Command(BaseCommand):
    help = (
        f"Create the demo superuser '{USERNAME}' with password '{PASSWORD}' if it does not "
        "exist. An existing user is left as it is (its password is not reset)."
    )

    def handle(self, *args, **options):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            **{user_model.USERNAME_FIELD: USERNAME},
            defaults={"is_staff": True, "is_superuser": True, "is_active": True},
        )
        if created:
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
            self.stdout.write(self.style.SUCCESS(f"Created the demo superuser '{USERNAME}'."))
        else:
            self.stdout.write(f"User '{USERNAME}' already exists; its password was left unchanged.")
        url = settings.LEDGERLINE.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
        self.stdout.write(
            f"Staff login: {url}/  user: {USERNAME}  password: {PASSWORD}  (admin: {url}/admin/)"
        )
