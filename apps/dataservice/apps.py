from django.apps import AppConfig


class DataserviceConfig(AppConfig):
    name = "apps.dataservice"
