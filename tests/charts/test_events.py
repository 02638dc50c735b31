"""Every state change of a function is broadcast, after commit, with the documented payload."""

import asyncio
import os
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.charts import services
from apps.live.realtime import object_group


@pytest.fixture
def layer(settings):
    """The real Redis layer under a prefix of its own (parallel runs broadcast to the same groups)."""
    config = {
        **settings.CHANNEL_LAYERS["default"]["CONFIG"],
        "prefix": f"charts-test-{os.getpid()}-{uuid.uuid4().hex[:6]}",
    }
    settings.CHANNEL_LAYERS = {"default": {**settings.CHANNEL_LAYERS["default"], "CONFIG": config}}
    return get_channel_layer()


def listen(layer, group: str) -> str:
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def received(layer, channel: str) -> list[dict]:
    """Every event waiting on `channel`, read in one event loop until a second of silence."""

    async def collect() -> list[dict]:
        events = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=1.0)
            except TimeoutError:
                return events
            assert message["type"] == "live.event"
            events.append(message["event"])

    return async_to_sync(collect)()


@pytest.mark.django_db(transaction=True)
def test_a_render_broadcasts_running_then_finished_with_the_versioned_image_url(
    layer, dataservice, export_server, make_function
):
    function = make_function("sin(t)", status="queued", dt=6, interval=10)
    channel = listen(layer, object_group("function", function.pk))

    services.function_render(function_id=function.pk)

    events = received(layer, channel)
    # A progress step before each outside call (where a cancel would stop it), then the end.
    assert [(e["status"], e["progress"]) for e in events] == [
        ("running", 0),
        ("running", 10),
        ("running", 50),
        ("finished", 100),
    ]
    finished = events[-1]
    function.refresh_from_db()
    assert set(finished) == {
        "kind",
        "id",
        "expression",
        "status",
        "progress",
        "processed_at",
        "error",
        "image_url",
        "updated_at",
        "event_id",  # the event log's position (apps/live/eventlog.py)
    }
    assert (finished["kind"], finished["id"], finished["expression"]) == ("function", function.pk, "sin(t)")
    assert finished["image_url"] == f"/charts/{function.pk}/{function.image_hash[:16]}.png"
    assert finished["error"] is None and finished["processed_at"].endswith("Z")
    assert events[0]["updated_at"] < finished["updated_at"]  # same format: ordered as text


@pytest.mark.django_db(transaction=True)
def test_create_and_refresh_broadcast_queued_rows(layer, make_function, scratch_queues):
    stream = listen(layer, "functions")
    created = services.function_create(expression="t + 2/t", dt=1, interval=1)
    done = make_function(status="failed", error="Data service: boom")
    services.functions_refresh(ids=[done.pk])

    events = received(layer, stream)
    assert [(e["id"], e["status"]) for e in events] == [(created.pk, "queued"), (done.pk, "queued")]
    assert events[1]["error"] == "Data service: boom"  # the last failure stays until a success
