"""The one place that names Channels groups and broadcasts live events.

Every state change of a job (a calculation, a function, any kind in apps.jobs.registry) is
first kept in the event log of its stream (`apps.live.eventlog`, which gives it its
`event_id`), then sent to two groups: the stream of its kind (`calculations`, `functions`:
the kind's `stream_name`) and the object's own group (`calculation.42`). Jobs announce their
changes with a signal (apps.jobs.signals) that `apps.live.signals` turns into these calls. The
message `type` is `live.event`, handled by `EventsConsumer.live_event`.

Each user also has a group (`user.7`): `broadcast_access_revoked` tells that user's open
sockets that a token was revoked, the user deactivated or a session logged out
(`live.revoked`, handled by `EventsConsumer.live_revoked`).

Events leave only after the surrounding transaction commits, so a subscriber that reacts by
reading the API sees the new state. A broken Redis must never fail the state change itself:
the database is the source of truth and the widget re-reads it when it reconnects.
"""

import asyncio
import functools
import hashlib
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from redis.exceptions import RedisError

from apps.jobs.registry import job_kinds
from apps.live.eventlog import event_log_append

logger = logging.getLogger(__name__)

# A registered job kind's live kind ("calculation", "function"): apps.jobs.registry.
Kind = str
EVENT_TYPE = "live.event"
REVOKED_TYPE = "live.revoked"


def stream_group(kind: Kind) -> str:
    return job_kinds.get(kind).stream_name


def object_group(kind: Kind, obj_id: int) -> str:
    return f"{kind}.{obj_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def session_fingerprint(session_key: str) -> str:
    """What a revocation message carries instead of a session key (messages sit in Redis)."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def broadcast_event(*, kind: Kind, obj_id: int, payload: dict) -> None:
    """Log `{"kind", "id", **payload}` and send it to the kind's stream and the object's
    group, after commit."""
    event = {"kind": kind, "id": obj_id, **payload}
    what = f"{kind} {obj_id} event"
    transaction.on_commit(lambda: _run(_publish(kind=kind, obj_id=obj_id, event=event), what))


def broadcast_access_revoked(
    *, user_id: int, token_id: int | None = None, session_key: str | None = None
) -> None:
    """Close, within moments, the sockets of `user_id` opened with that token or session,
    or all of them when neither is given (the user was deactivated or deleted)."""
    message = {
        "type": REVOKED_TYPE,
        "token_id": token_id,
        "session": session_fingerprint(session_key) if session_key else None,
    }
    what = f"user {user_id} revocation"
    transaction.on_commit(lambda: _run(_group_send([user_group(user_id)], message), what))


def broadcast_events(*, kind: Kind, events: Sequence[tuple[int, dict]]) -> None:
    """Many events at once (a bulk refresh, cancel or sweep), logged and sent after commit.

    One hand-over to the sender loop, which publishes them in order in the background: a
    request that changed 1,000 rows does not wait for 2,000 group sends (each a thread hop and
    Redis round trips).
    """
    batch = [{"kind": kind, "id": obj_id, **payload} for obj_id, payload in events]
    if batch:
        transaction.on_commit(lambda: _publish_in_background(kind=kind, events=batch))


def _publish_in_background(*, kind: Kind, events: list[dict]) -> None:
    if get_channel_layer() is None:
        return

    async def publish_all() -> None:
        for event in events:
            try:
                await _publish(kind=kind, obj_id=event["id"], event=event)
            except Exception:  # best effort, like one event; the next events still go out
                logger.warning("Could not broadcast %s %s event", kind, event["id"], exc_info=True)

    sender_loop_run(publish_all(), wait=False)


def _run(coroutine: Coroutine[Any, Any, None], what: str) -> None:
    if get_channel_layer() is None:
        coroutine.close()
        return
    try:
        sender_loop_run(coroutine)
    except Exception:  # Redis down or full: the row is already committed, the event is best effort.
        logger.warning("Could not broadcast %s", what, exc_info=True)


async def _publish(*, kind: Kind, obj_id: int, event: dict) -> None:
    stream = stream_group(kind)
    position, after = await _retry_once(
        lambda: event_log_append(stream=stream, payload=json.dumps(event, cls=DjangoJSONEncoder))
    )
    event = {**event, "event_id": str(position)}
    await _group_send([stream], {"type": EVENT_TYPE, "event": event, "stream": stream, "after": str(after)})
    await _group_send([object_group(kind, obj_id)], {"type": EVENT_TYPE, "event": event})


SEND_TIMEOUT = 5.0
_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def sender_loop_run(coroutine: Coroutine, *, wait: bool = True) -> None:
    """Run `coroutine` on this process's sender loop: one asyncio loop on a daemon thread
    ("live-broadcast"), shared by every sync caller (services, tasks, admin actions). With
    `wait`, block until it is done (at most SEND_TIMEOUT seconds, then it is cancelled and
    TimeoutError raised); without, return at once (a bulk broadcast in the background).

    The rules that keep it safe: only this module submits to the loop, and only coroutines
    that use the channel layer and the event log, whose Redis clients belong to the loop
    they were made on; nothing here blocks (a sync call inside would stall every sender of
    the process); and a forked child (a Celery pool process), which inherits the loop
    object but not its thread, starts a loop of its own (`_forget_loop_after_fork`).

    The gain: the channel layer and the event log keep their Redis connections from one
    event to the next. `async_to_sync`, the plain way, starts a new loop (and so new Redis
    connections) for every event, which costs more than the publishing itself, in a worker's
    run and on the way to the websocket client (figures: docs/benchmarks.md, Live latency;
    `bench/live_latency.py --sender-loop`).
    """
    future = asyncio.run_coroutine_threadsafe(coroutine, _sender_loop())
    if not wait:
        return
    try:
        future.result(timeout=SEND_TIMEOUT)
    finally:
        future.cancel()  # no-op once done; stops a send stuck on an unresponsive Redis


def _sender_loop() -> asyncio.AbstractEventLoop:
    global _loop  # noqa: PLW0603 - one sender loop per process, made on first use under the lock
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


T = TypeVar("T")


async def _retry_once(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except (ConnectionError, RedisError):
        # A pooled connection to a Redis that restarted fails once, then reconnects.
        return await call()


async def _group_send(groups: list[str], message: dict) -> None:
    layer = get_channel_layer()
    for group in groups:
        # A repeat of a group already served is harmless: consumers drop an event whose
        # `event_id` (or `updated_at`) they have already sent.
        await _retry_once(functools.partial(layer.group_send, group, message))
