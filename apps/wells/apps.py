from django.apps import AppConfig


class WellsConfig(AppConfig):
    name = "apps.wells"
    label = "wells"
