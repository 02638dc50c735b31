"""Cancelling charts a real worker is drawing (the demo delay: 1 s before each outside call)."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.charts import services
from apps.charts.models import Function
from apps.live.realtime import object_group
from harness.processes import wait_until
from tests.charts.conftest import wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_running_chart_cancelled_stops_before_its_next_outside_call_and_keeps_its_image(
    api_client, demo_worker, make_function, settings
):
    demo_worker.use(settings)
    function = make_function("sin(t)", status="finished", dt=2, interval=5)
    old_hash = function.image_hash
    assert services.functions_refresh(ids=[function.pk]).queued == 1
    wait_for_status(function.pk, {"running"}, timeout=30)

    response = api_client.post(f"/api/functions/{function.pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    log = demo_worker.process
    wait_until(
        lambda: f"Function {function.pk}: render stopped" in log.log_tail(200_000),
        timeout=15,
        what="the stop",
    )

    function.refresh_from_db()
    assert function.status == "cancelled" and function.progress < 100
    assert function.image_hash == old_hash  # no new image


def test_a_cancel_mid_step_sends_one_cancelled_event_and_nothing_after(api_client, demo_worker, settings):
    """The worker waits before an outside call when the cancel lands; at its next step it finds
    the chart gone and stops without a word: subscribers see `cancelled` once, then nothing."""
    demo_worker.use(settings)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    function = services.function_create(expression="sin(t)", dt=2, interval=5)
    async_to_sync(layer.group_add)(object_group("function", function.pk), channel)
    wait_for_status(function.pk, {"running"}, timeout=30)
    assert api_client.post(f"/api/functions/{function.pk}/cancel").status_code == 200
    log = demo_worker.process
    wait_until(
        lambda: f"Function {function.pk}: render stopped" in log.log_tail(200_000),
        timeout=15,
        what="the stop",
    )

    async def drain() -> list[dict]:
        events = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=2.0)
            except TimeoutError:  # 2 s of silence after the worker stopped
                return events
            events.append(message["event"])

    statuses = [event["status"] for event in async_to_sync(drain)()]
    assert statuses[-1] == "cancelled" and statuses.count("cancelled") == 1
    assert set(statuses[:-1]) <= {"running"}
    async_to_sync(layer.group_discard)(object_group("function", function.pk), channel)


def test_a_queued_chart_cancelled_is_never_drawn(api_client, demo_worker, settings):
    demo_worker.use(settings)
    ahead = services.function_create(expression="t", dt=1, interval=1)
    waiting = services.function_create(expression="t + 1", dt=1, interval=1)  # one worker process
    wait_for_status(ahead.pk, {"running"}, timeout=30)
    assert Function.objects.get(pk=waiting.pk).status == "queued"

    response = api_client.post(f"/api/functions/{waiting.pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    api_client.post(f"/api/functions/{ahead.pk}/cancel")
    log = demo_worker.process
    wait_until(
        lambda: f"Function {waiting.pk}: nothing to run" in log.log_tail(200_000),
        timeout=30,
        what="its message",
    )
    never_drawn = Function.objects.get(pk=waiting.pk)
    assert (never_drawn.status, never_drawn.attempts, never_drawn.image_hash) == ("cancelled", 0, "")
