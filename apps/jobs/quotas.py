"""Per-user quotas: how many jobs of a kind one user may have in flight (queued or running).

`<KIND>_QUOTA_IN_FLIGHT` (project/settings/jobs.py; None: no cap). A create, a re-run or a
refresh checks it in its own transaction, after a lock on (kind, user), so two requests of
one user cannot both take the last place. A bulk request counts every job it would queue and
is refused whole. The job counts against `queued_by`: who queued it last.
"""

from django.conf import settings
from django.db import connection

from apps.core.errors import LimitReachedError
from apps.core.metrics import QUOTA_REFUSALS
from apps.jobs.models import IN_FLIGHT
from apps.jobs.registry import JobKind


class QuotaExceededError(LimitReachedError):
    """The user has too many jobs of a kind in flight (429 with Retry-After)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, rule="quota", retry_after=settings.JOBS_QUOTA_RETRY_AFTER)


def jobs_in_flight_count(*, kind: JobKind, user_id: int) -> int:
    return kind.model.objects.filter(queued_by_id=user_id, status__in=IN_FLIGHT).count()


def jobs_quota_check(*, kind: JobKind, user_id: int | None, adding: int) -> None:
    """Refuse (QuotaExceededError) `adding` more jobs of `kind` for the user when they would
    exceed the cap. Call it inside the transaction that queues them: the lock is held until
    it commits, so the count stays true until the new jobs are visible."""
    cap = kind.setting("QUOTA_IN_FLIGHT")
    if cap is None or user_id is None or adding <= 0:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))", [kind.model._meta.db_table, user_id]
        )
    in_flight = jobs_in_flight_count(kind=kind, user_id=user_id)
    if in_flight + adding <= cap:
        return
    QUOTA_REFUSALS.labels(kind=kind.live_kind).inc()
    noun = f"{kind.noun.lower()}s"
    asked = f"{adding} more would make {in_flight + adding}" if adding > 1 else f"you have {in_flight}"
    raise QuotaExceededError(
        f"Too many {noun} queued or running: {asked}, and one user may have at most {cap} in flight. "
        "Wait for some to end (or cancel them) and try again; nothing was queued."
    )
