"""The websocket API: live events about calculations and function charts.

Endpoint: `/ws/events/` (one per site; daphne serves it next to HTTP).

Access (same rules as the REST API, checked at the handshake):
- an admin session cookie (the admin widget), or
- `Authorization: Bearer <token>` (programs), or
- `Sec-WebSocket-Protocol: calcboard.v1, calcboard.bearer.<token>` (browser code holding a
  token; the server selects `calcboard.v1` and never echoes the token).
- The `Origin` header must name one of ALLOWED_HOSTS (cross-site hijacking of an admin's
  session); a missing or foreign origin is refused at the handshake with HTTP 403.
  Programs send it too, for example `websockets.connect(url, origin="https://calcboard.example")`.
- Without valid credentials the socket is accepted, sent one error message
  (`"code": "unauthenticated"`) and closed with code 4401, so browsers and programs see why.

Client -> server (JSON text frames, at most 4 KiB):
    {"action": "subscribe",   "stream": "calculations" | "functions"}
    {"action": "subscribe",   "kind": "calculation" | "function", "id": 42}
    {"action": "unsubscribe", "stream": ...}   /   {"action": "unsubscribe", "kind": ..., "id": ...}
    {"action": "ping"}

Server -> client:
    {"type": "subscribed",   "stream": "calculations"}
    {"type": "subscribed",   "kind": "calculation", "id": 42}
    {"type": "unsubscribed", ...same keys...}
    {"type": "pong"}
    {"type": "event", "event": {"kind": "calculation", "id": 42, "status": "running", "progress": 40,
                                "updated_at": "2026-01-01T10:00:00.123456+00:00", ...}}
    {"type": "error", "code": "<rule>", "field": "<key or null>", "message": "<human text>"}

Error codes: `invalid_json`, `binary_not_supported`, `message_too_large`, `invalid_message`
(not a JSON object), `unknown_action`, `invalid_stream`, `invalid_kind`, `invalid_id`,
`not_found` (no such object), `too_many_subscriptions`, `unavailable` (the channel layer is
down; the socket is then closed with 4503, reconnect with backoff), `unauthenticated`.
Bad input never closes the connection.

Subscriptions are idempotent. Subscribe first, then read the current state from the REST
API: events are not replayed. Events of one object reach a subscriber in `updated_at`
order: an event older than (or a duplicate of) one already sent on this connection is
dropped, so a subscriber never sees `running` after `finished`, and a client subscribed to
both a stream and one of its objects gets each event once.

Send `ping` every ~30 s on a long-lived connection: it keeps proxies from closing an idle
socket and renews the group memberships Redis would otherwise forget after a day.

Close codes: 4401 not authenticated, 4503 channel layer (Redis) unavailable; 1000/1001
normal. After 4503 or an abnormal close (1006, server restart) clients reconnect with backoff
and re-read what they show (the admin widget re-reads its page).
"""

import json
import logging
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from apps.live.middleware import SUBPROTOCOL
from apps.live.realtime import EVENT_TYPE, KINDS, object_group, stream_group
from apps.live.selectors import live_object_exists

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_UNAVAILABLE = 4503

MAX_MESSAGE_CHARS = 4096
MAX_OBJECT_SUBSCRIPTIONS = 200
# Per-object "newest updated_at sent" memory for the ordering guard; a stream subscriber
# sees many objects, so the oldest entries are forgotten past this size.
MAX_TRACKED_OBJECTS = 10_000
# channels-redis forgets group members after `group_expiry` (a day by default); clients
# ping every ~30 s, and a ping renews memberships older than this.
GROUP_RENEW_SECONDS = 3600

