"""Wells in the admin: a wells list with their history's figures and an upload form for
multi-well files, a well's page with its history as interactive charts (drawn in the browser
from `GET /api/wells/{id}/history`, like a run's page), an upload form and its imports with
their errors; and the imports themselves, followed live, with Cancel, Pin and Unpin (apps.jobs.admin).

Uploads go through the same service as the API (`history_import_create`), after the form's
checks; the import runs in a worker and its page shows how it ended. Forecasts extend this
admin from their own app (apps.calculations.admin_wells), which depends on wells, never the
other way round.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.forms import Script
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from apps.accounts.permissions import user_may
from apps.core.errors import DomainError
from apps.jobs.admin import AUDIT_FIELDS, JobAdminMixin
from apps.jobs.audit import Actor, actor_of
from apps.live.admin import LiveChangeListMixin, progress_bar, status_badge
from apps.wells.models import HistoryImport, ImportMode, OilField, Well
from apps.wells.selectors import well_imports
from apps.wells.services import HISTORY_IMPORT_JOB, history_import_create, history_imports_cancel

HIGHCHARTS_JS = [
    "calcboard/vendor/highcharts/highcharts.js",
    "calcboard/vendor/highcharts/modules/accessibility.js",
]


class UploadForm(forms.Form):
    """A history file and how to read it (the API's parameters)."""

    file = forms.FileField(
        help_text="CSV with a header: date, oil, water, gas (optional), hours_on or days_on."
    )
    mode = forms.ChoiceField(choices=ImportMode.choices, initial=ImportMode.APPEND)
    columns = forms.CharField(
        required=False, max_length=2000, help_text="Map other column names: date:DATEPRD,oil:BORE_OIL_VOL,..."
    )
    date_format = forms.CharField(
        required=False, max_length=100, help_text="For dates like 07-Apr-14: %d-%b-%y"
    )


class FieldUploadForm(UploadForm):
    """A multi-well file (a `well` column) and the field its wells belong to."""

    field = forms.CharField(
        max_length=200, help_text="The field of the file's wells; missing wells are created."
    )
    field_order = ["field", "file", "mode", "columns", "date_format"]


def number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _upload(request: HttpRequest, form: UploadForm, *, well_id: int | None) -> HistoryImport | None:
    """Queue the form's file through the service; its refusals (a quota's too) become form errors."""
    upload = form.cleaned_data["file"]
    try:
        return history_import_create(
            stream=upload.chunks(),
            well_id=well_id,
            field=form.cleaned_data.get("field"),
            mode=form.cleaned_data["mode"],
            columns=form.cleaned_data["columns"],
            date_format=form.cleaned_data["date_format"],
            file_name=upload.name or "",
            actor=actor_of(request),
        )
    except DomainError as exc:
        for error in exc.errors:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        return None


@admin.register(Well)
class WellAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "field",
        "frequency",
        "first_date",
        "last_date",
        "record_count",
        "cumulative_oil_m3",
        "cumulative_water_m3",
        "oil_rate",
        "water_cut",
    ]
    list_filter = ["field", "frequency"]
    list_select_related = ["field"]
    search_fields = ["name"]
    ordering = ["name", "id"]
    list_per_page = 50
    fields = ["field", "name", "frequency", "notes"]
    change_list_template = "wells/admin/well_change_list.html"
    change_form_template = "wells/admin/well_change_form.html"
    show_full_result_count = False  # the count comes from the fields' counters, not COUNT(*)

    @admin.display(description="Cum. oil, m³", ordering="cumulative_oil")
    def cumulative_oil_m3(self, obj: Well) -> str:
        return number(obj.cumulative_oil, 0)

    @admin.display(description="Cum. water, m³", ordering="cumulative_water")
    def cumulative_water_m3(self, obj: Well) -> str:
        return number(obj.cumulative_water, 0)

    @admin.display(description="Oil rate, m³/d (last month)", ordering="last_month_oil_rate")
    def oil_rate(self, obj: Well) -> str:
        return number(obj.last_month_oil_rate)

    @admin.display(description="Water cut, % (last month)", ordering="last_month_water_cut")
    def water_cut(self, obj: Well) -> str:
        return "-" if obj.last_month_water_cut is None else f"{obj.last_month_water_cut * 100:.1f}"

    def get_readonly_fields(
        self, request: HttpRequest, obj: Well | None = None
    ) -> list[str] | tuple[str, ...]:
        # Once a well has history its frequency is the history's.
        return ["frequency"] if obj is not None and obj.record_count else []

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.field_upload_view), name="wells_well_upload"),
            path("<int:well_id>/upload/", view(self.well_upload_view), name="wells_well_history_upload"),
            *super().get_urls(),
        ]

    def _may_import(self, request: HttpRequest, *, creates: bool = False) -> bool:
        allowed = user_may(user=request.user, model=Well, action="change")
        return allowed and (not creates or user_may(user=request.user, model=Well, action="add"))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        if self._may_import(request, creates=True):
            extra_context["upload_form"] = FieldUploadForm()
            extra_context["upload_url"] = reverse("admin:wells_well_upload")
        return super().changelist_view(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        well = self.get_object(request, object_id)
        if well is not None:
            extra_context.update(self.history_context(request, well))
        return super().change_view(request, object_id, form_url, extra_context)

    def history_context(self, request: HttpRequest, well: Well, form: UploadForm | None = None) -> dict:
        imports = list(well_imports(well_id=well.pk))
        return {
            "history_media": forms.Media(
                js=[*HIGHCHARTS_JS, Script("calcboard/well_charts.js", type="module")],  # type: ignore[list-item]  # django-stubs takes paths only; Django 5.2 takes Script too
                css={"all": ["calcboard/calculation_charts.css"]},
            ),
            "history_config": {
                "id": well.pk,
                "name": well.name,
                "frequency": well.frequency,
                "records": well.record_count,
                "historyUrl": reverse("api-1.0.0:well_history", kwargs={"id": well.pk}),
            },
            "upload_form": (form or UploadForm()) if self._may_import(request) else None,
            "upload_url": reverse("admin:wells_well_history_upload", kwargs={"well_id": well.pk}),
            "imports": [
                {
                    "obj": item,
                    "url": reverse("admin:wells_historyimport_change", args=[item.pk]),
                    "status": status_badge(item.status, item.get_status_display()),
                    "progress": progress_bar(item.progress),
                }
                for item in imports
            ],
        }

    def well_upload_view(self, request: HttpRequest, well_id: int) -> HttpResponseRedirect:
        well = get_object_or_404(Well, pk=well_id)
        if request.method != "POST" or not self._may_import(request):
            raise PermissionDenied
        form = UploadForm(request.POST, request.FILES)
        created = _upload(request, form, well_id=well.pk) if form.is_valid() else None
        if created is None:
            for message in [
                *form.non_field_errors(),
                *(f"{name}: {e}" for name, errs in form.errors.items() if name != "__all__" for e in errs),
            ]:
                self.message_user(request, f"Upload refused: {message}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:wells_well_change", args=[well.pk]))
        self.message_user(
            request,
            f"Import {created.pk} queued: {created.file_name or 'the file'} ({created.file_size:,} bytes).",
        )
        return HttpResponseRedirect(reverse("admin:wells_historyimport_change", args=[created.pk]))

    def field_upload_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if request.method != "POST" or not self._may_import(request, creates=True):
            raise PermissionDenied
        form = FieldUploadForm(request.POST, request.FILES)
        created = _upload(request, form, well_id=None) if form.is_valid() else None
        if created is None:
            for name, errors in form.errors.items():
                for error in errors:
                    self.message_user(
                        request,
                        f"Upload refused: {'' if name == '__all__' else name + ': '}{error}",
                        messages.ERROR,
                    )
            return HttpResponseRedirect(reverse("admin:wells_well_changelist"))
        self.message_user(request, f"Import {created.pk} queued into field {form.cleaned_data['field']}.")
        return HttpResponseRedirect(reverse("admin:wells_historyimport_change", args=[created.pk]))


