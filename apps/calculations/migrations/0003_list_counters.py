"""Lists that stay fast: exact per-status counts kept by triggers, an index per status filter,
trigrams for search."""

from django.db import migrations, models

from apps.core.counters import status_count_triggers_sql


class Migration(migrations.Migration):
    dependencies = [
        ("calculations", "0002_calculation_chart_images"),
        ("core", "0002_list_counters"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="calculation",
            index=models.Index(fields=["status", "launched_at", "id"], name="calc_status_launched_idx"),
        ),
        # ?search= is `UPPER(name) LIKE UPPER('%term%')` (icontains): trigrams find the rows.
        migrations.RunSQL(
            "CREATE INDEX calc_name_trgm_idx ON calculations_calculation USING gin (UPPER(name) gin_trgm_ops)",
            "DROP INDEX IF EXISTS calc_name_trgm_idx",
        ),
        migrations.RunSQL(*status_count_triggers_sql("calculations_calculation")),
    ]
