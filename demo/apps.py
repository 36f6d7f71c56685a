from django.apps import AppConfig


class DemoConfig(AppConfig):
    """No models: the app exists so that its management commands are found."""

    name = "demo"
    verbose_name = "Demo data"
