from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.models import ApiToken, token_digest

# Touching last_used_at on every request would turn each read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_token_user(*, raw: str) -> User | None:
    """The active user a raw bearer token belongs to, or None."""
    token = api_token_get(raw=raw)
    return None if token is None else token.user


def api_token_get(*, raw: str) -> ApiToken | None:
    """The active token (of an active user, loaded with it) a raw bearer token is, or None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def session_user_id(*, session_key: str) -> int | None:
    """The id of the active user a session is still logged in as, or None.

    Django's own `auth.get_user` decides, so an expired session, a logout, a changed
    password (the session's auth hash) and an inactive user all count as logged out.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    request = HttpRequest()
    request.session = store
    user = auth.get_user(request)
    return user.pk if user.is_authenticated else None


def credentials_active(*, token_ids: list[int], session_keys: list[str]) -> tuple[set[int], dict[str, int]]:
    """For many open websockets at once: which of these tokens are still good, and which
    user each still-valid session is logged in as. One call, one database connection."""
    tokens = set(
        ApiToken.objects.filter(pk__in=token_ids, revoked_at__isnull=True, user__is_active=True).values_list(
            "pk", flat=True
        )
    )
    sessions = {}
    for key in set(session_keys):
        if (user_id := session_user_id(session_key=key)) is not None:
            sessions[key] = user_id
    return tokens, sessions
