"""API tokens in the admin: create one (its raw value shown once, on the page that answers
the form), see who holds which, revoke them.

Who may create a token for whom is the access policy's (`apps.accounts.permissions.token_owners`):
the add form offers only those users and refuses any other. Revoking needs `change_apitoken`.
The raw value is rendered into that one response and kept nowhere else: not in Django's
messages (a signed, not encrypted, cookie), not in the session, not in a log.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import ForeignKey, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from apps.accounts.models import ApiToken
from apps.accounts.permissions import token_owners
from apps.accounts.services import api_token_create, api_token_revoke

# The request attribute that carries a new token's raw value from save_model to response_add,
# within the one request that created it.
_RAW_ATTRIBUTE = "_api_token_raw"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["user"]
    list_filter = ["revoked_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]
    created_template = "accounts/admin/apitoken_created.html"

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        # A token's owner and name are fixed once it exists; only revocation changes it.
        return [*self.readonly_fields, "user", "name"] if obj else list(self.readonly_fields)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> "forms.ModelChoiceField[Any] | None":
        if db_field.name == "user":
            # The choices are also what the form accepts: any other user is an invalid choice.
            kwargs["queryset"] = token_owners(actor=request.user)
            kwargs["initial"] = request.user.pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool) -> None:
        if change:
            return
        token, raw = api_token_create(user=obj.user, name=obj.name)
        obj.pk = token.pk
        obj.refresh_from_db()
        setattr(request, _RAW_ATTRIBUTE, raw)

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        """The page that answers the add form shows the raw token, once (a redirect would have
        to carry it somewhere: a cookie or the session)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "API token created",
            "token": obj,
            "raw": getattr(request, _RAW_ATTRIBUTE),
        }
        response = TemplateResponse(request, self.created_template, context)
        add_never_cache_headers(response)  # no copy in a browser's or a proxy's cache
        return response

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            api_token_revoke(token=token)
        self.message_user(request, f"{len(tokens)} token(s) revoked.")
