"""The Celery application; configuration is read from Django settings (CELERY_*), and the
queues, task routes and beat schedule from the registry of job kinds (apps.jobs.registry),
which the job apps fill in their `ready()`, before a worker sets up its queues or beat its
schedule (both call django.setup() first, through Celery's Django fixup)."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_prerun, worker_init, worker_process_init
from django.dispatch import receiver

from apps.jobs.registry import JobKindRegistry, job_kind_registered, job_kinds

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

app = Celery("calcboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@receiver(job_kind_registered, sender=job_kinds)
def _configure_job_kinds(sender: JobKindRegistry, **kwargs: Any) -> None:
    """Queues, routes and beat schedule follow the registered kinds."""
    app.conf.update(sender.celery_config())


@task_prerun.connect
def _close_old_connections(sender: Any = None, **kwargs: Any) -> None:
    """Treat every task like Django treats a request: drop a database connection that broke
    or outlived CONN_MAX_AGE, keep (and health-check) the others.

    Celery's Django fixup closes the connection around every task unless CELERY_DB_REUSE_MAX
    is set, and with it set it no longer checks the connection at all; this restores the
    check while keeping the reuse (a new PostgreSQL connection per task cost more than a
    whole one-year calculation).
    """
    from django.db import close_old_connections

    if not getattr(getattr(sender, "request", None), "is_eager", False):  # eager: the caller's connection
        close_old_connections()


@worker_process_init.connect
def _worker_commits_asynchronously(**kwargs: Any) -> None:
    """Every database connection of a worker process commits without waiting for the WAL
    flush; why that loses nothing: `apps.jobs.services.worker_connection_commit_asynchronously`."""
    from django.conf import settings
    from django.db.backends.signals import connection_created

    from apps.jobs.services import worker_connection_commit_asynchronously

    if settings.JOBS_WORKER_ASYNCHRONOUS_COMMIT:
        # Celery's Django fixup closed the connections inherited from the parent: each new one gets it.
        connection_created.connect(worker_connection_commit_asynchronously, weak=False)


@worker_init.connect
def _serve_metrics(**kwargs: Any) -> None:
    """The worker's GET /metrics on WORKER_METRICS_LISTEN (set by scripts/run): its pool
    processes' job durations, outside calls and purges (multiprocess mode), in the main
    process, for the scraper on the internal network (docs/how-to/operate.md)."""
    listen, folder = os.environ.get("WORKER_METRICS_LISTEN"), os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not (listen and folder):
        return
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=folder)
    host, _, port = listen.rpartition(":")
    start_http_server(int(port), addr=host, registry=registry)
