"""The two outside services of the chart job: where the web process and the worker
reach them (operators set the URLs), how long a call may take, and what one request to the
data service may ask for. The data service's own settings (project/settings/dataservice.py)
read its limits from here, so clients, in-process tests and the service agree."""

from project.settings.env import env_str

DATASERVICE_URL = env_str("DATASERVICE_URL", "http://127.0.0.1:8100")
EXPORT_SERVER_URL = env_str("EXPORT_SERVER_URL", "http://127.0.0.1:7801")
# Seconds one call may take. 100,000 points take well under a second; a render of 100,000
# points about two. A chart's attempt may wait for both (CHARTS_SOFT_TIME_LIMIT, apps/charts/services.py).
DATASERVICE_TIMEOUT = 30.0
EXPORT_SERVER_TIMEOUT = 60.0

# What one POST /points may ask for. dt is in hours, interval in days;
# points = floor(interval*24/dt) + 1.
DATASERVICE_MAX_POINTS = 100_000
DATASERVICE_MIN_DT_HOURS = 0.0001  # 0.36 s
DATASERVICE_MAX_DT_HOURS = 8760.0  # one year
DATASERVICE_MAX_INTERVAL_DAYS = 3650.0  # ten years

# The PNG the export server draws (pixels); the admin list shows it scaled down.
CHARTS_IMAGE_WIDTH = 1000
CHARTS_IMAGE_HEIGHT = 500

# A calculation's images (GET /api/calculations/{id}/chart.png|svg) are drawn in the web tier
# on the first request for a type and size. At most this many web workers of the whole
# deployment (every process and replica: a PostgreSQL advisory-lock semaphore) draw or wait
# for a drawing at once; a request past them answers 503 with Retry-After, so image requests
# never take the workers the rest of the API needs.
CALCULATION_CHARTS_DRAWING_SLOTS = 2
# Seconds a drawing in the web tier may take: well inside gunicorn's 60 s worker timeout.
CALCULATION_CHARTS_DRAW_TIMEOUT = 20.0
# The stored images of every run together stay under this many bytes: storing one evicts the
# least recently served past it (they are redrawn on demand).
CALCULATION_CHARTS_STORE_BYTES = 256 * 1024 * 1024
