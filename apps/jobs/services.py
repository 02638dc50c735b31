"""The one job lifecycle: publish (outbox), claim, progress, finish, fail, cancel, sweep.

Each job app describes its kind once with a `JobKind` (apps.jobs.registry: its model, the
stable names of its tasks, its queue, stream and policy) and calls these functions; none
keeps a lifecycle of its own.

Life of a job
-------------
1. Created `queued` in the request's transaction; once committed its task is published by
   name (`jobs_publish_on_commit`), without retries: a broker that is down costs one refused
   connection, and for JOBS_PUBLISH_BACKOFF seconds this process does not try again, so no
   request waits for the broker. The row is the outbox: a published job gets `dispatched_at`,
   an unpublished one keeps NULL and the sweep publishes it later.
2. A worker claims it (`job_claim`): one conditional UPDATE moves it to `running`, counts the
   attempt and stamps a fresh `attempt_token`. A job already claimed `<KIND>_MAX_ATTEMPTS`
   times whose worker never ended it (killed, out of memory, past the hard time limit) is not
   run again: it ends `failed` with the reason.
3. Progress (`job_progress`) and the final write (`job_finish`, `job_fail`) only land while
   the row is still `running` with that attempt's token. An attempt that lost the row
   (cancelled, swept, claimed again by a redelivery) gets `JobAbandoned` at its next step
   and writes nothing more: a late render never overwrites a newer result.
4. `jobs_cancel` ends queued and running jobs at once; a running attempt notices at its next
   progress step. A finished, failed or cancelled job cannot be cancelled (409).
5. `jobs_sweep` (beat): a `running` job with no write for `<KIND>_STALE_AFTER` seconds lost
   its worker and is requeued, or failed once its attempts are used up; a `queued` job never
   published (after `<KIND>_DISPATCH_GRACE`) or published long ago and never started (after
   `<KIND>_QUEUED_STALE_AFTER`, its message was lost) is published again.

Every state change sends `apps.jobs.signals.job_changed` (or `jobs_changed` for a batch);
apps.live subscribes and broadcasts the event after commit. Settings named `<KIND>_...` are
the kind's policy values (`JobKind.setting`).
"""

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from apps.core.errors import ConflictError, NotFoundError
from apps.core.metrics import job_duration_observe
from apps.jobs.audit import Actor
from apps.jobs.models import IN_FLIGHT, MAX_ID, IdempotencyRecord, Job, JobStatus
from apps.jobs.registry import JobKind, JobT
from apps.jobs.signals import job_changed, jobs_changed

logger = logging.getLogger(__name__)

# Longest error text kept on a failed job: enough for a sentence, never a traceback.
ERROR_MAX_LENGTH = 2000
# Jobs handled per sweep and kind, so one sweep stays short even after a long outage.
SWEEP_BATCH = 500


class JobAbandoned(Exception):
    """The attempt no longer holds its job (cancelled, swept or claimed again): stop, write nothing."""


# --- events -----------------------------------------------------------------------------


def job_broadcast(*, kind: JobKind[JobT], job: JobT) -> None:
    job_changed.send(sender=kind, kind=kind.live_kind, obj_id=job.pk, payload=kind.payload(job))


def jobs_broadcast(*, kind: JobKind[JobT], jobs: Sequence[JobT]) -> None:
    """The events of many jobs changed by one write, handed over in one batch (live sends
    them in the background: `apps.live.realtime.broadcast_events`)."""
    if jobs:
        jobs_changed.send(
            sender=kind, kind=kind.live_kind, events=[(job.pk, kind.payload(job)) for job in jobs]
        )


def _returning(kind: JobKind[JobT], sql: str, params: Sequence[Any]) -> list[JobT]:
    """Run an UPDATE ... RETURNING <the job's columns> and build the jobs it returned."""
    columns = kind.columns
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {', '.join(connection.ops.quote_name(c) for c in columns)}", params)
        rows = cursor.fetchall()
    names = [f.attname for f in kind.model._meta.concrete_fields if f.name not in kind.deferred]
    return [kind.model.from_db(connection.alias, names, row) for row in rows]


def _durations_observe(*, kind: JobKind, jobs: Iterable[Job], outcome: str, now: datetime) -> None:
    """Record how long each ended attempt ran (`calcboard_job_duration_seconds`); a job
    cancelled before it started never ran and is not recorded."""
    for job in jobs:
        if job.started_at is not None:
            job_duration_observe(
                kind=kind.live_kind, outcome=outcome, seconds=(now - job.started_at).total_seconds()
            )


def _in_flight_sql() -> str:
    return "status IN ({})".format(", ".join(f"'{status.value}'" for status in IN_FLIGHT))


