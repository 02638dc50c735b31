"""A function y = f(t) whose chart is drawn in the background.

The row is the job's state (the job columns of `apps.jobs.models.Job`), the last error and the
PNG itself (stored in PostgreSQL, served by `apps.charts.views`). Writes go through
`apps.charts.services` and `apps.jobs.services`.
"""

from django.db import models

from apps.jobs.models import IN_FLIGHT, Job, status_check, unfinished_index

# The limits on dt, interval and the point count are the data service's own
# (DATASERVICE_* settings, checked by `apps.dataservice.schemas`), so the admin form and the
# API refuse exactly what the service would refuse.
EXPRESSION_MAX_LENGTH = 200

PRESETS = ("t + 2/t", "sin(t)")


class Function(Job):
    IN_FLIGHT = IN_FLIGHT

    expression = models.CharField(
        max_length=EXPRESSION_MAX_LENGTH,
        help_text="y = f(t), t in unix seconds. Numbers, t, + - * / ^, parentheses, "
        "sin cos tan exp ln log sqrt abs, pi.",
    )
    # Bounds are checked by `services.function_validate` (one message per field, shared by
    # the admin form and the API); the database only guards against nonsense.
    dt = models.FloatField("dt (hours)", help_text="Step between points, in hours.")
    interval = models.FloatField(
        "interval (days)", help_text="How far back from the processing time the chart reaches, in days."
    )
    image = models.BinaryField(null=True, blank=True, editable=False)
    # SHA-256 of `image`: the chart URL carries it, so a new image gets a new URL (no stale cache).
    image_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    # The job's `finished_at` under the name the product gives it (API, admin, live events).
    finished_at = models.DateTimeField("processing date", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [unfinished_index(name="charts_function_unfinished_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(dt__gt=0), name="charts_function_dt_positive"),
            models.CheckConstraint(
                condition=models.Q(interval__gt=0), name="charts_function_interval_positive"
            ),
            status_check(name="charts_function_status_valid"),
        ]

    def __str__(self) -> str:
        return self.expression

    # The product's name for the job's end ("processing date"), also a constructor keyword.
    @property
    def processed_at(self):
        return self.finished_at

    @processed_at.setter
    def processed_at(self, value) -> None:
        self.finished_at = value
