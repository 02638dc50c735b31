"""Channels and the live events (apps/live): the Redis channel layer, the event log a client
that reconnects reads what it missed from, and how often an open websocket re-checks its
credentials. All constants: Redis is the only address, REDIS_URL (base.py)."""

from typing import Any

from project.settings.base import REDIS_URL

CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # No socket timeout, as before redis-py 8: its new 5 s default cuts the layer's 5 s
            # BZPOPMIN, dropping idle websockets every ~5 s (django/channels_redis#422); and any
            # timeout makes redis-py send through asyncio.wait_for, which on Python 3.11 can
            # swallow a cancellation, leaving a closed consumer's receive loop running forever.
            # A Redis that stops or restarts still resets the connection at once.
            "hosts": [{"address": REDIS_URL, "socket_timeout": None, "socket_connect_timeout": 5}],
            "prefix": "calcboard",
            "capacity": 1000,
            "expiry": 30,
        },
    }
}

# Every stream event is kept this long (seconds) and at most this many a stream, so a client
# that reconnects gets what it missed (`since`); older than that it is told to `resync`.
LIVE_EVENT_LOG_RETENTION = 15 * 60.0
LIVE_EVENT_LOG_MAX_EVENTS = 10_000
# An open websocket re-checks its credentials this often (seconds). Revoking a token,
# deactivating a user and logging out close sockets at once (signals); this catches the rest
# (a session expired, a bulk UPDATE of users).
LIVE_AUTH_RECHECK_SECONDS = 60.0

# Bounds on one client (apps.live.consumers; docs/reference/websocket-protocol.md):
# - a `subscribe` with `since` replays at most this many events; a client that missed more is
#   told to `resync` (reload over REST) rather than re-reading the whole log on every retry;
LIVE_REPLAY_MAX_EVENTS = 1000
# - messages a socket may send: this many a second on average, in bursts of up to this many
#   (room to subscribe to every object a socket may hold at once); past it the socket is
#   closed with 4429;
LIVE_MESSAGE_RATE = 10.0
LIVE_MESSAGE_BURST = 250
# - open sockets per user, counted in Redis across every daphne process; one more is closed
#   with 4409. A crashed process's sockets stop counting after 3 x LIVE_AUTH_RECHECK_SECONDS.
LIVE_MAX_CONNECTIONS_PER_USER = 20
