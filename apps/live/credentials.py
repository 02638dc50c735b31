"""The credential watch: a websocket stays open only while its credentials would still open it.

Revocations arrive at once on the user's group (`live.revoked`, apps.live.realtime); this
re-check catches what sends none (a session that expired, a permission taken away through a
group) every LIVE_AUTH_RECHECK_SECONDS.
"""

import asyncio
import weakref
from typing import TYPE_CHECKING, ClassVar

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.conf import settings

from apps.accounts.selectors import credentials_active
from apps.live.realtime import session_fingerprint
from apps.live.selectors import live_kinds_viewable

if TYPE_CHECKING:
    from apps.live.consumers import EventsConsumer


def revocation_hits(message: dict, socket: "EventsConsumer") -> bool:
    """Whether a `live.revoked` message names this socket's credentials."""
    token_id, session = message.get("token_id"), message.get("session")
    if token_id is None and session is None:
        return True  # the user itself: deactivated or deleted
    if token_id is not None:
        return socket.auth_method == "token" and socket.token_id == token_id
    key = socket.session_key
    return False if not key else session_fingerprint(key) == session


def _recheck(
    *, token_ids: list[int], session_keys: list[str], user_ids: list[int]
) -> tuple[set[int], dict[str, int], dict[int, set[str]]]:
    """Credentials and view permissions of many sockets: one database visit."""
    tokens, sessions = credentials_active(token_ids=token_ids, session_keys=session_keys)
    return tokens, sessions, live_kinds_viewable(user_ids=user_ids)


class CredentialWatch:
    """Re-checks the credentials of every open socket of this process (event loop) every
    LIVE_AUTH_RECHECK_SECONDS, in one database call; drops the subscriptions its user may no
    longer see, and renews its lease in the per-user connection count (apps.live.limits).

    One task per process rather than one per socket: a re-check per socket is a query (and a
    new PostgreSQL connection, CONN_MAX_AGE=0 under daphne) per socket on the one database
    thread, which delays every delivery behind it.
    """

    _per_loop: ClassVar["weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CredentialWatch]"] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        self.task: asyncio.Task | None = None

    @classmethod
    def watch(cls, socket: "EventsConsumer") -> None:
        watch = cls._per_loop.setdefault(asyncio.get_running_loop(), cls())
        watch.sockets.add(socket)
        if watch.task is None or watch.task.done():
            watch.task = asyncio.ensure_future(watch.run())

    @classmethod
    def forget(cls, socket: "EventsConsumer") -> None:
        watch = cls._per_loop.get(asyncio.get_running_loop())
        if watch is not None:
            watch.sockets.discard(socket)

    async def run(self) -> None:
        while self.sockets:
            await asyncio.sleep(settings.LIVE_AUTH_RECHECK_SECONDS)
            sockets: list[EventsConsumer] = [socket for socket in list(self.sockets) if socket.authenticated]
            tokens, sessions, viewable = await database_sync_to_async(_recheck)(
                token_ids=[socket.token_id for socket in sockets if socket.auth_method == "token"],
                session_keys=[socket.session_key for socket in sockets if socket.session_key],
                user_ids=[socket.user.pk for socket in sockets],
            )
            for socket in sockets:
                if socket.auth_method == "token":
                    valid = socket.token_id in tokens
                else:
                    valid = sessions.get(socket.session_key) == socket.user.pk
                if not valid:
                    await socket.revoke()
                    continue
                try:
                    await socket.drop_unviewable(viewable.get(socket.user.pk, set()))
                    await socket.count_connection()  # renews its lease
                except StopConsumer:  # Redis gone: that socket was told so and closed (4503)
                    continue
