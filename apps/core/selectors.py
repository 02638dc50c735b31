"""Reads shared by the apps."""

from django.db.models import Model, Sum

from apps.core.models import StatusCount


def status_counts(*, model: type[Model]) -> dict[str, int]:
    """Rows of `model`'s table per status, exact, from the trigger-kept counters: a few dozen
    rows summed instead of a `COUNT(*)` over the whole table. Statuses with no rows are absent."""
    rows = (
        StatusCount.objects.filter(table_name=model._meta.db_table)
        .values_list("status")
        .annotate(total=Sum("n"))
        .order_by()
    )
    return {status: total for status, total in rows if total}
