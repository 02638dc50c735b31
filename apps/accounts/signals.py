"""Credentials that stop being valid close the websockets opened with them.

The REST API checks credentials on every request; a websocket checks them at the handshake,
so each way a principal loses access sends `access_revoked` (user_id, and token_id or
session_key when only those sockets are concerned); apps.live subscribes in its `ready()`
and tells the user's open sockets after commit. Accounts never imports live.

- a token revoked (`api_token_revoke`) or deleted: the sockets opened with that token;
- a user deactivated or deleted: all of that user's sockets;
- a session logged out: the sockets opened with that session.

Whatever bypasses these (a bulk `UPDATE`, an expired session) is caught by the consumer's
periodic re-check (LIVE_AUTH_RECHECK_SECONDS).
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_out
from django.db.models import Model
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal
from django.http import HttpRequest

from apps.accounts.models import ApiToken

# Sent inside the writing transaction (sender: the model); kwargs user_id, token_id, session_key.
access_revoked = Signal()


def on_user_saved(sender: type[Model], instance: User, **kwargs: Any) -> None:
    # Also sent for a user saved inactive for another reason: closing an inactive user's
    # sockets (there should be none) is harmless.
    if not instance.is_active:
        access_revoked.send(sender=type(instance), user_id=instance.pk)


def on_user_deleted(sender: type[Model], instance: User, **kwargs: Any) -> None:
    access_revoked.send(sender=type(instance), user_id=instance.pk)


def on_token_deleted(sender: type[ApiToken], instance: ApiToken, **kwargs: Any) -> None:
    access_revoked.send(sender=ApiToken, user_id=instance.user_id, token_id=instance.pk)


def on_logged_out(sender: type[Model], request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        access_revoked.send(sender=type(user), user_id=user.pk, session_key=session_key)


def connect() -> None:
    user_model = get_user_model()
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid="accounts.user_saved")
    post_delete.connect(on_user_deleted, sender=user_model, dispatch_uid="accounts.user_deleted")
    post_delete.connect(on_token_deleted, sender=ApiToken, dispatch_uid="accounts.token_deleted")
    user_logged_out.connect(on_logged_out, dispatch_uid="accounts.logged_out")
