"""Replay and ordering: which events one connection sends, and in which order.

Per stream, a cursor (the position of the last event sent) makes delivery exactly-once and in
log order: a subscribe with `since` replays the log after it; an event that arrives ahead of
one before it (two publishers, two Redis connections) first fills the gap from the log; a
copy already sent is dropped. Per object, the newest `updated_at` sent drops an older state
that arrives late (object subscriptions have no log to order them by).
"""

import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Container
from datetime import datetime
from typing import Any, NoReturn

from apps.core.metrics import WEBSOCKET_EVENTS
from apps.live.eventlog import LogRead, Position, event_id_parse, event_log_read
from apps.live.protocol import LAYER_ERRORS, ProtocolError
from apps.live.realtime import object_group, stream_group
from apps.live.selectors import live_kinds

logger = logging.getLogger(__name__)

# Per-object "newest updated_at sent" memory for the ordering guard; a stream subscriber
# sees many objects, so the oldest entries are forgotten past this size.
MAX_TRACKED_OBJECTS = 10_000


def _event_time(event: dict) -> datetime | None:
    value = event.get("updated_at")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class Delivery:
    """The cursors and the ordering guard of one connection. `send` sends a message to the
    client; `layer_down` tells it Redis is gone and ends the connection (it never returns)."""

    def __init__(
        self, *, send: Callable[[dict], Awaitable[None]], layer_down: Callable[[], Awaitable[NoReturn]]
    ) -> None:
        self.send, self.layer_down = send, layer_down
        self.newest: OrderedDict[tuple[Any, Any], datetime] = OrderedDict()
        # stream -> the position of the last event sent on this connection
        self.cursors: dict[str, Position] = {}

    def following(self, stream: str) -> bool:
        return stream in self.cursors

    def forget(self, stream: str | None) -> None:
        if stream is not None:
            self.cursors.pop(stream, None)

    async def _log_read(self, *, stream: str, since: Position | None) -> LogRead:
        try:
            return await event_log_read(stream=stream, since=since)
        except LAYER_ERRORS:
            logger.warning("event log of %s unreadable", stream, exc_info=True)
            await self.layer_down()

    async def replay(self, stream: str, *, since: Position | None) -> int | None:
        """Called once the stream's group is joined: an event published in between is both in
        the group's queue and in the log, and the cursor drops the second copy. Sends what the
        client missed after `since` (or `resync` when the log no longer has it) and returns
        how many events it replayed; None without `since` (live events only)."""
        log = await self._log_read(stream=stream, since=since)
        if since is None:
            self.cursors.setdefault(stream, log.tail)
            return None
        if since.epoch == log.tail.epoch and since.key > log.tail.key:
            raise ProtocolError(
                "unknown_since", f"'since' is not an event_id of the {stream} stream.", field="since"
            )
        if log.events is None:
            await self.send({"type": "resync", "stream": stream})
            self.cursors[stream] = log.tail
            return 0
        for position, payload in log.events:
            await self._send_event(json.loads(payload), position)
        cursor = log.events[-1][0] if log.events else since
        current = self.cursors.get(stream)
        if current is None or current.epoch != cursor.epoch or cursor.key > current.key:
            self.cursors[stream] = cursor
        return len(log.events)

    async def deliver(self, message: dict, *, subscriptions: Container[str]) -> None:
        """A `live.event` from a stream's or an object's group: sent, dropped, or sent after
        the events it arrived ahead of."""
        event = message["event"]
        stream = message.get("stream")
        if stream is None:  # an object's group
            kind = event.get("kind")
            if kind in live_kinds() and stream_group(kind) in self.cursors:
                return  # the stream subscription delivers it, in order
            if object_group(event.get("kind"), event.get("id")) not in subscriptions:
                return  # unsubscribed (or dropped by the re-check) meanwhile
            if self._is_newest(event):
                await self.send({"type": "event", "event": event})
                WEBSOCKET_EVENTS.inc()
            return
        cursor = self.cursors.get(stream)
        if cursor is None:  # unsubscribed meanwhile
            return
        position = event_id_parse(event["event_id"])
        if position.epoch == cursor.epoch:
            if position.key <= cursor.key:
                return  # already sent (replayed, or filled in ahead of its own message)
            if message.get("after") == str(cursor):
                await self._send_event(event, position)
                self.cursors[stream] = position
                return
        await self._fill_gap(stream, cursor, event, position)

    async def _fill_gap(self, stream: str, cursor: Position, event: dict, position: Position) -> None:
        """An event arrived ahead of one before it: send the missing ones from the log first."""
        log = await self._log_read(stream=stream, since=cursor)
        if log.events is None:  # the log lost them (trimmed, or Redis restarted): say so
            await self.send({"type": "resync", "stream": stream})
            await self._send_event(event, position)
            self.cursors[stream] = position
            return
        for kept, payload in log.events:
            await self._send_event(json.loads(payload), kept)
            self.cursors[stream] = kept
        if position.epoch != self.cursors[stream].epoch or position.key > self.cursors[stream].key:
            await self._send_event(event, position)
            self.cursors[stream] = position

    async def _send_event(self, event: dict, position: Position) -> None:
        if self._is_newest(event):
            await self.send({"type": "event", "event": {**event, "event_id": str(position)}})
            WEBSOCKET_EVENTS.inc()

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
