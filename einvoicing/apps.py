from django.apps import AppConfig


class EInvoicingConfig(AppConfig):
    name = "einvoicing"
    verbose_name = "E-invoicing"

    def ready(self) -> None:
        from einvoicing.admin import admin_actions_attach
        from einvoicing.signals import register

        register()  # the posting gate and the email attachment
        admin_actions_attach()  # after django.contrib.admin's ready() registered the admins
