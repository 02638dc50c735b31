"""URLconf of the data service process (ROOT_URLCONF of project.settings.dataservice)."""

from django.urls import re_path

from apps.dataservice import views

urlpatterns = [
    re_path(r"^points/?$", views.points, name="dataservice-points"),
    re_path(r"^health/?$", views.health, name="dataservice-health"),
]

handler404 = "apps.dataservice.views.not_found"
handler500 = "apps.dataservice.views.server_error"
