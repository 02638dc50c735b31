"""A function y = f(t) whose chart is drawn in the background.

The row is the job's state (the job columns of `apps.jobs.models.Job`), the last error and the
PNG itself (stored in PostgreSQL, served by `apps.charts.views`). Writes go through
`apps.charts.services` and `apps.jobs.services`.
"""

from datetime import UTC, datetime

from django.db import models
from django.db.models.functions import Coalesce

from apps.integrations.dataservice import EXPRESSION_MAX_LENGTH
from apps.jobs.models import Job, quota_index, retention_index, status_check, unfinished_index

# The limits on the expression's length, dt, interval and the point count are the data
# service's own (its parser, the DATASERVICE_* settings, checked by `apps.dataservice.schemas`),
# so the column, the admin form and the API refuse exactly what the service would refuse.

PRESETS = ("t + 2/t", "sin(t)")

# Sort keys of the list's processing-date orderings, with never-processed rows last either
# way. As plain expressions (not NULLS LAST) they are what the indexes below hold, so a page,
# and a cursor's `(key, id) < (...)`, is an index range scan.
PROCESSED_ASC_KEY = Coalesce("processed_at", models.Value(datetime.max.replace(tzinfo=UTC)))
PROCESSED_DESC_KEY = Coalesce("processed_at", models.Value(datetime.min.replace(tzinfo=UTC)))


class Function(Job):
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
    # The job's end under the name the product gives it ("processing date": API, admin, live
    # events); `finished_at` below reads it, and apps.jobs writes it (JobKind.finished_column).
    processed_at = models.DateTimeField("processing date", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # One index per list ordering, and one per ordering under a status filter; the sweep's.
        indexes = [
            unfinished_index(name="charts_function_unfinished_idx"),
            quota_index(name="charts_fn_quota_idx"),
            retention_index(finished_column="processed_at", name="charts_fn_retention_idx"),
            models.Index(fields=["created_by", "created_at", "id"], name="charts_fn_created_by_idx"),
            models.Index(fields=["created_at", "id"], name="charts_fn_created_idx"),
            models.Index(fields=["status", "created_at", "id"], name="charts_fn_status_created_idx"),
            models.Index(fields=["expression", "id"], name="charts_fn_expression_idx"),
            models.Index(fields=["status", "expression", "id"], name="charts_fn_status_expr_idx"),
            models.Index(PROCESSED_ASC_KEY, "id", name="charts_fn_processed_asc_idx"),
            models.Index("status", PROCESSED_ASC_KEY, "id", name="charts_fn_status_proc_asc_idx"),
            models.Index(PROCESSED_DESC_KEY, "id", name="charts_fn_processed_desc_idx"),
            models.Index("status", PROCESSED_DESC_KEY, "id", name="charts_fn_status_proc_desc_idx"),
            # Also charts_fn_expression_trgm_idx, a trigram index on UPPER(expression) for
            # ?search= (migration 0002_list_counters: Django renders an opclass on an
            # expression as invalid SQL).
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(dt__gt=0), name="charts_function_dt_positive"),
            models.CheckConstraint(
                condition=models.Q(interval__gt=0), name="charts_function_interval_positive"
            ),
            status_check(name="charts_function_status_valid"),
        ]

    def __str__(self) -> str:
        return self.expression

    # Replaces the inherited `finished_at` field (Django drops an abstract parent's field
    # overridden by a plain value): the job's end is `processed_at` here.
    @property
    def finished_at(self) -> datetime | None:
        return self.processed_at

    @finished_at.setter
    def finished_at(self, value: datetime | None) -> None:
        self.processed_at = value
