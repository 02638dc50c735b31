"""The /ws/events/ protocol: subscribe, receive, unsubscribe; bad input gets an error and the
connection stays open."""

import random

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.live import consumers, delivery, groups
from apps.live.eventlog import event_id_parse
from apps.live.realtime import broadcast_event
from tests.live.conftest import layer_redis_url, next_event, no_message, open_socket, request

# Their events are made up (only what the ordering rules read): tests/live/conftest.py checks
# their envelopes against the AsyncAPI document, not the events' fields.
WEBSOCKET_EVENTS_ARE_SYNTHETIC = True
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_layer", "close_thread_connections"),
]

send = sync_to_async(broadcast_event)


def some_id() -> int:
    return random.randint(10**9, 2 * 10**9)


def event(status: str, at: str, **extra) -> dict:
    return {"status": status, "progress": extra.pop("progress", 0), "updated_at": at, **extra}


@pytest.fixture
def function_id(db) -> int:
    from apps.charts.models import Function

    return Function.objects.create(expression="sin(t)", dt=1.0, interval=1.0).pk


async def test_it_subscribes_to_a_stream_and_receives_its_events(token_headers):
    ws = await open_socket(token_headers)
    assert await request(ws, {"action": "subscribe", "stream": "calculations"}) == {
        "type": "subscribed",
        "stream": "calculations",
    }
    obj_id = some_id()
    await send(
        kind="calculation", obj_id=obj_id, payload=event("running", "2026-01-01T10:00:00.000001+00:00")
    )
    received = await next_event(ws)
    assert event_id_parse(received.pop("event_id"))  # every stream event carries its position
    assert received == {
        "kind": "calculation",
        "id": obj_id,
        "status": "running",
        "progress": 0,
        "updated_at": "2026-01-01T10:00:00.000001+00:00",
    }
    await ws.disconnect()


async def test_a_stream_subscriber_does_not_receive_the_other_stream(token_headers):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "functions"})
    await send(kind="calculation", obj_id=some_id(), payload=event("running", "2026-01-01T10:00:00+00:00"))
    assert await no_message(ws)
    await send(kind="function", obj_id=7, payload=event("running", "2026-01-01T10:00:00+00:00"))
    assert (await next_event(ws))["kind"] == "function"
    await ws.disconnect()


async def test_it_stops_sending_a_stream_after_unsubscribe(token_headers):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "functions"})
    assert await request(ws, {"action": "unsubscribe", "stream": "functions"}) == {
        "type": "unsubscribed",
        "stream": "functions",
    }
    await send(kind="function", obj_id=some_id(), payload=event("queued", "2026-01-01T10:00:00+00:00"))
    assert await no_message(ws)
    await ws.disconnect()


async def test_it_subscribes_to_one_object_and_receives_only_its_events(token_headers, function_id):
    ws = await open_socket(token_headers)
    assert await request(ws, {"action": "subscribe", "kind": "function", "id": function_id}) == {
        "type": "subscribed",
        "kind": "function",
        "id": function_id,
    }
    await send(kind="function", obj_id=function_id + 1, payload=event("running", "2026-01-01T10:00:00+00:00"))
    await send(kind="function", obj_id=function_id, payload=event("finished", "2026-01-01T10:00:01+00:00"))
    received = await next_event(ws)
    assert (received["id"], received["status"]) == (function_id, "finished")
    assert await no_message(ws)
    await ws.disconnect()


async def test_it_stops_sending_an_object_after_unsubscribe(token_headers, function_id):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "kind": "function", "id": function_id})
    assert await request(ws, {"action": "unsubscribe", "kind": "function", "id": function_id}) == {
        "type": "unsubscribed",
        "kind": "function",
        "id": function_id,
    }
    await send(kind="function", obj_id=function_id, payload=event("running", "2026-01-01T10:00:00+00:00"))
    assert await no_message(ws)
    await ws.disconnect()


async def test_it_refuses_to_subscribe_to_a_missing_object(token_headers):
    ws = await open_socket(token_headers)
    reply = await request(ws, {"action": "subscribe", "kind": "function", "id": 987654321})
    assert reply["type"] == "error"
    assert (reply["code"], reply["field"]) == ("not_found", "id")
    assert (await request(ws, {"action": "ping"})) == {"type": "pong"}
    await ws.disconnect()


