from django.apps import AppConfig


class CalculationsConfig(AppConfig):
    name = "apps.calculations"
