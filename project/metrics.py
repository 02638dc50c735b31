"""`GET /metrics`: Prometheus' text format, for the operator's scraper, never for the public.

The front door refuses /metrics whatever the request carries (docker/nginx/
locations.conf.template): a scraper reaches each web and ws replica on the internal network
(and the worker's own endpoint, `project.celery`), where only the stack's own containers are.

One answer holds:
- what this server's processes recorded: django-prometheus' requests by view, method and
  status with their latency; the product's own (`apps.core.metrics`). Under gunicorn they are
  the sum of its workers' values (multiprocess mode, PROMETHEUS_MULTIPROC_DIR from scripts/run);
- what the database knows at this moment (`JobsCollector`): jobs by kind and status from the
  status counters, the queue depth and the age of the oldest queued job of each kind. Every
  replica answers the same values: chart them with max(), not sum().
"""

import logging
import os
from collections.abc import Iterable, Iterator

from django.db import DatabaseError
from django.db.models import Min
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from apps.core.selectors import status_counts
from apps.jobs.models import JobStatus
from apps.jobs.registry import job_kinds

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"


class JobsCollector:
    """Reads the job tables at scrape time: a few dozen counter rows and the queued jobs' index."""

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "calcboard_jobs", "Jobs by kind and status (from the status counters).", labels=["kind", "status"]
        )
        depth = GaugeMetricFamily(
            "calcboard_queue_depth", "Jobs queued and not yet started, by kind.", labels=["kind"]
        )
        oldest = GaugeMetricFamily(
            "calcboard_queue_oldest_age_seconds",
            "Seconds the oldest queued job of a kind has waited (0 when none waits).",
            labels=["kind"],
        )
        now = timezone.now()
        try:
            for kind in job_kinds:
                counts = status_counts(model=kind.model)
                for status in JobStatus.values:
                    jobs.add_metric([kind.live_kind, status], counts.get(status, 0))
                depth.add_metric([kind.live_kind], counts.get(JobStatus.QUEUED, 0))
                since = kind.model.objects.filter(status=JobStatus.QUEUED).aggregate(
                    at=Min(Coalesce("queued_at", "updated_at"))
                )["at"]
                oldest.add_metric([kind.live_kind], max((now - since).total_seconds(), 0.0) if since else 0.0)
        except DatabaseError:
            # The process's own metrics still answer; /readyz names the database.
            logger.warning("metrics: the job tables are unreadable", exc_info=True)
            return
        yield from (jobs, depth, oldest)


class _ThisProcess:
    """The default registry's metrics (one process: daphne, runserver, the tests)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def metrics_registry() -> CollectorRegistry:
    """This server's metrics (all its processes' in multiprocess mode) and the database's."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(JobsCollector())
    return registry


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
