"""The job lifecycle shared by calculations and charts: one status vocabulary, one abstract
model, and the idempotency records of the create endpoints.

A job moves queued -> running -> finished | failed, and may be cancelled while queued or
running. `apps.jobs.services` is the only code that moves it; each app keeps its own work
(the kernel and its rows; points, options and the PNG).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# The statuses of a job that has not ended: what the sweep watches, cancel ends, refresh skips.
IN_FLIGHT = (JobStatus.QUEUED, JobStatus.RUNNING)

# The largest id a job table can hold (bigint): a larger id from a URL cannot exist and must
# not reach SQL (an error there, a 404 here).
MAX_ID = 2**63 - 1


def status_check(*, name: str) -> models.CheckConstraint:
    """The CheckConstraint every job table carries: only the vocabulary's statuses."""
    return models.CheckConstraint(condition=Q(status__in=JobStatus.values), name=name)


def quota_index(*, name: str) -> models.Index:
    """The partial index a user's quota is counted from: their jobs in flight only."""
    return models.Index(fields=["queued_by"], name=name, condition=Q(status__in=list(IN_FLIGHT)))


def retention_index(*, finished_column: str = "finished_at", name: str) -> models.Index:
    """The partial index the retention purge reads: ended, unpinned jobs by their end."""
    return models.Index(
        fields=[finished_column, "id"], name=name, condition=~Q(status__in=list(IN_FLIGHT)) & Q(pinned=False)
    )


def unfinished_index(*, name: str) -> models.Index:
    """The partial index the sweep reads: it only ever looks at queued and running jobs."""
    return models.Index(fields=["status", "updated_at"], name=name, condition=Q(status__in=list(IN_FLIGHT)))


def _audit_user(help_text: str = "") -> models.ForeignKey:
    """A user of the audit trail: kept as NULL once deleted, no index and no database
    constraint of its own (why: the comment above Job's audit fields)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
        help_text=help_text,
    )


class Job(models.Model):
    """What every background job row carries. Columns, not AsyncResults, are the truth.

    `attempt_token` is the claim of the attempt that holds a running job: progress and the
    final write (finish or fail) only land while the row still carries that token, so an
    attempt that outlived the sweep, a cancel or a newer claim can no longer write.
    `dispatched_at` is the outbox marker: NULL means the sweep must publish the task again.
    """

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent, 0-100.")
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker claimed the job."
    )
    attempt_token = models.UUIDField(
        null=True, blank=True, editable=False, help_text="The claim of the attempt that holds the job."
    )
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When the job was last queued.")
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker started the last attempt."
    )
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="When the job ended (finished, failed or cancelled)."
    )
    # TextField: service errors quote the other side's message, whatever its length.
    error = models.TextField(blank=True, default="")
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When the task message reached the broker (outbox marker)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    # The audit trail: who queued, cancelled, re-ran and pinned the job, and when (the user
    # is kept as NULL once deleted; the token's name stays, it is text). No index of their
    # own: ?created_by= and the quota have theirs (each table's Meta); only deleting a user
    # reads the others. No database constraint either: Django sets them NULL when a user is
    # deleted, and a job row then carries no deferred foreign-key checks (which would also
    # refuse a TRUNCATE in the transaction that inserted it).
    created_by = _audit_user("Who created the job (empty: before the audit trail, or a deleted user).")
    created_by_token = models.CharField(
        max_length=100,
        blank=True,
        default="",
        db_default="",
        help_text="The name of the API token it was created with, if any.",
    )
    # Whose quota of jobs in flight the job counts against: its creator, or who queued it
    # again (a chart's refresh).
    queued_by = _audit_user()
    cancelled_by = _audit_user()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    rerun_by = _audit_user("Who last re-ran it (a calculation's re-run, a chart's refresh).")
    rerun_at = models.DateTimeField(null=True, blank=True)
    # Database defaults too: bulk loads in raw SQL (benchmarks, imports) need not name them.
    pinned = models.BooleanField(
        default=False, db_default=False, help_text="Kept for ever: retention never removes a pinned job."
    )
    pinned_by = _audit_user()
    pinned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def duration(self) -> float | None:
        """Seconds the last attempt spent running; None until the job ended after starting."""
        if self.started_at is None or self.finished_at is None:
            return None
        return round(max((self.finished_at - self.started_at).total_seconds(), 0.0), 3)


class IdempotencyRecord(models.Model):
    """The first answer to a create request sent with an `Idempotency-Key` header.

    Keys are per user and per operation (`scope`); a record is honoured for
    JOBS_IDEMPOTENCY_TTL seconds (24 h), then removed by the sweep.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=50)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the request body, canonical JSON.")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="jobs_idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
