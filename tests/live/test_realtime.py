"""`broadcast_event`: sent after commit, never on rollback, and never a failure of the write
it reports when Redis is unreachable."""

import logging

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth import get_user_model
from django.db import transaction

from apps.live.realtime import broadcast_event, object_group, stream_group
from harness.processes import free_port
from tests.live.conftest import next_event, no_message, open_socket, point_layer_at, request

pytestmark = [pytest.mark.django_db(transaction=True)]
# Their events are made up (only what delivery reads): tests/live/conftest.py checks their
# envelopes against the AsyncAPI document, not the events' fields.
WEBSOCKET_EVENTS_ARE_SYNTHETIC = True

PAYLOAD = {"status": "running", "progress": 10, "updated_at": "2026-01-01T10:00:00.000001+00:00"}


def test_group_names_are_the_documented_ones():
    assert stream_group("calculation") == "calculations"
    assert stream_group("function") == "functions"
    assert object_group("function", 42) == "function.42"


@pytest.mark.usefixtures("private_layer", "close_thread_connections")
async def test_it_sends_nothing_until_the_transaction_commits(token_headers):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    seen_inside: list[bool] = []

    def write() -> None:
        with transaction.atomic():
            broadcast_event(kind="calculation", obj_id=5, payload=PAYLOAD)
            seen_inside.append(async_to_sync(no_message)(ws))

    await sync_to_async(write)()
    assert seen_inside == [True]
    received = await next_event(ws)
    assert received.pop("event_id")
    assert received == {"kind": "calculation", "id": 5, **PAYLOAD}
    await ws.disconnect()


@pytest.mark.usefixtures("private_layer", "close_thread_connections")
async def test_it_sends_nothing_when_the_transaction_rolls_back(token_headers):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})

    def write() -> None:
        with transaction.atomic():
            broadcast_event(kind="calculation", obj_id=5, payload=PAYLOAD)
            transaction.set_rollback(True)

    await sync_to_async(write)()
    assert await no_message(ws, timeout=0.5)
    await ws.disconnect()


def test_a_write_commits_when_redis_is_unreachable(settings, caplog):
    point_layer_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    caplog.set_level(logging.WARNING, logger="apps.live.realtime")
    with transaction.atomic():
        get_user_model().objects.create_user(username="written-anyway")
        broadcast_event(kind="calculation", obj_id=5, payload=PAYLOAD)
    assert get_user_model().objects.filter(username="written-anyway").exists()
    assert "Could not broadcast calculation 5 event" in caplog.text


def test_it_does_nothing_without_a_channel_layer(settings):
    settings.CHANNEL_LAYERS = {}
    broadcast_event(kind="function", obj_id=1, payload=PAYLOAD)  # must not raise
