"""The outside-service clients: every failure names the service and says whether a retry helps."""

import json

import httpx
import pytest

from apps.integrations.dataservice import dataservice_points
from apps.integrations.export_server import EXPORT_SERVER, export_server_png
from apps.integrations.transport import ServiceError, network_error
from harness.processes import ScriptedServer, free_port
from tests.charts.conftest import png_size, tiny_png

OPTIONS = {"series": [{"data": [[0, 1], [1000, 2]]}]}


def test_points_come_back_from_the_real_data_service(dataservice, settings):
    data = dataservice_points(expression="t + 2/t", dt=1, interval=1)
    assert len(data.points) == 25
    t, y = data.points[0]
    assert y == pytest.approx(t + 2 / t)


def test_the_real_export_server_returns_a_png_of_the_requested_size(export_server):
    png = export_server_png(options=OPTIONS, width=640, height=320)
    assert png_size(png) == (640, 320)


def test_a_closed_port_is_transient_and_says_connection_refused(settings):
    settings.DATASERVICE_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceError) as caught:
        dataservice_points(expression="t", dt=1, interval=1)
    assert caught.value.transient
    assert str(caught.value) == "Data service unreachable (connection refused)"


def test_an_unknown_host_is_transient(settings):
    settings.EXPORT_SERVER_URL = "http://calcboard-no-such-host.invalid:7801"
    with pytest.raises(ServiceError) as caught:
        export_server_png(options=OPTIONS, width=10, height=10)
    assert caught.value.transient
    assert str(caught.value).startswith("Export server unreachable (")


def test_a_silent_service_times_out_transiently(settings):
    with ScriptedServer(delay=5) as server:
        settings.EXPORT_SERVER_URL, settings.EXPORT_SERVER_TIMEOUT = server.url, 0.3
        with pytest.raises(ServiceError) as caught:
            export_server_png(options=OPTIONS, width=10, height=10)
    assert caught.value.transient
    assert str(caught.value) == "Export server timed out after 0.3 s"


def test_a_5xx_is_transient_and_quotes_the_answer(settings):
    with ScriptedServer(status=502, body=b"<html>Bad gateway</html>", content_type="text/html") as server:
        settings.DATASERVICE_URL = server.url
        with pytest.raises(ServiceError) as caught:
            dataservice_points(expression="t", dt=1, interval=1)
    assert caught.value.transient and caught.value.status == 502
    assert str(caught.value) == "Data service failed (HTTP 502): <html>Bad gateway</html>"


def test_a_422_is_permanent_and_keeps_the_services_words(settings):
    body = json.dumps({"detail": "division by zero at t=1700000000", "errors": []}).encode()
    with ScriptedServer(status=422, body=body) as server:
        settings.DATASERVICE_URL = server.url
        with pytest.raises(ServiceError) as caught:
            dataservice_points(expression="1/(t-t)", dt=1, interval=1)
    assert not caught.value.transient
    assert str(caught.value) == "Data service: division by zero at t=1700000000"


def test_an_answer_without_points_is_permanent(settings):
    with ScriptedServer(status=200, body=b'{"points": "nope"}') as server:
        settings.DATASERVICE_URL = server.url
        with pytest.raises(ServiceError) as caught:
            dataservice_points(expression="t", dt=1, interval=1)
    assert not caught.value.transient
    assert "unexpected answer" in str(caught.value)


def test_an_export_refusal_is_permanent_and_names_the_error_code(settings):
    body = json.dumps(
        {"statusCode": 400, "message": "No correct chart data found.", "errorCode": "EXPORT_INVALID_REQUEST"}
    ).encode()
    with ScriptedServer(status=400, body=body) as server:
        settings.EXPORT_SERVER_URL = server.url
        with pytest.raises(ServiceError) as caught:
            export_server_png(options=OPTIONS, width=10, height=10)
    assert not caught.value.transient
    assert str(caught.value) == (
        "Export server refused the chart (HTTP 400 EXPORT_INVALID_REQUEST): No correct chart data found."
    )


def test_a_full_export_queue_is_worth_a_retry(settings):
    body = json.dumps({"statusCode": 400, "message": "Queue full", "errorCode": "EXPORT_QUEUE_FULL"}).encode()
    with ScriptedServer(status=400, body=body) as server:
        settings.EXPORT_SERVER_URL = server.url
        with pytest.raises(ServiceError) as caught:
            export_server_png(options=OPTIONS, width=10, height=10)
    assert caught.value.transient


def test_the_real_export_servers_rasterization_timeout_is_transient(export_server_timing_out, settings):
    settings.EXPORT_SERVER_URL = export_server_timing_out
    with pytest.raises(ServiceError) as caught:
        export_server_png(options=OPTIONS, width=640, height=320)
    assert caught.value.transient and caught.value.status == 400
    assert str(caught.value).startswith(
        "Export server is busy (HTTP 400): [pool] In pool.postWork: Rasterization timeout"
    )


