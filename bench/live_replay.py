"""Benchmark: a client that missed 10,000 events gets them by replay, vs live delivery.

    .venv/bin/python bench/live_replay.py [--events 10000]

A sender process (bench/livekit.py) commits and broadcasts a marker event, then `--events`
more as fast as it can, each a real committed state change of a calculation. One client,
subscribed to the `calculations` stream all along, receives them live: its rate is the
events over the time from the first arrival to the last. Then a second client, which "was
away" for all of them, connects and subscribes with `since` = the marker's event_id: its rate
is the events over the time from sending `subscribe` to receiving `subscribed` (every replayed
event is in between). Both go through the same daphne, consumer and websocket.

Target: replay at least as fast as live delivery of the same events (events/s, same run).
Floor, measured in the same run: reading the same entries from the Redis stream with a bare
XRANGE (what the replay cannot beat), so the ratio says what the consumer and the websocket add.
"""

import argparse
import asyncio
import json
import sys
import time

import livekit


async def measure(base: str, token: str, *, events: int) -> dict:
    ws_url = base.replace("http://", "ws://") + "/ws/events/"
    live = await livekit.ws_client(ws_url, base, token)
    arrivals: dict[int, float] = {}
    ids: dict[int, str] = {}

    async def receive_live() -> None:
        async for raw in live:
            now = time.time()
            message = json.loads(raw)
            if message.get("type") == "event" and "seq" in message["event"]:
                arrivals[message["event"]["seq"]] = now
                ids[message["event"]["seq"]] = message["event"]["event_id"]
                if len(arrivals) > events:
                    return

    receiving = asyncio.ensure_future(receive_live())
    sender = livekit.start_sender(count=events + 1, interval=0.0)
    await asyncio.to_thread(livekit.read_commits, sender)
    await asyncio.wait_for(receiving, timeout=60)
    await live.close()
    live_seqs = range(1, events + 1)
    live_seconds = max(arrivals[seq] for seq in live_seqs) - min(arrivals[seq] for seq in live_seqs)

    # The client that was away: resumes from the marker (seq 0).
    away = await livekit.ws_client(ws_url, base, token, subscribe=False)
    began = time.monotonic()
    await away.send(json.dumps({"action": "subscribe", "stream": livekit.STREAM, "since": ids[0]}))
    replayed: list[int] = []
    async for raw in away:
        message = json.loads(raw)
        if message["type"] == "event":
            replayed.append(message["event"]["seq"])
        elif message["type"] == "subscribed":
            reported = message["replayed"]
            break
        else:
            raise RuntimeError(f"unexpected reply: {message}")
    replay_seconds = time.monotonic() - began
    await away.close()
    return {
        "live_seconds": live_seconds,
        "live_received": len([seq for seq in live_seqs if seq in arrivals]),
        "replay_seconds": replay_seconds,
        "replayed": replayed,
        "reported": reported,
    }


async def redis_floor(*, events: int) -> float:
    """Seconds to read the newest `events` entries of the stream's log with one XRANGE."""
    import redis.asyncio as aioredis
    from django.conf import settings

    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    host = config["hosts"][0]
    client = aioredis.Redis.from_url(host["address"] if isinstance(host, dict) else host)
    key = f"{config['prefix']}:log:{livekit.STREAM}"
    best, entries = float("inf"), None
    for _ in range(5):
        began = time.monotonic()
        entries = await client.xrange(key, "-", "+", count=events)
        best = min(best, time.monotonic() - began)
    await client.aclose()
    kept = len(entries or [])
    if kept < events:
        raise RuntimeError(f"the log kept {kept} entries, not {events}")
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()

    env = livekit.configure()
    livekit.database_recreate()
    try:
        token = livekit.bench_token()
        with livekit.front_door(env) as base:
            result = asyncio.run(measure(base, token, events=args.events))
        floor_seconds = asyncio.run(redis_floor(events=args.events))
    finally:
        livekit.database_drop()

    n = args.events
    complete = result["replayed"] == list(range(1, n + 1)) and result["reported"] == n
    live_rate = result["live_received"] / result["live_seconds"]
    replay_rate = n / result["replay_seconds"]
    floor_rate = n / floor_seconds
    print(f"{n} events missed, then replayed (one client live all along, one that was away):")
    print(
        f"  live delivery    {live_rate:10.0f} events/s  "
        f"({result['live_received']} in {result['live_seconds']:.2f} s)"
    )
    print(
        f"  replay           {replay_rate:10.0f} events/s  "
        f"({len(result['replayed'])} in {result['replay_seconds']:.2f} s,"
        f" 'replayed': {result['reported']}, in order and complete: {complete})"
    )
    print(f"  floor: XRANGE    {floor_rate:10.0f} events/s  ({floor_seconds * 1000:.1f} ms for {n} entries)")
    print(
        f"  ratio: replay / live {replay_rate / live_rate:.1f}x   "
        f"replay / floor {replay_rate / floor_rate:.3f}"
    )
    ok = complete and replay_rate >= live_rate
    print(f"  target replay >= live: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
