"""Channels and the live events (apps/live): the Redis channel layer, the event log a client
that reconnects reads what it missed from, and how often an open websocket re-checks its
credentials. All constants: Redis is the only address, REDIS_URL (base.py)."""

from project.settings.base import REDIS_URL

CHANNEL_LAYERS = {
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
