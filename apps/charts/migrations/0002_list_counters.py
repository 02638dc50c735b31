"""Lists that stay fast: exact per-status counts kept by triggers, an index per list ordering
(and per ordering under a status filter)."""

import datetime
import django.db.models.functions.comparison
from django.db import migrations, models

from apps.core.counters import status_count_triggers_sql


class Migration(migrations.Migration):

    dependencies = [
        ('charts', '0001_initial'),
        ("core", "0002_list_counters"),
    ]

    operations = [
        migrations.AddIndex(
            model_name='function',
            index=models.Index(fields=['created_at', 'id'], name='charts_fn_created_idx'),
        ),
        migrations.AddIndex(
            model_name='function',
            index=models.Index(fields=['status', 'created_at', 'id'], name='charts_fn_status_created_idx'),
        ),
        migrations.AddIndex(
            model_name='function',
            index=models.Index(fields=['expression', 'id'], name='charts_fn_expression_idx'),
        ),
        migrations.AddIndex(
            model_name='function',
            index=models.Index(fields=['status', 'expression', 'id'], name='charts_fn_status_expr_idx'),
        ),
        migrations.AddIndex(
            model_name='function',
            index=models.Index(django.db.models.functions.comparison.Coalesce('processed_at', models.Value(datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), models.F('id'), name='charts_fn_processed_asc_idx'),
        ),
        migrations.AddIndex(
            model_name='function',
            index=models.Index(models.F('status'), django.db.models.functions.comparison.Coalesce('processed_at', models.Value(datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), models.F('id'), name='charts_fn_status_proc_asc_idx'),
        ),
        migrations.AddIndex(
            model_name='function',
            index=models.Index(django.db.models.functions.comparison.Coalesce('processed_at', models.Value(datetime.datetime(1, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))), models.F('id'), name='charts_fn_processed_desc_idx'),
        ),
        migrations.AddIndex(
            model_name='function',
            index=models.Index(models.F('status'), django.db.models.functions.comparison.Coalesce('processed_at', models.Value(datetime.datetime(1, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))), models.F('id'), name='charts_fn_status_proc_desc_idx'),
        ),
        # ?search= is `UPPER(expression) LIKE UPPER('%term%')` (icontains): trigrams find the rows.
        migrations.RunSQL(
            "CREATE INDEX charts_fn_expression_trgm_idx ON charts_function USING gin (UPPER(expression) gin_trgm_ops)",
            "DROP INDEX IF EXISTS charts_fn_expression_trgm_idx",
        ),
        migrations.RunSQL(*status_count_triggers_sql('charts_function')),
    ]
