"""Permissions on a long connection: a websocket reads its user's permissions afresh on every
subscribe, and the periodic re-check ends the subscriptions the user may no longer see, the
way REST answers 403 on the next request."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from apps.accounts.services import api_token_create
from apps.live.realtime import broadcast_event
from tests.conftest import permissions_grant
from tests.live.conftest import next_event, no_message, open_socket, request

# Their events are made up (only what delivery reads): tests/live/conftest.py checks their
# envelopes against the AsyncAPI document, not the events' fields.
WEBSOCKET_EVENTS_ARE_SYNTHETIC = True
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_layer", "close_thread_connections"),
]

send = sync_to_async(broadcast_event)


@sync_to_async
def viewer_socket_headers(*actions: str) -> tuple[object, list[tuple[bytes, bytes]]]:
    viewer = get_user_model().objects.create_user(username="ws-viewer", password="viewer-pass-123")
    permissions_grant(viewer, *actions)
    _, raw = api_token_create(user=viewer, name="ws")
    return viewer, [(b"authorization", f"Bearer {raw}".encode())]


@sync_to_async
def revoke_view(user, *codenames: str) -> None:
    user.user_permissions.remove(*Permission.objects.filter(codename__in=codenames))


@sync_to_async
def a_function() -> int:
    from apps.charts.models import Function

    return Function.objects.create(expression="sin(t)", dt=1.0, interval=1.0).pk


def event(second: int) -> dict:
    return {"status": "running", "updated_at": f"2026-01-01T10:00:{second:02d}+00:00"}


async def test_a_permission_removed_is_refused_on_the_next_subscribe(settings):
    settings.LIVE_AUTH_RECHECK_SECONDS = 3600  # only the subscribe itself may notice
    viewer, headers = await viewer_socket_headers("view")
    function_id = await a_function()
    ws = await open_socket(headers)
    assert (await request(ws, {"action": "subscribe", "stream": "calculations"}))["type"] == "subscribed"

    await revoke_view(viewer, "view_calculation", "view_function")

    for message, field in (
        ({"action": "subscribe", "stream": "functions"}, "stream"),
        ({"action": "subscribe", "kind": "function", "id": function_id}, "kind"),
    ):
        reply = await request(ws, message)
        assert (reply["type"], reply["code"], reply["field"]) == ("error", "permission_denied", field), reply
    # Subscribing again to what it was allowed before ends that subscription too.
    assert await request(ws, {"action": "subscribe", "stream": "calculations"}) == {
        "type": "unsubscribed",
        "stream": "calculations",
        "reason": "permission_denied",
    }
    assert (await ws.receive_json_from(timeout=5))["code"] == "permission_denied"
    await send(kind="calculation", obj_id=1, payload=event(1))
    assert await no_message(ws)
    await ws.disconnect()


async def test_a_permission_granted_is_honoured_on_the_next_subscribe(settings):
    viewer, headers = await viewer_socket_headers()
    ws = await open_socket(headers)
    assert (await request(ws, {"action": "subscribe", "stream": "functions"}))["code"] == "permission_denied"
    await sync_to_async(permissions_grant)(viewer, "view")
    assert await request(ws, {"action": "subscribe", "stream": "functions"}) == {
        "type": "subscribed",
        "stream": "functions",
    }
    await ws.disconnect()


async def test_the_periodic_recheck_drops_the_subscriptions_the_user_may_no_longer_see(settings):
    settings.LIVE_AUTH_RECHECK_SECONDS = 0.2
    viewer, headers = await viewer_socket_headers("view")
    function_id, other_function = await a_function(), await a_function()
    ws = await open_socket(headers)
    assert (await request(ws, {"action": "subscribe", "stream": "calculations"}))["type"] == "subscribed"
    assert (await request(ws, {"action": "subscribe", "kind": "function", "id": function_id}))[
        "type"
    ] == "subscribed"

    await revoke_view(viewer, "view_calculation")

    assert await ws.receive_json_from(timeout=5) == {
        "type": "unsubscribed",
        "stream": "calculations",
        "reason": "permission_denied",
    }
    await send(kind="calculation", obj_id=1, payload=event(1))
    await send(kind="function", obj_id=function_id, payload=event(2))
    assert (await next_event(ws))["id"] == function_id  # what it may still see keeps coming
    assert await no_message(ws)

    await revoke_view(viewer, "view_function")

    assert await ws.receive_json_from(timeout=5) == {
        "type": "unsubscribed",
        "kind": "function",
        "id": function_id,
        "reason": "permission_denied",
    }
    await send(kind="function", obj_id=function_id, payload=event(3))
    assert await no_message(ws)
    assert (await request(ws, {"action": "ping"})) == {"type": "pong"}  # open: only the subscriptions end
    assert (await request(ws, {"action": "subscribe", "kind": "function", "id": other_function}))[
        "code"
    ] == "permission_denied"
    await ws.disconnect()


async def test_an_object_event_already_on_its_way_after_the_subscription_ended_is_not_sent(settings):
    import redis
    from channels.layers import get_channel_layer
    from django.conf import settings as django_settings

    from tests.live.conftest import layer_redis_url

    _, headers = await viewer_socket_headers("view")
    function_id = await a_function()
    ws = await open_socket(headers)
    await request(ws, {"action": "subscribe", "kind": "function", "id": function_id})
    config = django_settings.CHANNEL_LAYERS["default"]["CONFIG"]
    members = redis.Redis.from_url(layer_redis_url(config)).zrange
    [channel] = await sync_to_async(members)(f"{config['prefix']}:group:function.{function_id}", 0, -1)
    await request(ws, {"action": "unsubscribe", "kind": "function", "id": function_id})
    # A group message sent before the socket left the group: ignored.
    await get_channel_layer().group_add(f"function.{function_id}", channel.decode())
    await send(kind="function", obj_id=function_id, payload=event(1))
    assert await no_message(ws)
    await ws.disconnect()
