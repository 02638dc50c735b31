"""Calculations in the admin: a list of runs and a read-only page per run.

Runs are created through the API (or `calculation_create`), never edited: the admin shows
inputs, state and rows. The list's cells carry stable classes (`td.field-status`,
`td.field-progress`, `td.field-duration`) that the live widget updates in place by row pk.
"""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.calculations.admin_views import CalculationChartsAdminMixin
from apps.calculations.models import Calculation
from apps.calculations.selectors import calculation_rows
from apps.live.admin import LiveChangeListMixin

# Rows rendered on a run's page; the full table is one click away as CSV.
ROWS_SHOWN = 500


# A module-level callable rather than a ModelAdmin method: a list_display *string* naming a
# model field always renders the raw field, and the column must stay `field-progress`.
@admin.display(description="Progress", ordering="progress")
def progress(obj: Calculation) -> str:
    return format_html('<progress value="{}" max="100"></progress> <span>{}%</span>', obj.progress, obj.progress)


@admin.register(Calculation)
class CalculationAdmin(CalculationChartsAdminMixin, LiveChangeListMixin, admin.ModelAdmin):
    live_kind = "calculation"  # the live widget follows this stream (apps.live.admin)
    list_display = ["name", "status", progress, "launched_at", "duration"]
    list_display_links = ["name"]
    list_filter = ["status", "launched_at"]
    search_fields = ["name", "=id"]
    list_per_page = 50
    ordering = ["-launched_at", "-id"]
    fieldsets = [
        ("Inputs", {"fields": ["name", "date_start", "date_fin", "lag"]}),
        (
            "Run",
            {"fields": ["status", progress, "launched_at", "started_at", "finished_at", "duration", "attempts", "error"]},
        ),
        ("Delivery", {"fields": ["dispatched_at", "updated_at"], "classes": ["collapse"]}),
        ("Result", {"fields": ["result_table"]}),
    ]
    readonly_fields = [
        "name", "date_start", "date_fin", "lag", "status", progress, "launched_at", "started_at",
        "finished_at", "duration", "attempts", "error", "dispatched_at", "updated_at", "result_table",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are created through the API, which validates and queues them

    def has_change_permission(self, request: HttpRequest, obj: Calculation | None = None) -> bool:
        return False  # a run's inputs and results are a record: view only

    @admin.display(description="Duration", ordering="finished_at")
    def duration(self, obj: Calculation) -> str:
        return "-" if obj.duration is None else f"{obj.duration:.3f} s"

    @admin.display(description="Rows")
    def result_table(self, obj: Calculation) -> str:
        total = obj.rows.count()
        if total == 0:
            return "No rows yet: the run has not finished." if obj.status != "finished" else "No rows."
        rows = calculation_rows(calculation_id=obj.pk)[:ROWS_SHOWN]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((row.date.isoformat(), row.liquid, row.oil, row.water, row.wct) for row in rows),
        )
        csv_url = reverse("api-1.0.0:calculation_result_csv", kwargs={"id": obj.pk})
        return format_html(
            '<p>Showing {} of {} rows. <a href="{}">Download all rows as CSV</a>.</p>'
            '<table class="calculation-rows"><thead><tr><th>date</th><th>liquid</th><th>oil</th>'
            "<th>water</th><th>wct</th></tr></thead><tbody>{}</tbody></table>",
            min(total, ROWS_SHOWN),
            total,
            csv_url,
            body,
        )
