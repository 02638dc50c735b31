from django.urls import path

from apps.charts.views import chart_image

app_name = "charts"

urlpatterns = [
    path("<int:function_id>/<slug:version>.png", chart_image, name="image"),
    path("<int:function_id>.png", chart_image, name="image-latest"),
]
