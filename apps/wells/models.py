"""Wells, their production history and the imports that bring it in.

A production record is one period of one well: a day (daily history) or a month (monthly
history, dated the first of the month), with the oil, water and gas produced in it and the
time the well was on stream. Rates are derived from it when read (`apps.wells.selectors`),
never stored.

Records are the one table that grows to tens of millions of rows (1,000 wells x 30 years of
days), so they are stored narrow and in well order: the primary key is (well, date), whose
index is the only one, and a well's whole history is one range scan of it. Volumes and time
on stream are `real` (4 bytes, about 7 significant digits): field measurements carry three
or four, and every sum or rate is computed in double precision.
"""

from django.conf import settings
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q

from apps.jobs.models import IN_FLIGHT, Job, quota_index, retention_index, status_check, unfinished_index

NAME_MAX_LENGTH = 200
NOTES_MAX_LENGTH = 10_000
HOURS_ON_MAX = 25  # the day the clocks go back has 25 hours
DAYS_ON_MAX = 31
# Volumes above this in one day or month are a unit or typing error, not production (and
# above what `real` holds exactly enough).
VOLUME_MAX = 1e9


class RealField(models.FloatField):
    """A 4-byte float (`real`): half the width of FloatField's `double precision`."""

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "real"


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    MONTHLY = "monthly", "Monthly"