async def test_it_sends_each_event_once_to_a_client_subscribed_to_the_stream_and_the_object(
    token_headers, function_id
):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "functions"})
    await request(ws, {"action": "subscribe", "kind": "function", "id": function_id})
    await send(kind="function", obj_id=function_id, payload=event("running", "2026-01-01T10:00:00+00:00"))
    await send(kind="function", obj_id=function_id, payload=event("finished", "2026-01-01T10:00:01+00:00"))
    statuses = [(await next_event(ws))["status"] for _ in range(2)]
    assert statuses == ["running", "finished"]
    assert await no_message(ws)
    await ws.disconnect()


async def test_it_never_sends_an_event_older_than_one_already_sent(token_headers):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    obj_id = some_id()
    # A late "running" (say, from a slow process) after "finished" must not reach the client.
    await send(
        kind="calculation", obj_id=obj_id, payload=event("finished", "2026-01-01T10:00:05.000002+00:00")
    )
    await send(
        kind="calculation", obj_id=obj_id, payload=event("running", "2026-01-01T10:00:05.000001+00:00")
    )
    await send(kind="calculation", obj_id=obj_id + 1, payload=event("running", "2026-01-01T09:00:00+00:00"))
    first, second = await next_event(ws), await next_event(ws)
    assert (first["id"], first["status"]) == (obj_id, "finished")
    assert (second["id"], second["status"]) == (obj_id + 1, "running")
    assert await no_message(ws)
    await ws.disconnect()


async def test_it_orders_timestamps_across_offsets(token_headers):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    obj_id = some_id()
    await send(kind="calculation", obj_id=obj_id, payload=event("finished", "2026-01-01T12:00:00+02:00"))
    await send(kind="calculation", obj_id=obj_id, payload=event("running", "2026-01-01T09:59:59Z"))
    assert (await next_event(ws))["status"] == "finished"
    assert await no_message(ws)
    await ws.disconnect()


@pytest.mark.parametrize("updated_at", [None, "yesterday", 12345])
async def test_it_passes_on_events_whose_time_it_cannot_read(token_headers, updated_at):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    obj_id = some_id()
    await send(kind="calculation", obj_id=obj_id, payload=event("finished", "2026-01-01T10:00:00+00:00"))
    await send(kind="calculation", obj_id=obj_id, payload={"status": "running", "updated_at": updated_at})
    assert (await next_event(ws))["status"] == "finished"
    assert (await next_event(ws))["status"] == "running"
    await ws.disconnect()


async def test_it_passes_on_a_naive_timestamp_after_an_aware_one(token_headers):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    obj_id = some_id()
    await send(kind="calculation", obj_id=obj_id, payload=event("running", "2026-01-01T10:00:00+00:00"))
    await send(kind="calculation", obj_id=obj_id, payload=event("finished", "2026-01-01T09:00:00"))
    assert [(await next_event(ws))["status"] for _ in range(2)] == ["running", "finished"]
    await ws.disconnect()


async def test_it_forgets_the_oldest_objects_past_its_memory(token_headers, monkeypatch):
    monkeypatch.setattr(delivery, "MAX_TRACKED_OBJECTS", 2)
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    base = some_id()
    for offset in range(3):
        await send(
            kind="calculation", obj_id=base + offset, payload=event("finished", "2026-01-01T10:00:00+00:00")
        )
    # The first object was forgotten, so its stale event is let through; the last is remembered.
    await send(kind="calculation", obj_id=base, payload=event("running", "2026-01-01T09:00:00+00:00"))
    await send(kind="calculation", obj_id=base + 2, payload=event("running", "2026-01-01T09:00:00+00:00"))
    received = [((e := await next_event(ws))["id"], e["status"]) for _ in range(4)]
    assert received == [(base, "finished"), (base + 1, "finished"), (base + 2, "finished"), (base, "running")]
    assert await no_message(ws)
    await ws.disconnect()


async def test_subscribing_twice_is_harmless(token_headers):
    ws = await open_socket(token_headers)
    for _ in range(2):
        assert (await request(ws, {"action": "subscribe", "stream": "calculations"}))["type"] == "subscribed"
    obj_id = some_id()
    await send(kind="calculation", obj_id=obj_id, payload=event("queued", "2026-01-01T10:00:00+00:00"))
    assert (await next_event(ws))["id"] == obj_id
    assert await no_message(ws)
    assert (await request(ws, {"action": "unsubscribe", "stream": "calculations"}))["type"] == "unsubscribed"
    assert (await request(ws, {"action": "unsubscribe", "stream": "calculations"}))["type"] == "unsubscribed"
    await ws.disconnect()