STREAMS = {stream_group(kind): kind for kind in KINDS}
_LAYER_ERRORS = (RedisError, ConnectionError, OSError)


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _event_time(event: dict) -> datetime | None:
    value = event.get("updated_at")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class EventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.authenticated = False
        self.groups_joined: set[str] = set()
        self.object_subscriptions = 0
        self.newest: OrderedDict[tuple[str, Any], datetime] = OrderedDict()
        self.groups_renewed_at = time.monotonic()
        offered = self.scope.get("subprotocols") or []
        # Accept before refusing: a close sent before accept becomes a bare HTTP 403 and the
        # client never learns why; after accept it gets an error message and code 4401.
        await self.accept(SUBPROTOCOL if SUBPROTOCOL in offered else None)
        self.accepted = True
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._send_error(
                "unauthenticated",
                "Log in to the admin, or send 'Authorization: Bearer <token>' "
                "(or the subprotocols 'calcboard.v1', 'calcboard.bearer.<token>').",
            )
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.authenticated = True

    # channels assigns `channel_receive` (the layer's receive) in `__call__`; wrap it so a Redis
    # failure on an open socket becomes a clean 4503 close instead of a crashed application.
    @property
    def channel_receive(self):
        return self._receive_from_layer

    @channel_receive.setter
    def channel_receive(self, receive) -> None:
        self._layer_receive = receive

    async def _receive_from_layer(self) -> dict:
        try:
            return await self._layer_receive()
        except _LAYER_ERRORS:
            logger.warning("Channel layer receive failed on websocket %s", self.channel_name, exc_info=True)
            return {"type": "live.layer_down"}

    async def live_layer_down(self, message: dict) -> None:
        await self._layer_down()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", ()):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except _LAYER_ERRORS:  # Redis gone: its group entries expire on their own.
                break

    # --- client messages ------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        if not self.authenticated:
            return
        try:
            if text_data is None:
                raise ProtocolError("binary_not_supported", "Send JSON text frames, not binary ones.")
            if len(text_data) > MAX_MESSAGE_CHARS:
                raise ProtocolError(
                    "message_too_large", f"Messages are limited to {MAX_MESSAGE_CHARS} characters."
                )
            try:
                content = json.loads(text_data)
            except ValueError:
                raise ProtocolError("invalid_json", "The message is not valid JSON.") from None
            await self.receive_json(content)
        except ProtocolError as error:
            await self._send_error(error.code, error.message, field=error.field)

    async def receive_json(self, content: Any, **kwargs) -> None:
        if not isinstance(content, dict):
            raise ProtocolError("invalid_message", "A message is a JSON object with an 'action'.")
        action = content.get("action")
        if action == "ping":
            await self._renew_groups()
            await self.send_json({"type": "pong"})
            return
        if action not in ("subscribe", "unsubscribe"):
            raise ProtocolError(
                "unknown_action", "'action' must be one of: subscribe, unsubscribe, ping.", field="action"
            )
        target, group = self._target(content)
        if action == "subscribe":
            await self._subscribe(target, group)
        else:
            await self._unsubscribe(target, group)

    def _target(self, content: dict) -> tuple[dict, str]:
        """The reply keys and the group name a (un)subscribe message designates."""
        if "stream" in content:
            stream = content["stream"]
            if stream not in STREAMS:
                raise ProtocolError(
                    "invalid_stream", f"'stream' must be one of: {', '.join(STREAMS)}.", field="stream"
                )
            return {"stream": stream}, stream
        kind = content.get("kind")
        if kind not in KINDS:
            raise ProtocolError(
                "invalid_kind",
                f"Give 'stream' ({', '.join(STREAMS)}) or 'kind' ({', '.join(KINDS)}) with 'id'.",
                field="kind",
            )
        obj_id = content.get("id")
        if not isinstance(obj_id, int) or isinstance(obj_id, bool) or not 0 < obj_id < 2**63:
            raise ProtocolError("invalid_id", "'id' must be a positive integer.", field="id")
        return {"kind": kind, "id": obj_id}, object_group(kind, obj_id)

    async def _subscribe(self, target: dict, group: str) -> None:
        if group not in self.groups_joined:
            if "id" in target:
                if self.object_subscriptions >= MAX_OBJECT_SUBSCRIPTIONS:
                    raise ProtocolError(
                        "too_many_subscriptions",
                        f"At most {MAX_OBJECT_SUBSCRIPTIONS} objects per connection; "
                        "subscribe to the stream instead.",
                    )
                if not await database_sync_to_async(live_object_exists)(
                    kind=target["kind"], obj_id=target["id"]
                ):
                    raise ProtocolError(
                        "not_found", f"No {target['kind']} with id {target['id']}.", field="id"
                    )
            try:
                await self.channel_layer.group_add(group, self.channel_name)
            except _LAYER_ERRORS:
                logger.warning("group_add %s failed", group, exc_info=True)
                await self._layer_down()
            self.groups_joined.add(group)
            self.object_subscriptions += "id" in target
        await self.send_json({"type": "subscribed", **target})

    async def _unsubscribe(self, target: dict, group: str) -> None:
        if group in self.groups_joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except _LAYER_ERRORS:
                await self._layer_down()
            self.groups_joined.discard(group)
            self.object_subscriptions -= "id" in target
        await self.send_json({"type": "unsubscribed", **target})

    async def _renew_groups(self) -> None:
        if time.monotonic() - self.groups_renewed_at < GROUP_RENEW_SECONDS:
            return
        self.groups_renewed_at = time.monotonic()
        try:
            for group in self.groups_joined:
                await self.channel_layer.group_add(group, self.channel_name)
        except _LAYER_ERRORS:
            await self._layer_down()

    # --- channel layer messages -----------------------------------------------------------

    async def dispatch(self, message: dict) -> None:
        # channels runs close_old_connections() in the one sync thread before every handler;
        # events never touch the database, and with 500 subscribers that was 500 thread hops
        # in a row per event, most of the fan-out time.
        if message.get("type") == EVENT_TYPE:
            await self.live_event(message)
        else:
            await super().dispatch(message)

    async def live_event(self, message: dict) -> None:
        """Handles `live.event` messages sent by `apps.live.realtime.broadcast_event`."""
        event = message["event"]
        if self._is_newest(event):
            await self.send_json({"type": "event", "event": event})

    def _is_newest(self, event: dict) -> bool:
        """False for an event older than, or equal to, the last one sent about the same object."""
        at = _event_time(event)
        if at is None:
            return True
        key = (event.get("kind"), event.get("id"))
        seen = self.newest.get(key)
        if seen is not None:
            try:
                if at <= seen:
                    return False
            except TypeError:  # naive vs aware timestamps: cannot order them, let it through
                pass
        self.newest[key] = at
        self.newest.move_to_end(key)
        if len(self.newest) > MAX_TRACKED_OBJECTS:
            self.newest.popitem(last=False)
        return True

    # --- helpers --------------------------------------------------------------------------

    async def _send_error(self, code: str, message: str, *, field: str | None = None) -> None:
        await self.send_json({"type": "error", "code": code, "field": field, "message": message})

    async def _layer_down(self) -> None:
        """Redis is unreachable: say so and close; the client reconnects with backoff and
        re-reads the state it may have missed. Closing (rather than retrying in here) is what
        tells the client that events were lost."""
        logger.warning("Channel layer unavailable; closing websocket %s", self.channel_name)
        if getattr(self, "accepted", False):
            await self._send_error(
                "unavailable", "Live updates are unavailable right now; reconnect shortly."
            )
            await self.close(code=CLOSE_UNAVAILABLE)
        else:  # the layer failed before the handshake was answered: refuse it
            await self.close()
        raise StopConsumer()
