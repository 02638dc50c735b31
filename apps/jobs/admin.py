"""What the admins of both job kinds share: an Add form of their own, stored jobs read-only
(a view page: the change permission only unlocks the list's actions), an add saved through
the kind's service after the form validated it (and the user's quota allowed it), the Cancel,
Pin and Unpin actions, and the audit trail: who created, cancelled, re-ran and pinned each
job, shown, filterable, and every action written to Django's admin log."""

from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin import ModelAdminMixinBase
from apps.core.errors import DomainError
from apps.jobs.audit import Actor, actor_of
from apps.jobs.models import Job
from apps.jobs.quotas import jobs_quota_check
from apps.jobs.retention import jobs_pin
from apps.jobs.services import JobKind

AUDIT_FIELDS = [
    "created_by",
    "created_by_token",
    "cancelled_by",
    "cancelled_at",
    "rerun_by",
    "rerun_at",
    "pinned",
    "pinned_by",
    "pinned_at",
]


class JobAdminMixin(ModelAdminMixinBase):
    add_form: type[forms.ModelForm]
    cancel_noun: str  # "calculation", "chart job": how the Cancel message counts them
    job_kind: JobKind
    # Methods of each kind's admin, through its services: store the add its form validated
    # (the form's cleaned data); cancel the listed ids, answering the jobs it cancelled.
    job_store: Callable[[dict, Actor], Job]
    jobs_cancel: Callable[[list[int], Actor], Sequence[Job]]

    def get_form(
        self, request: HttpRequest, obj: Job | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            kind, user_id = self.job_kind, request.user.pk

            class QuotaCheckedForm(self.add_form):  # type: ignore[name-defined]  # a class chosen at run time
                def clean(self) -> dict:
                    cleaned = super().clean()
                    try:  # the admin says so before the save; the service checks again, locked
                        with transaction.atomic():
                            jobs_quota_check(kind=kind, user_id=user_id, adding=1)
                    except DomainError as exc:
                        raise forms.ValidationError(exc.message, code=exc.errors[0].rule) from exc
                    return cleaned

            kwargs["form"] = QuotaCheckedForm
        return super().get_form(request, obj, change=change, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        # A stored job is a record (view page); new ones come from Add and the list's actions.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Job, form: forms.ModelForm, change: bool) -> None:
        # Through the service: it stores the row and queues the job once the save commits (the
        # form's `clean` already ran the kind's validation).
        created = self.job_store(form.cleaned_data, actor_of(request))
        obj.pk = created.pk
        obj.refresh_from_db()

    def log_jobs(self, request: HttpRequest, ids: Sequence[int], message: str) -> None:
        """One admin log entry (a change) per job an action changed, in one statement."""
        user = request.user
        assert user.is_authenticated  # the admin's views require a login
        if ids:
            LogEntry.objects.log_actions(
                user_id=user.pk,
                queryset=self.job_kind.model.objects.filter(pk__in=ids).only("pk", *self._repr_fields()),
                action_flag=CHANGE,
                change_message=message,
            )

    def _repr_fields(self) -> list[str]:
        # What str(job) reads (the entry's object_repr): a run's name, a function's expression.
        return [name for name in ("name", "expression") if hasattr(self.job_kind.model, name)]

    def refuse(self, request: HttpRequest, error: DomainError) -> None:
        self.message_user(request, error.message, level=messages.ERROR)

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        cancelled = self.jobs_cancel(ids, actor_of(request))
        self.log_jobs(request, [job.pk for job in cancelled], "Cancelled.")
        message = f"{len(cancelled)} {self.cancel_noun}(s) cancelled."
        if skipped := len(ids) - len(cancelled):
            message += f" {skipped} skipped: already finished, failed or cancelled."
        self.message_user(request, message)

    def _pin(self, request: HttpRequest, queryset: QuerySet[Job], *, pinned: bool) -> None:
        changed = jobs_pin(
            kind=self.job_kind,
            ids=list(queryset.values_list("pk", flat=True)),
            actor=actor_of(request),
            pinned=pinned,
        )
        self.log_jobs(request, [job.pk for job in changed], "Pinned." if pinned else "Unpinned.")
        state = "pinned: kept for ever" if pinned else "unpinned: retention applies again"
        self.message_user(request, f"{len(changed)} {self.cancel_noun}(s) {state}.")

    @admin.action(description="Pin (keep for ever)", permissions=["change"])
    def pin(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._pin(request, queryset, pinned=True)

    @admin.action(description="Unpin", permissions=["change"])
    def unpin(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._pin(request, queryset, pinned=False)

    @admin.display(description="created by", ordering="created_by__username")
    def creator(self, obj: Job) -> str:
        if obj.created_by is None:
            return "-"
        return f"{obj.created_by} ({obj.created_by_token})" if obj.created_by_token else str(obj.created_by)
