"""An idle subscriber stays connected: the channel layer's blocking read (BZPOPMIN, 5 s) must
not be cut by the Redis client's socket timeout (redis-py 8 defaults it to 5 s)."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from apps.live.realtime import broadcast_event
from tests.live.conftest import next_event, open_socket, request

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_layer", "close_thread_connections"),
]


async def test_an_idle_subscriber_stays_connected_past_the_layers_blocking_read(token_headers):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "functions"})
    for _ in range(3):  # three blocking reads of 5 s, each answered "nothing" by Redis
        assert await ws.receive_nothing(timeout=4, interval=0.1)
        await asyncio.sleep(0)
    payload = {"status": "finished", "updated_at": "2026-01-01T10:00:00+00:00"}
    await sync_to_async(broadcast_event)(kind="function", obj_id=11, payload=payload)
    assert (await next_event(ws))["id"] == 11
    await ws.disconnect()
