"""Reads the live layer needs: the job kinds' streams and the model behind each kind of
event, from the registry of job kinds (live never imports the domain apps)."""

from django.db import models

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


def live_object_exists(*, kind: Kind, obj_id: int) -> bool:
    return live_model(kind=kind)._default_manager.filter(pk=obj_id).exists()
