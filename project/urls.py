from django.contrib import admin
from django.urls import include, path

from project.api import api
from project.asyncapi import asyncapi_json
from project.health import healthz, readyz
from project.metrics import metrics

admin.site.site_header = "Calcboard"
admin.site.site_title = "Calcboard admin"
admin.site.index_title = "Calculations and function charts"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Beside the OpenAPI document (ninja's /api/openapi.json): the websocket protocol's.
    path("api/asyncapi.json", asyncapi_json, name="asyncapi-json"),
    path("api/", api.urls),
    path("charts/", include("apps.charts.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
]
