"""The two places where the events consumer overrides Channels internals (channels 4.x
`AsyncConsumer`), each with why it exists and the rule that keeps it right. A channels
upgrade that changes what they rely on is caught by the tests named below."""

import logging
from collections.abc import Awaitable, Callable
from typing import ClassVar

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.live.protocol import LAYER_ERRORS

logger = logging.getLogger(__name__)

LAYER_DOWN_TYPE = "live.layer_down"


class OverridingConsumer(AsyncJsonWebsocketConsumer):
    """`AsyncJsonWebsocketConsumer` with the two overrides below."""

    # --- a Redis failure becomes a message ------------------------------------------------
    #
    # The channel layer's receive, wrapped so that a Redis failure on an open socket becomes
    # a `live.layer_down` message (the consumer's `live_layer_down` handles it): the client gets
    # an `unavailable` error and code 4503 (reconnect, then resubscribe with `since`) instead of
    # a crashed application and a bare 1011. About correctness, not speed.
    #
    # The rule that keeps it right: `AsyncConsumer.__call__` assigns `channel_receive` once
    # (a partial of `channel_layer.receive`) and hands the attribute to `await_many_dispatch`,
    # which awaits it for every message; the setter keeps what it assigned, the getter returns
    # the wrapper. Checked by tests/live/test_redis_outage.py (an open socket closed with 4503).

    @property
    def channel_receive(self) -> Callable[[], Awaitable[dict]]:
        return self._receive_from_layer

    @channel_receive.setter
    def channel_receive(self, receive: Callable[[], Awaitable[dict]]) -> None:
        self._layer_receive = receive

    async def _receive_from_layer(self) -> dict:
        try:
            return await self._layer_receive()
        except LAYER_ERRORS:
            logger.warning("Channel layer receive failed on websocket %s", self.channel_name, exc_info=True)
            return {"type": LAYER_DOWN_TYPE}

    # --- a shorter dispatch for broadcasts ------------------------------------------------
    #
    # Channels' dispatch without its `close_old_connections()` for the message types in
    # `direct_handlers` (type -> handler name): the ones a broadcast sends to every subscriber.
    # Every other message goes through Channels' own dispatch.
    #
    # Why: Channels runs that close in the one sync thread, a thread hop per message, so one
    # event to many subscribers queues as many hops behind each other (figures in
    # docs/benchmarks.md, `bench/live_fanout.py --dispatch`).
    #
    # The rule that keeps it safe: those handlers never use the ORM. Database work anywhere in
    # the consumer goes through `database_sync_to_async`, which closes stale connections itself
    # before it runs, so skipping the extra hop loses no check.

    direct_handlers: ClassVar[dict[str, str]] = {}

    async def dispatch(self, message: dict) -> None:
        handler = self.direct_handlers.get(message.get("type", ""))
        if handler is not None:
            await getattr(self, handler)(message)
        else:
            await super().dispatch(message)
