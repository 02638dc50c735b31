"""The one place that names Channels groups and broadcasts live events.

Every state change of a calculation or a function is sent to two groups: the stream of its
kind (`calculations`, `functions`) and the object's own group (`calculation.42`). The
message `type` is `live.event`, handled by `EventsConsumer.live_event`.

Events leave only after the surrounding transaction commits, so a subscriber that reacts by
reading the API sees the new state. A broken Redis must never fail the state change itself:
the database is the source of truth and the widget re-reads it when it reconnects.
"""

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from typing import Literal

from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

Kind = Literal["calculation", "function"]
KINDS: tuple[Kind, ...] = ("calculation", "function")
EVENT_TYPE = "live.event"


def stream_group(kind: Kind) -> str:
    return f"{kind}s"


def object_group(kind: Kind, obj_id: int) -> str:
    return f"{kind}.{obj_id}"


def broadcast_event(*, kind: Kind, obj_id: int, payload: dict) -> None:
    """Send `{"kind", "id", **payload}` to the kind's stream and the object's group after commit."""
    event = {"kind": kind, "id": obj_id, **payload}
    transaction.on_commit(lambda: _send(kind=kind, obj_id=obj_id, event=event))


def broadcast_events(*, kind: Kind, events: Sequence[tuple[int, dict]]) -> None:
    """Many events at once (a bulk refresh, cancel or sweep), sent after commit.

    One hand-over to the sender loop, which sends them in order in the background: a request
    that changed 1,000 rows does not wait for 2,000 group sends (each a thread hop and Redis
    round trips; 27 ms apiece on a loaded machine, bench/charts_refresh.py).
    """
    batch = [{"kind": kind, "id": obj_id, **payload} for obj_id, payload in events]
    if batch:
        transaction.on_commit(lambda: _send_in_background(kind=kind, events=batch))


def _send_in_background(*, kind: Kind, events: list[dict]) -> None:
    layer = get_channel_layer()

    async def send_all() -> None:
        for event in events:
            groups = [stream_group(kind), object_group(kind, event["id"])]
            try:
                await _group_send(layer, groups, {"type": EVENT_TYPE, "event": event})
            except Exception:  # best effort, like one event; the next events still go out
                logger.warning("Could not broadcast %s %s event", kind, event["id"], exc_info=True)

    asyncio.run_coroutine_threadsafe(send_all(), _sender_loop())


def _send(*, kind: Kind, obj_id: int, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": EVENT_TYPE, "event": event}
    try:
        future = asyncio.run_coroutine_threadsafe(
            _group_send(layer, [stream_group(kind), object_group(kind, obj_id)], message), _sender_loop()
        )
        try:
            future.result(timeout=SEND_TIMEOUT)
        finally:
            future.cancel()  # no-op once done; stops a send stuck on an unresponsive Redis
    except Exception:  # Redis down or full: the row is already committed, the event is best effort.
        logger.warning("Could not broadcast %s %s event", kind, obj_id, exc_info=True)


# Sync callers (services, tasks) share one event loop per process, running in a daemon
# thread, so the channel layer keeps its Redis connections between events. async_to_sync
# would start a new loop, thread and Redis connection for every event (~4 ms instead of ~1 ms,
# which caps how many runs a worker can finish per second).
SEND_TIMEOUT = 5.0
_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _sender_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="live-broadcast", daemon=True).start()
        return _loop


def _forget_loop_after_fork() -> None:
    # A forked child (a Celery pool process) has the parent's loop object but not its thread.
    global _loop, _loop_lock
    _loop, _loop_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_loop_after_fork)


async def _group_send(layer, groups: list[str], message: dict) -> None:
    for group in groups:
        try:
            await layer.group_send(group, message)
        except (ConnectionError, RedisError):
            # A pooled connection to a Redis that restarted fails once, then reconnects.
            # A repeat of a group already served is harmless: consumers drop an event whose
            # `updated_at` they have already sent.
            await layer.group_send(group, message)
