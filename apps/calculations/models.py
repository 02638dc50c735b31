from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.jobs.models import Job, quota_index, retention_index, status_check, unfinished_index

# A run's input limits, once: the API schema, the admin form (these fields' validators) and
# the table's constraint all read them.
NAME_MAX_LENGTH = 200
LAG_MIN, LAG_MAX = 1, 3650


class Calculation(Job):
    """One run of the kernel: its inputs, where it is in the queue, and how it ended.

    `launched_at` is when the run was submitted (the "launch date" users sort by); the job
    columns (status, progress, attempts, timings, error, outbox marker) come from
    `apps.jobs.models.Job` and are only moved by `apps.jobs.services`.
    """

    name = models.CharField(max_length=NAME_MAX_LENGTH)
    date_start = models.DateField()
    date_fin = models.DateField()
    lag = models.PositiveIntegerField(
        help_text="Days between two result rows.",
        validators=[
            MinValueValidator(LAG_MIN, message="lag must be at least %(limit_value)s day."),
            MaxValueValidator(LAG_MAX, message="lag must be at most %(limit_value)s days."),
        ],
    )
    launched_at = models.DateTimeField(default=timezone.now, help_text="When the run was submitted.")
    # A well run: a decline-curve forecast of the well's history (apps.calculations.forecast)
    # instead of the synthetic kernel. The well may be deleted later; the run keeps its rows.
    well = models.ForeignKey(
        "wells.Well",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calculations",
        db_index=False,
        help_text="The well forecast by this run; empty for a run of the synthetic kernel.",
    )
    # A database default too: bulk loads that list their columns (benchmarks, fixtures) get {}.
    model = models.JSONField(
        default=dict,
        db_default={},
        blank=True,
        help_text="A well run's model options, defaults filled in; empty for a run of the synthetic kernel.",
    )
    forecast = models.JSONField(
        null=True, blank=True, editable=False, help_text="A finished well run's forecast summary."
    )

    class Meta:
        ordering = ["-launched_at", "-id"]
        indexes = [
            # The list endpoint orders by (launched_at, id) both ways; one index serves both.
            models.Index(fields=["launched_at", "id"], name="calc_launched_idx"),
            # The same with a status filter: one index range per status asked for.
            models.Index(fields=["status", "launched_at", "id"], name="calc_status_launched_idx"),
            # Also calc_name_trgm_idx, a trigram index on UPPER(name) for ?search= (migration
            # 0003_list_counters: Django renders an opclass on an expression as invalid SQL).
            # The beat sweep only ever looks at unfinished runs.
            unfinished_index(name="calc_unfinished_idx"),
            quota_index(name="calc_quota_idx"),
            retention_index(name="calc_retention_idx"),
            # ?created_by= filters (the foreign key's own index serves the join to users).
            models.Index(fields=["created_by", "launched_at", "id"], name="calc_created_by_idx"),
            # A well's forecasts, newest first.
            models.Index(fields=["well", "launched_at", "id"], name="calc_well_launched_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(date_start__lte=F("date_fin")), name="calc_dates_ordered"),
            models.CheckConstraint(condition=Q(lag__gte=LAG_MIN, lag__lte=LAG_MAX), name="calc_lag_range"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="calc_progress_percent"),
            status_check(name="calc_status_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class CalculationRow(models.Model):
    """One row of a finished run's result table; all rows of a run are written at once."""

    # The unique (calculation, date) index already starts with calculation_id: no extra index.
    calculation = models.ForeignKey(
        Calculation, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    date = models.DateField()
    liquid = models.FloatField()
    oil = models.FloatField()
    water = models.FloatField()
    wct = models.FloatField()

    class Meta:
        ordering = ["calculation", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calculation", "date"], name="calc_row_unique_date"),
        ]

    def __str__(self) -> str:
        return f"{self.calculation_id} {self.date}"


class CalculationChartFormat(models.TextChoices):
    PNG = "png", "PNG"
    SVG = "svg", "SVG"


class CalculationChart(models.Model):
    """An image of a finished run (rates and water cut) drawn by the export server.

    Drawn on the first request for a format and size, then served from here: a finished
    run's rows never change. `drawn_from` is the run's `finished_at` when the image was drawn;
    a run that finishes again (a rerun) has a new `finished_at`, so its old images no longer
    match and are redrawn on the next request. The table is a bounded cache: the images'
    `size` together stay under CALCULATION_CHARTS_STORE_BYTES, evicting the least recently
    `used_at` first.
    """

    calculation = models.ForeignKey(
        Calculation, on_delete=models.CASCADE, related_name="charts", db_index=False
    )
    format = models.CharField(max_length=3, choices=CalculationChartFormat.choices)
    width = models.PositiveIntegerField(help_text="Pixels.")
    height = models.PositiveIntegerField(help_text="Pixels.")
    drawn_from = models.DateTimeField(help_text="The run's finished_at when this image was drawn.")
    image = models.BinaryField()
    image_hash = models.CharField(max_length=64, help_text="SHA-256 of the image: its ETag.")
    drawn_at = models.DateTimeField(auto_now=True, help_text="When the export server drew this image.")
    size = models.PositiveIntegerField(help_text="Bytes of the image (what the store's bound counts).")
    used_at = models.DateTimeField(
        default=timezone.now, help_text="When the image was last served (to the hour): eviction order."
    )

    class Meta:
        ordering = ["calculation", "format", "width", "height"]
        constraints = [
            # Also the lookup index of the chart endpoints (it starts with calculation_id).
            models.UniqueConstraint(
                fields=["calculation", "format", "width", "height"], name="calc_chart_unique_size"
            ),
            models.CheckConstraint(
                condition=Q(format__in=[choice.value for choice in CalculationChartFormat]),
                name="calc_chart_format",
            ),
        ]
        indexes = [models.Index(fields=["used_at", "id"], name="calc_chart_used_at")]

    def __str__(self) -> str:
        return f"{self.calculation_id} {self.width}x{self.height}.{self.format}"
