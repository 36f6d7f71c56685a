from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoicing"

    def ready(self) -> None:
        # Registers the Celery tasks (services queue them by name through invoicing.dispatch)
        # and, through invoicing.services.documents, the after-posting PDF rendering
        # (invoicing.hooks.on_invoices_posted).
        from invoicing import tasks  # noqa: F401
