"""Who may open /ws/events/: an admin session from an allowed origin, or a bearer token from anywhere."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_create, api_token_revoke
from apps.live.consumers import CLOSE_UNAUTHENTICATED
from apps.live.middleware import SUBPROTOCOL
from tests.live.conftest import communicator, request

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_layer", "close_thread_connections"),
]


async def assert_refused_as_unauthenticated(ws) -> None:
    connected, _ = await ws.connect(timeout=5)
    assert connected  # accepted first, so the client can read why it is closed
    error = await ws.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["code"] == "unauthenticated"
    assert "Bearer" in error["message"]
    close = await ws.receive_output(timeout=5)
    assert close == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


async def test_it_refuses_a_connection_without_credentials_with_4401():
    await assert_refused_as_unauthenticated(communicator())


async def test_it_ignores_what_an_unauthenticated_client_sends_before_the_close():
    ws = communicator()
    await assert_refused_as_unauthenticated(ws)
    await ws.send_json_to({"action": "subscribe", "stream": "calculations"})
    assert await ws.receive_nothing(timeout=0.3)


async def test_it_accepts_an_admin_session(session_headers):
    ws = communicator(headers=session_headers)
    connected, subprotocol = await ws.connect(timeout=5)
    assert connected and subprotocol is None
    assert await request(ws, {"action": "subscribe", "stream": "calculations"}) == {
        "type": "subscribed",
        "stream": "calculations",
    }
    await ws.disconnect()


async def test_it_accepts_a_bearer_token_header(token_headers):
    ws = communicator(headers=token_headers)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    assert (await request(ws, {"action": "ping"})) == {"type": "pong"}
    await ws.disconnect()


async def test_it_accepts_a_token_in_the_subprotocol_and_never_echoes_it(api_token):
    ws = communicator(subprotocols=["calcboard.v1", f"calcboard.bearer.{api_token}"])
    connected, subprotocol = await ws.connect(timeout=5)
    assert connected
    assert subprotocol == "calcboard.v1"
    assert (await request(ws, {"action": "ping"})) == {"type": "pong"}
    await ws.disconnect()


async def test_it_refuses_a_revoked_token(user):
    token, raw = await sync_to_async(api_token_create)(user=user, name="to revoke")
    await sync_to_async(api_token_revoke)(token=token)
    await assert_refused_as_unauthenticated(
        communicator(headers=[(b"authorization", f"Bearer {raw}".encode())])
    )


async def test_it_refuses_an_unknown_token(db):
    await assert_refused_as_unauthenticated(communicator(headers=[(b"authorization", b"Bearer not-a-token")]))


async def test_it_refuses_an_unknown_token_in_the_subprotocol(db):
    await assert_refused_as_unauthenticated(
        communicator(subprotocols=["calcboard.v1", "calcboard.bearer.nope"])
    )


async def test_it_refuses_a_token_of_an_inactive_user(user, api_token):
    await sync_to_async(get_user_model().objects.filter(pk=user.pk).update)(is_active=False)
    await assert_refused_as_unauthenticated(
        communicator(headers=[(b"authorization", f"Bearer {api_token}".encode())])
    )


async def test_it_refuses_another_authorization_scheme(user):
    await assert_refused_as_unauthenticated(communicator(headers=[(b"authorization", b"Basic YTpi")]))


async def test_it_refuses_a_session_that_was_logged_out(user, session_headers):
    from django.contrib.sessions.models import Session

    await sync_to_async(Session.objects.all().delete)()
    await assert_refused_as_unauthenticated(communicator(headers=session_headers))


async def test_it_records_the_last_use_of_a_token(user, token_headers):
    ws = communicator(headers=token_headers)
    assert (await ws.connect(timeout=5))[0]
    token = await sync_to_async(ApiToken.objects.get)(user=user)
    assert token.last_used_at is not None
    await ws.disconnect()


@pytest.mark.parametrize("origin", [b"http://evil.example", b"null", b"http://localhost.evil.example"])
async def test_it_refuses_a_session_from_a_foreign_origin_at_the_handshake(session_headers, origin):
    ws = communicator(headers=[(b"origin", origin), *session_headers], origin=False)
    connected, _ = await ws.connect(timeout=5)
    assert not connected  # daphne turns this into HTTP 403


async def test_it_refuses_a_session_without_origin_at_the_handshake(session_headers):
    ws = communicator(headers=session_headers, origin=False)
    connected, _ = await ws.connect(timeout=5)
    assert not connected


async def test_it_refuses_a_stranger_without_origin_at_the_handshake(db):
    ws = communicator(origin=False)
    connected, _ = await ws.connect(timeout=5)
    assert not connected


@pytest.mark.parametrize("origin", [None, b"http://evil.example"])
async def test_a_program_with_a_bearer_token_needs_no_origin(token_headers, origin):
    ws = communicator(headers=[*([(b"origin", origin)] if origin else []), *token_headers], origin=False)
    assert (await ws.connect(timeout=5))[0]
    assert await request(ws, {"action": "ping"}) == {"type": "pong"}
    await ws.disconnect()


async def test_browser_code_with_a_token_subprotocol_needs_no_origin(api_token):
    ws = communicator(subprotocols=[SUBPROTOCOL, f"calcboard.bearer.{api_token}"], origin=False)
    connected, subprotocol = await ws.connect(timeout=5)
    assert connected and subprotocol == SUBPROTOCOL
    assert await request(ws, {"action": "ping"}) == {"type": "pong"}
    await ws.disconnect()


async def test_without_an_allowed_origin_only_the_token_counts_not_the_cookie(session_headers):
    # A foreign page that adds a made-up token does not ride on the admin's session cookie.
    bogus = [(b"authorization", b"Bearer made-up"), (b"origin", b"http://evil.example")]
    await assert_refused_as_unauthenticated(communicator(headers=[*bogus, *session_headers], origin=False))


# --- the Origin check: scheme, host and port ------------------------------------------------


async def handshake(session_headers, *, origin: bytes, host: bytes | None, extra=()) -> bool:
    from channels.testing import WebsocketCommunicator

    from project.asgi import application

    headers = [(b"origin", origin), *([(b"host", host)] if host else []), *extra, *session_headers]
    ws = WebsocketCommunicator(application, "/ws/events/", headers=headers)
    connected, _ = await ws.connect(timeout=5)
    if connected:
        await ws.disconnect()
    return connected


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (b"http://localhost:8000", b"localhost:8000", True),
        (b"http://LOCALHOST:8000", b"localhost:8000", True),
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),
        (b"http://localhost:80", b"localhost", True),
        (b"http://localhost:9999", b"localhost:8000", False),  # another port is another site
        (b"http://localhost:9999", b"localhost", False),
        (b"https://localhost", b"localhost", False),  # the socket is plain ws
        (b"http://127.0.0.1:8000", b"localhost:8000", False),
        (b"http://evil.example", b"evil.example", False),  # not an allowed host
        (b"http://localhost:99999", b"localhost", False),
        (b"ftp://localhost", b"localhost", False),
        (b"http://localhost/admin/", b"localhost", False),
        (b"http://localhost", None, False),  # no Host: nothing to compare with
    ],
)
async def test_the_origin_must_match_scheme_host_and_port(session_headers, origin, host, allowed):
    assert await handshake(session_headers, origin=origin, host=host) is allowed


async def test_https_behind_a_proxy_counts_as_the_sites_own_origin(session_headers, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = [(b"x-forwarded-proto", b"https")]
    assert await handshake(session_headers, origin=b"https://localhost", host=b"localhost", extra=forwarded)
    assert not await handshake(
        session_headers, origin=b"http://localhost", host=b"localhost", extra=forwarded
    )
    assert not await handshake(session_headers, origin=b"https://localhost", host=b"localhost")


async def test_a_trusted_origin_may_connect_from_elsewhere(session_headers, settings):
    settings.CSRF_TRUSTED_ORIGINS = [
        "https://dashboard.example.com",
        "https://*.example.org:8443",
        "nonsense",
    ]
    assert await handshake(session_headers, origin=b"https://dashboard.example.com", host=b"localhost")
    assert await handshake(session_headers, origin=b"https://dashboard.example.com:443", host=b"localhost")
    assert not await handshake(
        session_headers, origin=b"https://dashboard.example.com:8443", host=b"localhost"
    )
    assert not await handshake(session_headers, origin=b"http://dashboard.example.com", host=b"localhost")
    assert await handshake(session_headers, origin=b"https://team.example.org:8443", host=b"localhost")
    assert await handshake(session_headers, origin=b"https://example.org:8443", host=b"localhost")
    assert not await handshake(session_headers, origin=b"https://team.example.org", host=b"localhost")
    assert not await handshake(session_headers, origin=b"https://evilexample.org:8443", host=b"localhost")
