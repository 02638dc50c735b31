"""Resume after a reconnect: every stream event carries an `event_id`, is kept in the event
log, and `subscribe` with `since` replays what the client missed, then goes live with no event
twice and none missing."""

import json

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from apps.live.eventlog import Position, event_id_parse, event_log_append
from apps.live.realtime import EVENT_TYPE, broadcast_event
from tests.live.conftest import layer_redis_url, next_event, no_message, open_socket, request

# Their events are made up (only what the ordering rules read): tests/live/conftest.py checks
# their envelopes against the AsyncAPI document, not the events' fields.
WEBSOCKET_EVENTS_ARE_SYNTHETIC = True
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_layer", "close_thread_connections"),
]

send = sync_to_async(broadcast_event)


def at(second: int) -> str:
    return f"2026-01-01T10:00:{second:02d}+00:00"


async def publish(obj_id: int, second: int, status: str = "running") -> None:
    await send(kind="calculation", obj_id=obj_id, payload={"status": status, "updated_at": at(second)})


async def published_ids(token_headers, count: int, *, first_id: int = 1) -> list[str]:
    """Publish `count` events (objects first_id, first_id+1, ...) and return their event_ids,
    as a subscriber saw them."""
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    for offset in range(count):
        await publish(first_id + offset, offset)
    ids = [(await next_event(ws))["event_id"] for _ in range(count)]
    await ws.disconnect()
    return ids


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(layer_redis_url(settings.CHANNEL_LAYERS["default"]["CONFIG"]))


def log_key(stream: str = "calculations") -> str:
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:log:{stream}"


async def test_event_ids_increase_in_delivery_order(token_headers):
    ids = await published_ids(token_headers, 5)
    positions = [event_id_parse(value) for value in ids]
    assert len({position.epoch for position in positions}) == 1
    assert [position.key for position in positions] == sorted({position.key for position in positions})


async def test_an_object_subscriber_gets_the_event_id_too(token_headers):
    from apps.calculations.models import Calculation

    calculation = await sync_to_async(Calculation.objects.create)(
        name="x", date_start="2024-01-01", date_fin="2024-01-02", lag=1
    )
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "kind": "calculation", "id": calculation.pk})
    await publish(calculation.pk, 1)
    assert event_id_parse((await next_event(ws))["event_id"])
    await ws.disconnect()


async def test_since_replays_every_kept_event_after_it_then_goes_live(token_headers):
    ids = await published_ids(token_headers, 4, first_id=100)
    ws = await open_socket(token_headers)
    await ws.send_json_to({"action": "subscribe", "stream": "calculations", "since": ids[0]})
    replayed = [await next_event(ws) for _ in range(3)]
    assert [event["event_id"] for event in replayed] == ids[1:]
    assert [event["id"] for event in replayed] == [101, 102, 103]
    assert replayed[0] == {
        "kind": "calculation",
        "id": 101,
        "status": "running",
        "updated_at": at(1),
        "event_id": ids[1],
    }
    assert await ws.receive_json_from(timeout=5) == {
        "type": "subscribed",
        "stream": "calculations",
        "replayed": 3,
    }
    await publish(104, 9)
    live = await next_event(ws)
    assert live["id"] == 104 and event_id_parse(live["event_id"]).key > event_id_parse(ids[-1]).key
    assert await no_message(ws)
    await ws.disconnect()


async def test_since_the_newest_event_replays_nothing(token_headers):
    ids = await published_ids(token_headers, 2)
    ws = await open_socket(token_headers)
    reply = await request(ws, {"action": "subscribe", "stream": "calculations", "since": ids[-1]})
    assert reply == {"type": "subscribed", "stream": "calculations", "replayed": 0}
    await ws.disconnect()


async def test_an_event_both_replayed_and_queued_for_the_group_is_sent_once(token_headers):
    """The race the consumer closes: an event published after it joined the group but before
    it read the log reaches it twice (queue and log); the client sees it once."""
    ids = await published_ids(token_headers, 3, first_id=200)
    ws = await open_socket(token_headers)
    await ws.send_json_to({"action": "subscribe", "stream": "calculations", "since": ids[0]})
    assert [(await next_event(ws))["event_id"] for _ in range(2)] == ids[1:]
    assert (await ws.receive_json_from(timeout=5))["replayed"] == 2
    # The group delivers the last replayed event again, as it would in the race.
    event = {"kind": "calculation", "id": 202, "status": "running", "updated_at": at(2), "event_id": ids[2]}
    await get_channel_layer().group_send(
        "calculations", {"type": EVENT_TYPE, "event": event, "stream": "calculations", "after": ids[1]}
    )
    assert await no_message(ws)
    await ws.disconnect()


