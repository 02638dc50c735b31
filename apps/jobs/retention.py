"""Retention: ended jobs are kept `<KIND>_RETENTION_DAYS` days after their end, pinned ones
for ever; beat purges the rest (`jobs_purge`).

A purge works in batches, each its own short transaction: ended, unpinned jobs older than the
cut-off, oldest first, locked with SKIP LOCKED (a row someone is pinning or re-running right
now waits for the next purge, and the lock re-checks `pinned` and `status`), as many as keep
their rows and their children's (a run's result rows and chart images: every model whose
foreign key to the job cascades) under JOBS_RETENTION_BATCH_ROWS. A job and its children go in
the same transaction, so nobody ever sees a finished run with half its rows. The list counters
stay exact: the job tables' DELETE trigger counts every statement (apps.core.counters).

Each purge logs and records (`calcboard_retention_*`) how many rows it removed and how long it
took.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from apps.core.errors import NotFoundError
from apps.core.metrics import RETENTION_PURGE_DURATION, RETENTION_PURGED
from apps.jobs.audit import Actor
from apps.jobs.models import IN_FLIGHT, MAX_ID, Job
from apps.jobs.registry import JobKind
from apps.jobs.services import jobs_broadcast

logger = logging.getLogger(__name__)

# Candidates looked at per batch (their children are counted before any is taken): enough to
# fill a batch at the rows per job the previous batch saw, a few spare, at most this many.
CANDIDATES_MAX = 1000
CANDIDATES_SPARE = 2


@dataclass
class PurgeResult:
    jobs: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted, the job table too
    seconds: float = 0.0
    complete: bool = True  # False: stopped at its time budget, the next purge goes on

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _children(kind: JobKind) -> list[tuple[str, str]]:
    """(table, foreign key column) of every model whose rows cascade with a job's."""
    return [
        (
            connection.ops.quote_name(rel.related_model._meta.db_table),
            connection.ops.quote_name(rel.field.column),
        )
        for rel in kind.model._meta.related_objects
        if rel.on_delete is models.CASCADE
    ]


def _batch(kind: JobKind, *, cutoff: datetime, batch_rows: int, candidates_wanted: int) -> dict[str, int]:
    """Delete one batch in one transaction; {table: rows deleted}, empty when nothing is due."""
    ended = ", ".join(["%s"] * len(IN_FLIGHT))
    finished = connection.ops.quote_name(kind.finished_column)
    deleted: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {kind.table} WHERE status NOT IN ({ended}) AND NOT pinned AND {finished} < %s "
            f"ORDER BY {finished}, id LIMIT %s FOR UPDATE SKIP LOCKED",
            [*IN_FLIGHT, cutoff, candidates_wanted],
        )
        candidates = [row[0] for row in cursor.fetchall()]
        if not candidates:
            return deleted
        sizes = dict.fromkeys(candidates, 1)  # the job's own row
        for table, column in _children(kind):
            cursor.execute(
                f"SELECT {column}, count(*) FROM {table} WHERE {column} = ANY(%s) GROUP BY {column}",
                [candidates],
            )
            for job_id, count in cursor.fetchall():
                sizes[job_id] += count
        chosen: list[int] = []
        rows = 0
        for job_id in candidates:  # oldest first; at least one, however big
            if chosen and rows + sizes[job_id] > batch_rows:
                break
            chosen.append(job_id)
            rows += sizes[job_id]
        for table, column in _children(kind):
            cursor.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", [chosen])
            deleted[table.strip('"')] = cursor.rowcount
        cursor.execute(f"DELETE FROM {kind.table} WHERE id = ANY(%s)", [chosen])
        deleted[kind.model._meta.db_table] = cursor.rowcount
    return deleted


def jobs_purge(
    *, kind: JobKind, now: datetime | None = None, batch_rows: int | None = None, budget: float | None = None
) -> PurgeResult:
    """Delete the ended, unpinned jobs of `kind` past its retention, in batches of at most
    `batch_rows` rows (JOBS_RETENTION_BATCH_ROWS), for at most `budget` seconds (half the
    interval between two purges)."""
    result = PurgeResult()
    days = kind.setting("RETENTION_DAYS")
    if days is None:
        return result
    cutoff = (now or timezone.now()) - timedelta(days=days)
    batch_rows = batch_rows or settings.JOBS_RETENTION_BATCH_ROWS
    budget = budget if budget is not None else settings.JOBS_RETENTION_INTERVAL / 2
    started = time.perf_counter()
    rows_per_job = 1.0  # learnt from each batch
    while True:
        wanted = min(CANDIDATES_MAX, int(batch_rows / rows_per_job) + CANDIDATES_SPARE)
        deleted = _batch(kind, cutoff=cutoff, batch_rows=batch_rows, candidates_wanted=wanted)
        if not deleted:
            break
        rows_per_job = max(sum(deleted.values()) / deleted[kind.model._meta.db_table], 1.0)
        result.jobs += deleted[kind.model._meta.db_table]
        for table, count in deleted.items():
            result.rows[table] = result.rows.get(table, 0) + count
            RETENTION_PURGED.labels(kind=kind.live_kind, table=table).inc(count)
        if time.perf_counter() - started > budget:
            result.complete = False
            break
    result.seconds = time.perf_counter() - started
    RETENTION_PURGE_DURATION.labels(kind=kind.live_kind).observe(result.seconds)
    logger.info(
        "%s retention (%g days): removed %s jobs, %s rows (%s) in %.2f s%s",
        kind.noun,
        days,
        result.jobs,
        result.total_rows,
        ", ".join(f"{table} {count}" for table, count in sorted(result.rows.items())) or "nothing due",
        result.seconds,
        "" if result.complete else "; the next purge goes on",
    )
    return result


# --- pins -------------------------------------------------------------------------------


def jobs_pin(*, kind: JobKind, ids: Sequence[int], actor: Actor | None, pinned: bool = True) -> list[Job]:
    """Pin (kept for ever) or unpin each listed job whose pin changes; returns those. Who
    and when are recorded on a pin and cleared on an unpin (the admin's log keeps both)."""
    ids = [pk for pk in ids if 1 <= pk <= MAX_ID]
    now = timezone.now()
    changes = {
        "pinned": pinned,
        "pinned_by_id": actor.user_id if (pinned and actor) else None,
        "pinned_at": now if pinned else None,
    }
    with transaction.atomic():
        changed = list(
            kind.model.objects.select_for_update()
            .filter(pk__in=ids)
            .exclude(pinned=pinned)
            .defer(*kind.deferred)
        )
        kind.model.objects.filter(pk__in=[job.pk for job in changed]).update(**changes, updated_at=now)
        for job in changed:
            for name, value in changes.items():
                setattr(job, name, value)
            job.updated_at = now
        jobs_broadcast(kind=kind, jobs=changed)
    return changed


def job_pin(*, kind: JobKind, job_id: int, actor: Actor | None, pinned: bool = True) -> Job:
    """Pin or unpin one job (already so: unchanged); 404 when it does not exist."""
    jobs_pin(kind=kind, ids=[job_id], actor=actor, pinned=pinned)
    job = (
        kind.model.objects.filter(pk=job_id).defer(*kind.deferred).first() if 1 <= job_id <= MAX_ID else None
    )
    if job is None:
        raise NotFoundError(f"No {kind.noun.lower()} with id {job_id}.")
    return job
