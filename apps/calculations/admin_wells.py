"""Forecasts on the wells' admin pages: the wells list's action "Forecast the selected wells"
(a form for the run's dates and model options, then one well run per well through the same
service as `POST /api/wells/forecast`), and a well's page listing its forecasts with their EUR.

Calculations depend on wells, never the other way round, so this app extends the wells' admin
(`WellForecastAdmin` replaces `WellAdmin` in the admin site) instead of wells importing
calculations.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

from apps.accounts.permissions import user_may
from apps.calculations.forecast.engine import METHODS
from apps.calculations.models import Calculation
from apps.calculations.selectors import well_forecasts
from apps.calculations.services import calculations_forecast_wells
from apps.core.errors import DomainError
from apps.jobs.audit import actor_of
from apps.live.admin import status_badge
from apps.wells.admin import UploadForm, WellAdmin, number
from apps.wells.models import Well


class ForecastForm(forms.Form):
    """A well run's dates and main model options (`POST /api/wells/forecast`); empty options take
    their defaults (docs/reference/forecasts.md)."""

    date_start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    date_fin = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    lag = forms.IntegerField(initial=30, min_value=1, help_text="Days between rows.")
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS], initial="auto")
    fit_from = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Default: the peak after the last rate reset.",
    )
    fit_to = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Default: the end of the history.",
    )
    economic_limit = forms.FloatField(required=False, help_text="Oil, m³/day; default 1.")
    b_max = forms.FloatField(required=False, help_text="Default 1.5.")
    terminal_decline = forms.FloatField(
        required=False, help_text="Fraction a year, secant effective; default 0.06."
    )
    recency_half_life_days = forms.FloatField(required=False, help_text="Default 365; 0: no weighting.")
    uptime = forms.FloatField(
        required=False, help_text="Fraction of days on stream; default: last 365 days'."
    )

    MODEL_FIELDS = (
        "method",
        "fit_from",
        "fit_to",
        "economic_limit",
        "b_max",
        "terminal_decline",
        "recency_half_life_days",
        "uptime",
    )

    def model(self) -> dict[str, Any]:
        """The `model` object of the API from the options filled in."""
        model: dict[str, Any] = {}
        for name in self.MODEL_FIELDS:
            value = self.cleaned_data.get(name)
            if value is not None and value != "":
                model[name] = value.isoformat() if hasattr(value, "isoformat") else value
        return model


class WellForecastAdmin(WellAdmin):
    change_form_template = "calculations/admin/well_change_form.html"
    actions = ["forecast"]

    def has_forecast_permission(self, request: HttpRequest) -> bool:
        return user_may(user=request.user, model=Calculation, action="add")

    @admin.action(description="Forecast the selected wells", permissions=["forecast"])
    def forecast(self, request: HttpRequest, queryset: QuerySet[Well]) -> TemplateResponse | None:
        """Ask for the dates and options, then queue one well run per well (all or nothing)."""
        wells = list(queryset.order_by("name", "id"))
        form = ForecastForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = calculations_forecast_wells(
                    ids=[well.pk for well in wells],
                    date_start=data["date_start"],
                    date_fin=data["date_fin"],
                    lag=data["lag"],
                    model=form.model(),
                    actor=actor_of(request),
                )
            except DomainError as exc:
                self.message_user(request, f"Forecast refused: {exc.message}", messages.ERROR)
                return None
            user = request.user
            assert user.is_authenticated  # the admin's views require a login
            runs = {run.well_id: run.pk for run in created}
            for well in wells:
                LogEntry.objects.log_actions(
                    user_id=user.pk,
                    queryset=[well],
                    action_flag=CHANGE,
                    change_message=f"Forecast queued: run {runs[well.pk]}.",
                )
            self.message_user(request, f"{len(created)} forecast run(s) queued, one per well.")
            return None
        return TemplateResponse(
            request,
            "calculations/admin/well_forecast.html",
            {
                **self.admin_site.each_context(request),
                "title": "Forecast the selected wells",
                "opts": self.model._meta,
                "wells": wells,
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    def history_context(self, request: HttpRequest, well: Well, form: UploadForm | None = None) -> dict:
        return {
            **super().history_context(request, well, form),
            "forecasts": [
                {
                    "obj": run,
                    "url": reverse("admin:calculations_calculation_change", args=[run.pk]),
                    "status": status_badge(run.status, run.get_status_display()),
                    "eur": number(run.eur, 0),  # type: ignore[attr-defined]  # annotated by the selector
                    "remaining": number(run.remaining, 0),  # type: ignore[attr-defined]
                }
                for run in well_forecasts(well_id=well.pk)
            ],
        }


admin.site.unregister(Well)
admin.site.register(Well, WellForecastAdmin)