async def test_an_event_that_overtakes_an_earlier_one_is_preceded_by_it(token_headers):
    """Two workers publish at once: the second event's group message arrives first. The
    consumer reads the one it lacks from the log, so the client still gets them in order."""
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    first = {"kind": "calculation", "id": 301, "status": "running", "updated_at": at(1)}
    second = {"kind": "calculation", "id": 302, "status": "running", "updated_at": at(2)}
    one, _ = await event_log_append(stream="calculations", payload=json.dumps(first))
    two, after = await event_log_append(stream="calculations", payload=json.dumps(second))
    assert after == one
    await get_channel_layer().group_send(
        "calculations",
        {
            "type": EVENT_TYPE,
            "event": {**second, "event_id": str(two)},
            "stream": "calculations",
            "after": str(one),
        },
    )
    received = [await next_event(ws) for _ in range(2)]
    assert [(event["id"], event["event_id"]) for event in received] == [(301, str(one)), (302, str(two))]
    # The first event's own (late) message is then a duplicate.
    await get_channel_layer().group_send(
        "calculations",
        {
            "type": EVENT_TYPE,
            "event": {**first, "event_id": str(one)},
            "stream": "calculations",
            "after": "0",
        },
    )
    assert await no_message(ws)
    await ws.disconnect()


async def test_a_since_older_than_the_log_keeps_gets_resync(token_headers, settings):
    settings.LIVE_EVENT_LOG_MAX_EVENTS = 2
    ids = await published_ids(token_headers, 4)
    assert await sync_to_async(redis_client().xlen)(log_key()) == 2
    ws = await open_socket(token_headers)
    await ws.send_json_to({"action": "subscribe", "stream": "calculations", "since": ids[0]})
    assert await ws.receive_json_from(timeout=5) == {"type": "resync", "stream": "calculations"}
    assert await ws.receive_json_from(timeout=5) == {
        "type": "subscribed",
        "stream": "calculations",
        "replayed": 0,
    }
    await publish(50, 50)  # and it is live from there
    assert (await next_event(ws))["id"] == 50
    # The log now keeps ids[3] and the new one; the newest id trimming removed (ids[2]) is
    # still a valid `since`, nothing after it is lost.
    reply = await request(ws, {"action": "subscribe", "stream": "calculations", "since": ids[2]})
    assert reply["type"] == "event" and reply["event"]["event_id"] == ids[3]
    await ws.disconnect()


async def test_events_older_than_the_retention_are_trimmed(token_headers, settings):
    settings.LIVE_EVENT_LOG_RETENTION = 0.001
    await published_ids(token_headers, 3)
    # Each append trims by age: only the newest (added after the trim's cut) is left.
    assert await sync_to_async(redis_client().xlen)(log_key()) <= 2


async def test_a_since_from_a_log_redis_lost_gets_resync(token_headers):
    ids = await published_ids(token_headers, 2)
    client = redis_client()
    await sync_to_async(client.delete)(
        log_key(), f"{log_key()}:epoch", f"{log_key()}:floor"
    )  # Redis restarted empty
    ws = await open_socket(token_headers)
    reply = await request(ws, {"action": "subscribe", "stream": "calculations", "since": ids[1]})
    assert reply == {"type": "resync", "stream": "calculations"}
    await ws.disconnect()


async def test_a_live_event_from_a_new_log_says_resync_first(token_headers):
    """Redis lost the log while this socket stayed open: the next event is from another
    epoch, so the client learns that it may have missed some."""
    await published_ids(token_headers, 1)
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    await sync_to_async(redis_client().delete)(log_key(), f"{log_key()}:epoch", f"{log_key()}:floor")
    await publish(77, 1)
    assert await ws.receive_json_from(timeout=5) == {"type": "resync", "stream": "calculations"}
    assert (await next_event(ws))["id"] == 77
    await ws.disconnect()


@pytest.mark.parametrize(
    "since", [42, "", "yesterday", "1767261600123-0", "zzzzzzzz.1-0", "abcdef01.1-0-0", ["a"], "a" * 100]
)
async def test_a_malformed_since_is_an_error_naming_the_field(token_headers, since):
    ws = await open_socket(token_headers)
    reply = await request(ws, {"action": "subscribe", "stream": "calculations", "since": since})
    assert reply["type"] == "error"
    assert (reply["code"], reply["field"]) == ("invalid_since", "since")
    assert (await request(ws, {"action": "ping"})) == {"type": "pong"}
    await ws.disconnect()


