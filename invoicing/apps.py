from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoicing"

    def ready(self) -> None:
        # Registers the Celery tasks (services queue them by name through invoicing.dispatch)
        # and, through invoicing.services.documents, the after-posting PDF rendering
        # (invoicing.hooks.on_invoices_posted).
        from invoicing import tasks  # noqa: F401
        from invoicing.hooks import invoice_api_fields
        from invoicing.receivables import invoice_api_receivable_fields

        invoice_api_fields(invoice_api_receivable_fields)  # API.md's receivable fields
