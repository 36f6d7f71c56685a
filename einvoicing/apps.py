from django.apps import AppConfig


class EInvoicingConfig(AppConfig):
    name = "einvoicing"
    verbose_name = "E-invoicing"

    def ready(self) -> None:
        from einvoicing.signals import register

        register()  # the posting gate and the email attachment
