"""Reads the live layer needs: the job kinds' streams and the model behind each kind of
event, from the registry of job kinds (live never imports the domain apps), and who may see
them now."""

from django.db import models

from apps.accounts.permissions import user_has_permission_now, users_permissions_now
from apps.jobs.registry import job_kinds
from apps.live.realtime import Kind


def live_kinds() -> list[Kind]:
    """Every kind of object events are about ("calculation", "function", ...)."""
    return [kind.live_kind for kind in job_kinds]


def live_streams() -> dict[str, Kind]:
    """Every stream a client may subscribe to, with the kind of its events."""
    return {kind.stream_name: kind.live_kind for kind in job_kinds}


def live_model(*, kind: Kind) -> type[models.Model]:
    return job_kinds.get(kind).model


def live_view_permission(*, kind: Kind) -> str:
    """The permission that opens the kind's stream and its objects' events."""
    return job_kinds.get(kind).view_permission


def live_subscription_check(*, user_id: int, kind: Kind, obj_id: int | None = None) -> tuple[bool, bool]:
    """(may the user view `kind` now, does object `obj_id` exist), in one database visit: a
    subscribe costs one connection (none stay open under daphne). Existence is only looked
    up for a user who may view the kind; without `obj_id` (a stream) it is True."""
    if not user_has_permission_now(user_id=user_id, permission=live_view_permission(kind=kind)):
        return False, False
    return True, obj_id is None or live_model(kind=kind)._default_manager.filter(pk=obj_id).exists()


def live_kinds_viewable(*, user_ids: list[int]) -> dict[int, set[Kind]]:
    """For the periodic re-check of open sockets: the kinds each user may view now."""
    kinds_by_permission: dict[str, set[Kind]] = {}
    for kind in live_kinds():
        kinds_by_permission.setdefault(live_view_permission(kind=kind), set()).add(kind)
    held = users_permissions_now(user_ids=user_ids, permissions=list(kinds_by_permission))
    return {
        user_id: {kind for permission in permissions for kind in kinds_by_permission[permission]}
        for user_id, permissions in held.items()
    }