# The shape export server 5.1.0 answers every failure with (no errorCode; a stack in development).
@pytest.mark.parametrize(
    "message",
    [
        (
            "[pool] In pool.postWork: Rasterization timeout: your chart may be too complex or large, and "
            "failed to render within the allotted time."
        ),
        (
            "[pool] In pool.postWork: For request with ID 1a2b - Error encountered when acquiring an "
            "available entry: 30001ms."
        ),
        "[pool] In pool.postWork: Work received, but pool has not been started.",
    ],
)
def test_the_export_servers_overload_and_timeouts_are_transient(settings, message):
    body = json.dumps({"statusCode": 400, "message": message, "stack": "Error: at pool.js:351"}).encode()
    with ScriptedServer(status=400, body=body) as server:
        settings.EXPORT_SERVER_URL = server.url
        with pytest.raises(ServiceError) as caught:
            export_server_png(options=OPTIONS, width=10, height=10)
    assert caught.value.transient
    assert str(caught.value) == f"Export server is busy (HTTP 400): {message}"
    assert "pool.js" not in str(caught.value)  # the stack is never shown


def test_an_export_servers_own_refusal_without_a_code_is_permanent(settings):
    body = json.dumps({"statusCode": 400, "message": "No correct chart data found."}).encode()
    with ScriptedServer(status=400, body=body) as server:
        settings.EXPORT_SERVER_URL = server.url
        with pytest.raises(ServiceError) as caught:
            export_server_png(options=OPTIONS, width=10, height=10)
    assert not caught.value.transient
    assert str(caught.value) == "Export server refused the chart (HTTP 400): No correct chart data found."


def test_an_export_rate_limit_is_transient(settings):
    with ScriptedServer(
        status=429, body=b'{"message": "Too many requests, you have been rate limited."}'
    ) as server:
        settings.EXPORT_SERVER_URL = server.url
        with pytest.raises(ServiceError) as caught:
            export_server_png(options=OPTIONS, width=10, height=10)
    assert caught.value.transient
    assert (
        str(caught.value)
        == "Export server is busy (HTTP 429): Too many requests, you have been rate limited."
    )


def test_an_export_answer_that_is_not_a_png_is_refused(settings):
    with ScriptedServer(status=200, body=b"<svg/>", content_type="image/svg+xml") as server:
        settings.EXPORT_SERVER_URL = server.url
        with pytest.raises(ServiceError) as caught:
            export_server_png(options=OPTIONS, width=10, height=10)
    assert str(caught.value) == "Export server answered with something that is not a PNG"


def test_the_export_request_carries_type_and_size(settings):
    with ScriptedServer(status=200, body=tiny_png(), content_type="image/png") as server:
        settings.EXPORT_SERVER_URL = server.url
        assert export_server_png(options=OPTIONS, width=1000, height=500) == tiny_png()
        sent = json.loads(server.requests[0])
    assert sent == {"infile": OPTIONS, "type": "png", "width": 1000, "height": 500}


def test_a_service_that_hangs_up_without_answering_is_transient(settings):
    with ScriptedServer(hang_up=True) as server:
        settings.DATASERVICE_URL = server.url
        with pytest.raises(ServiceError) as caught:
            dataservice_points(expression="t", dt=1, interval=1)
        assert len(server.requests) == 1  # the request arrived: the service hung up on it
    assert caught.value.transient
    assert str(caught.value) == "Data service dropped the connection without answering"


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (httpx.ConnectTimeout("timed out"), "Export server unreachable (connect timeout)"),
        (
            httpx.ConnectError("[Errno 101] Network is unreachable"),
            "Export server unreachable ([Errno 101] Network is unreachable)",
        ),
        (httpx.ReadTimeout("read timed out"), "Export server timed out after 60 s"),
    ],
)
def test_network_failures_are_named(exc, text):
    error = network_error(EXPORT_SERVER, exc, 60)
    assert error.transient and str(error) == text


def test_an_export_server_5xx_without_json_is_transient_and_quotes_the_answer(settings):
    with ScriptedServer(status=502, body=b"<html>Bad gateway</html>", content_type="text/html") as server:
        settings.EXPORT_SERVER_URL = server.url
        with pytest.raises(ServiceError) as caught:
            export_server_png(options=OPTIONS, width=10, height=10)
    assert caught.value.transient and caught.value.status == 502
    assert str(caught.value) == "Export server failed (HTTP 502): <html>Bad gateway</html>"


def test_an_export_error_without_a_body_names_the_status(settings):
    with ScriptedServer(status=400, body=b"") as server:
        settings.EXPORT_SERVER_URL = server.url
        with pytest.raises(ServiceError) as caught:
            export_server_png(options=OPTIONS, width=10, height=10)
    assert not caught.value.transient
    assert str(caught.value) == "Export server refused the chart (HTTP 400): Bad Request"
