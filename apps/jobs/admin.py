"""What the admins of both job kinds share: an Add form of their own, stored jobs read-only
(a view page: the change permission only unlocks the list's actions), an add saved through
the kind's service after the form validated it, and the Cancel action."""

from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin import ModelAdminMixinBase
from apps.jobs.models import Job


class JobAdminMixin(ModelAdminMixinBase):
    add_form: type[forms.ModelForm]
    cancel_noun: str  # "calculation", "chart job": how the Cancel message counts them
    # Methods of each kind's admin, through its services: store the add its form validated
    # (the form's cleaned data); cancel the listed ids, answering the jobs it cancelled.
    job_store: Callable[[dict], Job]
    jobs_cancel: Callable[[list[int]], Sequence[Job]]

    def get_form(
        self, request: HttpRequest, obj: Job | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        # A stored job is a record (view page); new ones come from Add and the list's actions.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Job, form: forms.ModelForm, change: bool) -> None:
        # Through the service: it stores the row and queues the job once the save commits (the
        # form's `clean` already ran the kind's validation).
        created = self.job_store(form.cleaned_data)
        obj.pk = created.pk
        obj.refresh_from_db()

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        cancelled = self.jobs_cancel(ids)
        message = f"{len(cancelled)} {self.cancel_noun}(s) cancelled."
        if skipped := len(ids) - len(cancelled):
            message += f" {skipped} skipped: already finished, failed or cancelled."
        self.message_user(request, message)
