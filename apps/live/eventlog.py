"""The event log: every stream event kept in Redis for a while, so a client that was away
asks for what it missed instead of reloading everything.

Each stream (`calculations`, `functions`) is a Redis stream next to the channel layer (same
server, same prefix): `<prefix>:log:<stream>`. `apps.live.realtime` appends an event there
and then sends it to the Channels groups, carrying the entry's position as `event_id`. The
log keeps at most LIVE_EVENT_LOG_MAX_EVENTS events a stream and none older than
LIVE_EVENT_LOG_RETENTION seconds (trimmed on every append).

An `event_id` reads `<epoch>.<ms>-<seq>`: the Redis entry id, prefixed by the log's epoch, a
random tag created with the log. Clients treat it as opaque. The epoch is what makes a lost
log safe: a Redis that restarted empty gets a new epoch, so a client's old `event_id` is
recognisably from before and gets `resync`, never a silent partial replay.

Why each append also returns the id before it (`after`): events of one stream come from
many processes, so the channel layer may deliver id 7 before id 6. A consumer that last
sent 5 and receives 7 "after 6" knows it misses one and reads it from the log first; in the
usual case (`after` is what it sent last) it sends at once without touching Redis.
"""

import asyncio
import re
import secrets
import weakref
from dataclasses import dataclass

import redis.asyncio as aioredis
from django.conf import settings

_ID = re.compile(r"^([0-9a-f]{8})\.(\d{1,20})-(\d{1,20})$")
_MAX_ID_CHARS = 64
# Both parts of a Redis stream id are unsigned 64-bit, and the very last id cannot start an
# exclusive range; Redis refuses those with an error that would otherwise read as an outage.
_MAX_ID_PART = 2**64 - 1


@dataclass(frozen=True)
class Position:
    """A place in one stream's log; ordered only within one epoch."""

    epoch: str
    ms: int
    seq: int

    @property
    def entry(self) -> str:
        return f"{self.ms}-{self.seq}"

    @property
    def key(self) -> tuple[int, int]:
        return (self.ms, self.seq)

    def __str__(self) -> str:
        return f"{self.epoch}.{self.entry}"


def event_id_parse(value: object) -> Position:
    """The position an `event_id` names; ValueError for anything that is not one."""
    if not isinstance(value, str) or len(value) > _MAX_ID_CHARS or not (match := _ID.match(value)):
        raise ValueError(f"not an event_id: {value!r}")
    position = Position(match[1], int(match[2]), int(match[3]))
    if position.ms > _MAX_ID_PART or position.seq > _MAX_ID_PART or position.key == (_MAX_ID_PART,) * 2:
        raise ValueError(f"not an event_id (out of range): {value!r}")
    return position


def _entry_position(epoch: str, entry: bytes | str) -> Position:
    ms, _, seq = (entry.decode() if isinstance(entry, bytes) else entry).partition("-")
    return Position(epoch, int(ms), int(seq))


# --- Redis --------------------------------------------------------------------------------

# KEYS: the stream, its epoch, its floor (the newest id trimming removed; Redis's own
# max-deleted-entry-id only counts XDEL). The state is read atomically with the work: the
# epoch (created on first use) and the last id ever added.
_STATE = """
if redis.call('SET', KEYS[2], ARGV[1], 'NX') then redis.call('DEL', KEYS[3]) end
local epoch = redis.call('GET', KEYS[2])
local last = '0-0'
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
end
"""
# ARGV: new epoch, payload, max events, retention ms. Trims the oldest past the count, then
# those older than the retention by Redis's own clock, remembering the newest one removed.
_APPEND = (
    _STATE
    + """
local floor = nil
local excess = redis.call('XLEN', KEYS[1]) + 1 - tonumber(ARGV[3])
if excess > 0 then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  floor = gone[#gone][1]
  redis.call('XTRIM', KEYS[1], 'MAXLEN', tonumber(ARGV[3]) - 1)
end
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[2])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local oldest = string.format('%d', now_ms - tonumber(ARGV[4]))
local old = redis.call('XREVRANGE', KEYS[1], '(' .. oldest .. '-0', '-', 'COUNT', 1)
if #old > 0 then
  floor = old[1][1]
  redis.call('XTRIM', KEYS[1], 'MINID', oldest)
end
if floor then redis.call('SET', KEYS[3], floor) end
return {epoch, last, id}
"""
)
# ARGV: new epoch, entry to read after ('' for none), max events.
_READ = (
    _STATE
    + """
local floor = redis.call('GET', KEYS[3]) or '0-0'
local entries = {}
if ARGV[2] ~= '' then
  entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[2], '+', 'COUNT', ARGV[3])
end
return {epoch, last, floor, entries}
"""
)

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]]" = (
    weakref.WeakKeyDictionary()
)


def _layer_config() -> dict:
    return settings.CHANNEL_LAYERS["default"]["CONFIG"]


def layer_redis() -> aioredis.Redis:
    """One client per event loop and Redis URL (the channel layer's own server)."""
    host = _layer_config()["hosts"][0]
    url = host["address"] if isinstance(host, dict) else host
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(url)
    if client is None:
        client = per_loop[url] = aioredis.Redis.from_url(url, socket_connect_timeout=5)
    return client


def layer_key(name: str) -> str:
    """A Redis key next to the channel layer's own (same prefix)."""
    return f"{_layer_config().get('prefix', 'asgi')}:{name}"


def _keys(stream: str) -> list[str]:
    key = layer_key(f"log:{stream}")
    return [key, f"{key}:epoch", f"{key}:floor"]


async def event_log_append(*, stream: str, payload: str) -> tuple[Position, Position]:
    """Keep one event (JSON text); returns its position and the position before it."""
    epoch, last, entry = await layer_redis().eval(
        _APPEND,
        3,
        *_keys(stream),
        secrets.token_hex(4),
        payload,
        settings.LIVE_EVENT_LOG_MAX_EVENTS,
        int(settings.LIVE_EVENT_LOG_RETENTION * 1000),
    )
    epoch = epoch.decode()
    return _entry_position(epoch, entry), _entry_position(epoch, last)


@dataclass(frozen=True)
class LogRead:
    tail: Position  # the newest position of the log (what a new subscriber starts from)
    events: list[tuple[Position, bytes]] | None  # after `since`; None: some were trimmed


async def event_log_read(*, stream: str, since: Position | None) -> LogRead:
    """The log's tail and, given `since` of the current epoch, every kept event after it.

    `events` is None when the log cannot say what came after `since`: it is from another
    epoch, trimming removed events after it, or more than LIVE_REPLAY_MAX_EVENTS came after
    it (the client must reload: `resync`). The bound keeps what one `subscribe` re-reads small.
    A `since` past the tail is not checked here (see `EventsConsumer`).
    """
    epoch, last, floor, entries = await layer_redis().eval(
        _READ,
        3,
        *_keys(stream),
        secrets.token_hex(4),
        since.entry if since is not None else "",
        settings.LIVE_REPLAY_MAX_EVENTS + 1,
    )
    epoch = epoch.decode()
    tail = _entry_position(epoch, last)
    if since is None or since.epoch != epoch or since.key < _entry_position(epoch, floor).key:
        return LogRead(tail=tail, events=None)
    if len(entries) > settings.LIVE_REPLAY_MAX_EVENTS:
        return LogRead(tail=tail, events=None)
    events = [(_entry_position(epoch, entry), dict(_pairs(fields))[b"e"]) for entry, fields in entries]
    return LogRead(tail=tail, events=events)


def _pairs(flat: list) -> list[tuple[bytes, bytes]]:
    return list(zip(flat[::2], flat[1::2], strict=True))
