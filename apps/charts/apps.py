from django.apps import AppConfig


class ChartsConfig(AppConfig):
    name = "apps.charts"

    def ready(self) -> None:
        from apps.charts.services import FUNCTION_JOB
        from apps.jobs.registry import job_kinds

        job_kinds.register(FUNCTION_JOB)