# --- publish (outbox) -------------------------------------------------------------------

# Broker URL -> monotonic time until which this process does not try to publish there.
_broker_down_until: dict[str, float] = {}
_broker_lock = threading.Lock()


def _broker_marked_down(url: str) -> bool:
    return time.monotonic() < _broker_down_until.get(url, 0.0)


def _broker_mark_down(url: str) -> None:
    with _broker_lock:
        _broker_down_until[url] = time.monotonic() + settings.JOBS_PUBLISH_BACKOFF


def jobs_publish(*, kind: JobKind, ids: Iterable[int], force: bool = False) -> int:
    """Publish the task of each job by its stable name and stamp `dispatched_at`.

    No retries: the first failure stops the batch (the rest stay in the outbox for the
    sweep) and, unless `force` (the sweep), this process skips publishing for
    JOBS_PUBLISH_BACKOFF seconds. Returns how many were published.
    """
    from project.celery import app

    queue = kind.setting("QUEUE")
    broker = str(app.conf.broker_write_url or app.conf.broker_url)
    published: list[int] = []
    for job_id in ids:
        if not force and _broker_marked_down(broker):
            break
        try:
            # No time limits in the message: the worker that runs the job applies its own
            # (apps.jobs.tasks.job_task). Celery would otherwise stamp the limits this
            # process registered, so a web process with other settings (a rolling deploy)
            # would decide how long the worker may run.
            app.send_task(
                kind.task_name,
                args=[job_id],
                queue=queue,
                routing_key=queue,
                retry=False,
                time_limit=None,
                soft_time_limit=None,
            )
        except Exception:  # kombu/amqp raise a zoo of connection errors; all mean "not published"
            _broker_mark_down(broker)
            logger.warning(
                "%s %s saved but not published (broker unreachable?); the sweep will publish it.",
                kind.noun,
                job_id,
                exc_info=True,
            )
            break
        published.append(job_id)
    if published:
        # Not a state change (no event, updated_at kept): only the outbox marker moves.
        kind.model._default_manager.filter(pk__in=published).update(dispatched_at=timezone.now())
    return len(published)


def jobs_publish_on_commit(*, kind: JobKind, ids: Sequence[int]) -> None:
    """Publish once the surrounding transaction commits: the worker must find the rows.

    `robust`: nothing that goes wrong here may turn a committed write into a 500.
    """
    ids = list(ids)
    if ids:
        transaction.on_commit(lambda: jobs_publish(kind=kind, ids=ids), robust=True)


# --- a worker's attempt -----------------------------------------------------------------


def job_claim(*, kind: JobKind[JobT], job_id: int, resume: bool = False) -> JobT | None:
    """Move the job to `running` for a new attempt; None when there is nothing to run.

    `resume` (a redelivered message, a retry) may take over a job that is already `running`:
    its previous attempt died, or will find its token gone at its next step. Nothing to run:
    the job is gone, ended, held by another attempt, or out of attempts (then it ends
    `failed` here, with the reason).
    """
    now = timezone.now()
    max_attempts = kind.setting("MAX_ATTEMPTS")
    claimable = "(status = %s OR (status = %s AND %s))"
    claimable_params = [JobStatus.QUEUED, JobStatus.RUNNING, resume]
    jobs = _returning(
        kind,
        f"UPDATE {kind.table} SET status = %s, progress = 0, attempts = attempts + 1, attempt_token = %s, "
        f"started_at = %s, {kind.finished_column} = NULL, error = '', updated_at = %s "
        f"WHERE id = %s AND attempts < %s AND {claimable}",
        [JobStatus.RUNNING, uuid.uuid4(), now, now, job_id, max_attempts, *claimable_params],
    )
    if jobs:
        job_broadcast(kind=kind, job=jobs[0])
        return jobs[0]
    exhausted = _returning(
        kind,
        f"UPDATE {kind.table} SET status = %s, error = %s, {kind.finished_column} = %s, updated_at = %s, "
        f"attempt_token = NULL WHERE id = %s AND attempts >= %s AND {claimable}",
        [
            JobStatus.FAILED,
            (
                f"Stopped after {max_attempts} attempts: each time, the worker running it stopped before it "
                "ended (killed, out of memory or past its time limit)."
            ),
            now,
            now,
            job_id,
            max_attempts,
            *claimable_params,
        ],
    )
    for job in exhausted:
        logger.warning("%s %s failed: its %s attempts are used up.", kind.noun, job_id, max_attempts)
        job_broadcast(kind=kind, job=job)
    if not exhausted:
        logger.info("%s %s: nothing to run (gone, ended or held by another attempt).", kind.noun, job_id)
    return None


