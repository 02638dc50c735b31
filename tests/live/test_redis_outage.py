"""Redis (the channel layer) down: the websocket says so with 4503 instead of crashing, and
works again once Redis is back."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from apps.live.consumers import CLOSE_UNAVAILABLE
from apps.live.realtime import broadcast_event
from harness.processes import PrivateRedis
from tests.live.conftest import communicator, next_event, open_socket, point_layer_at, request

# Its one event is made up: tests/live/conftest.py checks the envelopes, not the event's fields.
WEBSOCKET_EVENTS_ARE_SYNTHETIC = True
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_thread_connections")]


@pytest.fixture
def private_redis(settings):
    server = PrivateRedis().start()
    point_layer_at(settings, server.url)
    yield server
    server.stop()


async def assert_closed_as_unavailable(ws) -> None:
    error = await ws.receive_json_from(timeout=10)
    assert (error["type"], error["code"]) == ("error", "unavailable")
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": CLOSE_UNAVAILABLE}


async def test_an_open_socket_is_closed_with_4503_when_redis_dies(token_headers, private_redis):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    await sync_to_async(private_redis.stop)()
    await assert_closed_as_unavailable(ws)


async def test_subscribing_while_redis_is_down_gets_unavailable_and_4503(
    token_headers, private_redis, monkeypatch
):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "ping"})

    # Redis stops answering between the handshake and the subscription.
    async def refuse(*args, **kwargs):
        raise ConnectionError("Redis is down")

    from channels.layers import get_channel_layer

    monkeypatch.setattr(get_channel_layer(), "group_add", refuse)
    await ws.send_json_to({"action": "subscribe", "stream": "functions"})
    await assert_closed_as_unavailable(ws)


async def test_a_failure_to_join_the_users_group_while_connecting_is_accepted_then_closed_4503(
    token_headers, private_redis, monkeypatch
):
    # The user's revocation group is joined before the handshake is answered; when Redis
    # refuses that, the client still learns why instead of seeing a bare refusal.
    async def refuse(*args, **kwargs):
        raise ConnectionError("Redis is down")

    from channels.layers import get_channel_layer

    monkeypatch.setattr(get_channel_layer(), "group_add", refuse)
    ws = communicator(headers=token_headers)
    assert (await ws.connect(timeout=5))[0]
    await assert_closed_as_unavailable(ws)


async def test_unsubscribing_while_redis_is_down_gets_unavailable_and_4503(
    token_headers, private_redis, monkeypatch
):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "functions"})

    async def refuse(*args, **kwargs):
        raise ConnectionError("Redis is down")

    from channels.layers import get_channel_layer

    monkeypatch.setattr(get_channel_layer(), "group_discard", refuse)
    await ws.send_json_to({"action": "unsubscribe", "stream": "functions"})
    await assert_closed_as_unavailable(ws)


async def test_a_ping_that_cannot_renew_groups_gets_unavailable_and_4503(
    token_headers, private_redis, monkeypatch
):
    from channels.layers import get_channel_layer

    from apps.live import groups

    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "functions"})
    monkeypatch.setattr(groups, "GROUP_RENEW_SECONDS", 0)

    async def refuse(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(get_channel_layer(), "group_add", refuse)
    await ws.send_json_to({"action": "ping"})
    await assert_closed_as_unavailable(ws)


async def test_a_disconnect_while_redis_is_down_is_quiet(token_headers, private_redis, monkeypatch):
    from channels.layers import get_channel_layer

    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "functions"})
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    calls = []

    async def refuse(*args, **kwargs):
        calls.append(args)
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(get_channel_layer(), "group_discard", refuse)
    await ws.disconnect()  # raises if the consumer crashed
    assert len(calls) == 1  # gave up after the first failure: the entries expire by themselves


async def test_a_handshake_while_redis_is_down_is_refused(token_headers, private_redis):
    await sync_to_async(private_redis.stop)()
    ws = communicator(headers=token_headers)
    # The application starts with the communicator; its layer fails before the client's
    # handshake is read, so the handshake is refused (daphne answers HTTP 403).
    ws.future  # noqa: B018 (starts the application)
    await asyncio.sleep(1)
    assert await ws.connect(timeout=10) == (False, 1000)


async def test_it_works_again_when_redis_is_back(token_headers, private_redis):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    await sync_to_async(private_redis.stop)()
    await assert_closed_as_unavailable(ws)
    await sync_to_async(private_redis.start)()  # same port, empty: group memberships are gone
    # Like the widget: reconnect (with backoff) until a subscription holds. The first attempt
    # may meet a pooled connection to the old Redis and be closed with 4503 again.
    for attempt in range(5):
        ws = await open_socket(token_headers)
        await ws.send_json_to({"action": "subscribe", "stream": "calculations"})
        reply = await ws.receive_json_from(timeout=5)
        if reply["type"] == "subscribed":
            break
        assert reply["code"] == "unavailable"
        await asyncio.sleep(0.2 * 2**attempt)
    else:
        pytest.fail("no subscription after Redis came back")
    payload = {"status": "finished", "progress": 100, "updated_at": "2026-01-01T10:00:00+00:00"}
    # The sender's pool holds a connection to the old Redis too: one broadcast must still land.
    await sync_to_async(broadcast_event)(kind="calculation", obj_id=3, payload=payload)
    assert (await next_event(ws))["status"] == "finished"
    await ws.disconnect()
