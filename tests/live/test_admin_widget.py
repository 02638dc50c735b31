"""The live widget on the admin change lists: template, config and Media."""

import json

import pytest

from apps.core.formatting import iso
from apps.live.admin import progress_bar, status_badge

pytestmark = pytest.mark.django_db


def widget_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="cb-live-config" type="application/json">') + len(
        '<script id="cb-live-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def make_function(**fields):
    from apps.charts.models import Function

    return Function.objects.create(**{"expression": "sin(t)", "dt": 1.0, "interval": 1.0, **fields})


def make_calculation(**fields):
    from apps.calculations.models import Calculation

    return Calculation.objects.create(
        name="run", date_start="2026-01-01", date_fin="2026-01-10", lag=1, **fields
    )


def test_the_functions_change_list_carries_the_widget(admin_client):
    first, second = make_function(), make_function()
    response = admin_client.get("/admin/charts/function/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="cb-live"' in html and 'data-state="connecting"' in html
    assert 'id="cb-live-new"' in html
    assert '<script src="/static/calcboard/live.js" type="module"></script>' in html
    assert '<link href="/static/calcboard/live.css" media="all" rel="stylesheet">' in html
    assert 'id="result_list"' in html  # block.super: the admin's own list is still there
    config = widget_config(response)
    assert config["kind"] == "function" and config["stream"] == "functions"
    assert config["path"] == "/ws/events/"
    assert config["maxId"] == second.pk
    assert config["rows"] == {str(f.pk): iso(f.updated_at) for f in (first, second)}
    assert config["timeZone"] == "UTC"


def test_the_calculations_change_list_carries_the_widget(admin_client):
    calculation = make_calculation()
    config = widget_config(admin_client.get("/admin/calculations/calculation/"))
    assert (config["kind"], config["stream"], config["maxId"]) == (
        "calculation",
        "calculations",
        calculation.pk,
    )
    assert list(config["rows"]) == [str(calculation.pk)]


def test_an_empty_change_list_has_max_id_zero(admin_client):
    assert widget_config(admin_client.get("/admin/charts/function/"))["maxId"] == 0


def test_it_passes_redirects_through(admin_client):
    # An unknown filter makes the admin redirect to ?e=1: no template, no widget, no crash.
    response = admin_client.get("/admin/charts/function/?no_such_field=1")
    assert response.status_code == 302


def test_it_extends_a_model_specific_change_list(admin_client, settings, tmp_path):
    folder = tmp_path / "admin" / "charts" / "function"
    folder.mkdir(parents=True)
    (folder / "change_list.html").write_text(
        '{% extends "admin/change_list.html" %}'
        '{% block content %}<p id="app-own">own</p>{{ block.super }}{% endblock %}'
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    html = admin_client.get("/admin/charts/function/").content.decode()
    assert 'id="app-own"' in html and 'id="cb-live"' in html


def test_the_widget_requires_staff(client, user):
    client.force_login(user)
    response = client.get("/admin/charts/function/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_status_badge_escapes_and_labels():
    assert status_badge("running") == '<span class="cb-status cb-status-running">Running</span>'
    assert "&lt;b&gt;" in status_badge("failed", "<b>")


@pytest.mark.parametrize(
    ("value", "shown"), [(0, "0%"), (40, "40%"), (100, "100%"), (140, "100%"), (-3, "0%")]
)
def test_progress_bar_is_clamped(value, shown):
    html = progress_bar(value)
    assert f'<span class="cb-progress-label">{shown}</span>' in html
    assert f"width: {shown}" in html


def test_progress_bar_of_nothing_is_empty():
    assert progress_bar(None) == "-"
