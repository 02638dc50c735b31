"""The websocket API at /ws/events/: subscribe to streams or objects, replay what was missed,
receive live events. The protocol is documented in docs/reference/websocket-protocol.md; its
messages are read in apps.live.protocol, replay and ordering live in apps.live.delivery, the
credential re-check in apps.live.credentials, the Channels overrides in
apps.live.channels_overrides, its channel-layer groups in apps.live.groups."""

import contextlib
import logging
from typing import Any, ClassVar, NoReturn

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.conf import settings

from apps.core.metrics import WEBSOCKET_CONNECTIONS
from apps.live.channels_overrides import OverridingConsumer
from apps.live.credentials import CredentialWatch, revocation_hits
from apps.live.delivery import Delivery
from apps.live.eventlog import Position
from apps.live.groups import Memberships
from apps.live.limits import MessageRate, connection_claim, connection_release
from apps.live.middleware import SUBPROTOCOL
from apps.live.protocol import (
    CLOSE_RATE_LIMITED,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_UNAUTHENTICATED,
    CLOSE_UNAVAILABLE,
    LAYER_ERRORS,
    MAX_OBJECT_SUBSCRIPTIONS,
    ProtocolError,
    Target,
    error_message,
    message_action,
    message_decode,
    message_object,
    message_since,
    message_target,
    target_kind,
)
from apps.live.realtime import EVENT_TYPE, REVOKED_TYPE, user_group
from apps.live.selectors import live_subscription_check, live_view_permission

logger = logging.getLogger(__name__)


