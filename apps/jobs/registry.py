"""The one registry of job kinds: each job app declares its kind once, and everything that
used to list the kinds reads it (Baserow's JobType registry is the model).

A kind is a `JobKind`: its model, the stable names of its run and sweep tasks, its queue, its
live stream and the permission that opens it, its live event payload and its `JobPolicy`
(attempts, time limits, stale-after, dispatch grace, backoff, progress interval). What reads
the registry:

- Celery (project/celery.py): the queues, the task routes (`<app label>.*` to the kind's
  queue) and the beat schedule (one sweep per kind, every `sweep_interval`);
- the lifecycle (apps.jobs.services) and the task policy (apps.jobs.tasks), through the kind;
- live (apps.live): the websocket streams, the model behind each event kind and its view
  permission;
- the tests (every kind's task and sweep is exercised from `job_kinds.all()`).

Registering a kind, in its app's `AppConfig.ready()` (a wells history import)::

    # apps/wells/jobs.py
    HISTORY_IMPORT_JOB = JobKind(
        model=HistoryImport,                      # a subclass of apps.jobs.models.Job
        task_name="wells.import",                 # published by name; `@job_task(kind=...)`
        sweep_task_name="wells.sweep",            # a `@shared_task` calling `jobs_sweep(kind=...)`
        payload=history_import_event_payload,     # the live event body of one job
        policy=JobPolicy(soft_time_limit=1800.0, stale_after=120.0, progress_min_interval=0.5),
    )

    # apps/wells/apps.py
    class WellsConfig(AppConfig):
        name = "apps.wells"

        def ready(self) -> None:
            from apps.jobs.registry import job_kinds
            from apps.wells.jobs import HISTORY_IMPORT_JOB

            job_kinds.register(HISTORY_IMPORT_JOB)

That is all: the `wells` queue, the `wells.*` route, the `wells-sweep` beat entry, the
`historyimports` stream (permission `wells.view_historyimport`) and the kind's settings
follow. Names default from the model (`stream`, `queue`, `setting_prefix`); give them
explicitly to choose others (`stream="imports"`).

Operators' settings: any policy value can be overridden with a Django setting named
`<SETTING PREFIX>_<FIELD IN CAPITALS>`, the prefix being the app label in capitals:
`CALCULATIONS_MAX_ATTEMPTS`, `CHARTS_SOFT_TIME_LIMIT`, `WELLS_QUEUE`, ... (`JobKind.setting`).
`TIME_LIMIT` defaults to the soft limit + 30 s, and a `stale_after` of None to the time limit
+ 60 s, each computed from the values in force.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.conf import settings
from django.dispatch import Signal

if TYPE_CHECKING:
    from apps.jobs.models import Job

# The model of one kind's jobs: the lifecycle's services answer rows of that model.
JobT = TypeVar("JobT", bound="Job")

# The worker process is killed this long after the attempt was told it timed out.
HARD_LIMIT_MARGIN = 30.0
# A job silent this long past its hard limit lost its worker (when `stale_after` is None).
STALE_MARGIN = 60.0


@dataclass(frozen=True)
class JobPolicy:
    """How a kind's jobs are run; each value is overridable by `<PREFIX>_<NAME>` settings."""

    max_attempts: int = 3  # claims a job gets; past them a job whose worker keeps dying fails
    soft_time_limit: float = 600.0  # seconds an attempt may run before it fails as timed out
    time_limit: float | None = None  # seconds before the process is killed; None: soft + 30
    stale_after: float | None = 300.0  # `running` without a write this long: lost; None: hard + 60
    dispatch_grace: float = 10.0  # age of an unpublished queued job before the sweep publishes it
    queued_stale_after: float = 3600.0  # published this long ago and never started: message lost
    sweep_interval: float = 30.0  # seconds between beat sweeps
    progress_min_interval: float = 0.0  # progress is written and broadcast at most this often
    step_delay: float = 0.0  # seconds slept per step: 0 in production, > 0 to watch a demo
    retry_backoff: float = 2.0  # a transient failure's retry waits base * 2^n ...
    retry_backoff_max: float = 60.0  # ... capped at this
    quota_in_flight: int | None = 20  # jobs one user may have queued or running; None: no cap
    # Days an ended, unpinned job is kept; None: for ever. Opt-in: the purge deletes the job
    # with every row whose foreign key to it cascades (apps.jobs.retention).
    retention_days: float | None = None


_POLICY_NAMES = frozenset(f.name for f in fields(JobPolicy))
# What `JobKind.setting` answers, each settable as `<PREFIX>_<NAME>`.
SETTING_NAMES: tuple[str, ...] = ("QUEUE", *(f.name.upper() for f in fields(JobPolicy)))