@pytest.mark.parametrize(
    ("ms", "seq"), [(0, 2**64), (2**64, 0), (10**20 - 1, 10**20 - 1), (2**64 - 1, 2**64 - 1)]
)
async def test_a_since_of_the_right_shape_out_of_range_is_invalid_not_an_outage(token_headers, ms, seq):
    [newest] = await published_ids(token_headers, 1)
    since = f"{event_id_parse(newest).epoch}.{ms}-{seq}"
    ws = await open_socket(token_headers)
    reply = await request(ws, {"action": "subscribe", "stream": "calculations", "since": since})
    assert (reply["type"], reply["code"], reply["field"]) == ("error", "invalid_since", "since")
    assert (await request(ws, {"action": "ping"})) == {"type": "pong"}  # still open: no 4503
    await ws.disconnect()


async def test_the_largest_event_id_redis_accepts_is_a_well_formed_since(token_headers):
    [newest] = await published_ids(token_headers, 1)
    since = f"{event_id_parse(newest).epoch}.{2**64 - 1}-{2**64 - 2}"
    ws = await open_socket(token_headers)
    reply = await request(ws, {"action": "subscribe", "stream": "calculations", "since": since})
    assert (reply["code"], reply["field"]) == ("unknown_since", "since")  # past the tail, not malformed
    await ws.disconnect()


async def test_an_unknown_since_is_an_error_and_subscribes_nothing(token_headers):
    [newest] = await published_ids(token_headers, 1)
    position = event_id_parse(newest)
    future = str(Position(position.epoch, position.ms + 10**6, 0))
    ws = await open_socket(token_headers)
    reply = await request(ws, {"action": "subscribe", "stream": "calculations", "since": future})
    assert (reply["type"], reply["code"], reply["field"]) == ("error", "unknown_since", "since")
    await publish(5, 5)
    assert await no_message(ws)  # not subscribed
    assert (await request(ws, {"action": "ping"})) == {"type": "pong"}
    await ws.disconnect()


async def test_since_is_only_for_streams(token_headers):
    ws = await open_socket(token_headers)
    reply = await request(
        ws, {"action": "subscribe", "kind": "calculation", "id": 1, "since": "abcdef01.1-0"}
    )
    assert (reply["code"], reply["field"]) == ("invalid_since", "since")
    await ws.disconnect()


async def test_a_null_since_is_a_plain_subscription(token_headers):
    ws = await open_socket(token_headers)
    reply = await request(ws, {"action": "subscribe", "stream": "functions", "since": None})
    assert reply == {"type": "subscribed", "stream": "functions"}
    await ws.disconnect()


async def test_a_stream_event_after_unsubscribing_is_not_sent(token_headers):
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    [channel] = await sync_to_async(redis_client().zrange)(f"{prefix}:group:calculations", 0, -1)
    await request(ws, {"action": "unsubscribe", "stream": "calculations"})
    # A group message already on its way when the client unsubscribed: ignored.
    await get_channel_layer().group_add("calculations", channel.decode())
    await publish(9, 9)
    assert await no_message(ws)
    await ws.disconnect()


async def test_an_unreadable_log_at_subscribe_closes_with_4503(token_headers, monkeypatch):
    from redis.exceptions import RedisError

    from apps.live import delivery

    async def broken(**kwargs):
        raise RedisError("the log's Redis is gone")

    monkeypatch.setattr(delivery, "event_log_read", broken)
    ws = await open_socket(token_headers)
    await ws.send_json_to({"action": "subscribe", "stream": "calculations", "since": "abcdef01.1-0"})
    assert (await ws.receive_json_from(timeout=5))["code"] == "unavailable"
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4503}


async def test_an_unreadable_log_while_filling_a_gap_closes_with_4503(token_headers, monkeypatch):
    from redis.exceptions import RedisError

    from apps.live import delivery

    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})

    async def broken(**kwargs):
        raise RedisError("the log's Redis is gone")

    monkeypatch.setattr(delivery, "event_log_read", broken)
    await get_channel_layer().group_send(
        "calculations",
        {
            "type": EVENT_TYPE,
            "event": {"kind": "calculation", "id": 1, "event_id": "abcdef01.99-0"},
            "stream": "calculations",
            "after": "abcdef01.98-0",
        },
    )
    assert (await ws.receive_json_from(timeout=5))["code"] == "unavailable"
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4503}
