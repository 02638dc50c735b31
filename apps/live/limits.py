"""Bounds on what one websocket client may cost: a message rate per socket and a number of
open sockets per user (LIVE_MESSAGE_RATE, LIVE_MESSAGE_BURST, LIVE_MAX_CONNECTIONS_PER_USER).

The connection count lives in Redis, next to the channel layer, so it holds across every
daphne process: one sorted set per user, a member per open socket (its channel name) scored
by when its lease ends. Each process renews the leases of its own sockets on every credential
re-check, so the sockets of a process that died without saying goodbye stop counting after
`connection_lease_seconds()`.
"""

import time

from django.conf import settings

from apps.live.eventlog import layer_key, layer_redis

# KEYS: the user's set. ARGV: the socket, the cap, the lease (ms). Redis's own clock, so every
# process agrees on when a lease ends. 1 when the socket may stay open (counted), else 0.
_CLAIM = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


def connection_lease_seconds() -> float:
    return 3 * settings.LIVE_AUTH_RECHECK_SECONDS


def _key(user_id: int) -> str:
    return layer_key(f"connections:user.{user_id}")


async def connection_claim(*, user_id: int, channel_name: str) -> bool:
    """Count this socket against its user's cap; False (and not counted) when the user already
    has LIVE_MAX_CONNECTIONS_PER_USER open. Also renews the socket's lease."""
    lease_ms = int(connection_lease_seconds() * 1000)
    claimed = await layer_redis().eval(
        _CLAIM, 1, _key(user_id), channel_name, settings.LIVE_MAX_CONNECTIONS_PER_USER, lease_ms
    )
    return bool(claimed)


async def connection_release(*, user_id: int, channel_name: str) -> None:
    await layer_redis().zrem(_key(user_id), channel_name)


class MessageRate:
    """A token bucket: LIVE_MESSAGE_BURST messages at once, refilled at LIVE_MESSAGE_RATE a second."""

    def __init__(self) -> None:
        self.rate = float(settings.LIVE_MESSAGE_RATE)
        self.burst = float(settings.LIVE_MESSAGE_BURST)
        self.tokens = self.burst
        self.at = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
