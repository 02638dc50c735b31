from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.jobs.models import Job, JobStatus, status_check, unfinished_index


# The one vocabulary of every job (apps.jobs); kept under its old name for the code that uses it.
CalculationStatus = JobStatus


class Calculation(Job):
    """One run of the kernel: its inputs, where it is in the queue, and how it ended.

    `launched_at` is when the run was submitted (the "launch date" users sort by); the job
    columns (status, progress, attempts, timings, error, outbox marker) come from
    `apps.jobs.models.Job` and are only moved by `apps.jobs.services`.
    """

    name = models.CharField(max_length=200)
    date_start = models.DateField()
    date_fin = models.DateField()
    lag = models.PositiveIntegerField(help_text="Days between two result rows.")
    launched_at = models.DateTimeField(default=timezone.now, help_text="When the run was submitted.")

    class Meta:
        ordering = ["-launched_at", "-id"]
        indexes = [
            # The list endpoint orders by (launched_at, id) both ways; one index serves both.
            models.Index(fields=["launched_at", "id"], name="calc_launched_idx"),
            # The beat sweep only ever looks at unfinished runs.
            unfinished_index(name="calc_unfinished_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(date_start__lte=F("date_fin")), name="calc_dates_ordered"),
            models.CheckConstraint(condition=Q(lag__gte=1, lag__lte=3650), name="calc_lag_range"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="calc_progress_percent"),
            status_check(name="calc_status_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class CalculationRow(models.Model):
    """One row of a finished run's result table; all rows of a run are written at once."""

    # The unique (calculation, date) index already starts with calculation_id: no extra index.
    calculation = models.ForeignKey(Calculation, on_delete=models.CASCADE, related_name="rows", db_index=False)
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
