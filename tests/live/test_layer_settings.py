"""The channel layer's Redis client settings (project/settings/live.py, CHANNEL_LAYERS):

- an idle subscriber stays connected: the layer's blocking read (BZPOPMIN, 5 s) must not be
  cut by a socket timeout (redis-py 8 defaults it to 5 s);
- a consumer that goes away ends its receive loop at once: with a socket timeout redis-py
  sends through asyncio.wait_for, which on Python 3.11 can swallow the cancellation."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from apps.live.realtime import broadcast_event
from tests.live.conftest import next_event, open_socket, request

# Their events are made up (only what delivery reads): tests/live/conftest.py checks their
# envelopes against the AsyncAPI document, not the events' fields.
WEBSOCKET_EVENTS_ARE_SYNTHETIC = True
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


async def test_a_receive_cancelled_at_any_moment_ends_at_once():
    """What daphne does to a consumer whose client left: cancel its pending receive. Cancelled
    anywhere in the first milliseconds (connect, send, read), it must end, not keep looping."""
    from channels.layers import channel_layers, get_channel_layer

    for step in range(40):
        channel_layers.backends = {}  # a new layer: its first receive also opens the connection
        layer = get_channel_layer()
        receiving = asyncio.ensure_future(layer.receive(await layer.new_channel()))
        await asyncio.sleep(step / 10_000)
        receiving.cancel()
        done, _ = await asyncio.wait([receiving], timeout=2)
        assert done, f"a receive cancelled after {step / 10:.1f} ms kept running"
