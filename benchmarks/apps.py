from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """No models: the app exists so that its management commands are found."""

    name = "benchmarks"
    verbose_name = "Benchmarks"
