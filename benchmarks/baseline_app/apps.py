from django.apps import AppConfig


class BaselineConfig(AppConfig):
    name = "benchmarks.baseline_app"
    label = "baseline_app"