def _held(kind: JobKind[JobT], job: JobT) -> tuple[str, list[Any]]:
    return "id = %s AND status = %s AND attempt_token = %s", [job.pk, JobStatus.RUNNING, job.attempt_token]


def job_progress(*, kind: JobKind[JobT], job: JobT, percent: int) -> None:
    """Write and broadcast progress; JobAbandoned if this attempt no longer holds the job."""
    now = timezone.now()
    where, params = _held(kind, job)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {kind.table} SET progress = %s, updated_at = %s WHERE {where}", [percent, now, *params]
        )
        held = cursor.rowcount == 1
    if not held:
        raise JobAbandoned(f"{kind.noun} {job.pk} is no longer held by this attempt.")
    job.progress, job.updated_at = percent, now
    job_broadcast(kind=kind, job=job)


def job_finish(*, kind: JobKind[JobT], job: JobT, values: dict[str, Any] | None = None) -> bool:
    """End the attempt `finished`, with the kind's own columns in `values`, in ONE UPDATE.

    False (nothing written) when the attempt no longer holds the job. Callers that write
    more (a calculation's rows) do it in the same transaction, only when this returned True.
    """
    now = timezone.now()
    values = {"progress": 100, kind.finished_column: now, "error": "", "updated_at": now, **(values or {})}
    assignments = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in values)
    where, params = _held(kind, job)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {kind.table} SET status = %s, {assignments} WHERE {where}",
            [JobStatus.FINISHED, *values.values(), *params],
        )
        held = cursor.rowcount == 1
    if held:
        job.status = JobStatus.FINISHED
        for name, value in values.items():
            setattr(job, name, value)
        job_broadcast(kind=kind, job=job)
        _durations_observe(kind=kind, jobs=[job], outcome=JobStatus.FINISHED.value, now=now)
    return held


def job_fail(*, kind: JobKind[JobT], job_id: int, error: str, job: JobT | None = None) -> JobT | None:
    """End a queued or running job `failed` with a readable reason.

    With `job` (an attempt ending itself) only while that attempt still holds it; without (a
    task's crash handler) whatever attempt holds it. None when nothing was written.
    """
    now = timezone.now()
    where, params = _held(kind, job) if job is not None else (f"id = %s AND {_in_flight_sql()}", [job_id])
    failed = _returning(
        kind,
        f"UPDATE {kind.table} SET status = %s, error = %s, {kind.finished_column} = %s, updated_at = %s "
        f"WHERE {where}",
        [JobStatus.FAILED, error[:ERROR_MAX_LENGTH], now, now, *params],
    )
    for row in failed:
        job_broadcast(kind=kind, job=row)
    _durations_observe(kind=kind, jobs=failed, outcome=JobStatus.FAILED.value, now=now)
    return failed[0] if failed else None


# --- steering ---------------------------------------------------------------------------


def jobs_cancel(*, kind: JobKind[JobT], ids: Sequence[int], actor: Actor | None = None) -> list[JobT]:
    """Cancel every listed job that is queued or running, in one UPDATE; returns those.
    `actor` goes into the audit trail (cancelled_by, cancelled_at).

    A queued job's message becomes a no-op when it arrives; a running attempt finds its
    token gone at its next progress step and stops without writing its result.
    """
    if not ids:
        return []
    now = timezone.now()
    with transaction.atomic():
        cancelled = _returning(
            kind,
            f"UPDATE {kind.table} SET status = %s, {kind.finished_column} = %s, updated_at = %s, "
            f"attempt_token = NULL, cancelled_by_id = %s, cancelled_at = %s "
            f"WHERE id = ANY(%s) AND {_in_flight_sql()}",
            [JobStatus.CANCELLED, now, now, actor.user_id if actor else None, now, list(ids)],
        )
        jobs_broadcast(kind=kind, jobs=cancelled)
    _durations_observe(kind=kind, jobs=cancelled, outcome=JobStatus.CANCELLED.value, now=now)
    return cancelled


def job_cancel(*, kind: JobKind[JobT], job_id: int, actor: Actor | None = None) -> JobT:
    """Cancel one job; 404 when it does not exist, 409 naming its status when it has ended."""
    cancelled = jobs_cancel(kind=kind, ids=[job_id], actor=actor) if 1 <= job_id <= MAX_ID else []
    if cancelled:
        return cancelled[0]
    status = (
        kind.model._default_manager.filter(pk=job_id).values_list("status", flat=True).first()
        if 1 <= job_id <= MAX_ID
        else None
    )
    if status is None:
        raise NotFoundError(f"No {kind.noun.lower()} with id {job_id}.")
    raise ConflictError(
        f"{kind.noun} {job_id} is {status}: only a queued or running job can be cancelled.",
        field="status",
        rule="job_ended",
    )


