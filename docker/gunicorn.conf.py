"""gunicorn's configuration for `scripts/run web` (locally, in the tests and in compose).

Sync workers: Django's views are sync, and each worker keeps one persistent PostgreSQL
connection (CONN_MAX_AGE, health-checked), so no request opens one. Slow clients never hold a
worker: the proxy buffers whole requests and responses. The proxy is the only client, so
X-Forwarded-Proto is trusted from wherever it connects (loopback locally, the internal
network in compose).
"""

import multiprocessing
import os

bind = os.environ.get("WEB_LISTEN", "127.0.0.1:8001")  # wiring: scripts/run, compose
# The usual rule for sync workers: two per core plus one (a worker waits on PostgreSQL part
# of the time). WEB_WORKERS (an operator's capacity knob) overrides it; each worker holds one
# database connection.
workers = int(os.environ.get("WEB_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
# Past this a stuck request is killed and its worker replaced; the proxy answers 503 (its
# read timeout is the same 60 s).
timeout = 60
graceful_timeout = 30
# Import the project once in the master: workers fork with Django set up (less memory, a
# faster restart), and a broken configuration fails the start instead of every request.
preload_app = True
forwarded_allow_ips = "*"
# A worker is replaced now and then, so a slow leak in any library cannot grow for ever.
max_requests = 20_000
max_requests_jitter = 2_000
# gunicorn 23+ opens a control socket at one fixed path per user ($HOME/.gunicorn): two
# instances on a machine (the tests, a benchmark) would fight over it, and nothing uses it.
control_socket_disable = True
accesslog = None  # the proxy logs every request
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def child_exit(server, worker) -> None:
    """A worker that exited no longer counts in the live gauges of GET /metrics (multiprocess
    mode, PROMETHEUS_MULTIPROC_DIR from scripts/run); its counters and histograms stay summed."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