class OilField(models.Model):
    """A field (the asset the wells belong to). `well_count` is kept by a trigger on the wells
    table (migration 0001), so the wells list counts without `COUNT(*)`."""

    name = models.CharField(max_length=NAME_MAX_LENGTH, unique=True)
    well_count = models.BigIntegerField(default=0, editable=False)

    class Meta:
        db_table = "wells_field"
        verbose_name = "field"
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Well(models.Model):
    """A well and the summary of its history, rewritten by every import that touches it."""

    field = models.ForeignKey(OilField, on_delete=models.PROTECT, related_name="wells", db_index=False)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    notes = models.TextField(blank=True, default="", max_length=NOTES_MAX_LENGTH)
    frequency = models.CharField(
        max_length=7,
        choices=Frequency.choices,
        default=Frequency.DAILY,
        help_text="Daily history (hours on stream per day) or monthly (days on stream per month).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The summary of the history (`well_summary_refresh`): never recomputed per request.
    first_date = models.DateField(null=True, blank=True, editable=False)
    last_date = models.DateField(null=True, blank=True, editable=False)
    record_count = models.IntegerField(default=0, editable=False)
    cumulative_oil = models.FloatField(default=0, editable=False, help_text="m3")
    cumulative_water = models.FloatField(default=0, editable=False, help_text="m3")
    cumulative_gas = models.FloatField(default=0, editable=False, help_text="sm3")
    last_month = models.DateField(
        null=True, blank=True, editable=False, help_text="First day of the last month with records."
    )
    last_month_oil_rate = models.FloatField(
        null=True, blank=True, editable=False, help_text="m3/day per producing day, over the last month."
    )
    last_month_water_cut = models.FloatField(
        null=True, blank=True, editable=False, help_text="Fraction 0-1, over the last month."
    )
    history_updated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # One index per list ordering, alone and under a field filter.
            models.Index(fields=["name", "id"], name="wells_well_name_idx"),
            models.Index(fields=["created_at", "id"], name="wells_well_created_idx"),
            models.Index(fields=["field", "name", "id"], name="wells_well_field_name_idx"),
            models.Index(fields=["field", "created_at", "id"], name="wells_well_field_created_idx"),
            # Also wells_well_name_trgm_idx, a trigram index on UPPER(name) for ?search=
            # (migration 0001: Django renders an opclass on an expression as invalid SQL).
        ]
        constraints = [
            models.UniqueConstraint(fields=["field", "name"], name="wells_well_unique_name_in_field"),
            models.CheckConstraint(
                condition=Q(frequency__in=Frequency.values), name="wells_well_frequency_valid"
            ),
            models.CheckConstraint(condition=Q(record_count__gte=0), name="wells_well_record_count_positive"),
            models.CheckConstraint(condition=~Q(name=""), name="wells_well_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class ProductionRecord(models.Model):
    """One day (or month) of one well. Shut-ins (zero time on stream) are kept: rates skip them."""

    pk = models.CompositePrimaryKey("well", "date")
    well = models.ForeignKey(Well, on_delete=models.CASCADE, related_name="records", db_index=False)
    date = models.DateField(help_text="The day, or the first day of the month for monthly history.")
    oil = RealField(help_text="m3 produced in the period.")
    water = RealField(help_text="m3 produced in the period.")
    gas = RealField(
        null=True, blank=True, help_text="sm3 (m3 at standard conditions) produced in the period."
    )
    hours_on = RealField(null=True, blank=True, help_text="Daily history: hours on stream, 0-25.")
    days_on = RealField(
        null=True, blank=True, help_text="Monthly history: days on stream, 0 to the month's days."
    )

    class Meta:
        ordering = ["well", "date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(oil__gte=0, oil__lte=VOLUME_MAX), name="wells_record_oil_range"
            ),
            models.CheckConstraint(
                condition=Q(water__gte=0, water__lte=VOLUME_MAX), name="wells_record_water_range"
            ),
            models.CheckConstraint(
                condition=Q(gas__isnull=True) | Q(gas__gte=0, gas__lte=VOLUME_MAX),
                name="wells_record_gas_range",
            ),
            models.CheckConstraint(
                condition=(Q(hours_on__isnull=False) & Q(days_on__isnull=True))
                | (Q(hours_on__isnull=True) & Q(days_on__isnull=False)),
                name="wells_record_one_time_on",
            ),
            models.CheckConstraint(
                condition=Q(hours_on__isnull=True) | Q(hours_on__gte=0, hours_on__lte=HOURS_ON_MAX),
                name="wells_record_hours_on_range",
            ),
            models.CheckConstraint(
                condition=Q(days_on__isnull=True)
                | (Q(days_on__gte=0, days_on__lte=DAYS_ON_MAX) & Q(date__day=1)),
                name="wells_record_monthly_on_first",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.well_id} {self.date}"


class ImportMode(models.TextChoices):
    APPEND = "append", "Append (overlapping dates refused)"
    REPLACE = "replace", "Replace the file's date range"


class HistoryImport(Job):
    """One CSV file of production history being imported: a job (`apps.jobs`).

    `well` is set for a one-well import; a multi-well file (a `well` column) names its wells
    and creates the missing ones in `field`. The file itself waits in `HistoryImportChunk`
    rows until the job ends. `errors` keeps the first ERRORS_KEPT problems found in the file
    (line, column, rule, value, message) and `error_count` all of them.
    """

    well = models.ForeignKey(Well, null=True, blank=True, on_delete=models.CASCADE, related_name="imports")
    field = models.ForeignKey(
        OilField, null=True, blank=True, on_delete=models.CASCADE, related_name="imports"
    )
    mode = models.CharField(max_length=7, choices=ImportMode.choices, default=ImportMode.APPEND)
    columns = models.JSONField(
        default=dict, blank=True, help_text="Column mapping: our name -> the file's header."
    )
    date_format = models.CharField(max_length=100, blank=True, default="")
    file_name = models.CharField(max_length=255, blank=True, default="")
    file_size = models.BigIntegerField(default=0)
    records = models.BigIntegerField(default=0, help_text="Records written (or replaced) by the import.")
    wells_created = models.IntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    error_count = models.IntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            unfinished_index(name="wells_import_unfinished_idx"),
            quota_index(name="wells_import_quota_idx"),
            retention_index(name="wells_import_retention_idx"),
            models.Index(fields=["well", "created_at", "id"], name="wells_import_well_idx"),
        ]
        constraints = [
            status_check(name="wells_import_status_valid"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="wells_import_progress_percent"),
            models.CheckConstraint(condition=Q(mode__in=ImportMode.values), name="wells_import_mode_valid"),
            models.CheckConstraint(
                condition=Q(well__isnull=False) | Q(field__isnull=False), name="wells_import_has_target"
            ),
            # One import in flight per well: a second one is refused (409) instead of interleaving.
            models.UniqueConstraint(
                fields=["well"], condition=Q(status__in=list(IN_FLIGHT)), name="wells_import_one_in_flight"
            ),
        ]

    def __str__(self) -> str:
        return f"Import {self.pk}"


class HistoryImportChunk(models.Model):  # noqa: DJ008 - never shown: a piece of an import's file
    """A piece of an uploaded file, stored until its import ends: web and worker processes
    share nothing but the database, and a file is read back as it was written, in order."""

    history_import = models.ForeignKey(
        HistoryImport, on_delete=models.CASCADE, related_name="chunks", db_index=False
    )
    seq = models.IntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["history_import", "seq"], name="wells_chunk_unique_seq")
        ]