class EventsConsumer(OverridingConsumer):
    # What a broadcast sends to every subscriber; these handlers never use the ORM.
    direct_handlers: ClassVar[dict[str, str]] = {EVENT_TYPE: "live_event", REVOKED_TYPE: "live_revoked"}

    async def connect(self) -> None:
        self.handshake_received, self.accepted, self.authenticated = True, False, False
        # Not `self.groups`: Channels' consumers join the groups listed under that name.
        self.memberships = Memberships(
            layer=self.channel_layer, channel_name=self.channel_name, layer_down=self._layer_down
        )
        # group -> the keys of its subscribe message; what the re-check may drop
        self.subscriptions: dict[str, Target] = {}
        # Object groups subscribed to, or asked for and not found: both count toward the cap.
        self.object_slots: set[str] = set()
        self.message_rate = MessageRate()
        self.connection_counted = False
        self.delivery = Delivery(send=self.send_json, layer_down=self._layer_down)
        self.user = self.scope.get("user")
        signed_in = self.user is not None and self.user.is_authenticated
        admitted = True
        if signed_in:
            admitted = await self.count_connection()
            self.auth_method = self.scope.get("auth_method")
            self.token_id = self.scope.get("api_token_id")
            session = self.scope.get("session")
            self.session_key = (
                getattr(session, "session_key", None) if self.auth_method == "session" else None
            )
            # Revocations of this user's credentials arrive on its group (apps.live.realtime).
            # Joined before the handshake is answered, so a revocation sent once the client
            # sees the socket open always reaches it (handled after connect returns).
            await self.memberships.add(user_group(self.user.pk))
        # Accept before refusing: a close sent before accept becomes a bare HTTP 403 and the
        # client never learns why; after accept it gets an error message and code 4401.
        await self._accept()
        if not signed_in:
            await self.send_json(
                error_message(
                    "unauthenticated",
                    "Log in to the admin, or send 'Authorization: Bearer <token>' "
                    "(or the subprotocols 'calcboard.v1', 'calcboard.bearer.<token>').",
                )
            )
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not admitted:
            limit = settings.LIVE_MAX_CONNECTIONS_PER_USER
            await self.send_json(
                error_message(
                    "too_many_connections",
                    f"At most {limit} open connections per user; close another one first.",
                )
            )
            await self.close(code=CLOSE_TOO_MANY_CONNECTIONS)
            return
        self.authenticated = True
        CredentialWatch.watch(self)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "accepted", False):
            WEBSOCKET_CONNECTIONS.dec()
            self.accepted = False
        CredentialWatch.forget(self)
        if getattr(self, "connection_counted", False):
            # Redis gone: the lease runs out on its own.
            with contextlib.suppress(*LAYER_ERRORS):
                await connection_release(user_id=self.user.pk, channel_name=self.channel_name)
        if hasattr(self, "memberships"):
            await self.memberships.leave_all()

    # --- credentials on a long connection (apps.live.credentials) -------------------------

    async def live_revoked(self, message: dict) -> None:
        """Handles `live.revoked` (apps.live.realtime.broadcast_access_revoked)."""
        if revocation_hits(message, self):
            await self.revoke()

    async def count_connection(self) -> bool:
        """Counts (or renews) this socket in its user's open connections; False past the cap."""
        try:
            self.connection_counted = await connection_claim(
                user_id=self.user.pk, channel_name=self.channel_name
            )
        except LAYER_ERRORS:
            logger.warning("connection count unavailable", exc_info=True)
            await self._layer_down()
        return self.connection_counted

    async def drop_unviewable(self, kinds: set[str]) -> None:
        """Ends the subscriptions to kinds the user may no longer view (`unsubscribed` with
        `"reason": "permission_denied"`)."""
        for group, target in list(self.subscriptions.items()):
            if target_kind(target) not in kinds:
                await self._unsubscribe(target, group, reason="permission_denied")

    async def revoke(self) -> None:
        if not self.authenticated:
            return
        self.authenticated = False  # nothing more is sent or answered on this socket
        await self.send_json(
            error_message("revoked", "Your credentials were revoked or have expired; log in again.")
        )
        await self.close(code=CLOSE_UNAUTHENTICATED)

    # --- client messages (apps.live.protocol) ---------------------------------------------

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if not self.authenticated:
            return
        if not self.message_rate.allow():
            self.authenticated = False  # nothing more is read or sent on this socket
            await self.send_json(
                error_message(
                    "rate_limited",
                    f"At most {settings.LIVE_MESSAGE_RATE:g} messages a second "
                    f"(bursts of {settings.LIVE_MESSAGE_BURST}); reconnect later.",
                )
            )
            await self.close(code=CLOSE_RATE_LIMITED)
            return
        try:
            await self.receive_json(message_decode(text_data))
        except ProtocolError as error:
            await self.send_json(error_message(error.code, error.message, field=error.field))

    async def receive_json(self, content: object, **kwargs: Any) -> None:
        content = message_object(content)
        action = message_action(content)
        if action == "ping":
            await self.memberships.renew()
            await self.send_json({"type": "pong"})
            return
        target, group = message_target(content)
        if action == "unsubscribe":
            await self._unsubscribe(target, group)
        elif "stream" in target:
            since = message_since(content)
            await self._check_access(target, group)
            await self._subscribe_stream(target["stream"], since=since)
        else:
            await self._subscribe_object(target, group)

    async def _check_access(self, target: Target, group: str) -> bool:
        """The user's view permission, read afresh on every subscribe (an object of the socket's
        life would answer from the permissions it cached at the first check), and for an
        object whether it exists. One database visit. A refused subscribe also ends the same
        subscription made while the user still had the permission."""
        kind = target_kind(target)
        allowed, exists = await database_sync_to_async(live_subscription_check)(
            user_id=self.user.pk, kind=kind, obj_id=target.get("id")
        )
        if not allowed:
            if group in self.subscriptions:
                await self._unsubscribe(target, group, reason="permission_denied")
            name = target.get("stream") or f"{kind} {target['id']}"
            permission = live_view_permission(kind=kind)
            raise ProtocolError(
                "permission_denied",
                f"You may not subscribe to {name}: it needs the '{permission}' permission.",
                field="stream" if "stream" in target else "kind",
            )
        return exists

    async def _subscribe_stream(self, stream: str, *, since: Position | None) -> None:
        # Join first, replay second (apps.live.delivery.Delivery.replay says why).
        await self.memberships.add(stream)
        self.subscriptions[stream] = {"stream": stream}
        try:
            replayed = await self.delivery.replay(stream, since=since)
        except ProtocolError:
            if not self.delivery.following(stream):
                await self.memberships.discard(stream)
                self.subscriptions.pop(stream, None)
            raise
        counted = {} if replayed is None else {"replayed": replayed}
        await self.send_json({"type": "subscribed", "stream": stream, **counted})

    async def _subscribe_object(self, target: Target, group: str) -> None:
        # Checked before the database is: an object that was not found keeps its slot too, so
        # probing ids costs at most MAX_OBJECT_SUBSCRIPTIONS lookups (unsubscribe frees one).
        if group not in self.object_slots and len(self.object_slots) >= MAX_OBJECT_SUBSCRIPTIONS:
            raise ProtocolError(
                "too_many_subscriptions",
                f"At most {MAX_OBJECT_SUBSCRIPTIONS} objects per connection (those not found count "
                "until unsubscribed); subscribe to the stream instead.",
            )
        exists = await self._check_access(target, group)
        self.object_slots.add(group)
        if not exists:
            raise ProtocolError("not_found", f"No {target['kind']} with id {target['id']}.", field="id")
        await self.memberships.add(group)
        self.subscriptions[group] = target
        await self.send_json({"type": "subscribed", **target})

    async def _unsubscribe(self, target: Target, group: str, *, reason: str | None = None) -> None:
        if group in self.memberships:
            await self.memberships.discard(group)
            self.delivery.forget(target.get("stream"))
        self.object_slots.discard(group)
        self.subscriptions.pop(group, None)
        await self.send_json({"type": "unsubscribed", **target, **({"reason": reason} if reason else {})})

    # --- channel layer --------------------------------------------------------------------

    async def live_event(self, message: dict) -> None:
        """Handles `live.event` messages sent by `apps.live.realtime.broadcast_event`."""
        if self.authenticated:
            await self.delivery.deliver(message, subscriptions=self.subscriptions)

    async def live_layer_down(self, message: dict) -> None:
        await self._layer_down()

    async def _accept(self) -> None:
        offered = self.scope.get("subprotocols") or []
        await self.accept(SUBPROTOCOL if SUBPROTOCOL in offered else None)
        self.accepted = True
        WEBSOCKET_CONNECTIONS.inc()

    async def _layer_down(self) -> NoReturn:
        """Redis is unreachable: say so and close; the client reconnects with backoff and
        resubscribes with `since`. Closing (rather than retrying in here) is what tells the
        client that live events may have been lost."""
        logger.warning("Channel layer unavailable; closing websocket %s", self.channel_name)
        CredentialWatch.forget(self)
        if not getattr(self, "handshake_received", False):
            # Before the client's handshake was even read: refuse it (daphne answers 403).
            await self.close()
            raise StopConsumer()
        if not self.accepted:
            # While connecting (joining the user's group): accept anyway, so the client gets
            # the reason and 4503 like any other outage rather than a bare refusal.
            await self._accept()
        await self.send_json(
            error_message("unavailable", "Live updates are unavailable right now; reconnect shortly.")
        )
        await self.close(code=CLOSE_UNAVAILABLE)
        # StopConsumer skips `disconnect`: the socket leaves the open count here.
        WEBSOCKET_CONNECTIONS.dec()
        self.accepted = False
        raise StopConsumer()
