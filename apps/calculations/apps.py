from django.apps import AppConfig


class CalculationsConfig(AppConfig):
    name = "apps.calculations"

    def ready(self) -> None:
        from apps.calculations.services import CALCULATION_JOB
        from apps.jobs.registry import job_kinds

        job_kinds.register(CALCULATION_JOB)
