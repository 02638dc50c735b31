"""The admin live widget: a change list that follows /ws/events/ without reloading.

Use it on the ModelAdmin of a registered job kind's model (apps.jobs.registry); the widget
follows the kind's stream:

    @admin.register(Calculation)
    class CalculationAdmin(LiveChangeListMixin, admin.ModelAdmin):
        list_display = ["name", "status", "progress", "launched_at", "duration"]

The widget (`frontend/calcboard/live.js`) updates the cells named after event keys
(`td.field-status`, `td.field-progress`, `td.field-duration`, `td.field-chart`,
`td.field-processed_at`, ...) in the rows it finds by their action checkbox, and offers to
show rows created elsewhere. `status_badge` and `progress_bar` render cells the way the
widget does, so a reload and a live update look the same.
"""

from typing import Any

from django import forms
from django.contrib.admin.views.main import ChangeList
from django.db.models import Max
from django.forms import Script
from django.http import HttpRequest, HttpResponse
from django.template.loader import select_template
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from apps.core.admin import ModelAdminMixinBase
from apps.core.formatting import iso
from apps.live.realtime import Kind, stream_group

WS_PATH = "/ws/events/"
EMPTY = "-"


class LiveChangeListMixin(ModelAdminMixinBase):
    @property
    def live_kind(self) -> Kind:
        """The registered job kind of this admin's model (its events' kind)."""
        return str(self.model._meta.model_name)

    change_list_template = "live/admin/change_list.html"

    @property
    def media(self) -> forms.Media:
        # A property rather than `class Media`, so a ModelAdmin's own Media does not hide it.
        return super().media + forms.Media(
            js=[Script("calcboard/live.js", type="module")],  # type: ignore[list-item]  # django-stubs takes paths only; Django 5.2 takes Script too
            css={"all": ["calcboard/live.css"]},
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Extend whichever change list Django would have used, so an app's own
        # admin/<app>/<model>/change_list.html keeps working under the widget.
        opts = self.model._meta
        base = select_template(
            [
                f"admin/{opts.app_label}/{opts.model_name}/change_list.html",
                f"admin/{opts.app_label}/change_list.html",
                "admin/change_list.html",
            ]
        )
        extra_context = {**(extra_context or {}), "live_base_template": base.template.name}
        response = super().changelist_view(request, extra_context)
        context = response.context_data if isinstance(response, TemplateResponse) else None
        if context is not None and "cl" in context:
            context["live_config"] = self.live_config(context["cl"])
        return response

    def live_config(self, changelist: ChangeList) -> dict[str, Any]:
        """What the widget needs: its stream, the newest id when the page was drawn (events
        about larger ids are rows created since) and each shown row's `updated_at` (events
        not newer than that are already on the page)."""
        newest = self.model._default_manager.aggregate(newest=Max("pk"))["newest"] or 0
        rows = {
            str(obj.pk): iso(obj.updated_at)
            for obj in changelist.result_list
            if getattr(obj, "updated_at", None) is not None
        }
        return {
            "kind": self.live_kind,
            "stream": stream_group(self.live_kind),
            "path": WS_PATH,
            "maxId": newest,
            "rows": rows,
            "timeZone": timezone.get_current_timezone_name(),
        }


def status_badge(status: str, label: str | None = None) -> str:
    return format_html('<span class="cb-status cb-status-{}">{}</span>', status, label or status.capitalize())


def progress_bar(progress: int | float | None) -> str:
    if progress is None:
        return EMPTY
    percent = max(0, min(100, round(progress)))
    return format_html(
        '<div class="cb-progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
        'aria-valuenow="{}"><div class="cb-progress-bar" style="width: {}%"></div>'
        '<span class="cb-progress-label">{}%</span></div>',
        percent,
        percent,
        percent,
    )
