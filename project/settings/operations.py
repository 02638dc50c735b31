"""Running it for a team: metrics, readiness (docs/how-to/operate.md has the whole story).

Operators set METRICS_TOKEN; the rest are constants."""

from project.settings.env import env_str

# When set, GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`. The front door
# never serves /metrics whatever this says: scrapers reach web:8000, ws:8000 and the worker's
# WORKER_METRICS_LISTEN on the internal networks.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