@dataclass(frozen=True)
class JobKind(Generic[JobT]):
    """How one app's jobs plug into the lifecycle, the task policy, Celery and live."""

    model: type[JobT]
    task_name: str  # the run task's stable name: published by name, no import of the task module
    payload: Callable[[Any], dict]  # the live event body of one job
    sweep_task_name: str = ""  # the beat sweep's task; "" for a kind without one
    policy: JobPolicy = field(default_factory=JobPolicy)
    queue: str = ""  # default: the app label ("calculations"); setting <PREFIX>_QUEUE
    stream: str = ""  # the live stream; default: the model name + "s" ("calculations")
    deferred: tuple[str, ...] = ()  # columns never loaded with a job (a chart's PNG)
    finished_column: str = "finished_at"  # a chart keeps its end as `processed_at`
    # The live event as a websocket client receives it (`payload` with `kind`, `id` and
    # `event_id`), a ninja Schema: the AsyncAPI document (/api/asyncapi.json) types it.
    event_schema: Any = None

    @property
    def app_label(self) -> str:
        return self.model._meta.app_label

    @property
    def setting_prefix(self) -> str:
        """The app's label in capitals: "CALCULATIONS" -> CALCULATIONS_QUEUE, ..."""
        return self.app_label.upper()

    @property
    def live_kind(self) -> str:
        """The kind of its live events, the registry's key: "calculation", "function"."""
        return str(self.model._meta.model_name)

    @property
    def stream_name(self) -> str:
        return self.stream or f"{self.live_kind}s"

    @property
    def view_permission(self) -> str:
        """The permission that opens the kind's stream and its objects' events."""
        return f"{self.app_label}.view_{self.model._meta.model_name}"

    @property
    def noun(self) -> str:
        """How messages name one job: "Calculation", "Function"."""
        return self.model.__name__

    @property
    def setting_names(self) -> list[str]:
        """The settings an operator may set for this kind: CALCULATIONS_QUEUE, ..."""
        return [f"{self.setting_prefix}_{name}" for name in SETTING_NAMES]

    def setting(self, name: str) -> Any:
        """A policy value (or `QUEUE`) as in force: the `<PREFIX>_<NAME>` setting when an
        operator set one, else the kind's declaration (derived limits computed from these)."""
        override = getattr(settings, f"{self.setting_prefix}_{name}", None)
        if override is not None:
            return override
        if name == "QUEUE":
            return self.queue or self.app_label
        key = name.lower()
        if key not in _POLICY_NAMES:
            raise AttributeError(f"{self.noun} jobs have no setting {name!r}.")
        value = getattr(self.policy, key)
        if value is None and key == "time_limit":
            return self.setting("SOFT_TIME_LIMIT") + HARD_LIMIT_MARGIN
        if value is None and key == "stale_after":
            return self.setting("TIME_LIMIT") + STALE_MARGIN
        return value

    @property
    def table(self) -> str:
        from django.db import connection

        return connection.ops.quote_name(self.model._meta.db_table)

    @property
    def columns(self) -> list[str]:
        return [str(f.column) for f in self.model._meta.concrete_fields if f.name not in self.deferred]


# Sent after a kind registered (sender: the registry, kind=the JobKind): Celery's configuration
# follows it (project/celery.py).
job_kind_registered = Signal()


class JobKindRegistry:
    """The kinds by their live kind ("calculation"), in registration order."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind[Any]] = {}

    def register(self, kind: JobKind) -> None:
        key = kind.live_kind
        if key in self._kinds and self._kinds[key] != kind:
            raise ValueError(f"A job kind {key!r} is already registered.")
        taken = {other.stream_name for name, other in self._kinds.items() if name != key}
        if kind.stream_name in taken:
            raise ValueError(f"The stream {kind.stream_name!r} is already another kind's.")
        self._kinds[key] = kind
        job_kind_registered.send(sender=self, kind=kind)

    def unregister(self, key: str) -> None:
        """Remove a kind (tests that register a throwaway one)."""
        kind = self._kinds.pop(key)
        job_kind_registered.send(sender=self, kind=kind)

    def get(self, key: str) -> JobKind:
        """The kind of live kind `key`; KeyError when none is registered."""
        return self._kinds[key]

    def by_stream(self, stream: str) -> JobKind:
        for kind in self._kinds.values():
            if kind.stream_name == stream:
                return kind
        raise KeyError(stream)

    def all(self) -> list[JobKind]:
        return list(self._kinds.values())

    def __iter__(self) -> Iterator[JobKind]:
        return iter(self.all())

    def __contains__(self, key: object) -> bool:
        return key in self._kinds

    def celery_config(self) -> dict[str, Any]:
        """Celery's queues, routes and beat schedule for the registered kinds (app.conf keys)."""
        from kombu import Exchange, Queue

        queues: dict[str, Queue] = {}
        routes: dict[str, dict[str, str]] = {}
        schedule: dict[str, dict[str, Any]] = {}
        for kind in self._kinds.values():
            queue = kind.setting("QUEUE")
            queues.setdefault(queue, Queue(queue, Exchange(queue), routing_key=queue))
            # Every task named "<its prefix>.<...>" (the run, the sweep) goes to the kind's queue.
            for name in filter(None, (kind.task_name, kind.sweep_task_name)):
                routes[f"{name.split('.')[0]}.*"] = {"queue": queue, "routing_key": queue}
            if kind.sweep_task_name:
                every = kind.setting("SWEEP_INTERVAL")
                # A sweep nobody picked up in time is superseded by the next one: never let them pile up.
                schedule[f"{kind.app_label}-sweep"] = {
                    "task": kind.sweep_task_name,
                    "schedule": every,
                    "options": {"expires": every},
                }
        if any(kind.setting("RETENTION_DAYS") is not None for kind in self._kinds.values()):
            # One purge of every kind that keeps its jobs for a limited time (apps.jobs.tasks).
            every = settings.JOBS_RETENTION_INTERVAL
            schedule["jobs-purge"] = {"task": "jobs.purge", "schedule": every, "options": {"expires": every}}
        config: dict[str, Any] = {
            "task_queues": list(queues.values()),
            "task_routes": routes,
            "beat_schedule": schedule,
        }
        if queues:
            # Tasks of no kind go to the first kind's queue, which every worker consumes.
            config["task_default_queue"] = next(iter(queues))
        return config


job_kinds = JobKindRegistry()
