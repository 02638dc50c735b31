from django.contrib import admin
from django.urls import include, path

from project.api import api
from project.health import healthz, readyz
from project.metrics import metrics

admin.site.site_header = "Calcboard"
admin.site.site_title = "Calcboard admin"
admin.site.index_title = "Calculations and function charts"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("charts/", include("apps.charts.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
]
