"""Helpers for the websocket tests: clients on the real ASGI application and the real Redis
channel layer (test settings: Redis db 1)."""

import json
import os
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client

ORIGIN = (b"origin", b"http://localhost")
# The handshake's own address: the origin check compares scheme, host and port with it.
HOST = (b"host", b"localhost")


@pytest.fixture(autouse=True)
def websocket_contract(request, monkeypatch):
    """Every message the consumer sends in these tests is checked against the AsyncAPI
    document (tests/live/contract.py); the test fails at teardown naming each one that does
    not conform. Yields the messages sent, in order, for tests about the contract itself.

    A module whose tests broadcast made-up events sets WEBSOCKET_EVENTS_ARE_SYNTHETIC: their
    envelopes are checked, the events inside only for kind and id."""
    from apps.live.consumers import EventsConsumer
    from tests.live.contract import Contract

    strict = not getattr(request.module, "WEBSOCKET_EVENTS_ARE_SYNTHETIC", False)
    contract: list[Contract] = []  # built at the first message: the kinds a test registers count
    sent: list[dict] = []
    wrong: list[str] = []
    original = EventsConsumer.send_json

    async def checked_send_json(self, content, close=False):
        if not contract:
            contract.append(Contract(strict_events=strict))
        sent.append(content)
        wrong.extend(contract[0].violations(content))
        return await original(self, content, close=close)

    monkeypatch.setattr(EventsConsumer, "send_json", checked_send_json)
    yield sent
    assert not wrong, "messages the AsyncAPI document does not describe:\n" + "\n".join(wrong)


@pytest.fixture
async def close_thread_connections():
    """The consumers' ORM calls run in asgiref's worker thread, whose connection outlives the
    test (CONN_MAX_AGE) and would keep the test database from being dropped."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def private_layer(settings):
    """The real Redis layer under a prefix of its own, so parallel test runs on this machine
    (which broadcast to the same stream groups) cannot leak events into these tests."""
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {
        **layers["default"]["CONFIG"],
        "prefix": f"calcboard-test-live-{os.getpid()}-{uuid.uuid4().hex[:6]}",
    }
    settings.CHANNEL_LAYERS = layers
    return layers


def layer_redis_url(config: dict) -> str:
    host = config["hosts"][0]
    return host["address"] if isinstance(host, dict) else host


def point_layer_at(settings, url: str) -> None:
    """The same channel layer settings, on another Redis (a private one, or a closed port)."""
    layer = settings.CHANNEL_LAYERS["default"]
    host = layer["CONFIG"]["hosts"][0]
    host = {**host, "address": url} if isinstance(host, dict) else url
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [host]}}}


def communicator(*, headers=(), subprotocols=None, origin: bool = True) -> WebsocketCommunicator:
    from project.asgi import application

    return WebsocketCommunicator(
        application,
        "/ws/events/",
        headers=[*([ORIGIN, HOST] if origin else [HOST]), *headers],
        subprotocols=subprotocols,
    )


@pytest.fixture
def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]


@pytest.fixture
def token_headers(api_token) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {api_token}".encode())]


async def open_socket(headers) -> WebsocketCommunicator:
    ws = communicator(headers=headers)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    return ws


async def request(ws: WebsocketCommunicator, message) -> dict:
    """Send one client message and return the server's reply (not an event)."""
    if isinstance(message, (str, bytes)):
        await ws.send_to(**({"text_data": message} if isinstance(message, str) else {"bytes_data": message}))
    else:
        await ws.send_json_to(message)
    return await ws.receive_json_from(timeout=5)


async def next_event(ws: WebsocketCommunicator, *, timeout: float = 5) -> dict:
    reply = await ws.receive_json_from(timeout=timeout)
    assert reply["type"] == "event", reply
    return reply["event"]


async def no_message(ws: WebsocketCommunicator, *, timeout: float = 0.3) -> bool:
    return await ws.receive_nothing(timeout=timeout, interval=0.02)


def frames(ws: WebsocketCommunicator) -> list[dict]:
    """Everything queued for the client right now, decoded (for assertions on order)."""
    out = []
    queue = ws.output_queue
    while not queue.empty():
        message = queue.get_nowait()
        if message["type"] == "websocket.send":
            out.append(json.loads(message["text"]))
    return out


async def drain(ws: WebsocketCommunicator, *, count: int, timeout: float = 5) -> list[dict]:
    return [await ws.receive_json_from(timeout=timeout) for _ in range(count)]
