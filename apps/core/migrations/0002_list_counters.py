"""The status counter table and its trigger functions (SQL in `apps.core.counters`), and
pg_trgm for the lists' search indexes."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

from apps.core.counters import FUNCTIONS_SQL, REVERSE_SQL


class Migration(migrations.Migration):
    initial = True

    dependencies = [("core", "0001_dataservice_role")]

    operations = [
        # pg_trgm: the lists' ?search= indexes (trusted extension: the database owner may create it).
        TrigramExtension(),
        migrations.CreateModel(
            name="StatusCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("table_name", models.CharField(max_length=63)),
                ("status", models.CharField(max_length=20)),
                ("n", models.BigIntegerField(help_text="Rows entering (+) or leaving (-) this status.")),
            ],
            options={
                "indexes": [models.Index(fields=["table_name"], name="core_statuscount_table_idx")],
            },
        ),
        migrations.RunSQL(FUNCTIONS_SQL, REVERSE_SQL),
    ]