async def test_it_limits_object_subscriptions_per_connection(token_headers, monkeypatch, function_id):
    from apps.charts.models import Function

    monkeypatch.setattr(consumers, "MAX_OBJECT_SUBSCRIPTIONS", 1)
    other = await sync_to_async(Function.objects.create)(expression="sin(t)", dt=1.0, interval=1.0)
    ws = await open_socket(token_headers)
    assert (await request(ws, {"action": "subscribe", "kind": "function", "id": function_id}))[
        "type"
    ] == "subscribed"
    reply = await request(ws, {"action": "subscribe", "kind": "function", "id": other.pk})
    assert (reply["type"], reply["code"]) == ("error", "too_many_subscriptions")
    await request(ws, {"action": "unsubscribe", "kind": "function", "id": function_id})
    assert (await request(ws, {"action": "subscribe", "kind": "function", "id": other.pk}))[
        "type"
    ] == "subscribed"
    await ws.disconnect()


@pytest.mark.parametrize(
    ("message", "code", "field"),
    [
        ("not json", "invalid_json", None),
        ('{"action": ', "invalid_json", None),
        (b"\x00\x01", "binary_not_supported", None),
        ("x" * 5000, "message_too_large", None),
        ([1, 2], "invalid_message", None),
        ("42", "invalid_message", None),
        ({}, "unknown_action", "action"),
        ({"action": "delete", "stream": "calculations"}, "unknown_action", "action"),
        ({"action": "subscribe"}, "invalid_kind", "kind"),
        ({"action": "subscribe", "stream": "users"}, "invalid_stream", "stream"),
        ({"action": "subscribe", "stream": None}, "invalid_stream", "stream"),
        ({"action": "subscribe", "kind": "user", "id": 1}, "invalid_kind", "kind"),
        ({"action": "subscribe", "kind": "calculation"}, "invalid_id", "id"),
        ({"action": "subscribe", "kind": "calculation", "id": "1"}, "invalid_id", "id"),
        ({"action": "subscribe", "kind": "calculation", "id": True}, "invalid_id", "id"),
        ({"action": "subscribe", "kind": "calculation", "id": 0}, "invalid_id", "id"),
        ({"action": "subscribe", "kind": "calculation", "id": -3}, "invalid_id", "id"),
        ({"action": "subscribe", "kind": "calculation", "id": 1.5}, "invalid_id", "id"),
        ({"action": "subscribe", "kind": "calculation", "id": 2**80}, "invalid_id", "id"),
        ({"action": "unsubscribe", "kind": "function", "id": []}, "invalid_id", "id"),
    ],
)
async def test_it_answers_bad_messages_with_an_error_and_stays_open(token_headers, message, code, field):
    ws = await open_socket(token_headers)
    reply = await request(ws, message)
    assert reply["type"] == "error"
    assert (reply["code"], reply["field"]) == (code, field)
    assert reply["message"]
    assert (await request(ws, {"action": "ping"})) == {"type": "pong"}
    await ws.disconnect()


def group_members(group: str) -> dict[str, float]:
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    client = redis.Redis.from_url(layer_redis_url(config))
    return {
        k.decode(): v for k, v in client.zrange(f"{config['prefix']}:group:{group}", 0, -1, withscores=True)
    }


async def test_it_leaves_its_groups_when_the_client_disconnects(token_headers, function_id):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "functions"})
    await request(ws, {"action": "subscribe", "kind": "function", "id": function_id})
    assert len(await sync_to_async(group_members)("functions")) == 1
    assert len(await sync_to_async(group_members)(f"function.{function_id}")) == 1
    await ws.disconnect()
    assert await sync_to_async(group_members)("functions") == {}
    assert await sync_to_async(group_members)(f"function.{function_id}") == {}


async def test_a_ping_renews_old_group_memberships(token_headers, monkeypatch):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "functions"})
    [(channel, joined)] = (await sync_to_async(group_members)("functions")).items()
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    key = f"{config['prefix']}:group:functions"
    await sync_to_async(redis.Redis.from_url(layer_redis_url(config)).zadd)(key, {channel: joined - 7200})
    monkeypatch.setattr(groups, "GROUP_RENEW_SECONDS", 0)
    assert (await request(ws, {"action": "ping"})) == {"type": "pong"}
    assert (await sync_to_async(group_members)("functions"))[channel] >= joined
    await ws.disconnect()
