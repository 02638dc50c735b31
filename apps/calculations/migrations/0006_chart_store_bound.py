import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """The stored images become a bounded cache: each row knows its size in bytes and when it
    was last served (the eviction order). Existing rows: their image's length, and their
    drawing time as the last use."""

    dependencies = [
        ("calculations", "0005_lag_validators"),
    ]

    operations = [
        migrations.AddField(
            model_name="calculationchart",
            name="size",
            field=models.PositiveIntegerField(
                default=0, help_text="Bytes of the image (what the store's bound counts)."
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="calculationchart",
            name="used_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                help_text="When the image was last served (to the hour): eviction order.",
            ),
        ),
        migrations.RunSQL(
            "UPDATE calculations_calculationchart SET size = length(image), used_at = drawn_at",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="calculationchart",
            index=models.Index(fields=["used_at", "id"], name="calc_chart_used_at"),
        ),
    ]