@admin.register(OilField)
class OilFieldAdmin(admin.ModelAdmin):
    list_display = ["name", "well_count"]
    search_fields = ["name"]
    readonly_fields = ["well_count"]


@admin.display(description="Progress", ordering="progress")
def progress(obj: HistoryImport) -> str:
    return progress_bar(obj.progress)


@admin.display(description="Status", ordering="status")
def status(obj: HistoryImport) -> str:
    return status_badge(obj.status, obj.get_status_display())


@admin.register(HistoryImport)
class HistoryImportAdmin(JobAdminMixin, LiveChangeListMixin, admin.ModelAdmin):
    """Imports are read-only records; the list's actions (Cancel, Pin, Unpin) are the kinds'
    shared ones (apps.jobs.admin), written to the admin log with who did it."""

    live_kind = "historyimport"
    cancel_noun = "import"
    job_kind = HISTORY_IMPORT_JOB
    list_display = [
        "id",
        "well",
        "field",
        "file_name",
        "mode",
        status,
        progress,
        "records",
        "error_count",
        "created_at",
        "creator",
        "pinned",
    ]
    list_filter = ["status", "mode", "pinned", ("created_by", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["well", "field", "created_by"]
    search_fields = ["file_name", "well__name"]
    actions = ["cancel", "pin", "unpin"]
    readonly_fields = [
        "well",
        "field",
        "mode",
        "columns",
        "date_format",
        "file_name",
        "file_size",
        "status",
        "progress",
        "records",
        "wells_created",
        "error",
        "error_count",
        "problems",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        *AUDIT_FIELDS,
    ]
    fields = tuple(readonly_fields)

    def jobs_cancel(self, ids: list[int], actor: Actor) -> list[HistoryImport]:
        return history_imports_cancel(ids=ids, actor=actor)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # imports come from an upload (a well's page, the wells list, the API)

    @admin.display(description="Problems (first 100)")
    def problems(self, obj: HistoryImport) -> str:
        if not obj.errors:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            (
                (
                    e.get("line") or "",
                    e.get("column") or "",
                    e.get("rule"),
                    e.get("value") or "",
                    e.get("message"),
                )
                for e in obj.errors
            ),
        )
        return format_html(
            '<table class="cb-import-errors"><thead><tr><th>Line</th><th>Column</th><th>Rule</th><th>Value</th>'
            "<th>Message</th></tr></thead><tbody>{}</tbody></table><p>{} problem(s) in all.</p>",
            rows,
            obj.error_count,
        )
