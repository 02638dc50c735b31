"""Calculations in the admin: a list of runs, an Add form, Cancel and Run again, and a
read-only page per run.

A run is added with the API's own validation (`calculation_validate`, in the form) and queued
after the save commits (`calculation_store`); a stored run is a record and is never edited. The list's
cells carry stable classes (`td.field-status`, `td.field-progress`, `td.field-duration`)
that the live widget updates in place by row pk; a run added anywhere appears live.
"""

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.accounts.permissions import operation_action
from apps.calculations import admin_wells  # noqa: F401  (the wells' admin with forecasts)
from apps.calculations.admin_views import CalculationChartsAdminMixin
from apps.calculations.models import Calculation
from apps.calculations.selectors import calculation_rows
from apps.calculations.services import (
    CALCULATION_JOB,
    calculation_store,
    calculation_validate,
    calculations_cancel,
    calculations_rerun,
)
from apps.core.errors import DomainError
from apps.jobs.admin import AUDIT_FIELDS, JobAdminMixin
from apps.jobs.audit import Actor, actor_of
from apps.jobs.quotas import QuotaExceededError
from apps.live.admin import LiveChangeListMixin

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec  # the stubs name it, Django does not

# Rows rendered on a run's page; the full table is one click away as CSV.
ROWS_SHOWN = 500


# A module-level callable rather than a ModelAdmin method: a list_display *string* naming a
# model field always renders the raw field, and the column must stay `field-progress`.
@admin.display(description="Progress", ordering="progress")
def progress(obj: Calculation) -> str:
    return format_html(
        '<progress value="{}" max="100"></progress> <span>{}%</span>', obj.progress, obj.progress
    )


class CalculationAddForm(forms.ModelForm):
    """Dates, lag and an optional name, refused with the API's messages (`calculation_validate`)."""

    class Meta:
        model = Calculation
        fields = ["name", "date_start", "date_fin", "lag"]
        widgets = {
            "date_start": forms.DateInput(attrs={"type": "date"}),
            "date_fin": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        self.fields["name"].help_text = "Optional; defaults to a summary of the inputs."
        self.fields["lag"].initial = 1
        # The model's range (LAG_MIN..LAG_MAX) with its messages: `_post_clean` below skips the
        # model's own validation, where Django would run them.
        self.fields["lag"].validators.extend(Calculation._meta.get_field("lag").validators)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if all(name in cleaned for name in ("date_start", "date_fin", "lag")):
            try:
                cleaned.update(
                    calculation_validate(
                        date_start=cleaned["date_start"],
                        date_fin=cleaned["date_fin"],
                        lag=cleaned["lag"],
                        name=cleaned.get("name"),
                    )
                )
            except DomainError as exc:
                for error in exc.errors:  # every rule of calculation_validate names one of these fields
                    self.add_error(error.field, error.message)
        return cleaned

    def _post_clean(self) -> None:
        # The row is created by `calculation_store`, not by this form: its checks ran in `clean`.
        pass


@admin.register(Calculation)
class CalculationAdmin(CalculationChartsAdminMixin, JobAdminMixin, LiveChangeListMixin, admin.ModelAdmin):
    add_form = CalculationAddForm
    cancel_noun = "calculation"
    job_kind = CALCULATION_JOB

    # The form's `clean` holds calculation_validate's cleaned inputs.
    def job_store(self, cleaned: dict, actor: Actor) -> Calculation:
        return calculation_store(
            date_start=cleaned["date_start"],
            date_fin=cleaned["date_fin"],
            lag=cleaned["lag"],
            name=cleaned["name"],
            actor=actor,
        )

    def jobs_cancel(self, ids: list[int], actor: Actor) -> list[Calculation]:
        return calculations_cancel(ids=ids, actor=actor)

    actions = ["cancel", "run_again", "pin", "unpin"]
    list_display = ["name", "status", progress, "launched_at", "duration", "creator", "pinned"]
    list_display_links = ["name"]
    list_filter = ["status", "launched_at", "pinned", ("created_by", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["created_by"]
    search_fields = ["name", "=id"]
    list_per_page = 50
    ordering = ["-launched_at", "-id"]
    fieldsets = [
        ("Inputs", {"fields": ["name", "date_start", "date_fin", "lag"]}),
        (
            "Run",
            {
                "fields": [
                    "status",
                    progress,  # type: ignore[list-item]  # a callable: the bar, beside the model's own `progress`
                    "launched_at",
                    "started_at",
                    "finished_at",
                    "duration",
                    "attempts",
                    "error",
                ]
            },
        ),
        ("Audit", {"fields": tuple(AUDIT_FIELDS)}),
        ("Delivery", {"fields": ["dispatched_at", "updated_at"], "classes": ["collapse"]}),
        ("Result", {"fields": ["result_table"]}),
    ]
    readonly_fields = [
        "name",
        "date_start",
        "date_fin",
        "lag",
        "status",
        progress,  # type: ignore[list-item]  # a callable: the bar, beside the model's own `progress`
        "launched_at",
        "started_at",
        "finished_at",
        "duration",
        "attempts",
        "error",
        "dispatched_at",
        "updated_at",
        "result_table",
        *AUDIT_FIELDS,
    ]

    add_fields = ["name", "date_start", "date_fin", "lag"]

    def get_fieldsets(self, request: HttpRequest, obj: Calculation | None = None) -> "_FieldsetSpec":
        return [(None, {"fields": tuple(self.add_fields)})] if obj is None else self.fieldsets

    def get_readonly_fields(
        self, request: HttpRequest, obj: Calculation | None = None
    ) -> list[str] | tuple[str, ...]:
        return [] if obj is None else self.readonly_fields

    @admin.action(description="Run again", permissions=[operation_action("rerun")])
    def run_again(self, request: HttpRequest, queryset: QuerySet[Calculation]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        try:
            created = calculations_rerun(ids=ids, actor=actor_of(request))
        except QuotaExceededError as exc:
            self.refuse(request, exc)
            return
        self.log_jobs(request, ids, "Run again.")
        self.message_user(request, f"{len(created)} calculation(s) queued again with the same inputs.")

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
