"""Live subscribes to what jobs and accounts announce (they never import live): job state
changes become live events, lost credentials close sockets. Connected in `LiveConfig.ready()`."""

from typing import Any

from apps.accounts.signals import access_revoked
from apps.jobs.signals import job_changed, jobs_changed
from apps.live.realtime import broadcast_access_revoked, broadcast_event, broadcast_events


def on_job_changed(sender: object, *, kind: str, obj_id: int, payload: dict, **kwargs: Any) -> None:
    broadcast_event(kind=kind, obj_id=obj_id, payload=payload)


def on_jobs_changed(sender: object, *, kind: str, events: list[tuple[int, dict]], **kwargs: Any) -> None:
    broadcast_events(kind=kind, events=events)


def on_access_revoked(
    sender: object,
    *,
    user_id: int,
    token_id: int | None = None,
    session_key: str | None = None,
    **kwargs: Any,
) -> None:
    broadcast_access_revoked(user_id=user_id, token_id=token_id, session_key=session_key)


def connect() -> None:
    job_changed.connect(on_job_changed, dispatch_uid="live.job_changed")
    jobs_changed.connect(on_jobs_changed, dispatch_uid="live.jobs_changed")
    access_revoked.connect(on_access_revoked, dispatch_uid="live.access_revoked")
