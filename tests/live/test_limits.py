"""What one client may cost the websocket server: object subscriptions (found or not) up to a
cap, one database connection per subscribe at most, a message rate per socket, a number of
open sockets per user counted across processes, and a bounded replay per `subscribe`."""

import json

import pytest
import websockets.sync.client
from asgiref.sync import sync_to_async

from apps.accounts.services import api_token_create
from apps.live import consumers
from apps.live.consumers import CLOSE_RATE_LIMITED, CLOSE_TOO_MANY_CONNECTIONS
from apps.live.eventlog import event_id_parse
from apps.live.realtime import broadcast_event
from harness import processes
from project.settings.test import child_settings_env
from tests.live.conftest import communicator, next_event, open_socket, request

# Their events are made up (only what delivery reads): tests/live/conftest.py checks their
# envelopes against the AsyncAPI document, not the events' fields.
WEBSOCKET_EVENTS_ARE_SYNTHETIC = True
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_thread_connections")]

send = sync_to_async(broadcast_event)
MISSING = 10**12  # no calculation has this id


async def assert_closed_with(ws, *, code: str, close: int) -> None:
    error = await ws.receive_json_from(timeout=5)
    assert (error["type"], error["code"]) == ("error", code), error
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": close}


@pytest.fixture
def database_visits(monkeypatch) -> list[dict]:
    """Every database visit a subscribe makes (each one is a new connection under daphne,
    CONN_MAX_AGE=0): the arguments of each call of the consumer's one access check."""
    visits = []
    check = consumers.live_subscription_check

    def counted(**kwargs):
        visits.append(kwargs)
        return check(**kwargs)

    monkeypatch.setattr(consumers, "live_subscription_check", counted)
    return visits


@pytest.mark.usefixtures("private_layer")
async def test_objects_not_found_count_toward_the_subscription_cap(token_headers, monkeypatch):
    from apps.calculations.models import Calculation

    monkeypatch.setattr(consumers, "MAX_OBJECT_SUBSCRIPTIONS", 2)
    real = await sync_to_async(Calculation.objects.create)(
        name="x", date_start="2024-01-01", date_fin="2024-01-02", lag=1
    )
    ws = await open_socket(token_headers)
    for obj_id in (MISSING, MISSING + 1):
        reply = await request(ws, {"action": "subscribe", "kind": "calculation", "id": obj_id})
        assert (reply["code"], reply["field"]) == ("not_found", "id")
    reply = await request(ws, {"action": "subscribe", "kind": "calculation", "id": real.pk})
    assert reply["code"] == "too_many_subscriptions"
    # Asking again for one already counted takes no new slot; unsubscribing frees one.
    assert (await request(ws, {"action": "subscribe", "kind": "calculation", "id": MISSING}))[
        "code"
    ] == "not_found"
    await request(ws, {"action": "unsubscribe", "kind": "calculation", "id": MISSING})
    reply = await request(ws, {"action": "subscribe", "kind": "calculation", "id": real.pk})
    assert reply == {"type": "subscribed", "kind": "calculation", "id": real.pk}
    await ws.disconnect()


@pytest.mark.usefixtures("private_layer")
async def test_a_subscribe_visits_the_database_once_and_one_refused_by_the_cap_never(
    token_headers, monkeypatch, database_visits
):
    monkeypatch.setattr(consumers, "MAX_OBJECT_SUBSCRIPTIONS", 3)
    ws = await open_socket(token_headers)
    for offset in range(3):
        await request(ws, {"action": "subscribe", "kind": "calculation", "id": MISSING + offset})
    assert len(database_visits) == 3  # permission and existence in one visit
    for offset in range(3, 20):
        reply = await request(ws, {"action": "subscribe", "kind": "calculation", "id": MISSING + offset})
        assert reply["code"] == "too_many_subscriptions"
    assert len(database_visits) == 3
    await ws.disconnect()


@pytest.mark.usefixtures("private_layer")
async def test_a_socket_sending_faster_than_the_rate_is_closed_with_4429(token_headers, settings):
    settings.LIVE_MESSAGE_BURST = 5
    settings.LIVE_MESSAGE_RATE = 0.01
    ws = await open_socket(token_headers)
    for _ in range(5):
        assert (await request(ws, {"action": "ping"})) == {"type": "pong"}
    await ws.send_json_to({"action": "ping"})
    await assert_closed_with(ws, code="rate_limited", close=CLOSE_RATE_LIMITED)
    await ws.send_json_to({"action": "ping"})
    assert await ws.receive_nothing(timeout=0.3)  # nothing more is answered
    await ws.disconnect()


@pytest.mark.usefixtures("private_layer")
async def test_the_rate_refills_over_time(token_headers, settings):
    settings.LIVE_MESSAGE_BURST = 2
    settings.LIVE_MESSAGE_RATE = 10**6  # a bucket refilled faster than the pings come
    ws = await open_socket(token_headers)
    for _ in range(20):
        assert (await request(ws, {"action": "ping"})) == {"type": "pong"}
    await ws.disconnect()


