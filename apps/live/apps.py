from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "apps.live"

    def ready(self) -> None:
        from apps.live import signals

        signals.connect()
