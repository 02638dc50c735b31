from django.apps import AppConfig


class WellsConfig(AppConfig):
    name = "apps.wells"
    label = "wells"

    def ready(self) -> None:
        from apps.jobs.registry import job_kinds
        from apps.wells.services import HISTORY_IMPORT_JOB

        job_kinds.register(HISTORY_IMPORT_JOB)