@pytest.mark.usefixtures("private_layer")
async def test_a_user_over_the_connection_cap_is_closed_with_4409(token_headers, settings, django_user_model):
    settings.LIVE_MAX_CONNECTIONS_PER_USER = 2
    first, second = await open_socket(token_headers), await open_socket(token_headers)
    refused = communicator(headers=token_headers)
    assert (await refused.connect(timeout=5))[0]
    await assert_closed_with(refused, code="too_many_connections", close=CLOSE_TOO_MANY_CONNECTIONS)
    await refused.disconnect()
    # Another user is not affected; a closed socket frees its place.
    other = await sync_to_async(django_user_model.objects.create_user)(username="someone-else")
    _, raw = await sync_to_async(api_token_create)(user=other, name="ws")
    elsewhere = await open_socket([(b"authorization", f"Bearer {raw}".encode())])
    await first.disconnect()
    third = await open_socket(token_headers)
    assert (await request(third, {"action": "ping"})) == {"type": "pong"}
    for ws in (second, third, elsewhere):
        await ws.disconnect()


@pytest.fixture
def capped_front_door(test_db_name):
    """The web tier as its own processes (daphne behind the proxy) with a cap of 2 sockets a user."""
    door = processes.FrontDoor(
        test_db_name, extra_env=child_settings_env(LIVE_MAX_CONNECTIONS_PER_USER=2), name="ws-cap"
    )
    yield door
    door.stop()


def test_the_connection_cap_counts_the_sockets_of_every_process(capped_front_door, api_token, settings):
    from asgiref.sync import async_to_sync

    settings.LIVE_MAX_CONNECTIONS_PER_USER = 2
    headers = {"Authorization": f"Bearer {api_token}", "Origin": capped_front_door.base_url}

    async def in_this_process() -> tuple[str, int]:
        ws = communicator(headers=[(b"authorization", f"Bearer {api_token}".encode())])
        await ws.connect(timeout=5)
        error = await ws.receive_json_from(timeout=5)
        close = await ws.receive_output(timeout=5)
        await ws.disconnect()
        return error["code"], close["code"]

    connect = websockets.sync.client.connect
    with (
        connect(capped_front_door.ws_url, additional_headers=headers, open_timeout=10) as first,
        connect(capped_front_door.ws_url, additional_headers=headers, open_timeout=10) as second,
    ):
        for ws in (first, second):
            ws.send(json.dumps({"action": "ping"}))
            assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
        # Two sockets open in daphne: this process's consumer counts them too.
        assert async_to_sync(in_this_process)() == ("too_many_connections", CLOSE_TOO_MANY_CONNECTIONS)


@pytest.mark.usefixtures("private_layer")
async def test_a_since_further_back_than_the_replay_bound_gets_resync(token_headers, settings):
    settings.LIVE_REPLAY_MAX_EVENTS = 3
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    for obj_id in range(1, 6):
        await send(kind="calculation", obj_id=obj_id, payload={"status": "queued"})
    ids = [(await next_event(ws))["event_id"] for _ in range(5)]
    await ws.disconnect()
    assert len({event_id_parse(value).epoch for value in ids}) == 1

    away = await open_socket(token_headers)
    await away.send_json_to({"action": "subscribe", "stream": "calculations", "since": ids[0]})  # 4 after it
    assert await away.receive_json_from(timeout=5) == {"type": "resync", "stream": "calculations"}
    assert await away.receive_json_from(timeout=5) == {
        "type": "subscribed",
        "stream": "calculations",
        "replayed": 0,
    }
    await away.disconnect()

    near = await open_socket(token_headers)
    await near.send_json_to({"action": "subscribe", "stream": "calculations", "since": ids[1]})  # 3 after it
    assert [(await next_event(near))["id"] for _ in range(3)] == [3, 4, 5]
    assert (await near.receive_json_from(timeout=5))["replayed"] == 3
    await near.disconnect()


@pytest.mark.usefixtures("private_layer")
async def test_a_redis_failure_while_renewing_the_count_closes_only_that_socket_with_4503(
    token_headers, settings, monkeypatch
):
    from redis.exceptions import RedisError

    settings.LIVE_AUTH_RECHECK_SECONDS = 0.1
    ws = await open_socket(token_headers)

    async def broken(**kwargs):
        raise RedisError("the count's Redis is gone")

    monkeypatch.setattr(consumers, "connection_claim", broken)
    error = await ws.receive_json_from(timeout=5)
    assert (error["type"], error["code"]) == ("error", "unavailable")
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4503}
    await ws.disconnect()


@pytest.mark.usefixtures("private_layer")
async def test_a_redis_failure_when_releasing_the_count_still_closes_cleanly(token_headers, monkeypatch):
    from redis.exceptions import RedisError

    ws = await open_socket(token_headers)

    async def broken(**kwargs):
        raise RedisError("the count's Redis is gone")

    monkeypatch.setattr(consumers, "connection_release", broken)
    await ws.disconnect()  # the lease runs out on its own
    again = await open_socket(token_headers)
    assert (await request(again, {"action": "ping"})) == {"type": "pong"}
    await again.disconnect()
