from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "dunning"
    verbose_name = "Dunning"

    def ready(self) -> None:
        # Registers the daily beat task (config/settings/base.py CELERY_BEAT_SCHEDULE names it).
        from dunning import tasks  # noqa: F401
        from dunning.invoice_fields import register

        register()  # API.md's `dunning` and `disputed` on the invoice resource
