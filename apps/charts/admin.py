"""The functions dashboard: list with charts, an Add form with presets, a bulk Refresh."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator

from apps.accounts.permissions import operation_action
from apps.charts.models import PRESETS, Function
from apps.charts.selectors import function_image_url
from apps.charts.services import (
    FUNCTION_JOB,
    function_store,
    function_validate,
    functions_cancel,
    functions_refresh,
)
from apps.core.errors import DomainError
from apps.jobs.admin import AUDIT_FIELDS, JobAdminMixin
from apps.jobs.audit import Actor, actor_of
from apps.jobs.models import JobStatus
from apps.jobs.quotas import QuotaExceededError
from apps.live.admin import LiveChangeListMixin

CUSTOM = ""
THUMBNAIL_WIDTH, THUMBNAIL_HEIGHT = 200, 100


class FunctionAddForm(forms.ModelForm):
    """A preset or any expression of the grammar; a typed expression wins over the preset."""

    preset = forms.ChoiceField(
        label="Function",
        choices=[
            *[(preset, f"y = {preset}") for preset in PRESETS],
            (CUSTOM, "Custom expression (type it below)"),
        ],
        initial=PRESETS[0],
        required=False,
    )

    class Meta:
        model = Function
        fields = ["preset", "expression", "dt", "interval"]
        widgets = {"expression": forms.TextInput(attrs={"size": 60, "placeholder": "e.g. t^2 + 2/t"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expression"].required = False
        self.fields["expression"].help_text = (
            "Leave empty to use the preset above. Grammar: numbers, t (unix seconds), + - * / ^, "
            "parentheses, unary minus, sin cos tan exp ln log sqrt abs, pi."
        )
        self.fields["dt"].initial = 1
        self.fields["interval"].initial = 30

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        expression = (cleaned.get("expression") or "").strip() or cleaned.get("preset") or ""
        cleaned["expression"] = expression
        if "dt" in cleaned and "interval" in cleaned:
            try:
                function_validate(expression=expression, dt=cleaned["dt"], interval=cleaned["interval"])
            except DomainError as exc:
                for error in exc.errors:
                    self.add_error(error.field if error.field in self.fields else None, error.message)
        return cleaned

    def _post_clean(self) -> None:
        # The row is created by `function_store`, not by this form: nothing to validate on a
        # model instance here (its checks are the ones `clean` already ran).
        pass


@admin.register(Function)
class FunctionAdmin(JobAdminMixin, LiveChangeListMixin, admin.ModelAdmin):
    add_form = FunctionAddForm
    cancel_noun = "chart job"
    job_kind = FUNCTION_JOB

    # The form's `clean` ran function_validate on these.
    def job_store(self, cleaned: dict, actor: Actor) -> Function:
        return function_store(
            expression=cleaned["expression"], dt=cleaned["dt"], interval=cleaned["interval"], actor=actor
        )

    def jobs_cancel(self, ids: list[int], actor: Actor) -> list[Function]:
        return functions_cancel(ids=ids, actor=actor)

    # Column names are a contract: the live widget updates td.field-status, td.field-chart and
    # td.field-processed_at by row pk.
    list_display = ["expression", "chart", "dt", "interval", "processed_at", "status", "creator", "pinned"]
    list_display_links = ["expression"]
    list_filter = ["status", "pinned", ("created_by", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["created_by"]
    search_fields = ["expression"]
    list_per_page = 50
    actions = ["refresh", "cancel", "pin", "unpin"]
    add_fields = ["preset", "expression", "dt", "interval"]
    view_fields = [
        "expression",
        "chart_full",
        "dt",
        "interval",
        "status",
        "error",
        "queued_at",
        "started_at",
        "processed_at",
        "created_at",
        "updated_at",
        *AUDIT_FIELDS,
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Function]:
        # The list needs the image's hash (for its URL), never its bytes.
        return super().get_queryset(request).defer("image")

    def get_fields(self, request: HttpRequest, obj: Function | None = None) -> tuple[str, ...]:
        return tuple(self.add_fields if obj is None else self.view_fields)

    @admin.display(description="chart")
    def chart(self, obj: Function) -> str:
        """The thumbnail (linking to the full image); the error text after a failure."""
        if obj.status == JobStatus.FAILED and obj.error:
            return format_html(
                '<span class="chart-error" style="color:#ba2121;white-space:pre-wrap">{}</span>',
                Truncator(obj.error).chars(400),
            )
        url = function_image_url(function_id=obj.pk, image_hash=obj.image_hash)
        if url is None:
            return {"queued": "Waiting for a worker…", "running": "Drawing…"}.get(obj.status, "—")
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="Chart of y = {}" '
            'width="{}" height="{}" loading="lazy"></a>',
            url,
            url,
            obj.expression,
            THUMBNAIL_WIDTH,
            THUMBNAIL_HEIGHT,
        )

    @admin.display(description="chart")
    def chart_full(self, obj: Function) -> str:
        url = function_image_url(function_id=obj.pk, image_hash=obj.image_hash)
        if url is None:
            return "No chart yet."
        return format_html(
            '<a href="{}" target="_blank"><img src="{}" alt="Chart of y = {}" style="max-width:100%"></a>',
            url,
            url,
            obj.expression,
        )

    @admin.action(description="Refresh", permissions=[operation_action("refresh")])
    def refresh(self, request: HttpRequest, queryset: QuerySet[Function]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        try:
            result = functions_refresh(ids=ids, actor=actor_of(request))
        except QuotaExceededError as exc:
            self.refuse(request, exc)
            return
        self.log_jobs(request, ids, "Refreshed.")
        message = f"{result.queued} chart(s) queued for refresh."
        if result.skipped:
            message += f" {result.skipped} skipped: already queued or running."
        self.message_user(request, message)
