"""Revocation that bites: revoking a token, deactivating a user or logging a session out
closes that principal's open sockets with 4401 within 5 seconds; other sockets stay open."""

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_create, api_token_revoke
from apps.live.consumers import CLOSE_UNAUTHENTICATED
from apps.live.realtime import broadcast_event
from tests.live.conftest import no_message, open_socket, request

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_layer", "close_thread_connections"),
]

WITHIN = 5.0


async def assert_closed_as_revoked(ws) -> None:
    """Waits (up to WITHIN seconds) for the error, then the 4401 close, and nothing else."""
    error = await ws.receive_json_from(timeout=WITHIN)
    assert (error["type"], error["code"]) == ("error", "revoked"), error
    assert await ws.receive_output(timeout=1) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


async def assert_still_open(ws) -> None:
    assert (await request(ws, {"action": "ping"})) == {"type": "pong"}


def bearer(raw: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {raw}".encode())]


def logged_in_client(user) -> tuple[Client, list[tuple[bytes, bytes]]]:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return client, [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]


async def test_revoking_a_token_closes_its_sockets_and_only_those(user):
    token, raw = await sync_to_async(api_token_create)(user=user, name="lost laptop")
    _, other = await sync_to_async(api_token_create)(user=user, name="desk")
    revoked, kept = await open_socket(bearer(raw)), await open_socket(bearer(other))
    await request(revoked, {"action": "subscribe", "stream": "calculations"})
    await sync_to_async(api_token_revoke)(token=token)
    await assert_closed_as_revoked(revoked)
    # Nothing more reaches the revoked socket, not even an event sent right after.
    await sync_to_async(broadcast_event)(kind="calculation", obj_id=1, payload={"status": "running"})
    assert await no_message(revoked)
    await assert_still_open(kept)
    await kept.disconnect()


async def test_revoking_a_token_in_the_admin_closes_its_sockets(user):
    token, raw = await sync_to_async(api_token_create)(user=user, name="admin revokes")
    ws = await open_socket(bearer(raw))
    boss = await sync_to_async(get_user_model().objects.create_superuser)(
        username="boss", password="boss-pass-1"
    )
    admin, _ = await sync_to_async(logged_in_client)(boss)
    response = await sync_to_async(admin.post)(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert response.status_code == 302
    await assert_closed_as_revoked(ws)


async def test_deleting_a_token_closes_its_sockets(user):
    token, raw = await sync_to_async(api_token_create)(user=user, name="deleted")
    ws = await open_socket(bearer(raw))
    await sync_to_async(lambda: ApiToken.objects.get(pk=token.pk).delete())()
    await assert_closed_as_revoked(ws)


async def test_deactivating_a_user_closes_every_socket_of_theirs(user, api_token):
    _, cookie = await sync_to_async(logged_in_client)(user)
    by_token, by_session = await open_socket(bearer(api_token)), await open_socket(cookie)
    stranger = await sync_to_async(get_user_model().objects.create_user)(username="stranger")
    _, stranger_raw = await sync_to_async(api_token_create)(user=stranger, name="other")
    unrelated = await open_socket(bearer(stranger_raw))

    def deactivate() -> None:
        user.is_active = False
        user.save(update_fields=["is_active"])

    await sync_to_async(deactivate)()
    await assert_closed_as_revoked(by_token)
    await assert_closed_as_revoked(by_session)
    await assert_still_open(unrelated)
    await unrelated.disconnect()


async def test_deleting_a_user_closes_their_sockets(user, api_token):
    ws = await open_socket(bearer(api_token))
    await sync_to_async(lambda: get_user_model().objects.get(pk=user.pk).delete())()
    await assert_closed_as_revoked(ws)


async def test_logging_a_session_out_closes_the_sockets_of_that_session_only(user, api_token):
    await sync_to_async(get_user_model().objects.filter(pk=user.pk).update)(
        is_staff=True
    )  # logs out in the admin
    client, cookie = await sync_to_async(logged_in_client)(user)
    _, other_cookie = await sync_to_async(logged_in_client)(user)
    session_socket, other_session, token_socket = (
        await open_socket(cookie),
        await open_socket(other_cookie),
        await open_socket(bearer(api_token)),
    )
    response = await sync_to_async(client.post)("/admin/logout/")
    assert response.status_code in (200, 302)
    await assert_closed_as_revoked(session_socket)
    await assert_still_open(other_session)
    await assert_still_open(token_socket)
    await other_session.disconnect()
    await token_socket.disconnect()


async def test_the_periodic_recheck_catches_a_deactivation_that_sent_no_signal(user, api_token, settings):
    settings.LIVE_AUTH_RECHECK_SECONDS = 0.2
    ws = await open_socket(bearer(api_token))
    await assert_still_open(ws)
    await sync_to_async(get_user_model().objects.filter(pk=user.pk).update)(is_active=False)  # no signal
    await assert_closed_as_revoked(ws)


async def test_the_periodic_recheck_catches_an_expired_session(user, settings):
    settings.LIVE_AUTH_RECHECK_SECONDS = 0.2
    _, cookie = await sync_to_async(logged_in_client)(user)
    ws = await open_socket(cookie)
    await sync_to_async(Session.objects.all().delete)()  # expired and cleaned up
    await assert_closed_as_revoked(ws)


async def test_the_periodic_recheck_leaves_good_credentials_alone(user, api_token, settings):
    settings.LIVE_AUTH_RECHECK_SECONDS = 0.1
    _, cookie = await sync_to_async(logged_in_client)(user)
    by_token, by_session = await open_socket(bearer(api_token)), await open_socket(cookie)
    assert await no_message(by_token, timeout=0.5)
    await assert_still_open(by_token)
    await assert_still_open(by_session)
    await by_token.disconnect()
    await by_session.disconnect()


async def test_a_second_revocation_of_a_closed_socket_sends_nothing(user):
    token, raw = await sync_to_async(api_token_create)(user=user, name="twice")
    ws = await open_socket(bearer(raw))
    await sync_to_async(api_token_revoke)(token=token)
    await assert_closed_as_revoked(ws)
    await sync_to_async(lambda: ApiToken.objects.filter(pk=token.pk).first().delete())()  # another revocation
    assert await no_message(ws, timeout=0.5)