# --- sweep ------------------------------------------------------------------------------


def jobs_sweep(*, kind: JobKind, now: datetime | None = None) -> dict[str, int]:
    """Periodic repair (beat): requeue or fail lost running jobs, publish what the outbox holds.

    Returns counts: {"requeued", "failed", "dispatched", "undispatched"}.
    """
    now = now or timezone.now()
    stale_after = kind.setting("STALE_AFTER")
    stale_before = now - timedelta(seconds=stale_after)
    max_attempts = kind.setting("MAX_ATTEMPTS")
    seconds = round(stale_after)
    # SKIP LOCKED: a row a worker is writing right now is not stale; the next sweep looks again.
    stale = (
        f"id IN (SELECT id FROM {kind.table} WHERE status = %s AND updated_at < %s AND attempts {{op}} %s "
        f"ORDER BY updated_at, id LIMIT {SWEEP_BATCH} FOR UPDATE SKIP LOCKED)"
    )
    with transaction.atomic():
        failed = _returning(
            kind,
            f"UPDATE {kind.table} SET status = %s, {kind.finished_column} = %s, updated_at = %s, "
            "attempt_token = NULL, error = 'Stopped after ' || attempts || ' attempts: each time its "
            f"worker stopped reporting for over {seconds} s (worker lost).' WHERE {stale.format(op='>=')}",
            [JobStatus.FAILED, now, now, JobStatus.RUNNING, stale_before, max_attempts],
        )
        requeued = _returning(
            kind,
            f"UPDATE {kind.table} SET status = %s, progress = 0, queued_at = %s, updated_at = %s, "
            f"dispatched_at = NULL, attempt_token = NULL, "
            f"error = 'Requeued: no progress for over {seconds} s on attempt ' || attempts || '.' "
            f"WHERE {stale.format(op='<')}",
            [JobStatus.QUEUED, now, now, JobStatus.RUNNING, stale_before, max_attempts],
        )
        jobs_broadcast(kind=kind, jobs=[*failed, *requeued])
    if requeued:
        logger.warning(
            "%s(s) requeued after losing their worker: %s", kind.noun, [job.pk for job in requeued]
        )
    grace_before = now - timedelta(seconds=kind.setting("DISPATCH_GRACE"))
    lost_before = now - timedelta(seconds=kind.setting("QUEUED_STALE_AFTER"))
    from django.db.models import Q

    pending = [job.pk for job in requeued] + list(
        kind.model._default_manager.filter(status=JobStatus.QUEUED)
        .filter(Q(dispatched_at__isnull=True, updated_at__lt=grace_before) | Q(dispatched_at__lt=lost_before))
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    dispatched = jobs_publish(kind=kind, ids=pending, force=True)
    counts = {
        "requeued": len(requeued),
        "failed": len(failed),
        "dispatched": dispatched,
        "undispatched": len(pending) - dispatched,
    }
    if any(counts.values()):
        logger.info("%s sweep: %s", kind.noun, counts)
    return counts


def idempotency_records_expire(*, now: datetime | None = None) -> int:
    """Delete idempotency records older than JOBS_IDEMPOTENCY_TTL (run by the sweep)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOBS_IDEMPOTENCY_TTL)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# --- worker connections -----------------------------------------------------------------


def worker_connection_commit_asynchronously(
    *, sender: Any = None, connection: BaseDatabaseWrapper, **kwargs: Any
) -> None:
    """`connection_created` receiver of worker processes: their commits skip the WAL flush
    (`synchronous_commit = off` for the connection's session).

    The rule that keeps it safe: a worker process writes only bookkeeping of jobs that were
    accepted with a synchronous commit (the API's 201, the admin's add, in the web process):
    claim, progress, finish with its rows, fail, cancel checks, the sweeps and the outbox
    stamp. A PostgreSQL crash in the fraction of a second after such a commit (at most three
    `wal_writer_delay`s) can undo only that, never corrupt anything, and what it undoes the
    lifecycle repairs: the job is seen `queued` or `running` again and the sweep runs it
    again with the same result (rows are written with `finished`, in one transaction); a
    lost outbox stamp publishes once more, and a second message finds nothing to claim.
    Nothing a web or websocket process commits is affected.

    The gain: the drain is bound by the commits' flushes each run waits for, not by CPU, so
    not waiting for them is what puts it over its target (figures: docs/benchmarks.md, Queue
    drain; `JOBS_WORKER_ASYNCHRONOUS_COMMIT=false` measures without).
    """
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
