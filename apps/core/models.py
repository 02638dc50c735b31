"""Rows the database keeps for the whole product (not one app's domain)."""

from django.db import models


class StatusCount(models.Model):
    """Per-status row counts of the job tables, kept by PostgreSQL triggers.

    A list answers "how many runs are queued?" from here instead of `COUNT(*)`, which walks the
    whole table (docs/benchmarks.md, Lists of a million rows). Triggers on each job table (migration
    `0002_list_counters` and the apps' `..._list_counters`) append signed deltas per status
    (per statement for inserts and deletes, per row whose status changed for updates), so every
    write path keeps the counts exact: the ORM, bulk `update()`, admin actions, raw SQL, `COPY`,
    `TRUNCATE`. Deltas are only ever inserted, so
    concurrent writers never wait on a shared counter row; the triggers fold a table's deltas into
    one row per status once there are more than a few dozen (`core_status_count_compact`). Read through
    `apps.core.selectors.status_counts`.
    """

    table_name = models.CharField(max_length=63)
    status = models.CharField(max_length=20)
    n = models.BigIntegerField(help_text="Rows entering (+) or leaving (-) this status.")

    class Meta:
        indexes = [models.Index(fields=["table_name"], name="core_statuscount_table_idx")]

    def __str__(self) -> str:
        return f"{self.table_name}.{self.status} {self.n:+d}"
