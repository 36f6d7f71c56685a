from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoicing"

    def ready(self) -> None:
        # Registers the after-posting PDF rendering (invoicing.hooks.on_invoices_posted).
        from invoicing.services import documents  # noqa: F401
