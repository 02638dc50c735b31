"""The production views of the calculations admin: a run's charts and summary on its page,
and the Compare action that overlays 2 to 8 finished runs.

Both pages draw in the browser with Highcharts, served from this site's static files (copied
from the pinned `highcharts` npm package by `scripts/install-highcharts`), never from a CDN.
The data comes from the API the page's session may read: `GET /api/calculations/{id}
?fields=name,summary`. While a run is queued or running its page shows the live progress
(`frontend/calcboard/calculation_charts.js` subscribes through `live.js`) and draws the
charts when the `finished` event arrives.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import Script
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from apps.calculations.models import Calculation
from apps.calculations.selectors import COMPARE_MAX, COMPARE_MIN, calculations_compare
from apps.core.admin import ModelAdminMixinBase
from apps.core.errors import DomainError
from apps.core.responses import api_url
from apps.live.admin import WS_PATH, progress_bar, status_badge
from apps.live.realtime import stream_group

HIGHCHARTS_JS = [
    "calcboard/vendor/highcharts/highcharts.js",
    "calcboard/vendor/highcharts/modules/accessibility.js",
]
CHARTS_CSS = "calcboard/calculation_charts.css"
# The forecast's P10-P90 band is an arearange series (highcharts-more).
HIGHCHARTS_MORE_JS = "calcboard/vendor/highcharts/highcharts-more.js"
COMPARE_DESCRIPTION = f"Compare the selected runs ({COMPARE_MIN} to {COMPARE_MAX} finished)"


def _detail_url(calculation_id: int) -> str:
    return reverse("api-1.0.0:calculation_detail", kwargs={"id": calculation_id}) + "?fields=name,summary"


class CalculationChartsAdminMixin(ModelAdminMixinBase):
    """Adds the production charts to the change page and the Compare action to the list."""

    change_form_template = "calculations/admin/calculation_change_form.html"
    compare_template = "calculations/admin/calculation_compare.html"

    # --- a run's page ---------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        calculation = self.get_object(request, object_id)
        if calculation is not None:
            extra_context.update(self.production_context(calculation))
        return super().change_view(request, object_id, form_url, extra_context)

    def production_context(self, calculation: Calculation) -> dict:
        context = self._production_context(calculation)
        if calculation.well_id is not None:
            # A well run: its page adds the forecast charts (well_forecast_charts.js imports
            # calculation_charts.js, which draws the rest) and reads the well's history.
            config = context["production_config"]
            config["detailUrl"] += ",forecast"
            config["historyUrl"] = api_url("well_history", id=calculation.well_id) + "?resample=month"
            context["production_media"] = forms.Media(
                js=[
                    *HIGHCHARTS_JS,
                    HIGHCHARTS_MORE_JS,
                    Script("calcboard/well_forecast_charts.js", type="module"),  # type: ignore[list-item]  # django-stubs takes paths only; Django 5.2 takes Script too
                ],
                css={"all": [CHARTS_CSS]},
            )
            context["production_well"] = True
        return context

    def _production_context(self, calculation: Calculation) -> dict:
        return {
            "production_media": forms.Media(
                js=[*HIGHCHARTS_JS, Script("calcboard/calculation_charts.js", type="module")],  # type: ignore[list-item]  # django-stubs takes paths only; Django 5.2 takes Script too
                css={"all": [CHARTS_CSS]},
            ),
            "production_status": status_badge(calculation.status, calculation.get_status_display()),
            "production_progress": progress_bar(calculation.progress),
            "production_config": {
                "id": calculation.pk,
                "status": calculation.status,
                "error": calculation.error,
                "detailUrl": _detail_url(calculation.pk),
                "stream": stream_group("calculation"),
                "path": WS_PATH,
                "lag": calculation.lag,
                "dateFin": calculation.date_fin.isoformat(),
            },
        }

    # --- Compare --------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict[str, tuple[Callable[..., Any], str, str] | None]:
        # Added here rather than in `actions`, so a ModelAdmin's own list of actions keeps it.
        # Whoever sees the list (the view permission) may compare; the page checks it again.
        actions = super().get_actions(request)
        actions["compare_runs"] = (
            CalculationChartsAdminMixin.compare_runs,
            "compare_runs",
            COMPARE_DESCRIPTION,
        )  # type: ignore[assignment]  # django-stubs: an action answers str; Django takes a response
        return actions

    @admin.action(description=COMPARE_DESCRIPTION)
    def compare_runs(
        self, request: HttpRequest, queryset: QuerySet[Calculation]
    ) -> HttpResponseRedirect | None:
        ids = list(queryset.values_list("pk", flat=True))
        try:
            calculations_compare(calculation_ids=ids)
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return None
        url = reverse(f"{self.admin_site.name}:calculations_calculation_compare")
        return HttpResponseRedirect(f"{url}?ids={','.join(map(str, sorted(ids)))}")

    def get_urls(self) -> list[URLPattern]:
        compare = path(
            "compare/",
            self.admin_site.admin_view(self.compare_view),
            name="calculations_calculation_compare",
        )
        return [compare, *super().get_urls()]

    def compare_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = reverse(f"{self.admin_site.name}:calculations_calculation_changelist")
        raw = [item.strip() for item in request.GET.get("ids", "").split(",") if item.strip()]
        try:
            if not all(item.isdigit() for item in raw):
                raise DomainError("ids must be a comma-separated list of run ids.", field="ids", rule="type")
            runs = calculations_compare(calculation_ids=[int(item) for item in raw])
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(changelist)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Compare {len(runs)} runs",
            "opts": self.model._meta,
            "runs": runs,
            "well_runs": [run for run in runs if run.well_id is not None],
            "changelist_url": changelist,
            "production_media": forms.Media(
                js=[*HIGHCHARTS_JS, Script("calcboard/calculation_compare.js", type="module")],  # type: ignore[list-item]  # django-stubs takes paths only; Django 5.2 takes Script too
                css={"all": [CHARTS_CSS]},
            ),
            "compare_config": {
                "runs": [{"id": run.pk, "name": run.name, "detailUrl": _detail_url(run.pk)} for run in runs]
            },
        }
        return TemplateResponse(request, self.compare_template, context)
