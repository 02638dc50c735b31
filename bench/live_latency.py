"""Benchmark: delay from a task's commit to the event at a websocket client.

    .venv/bin/python bench/live_latency.py [--events 200] [--interval 0.02]

A sender process plays a Celery task (see bench/livekit.py): it commits a state change of a
real calculation row and broadcasts it after commit through `apps.live.realtime`, once every
`--interval` seconds. One client, connected with a bearer token to the real proxy and daphne over a real
websocket and subscribed to the `calculations` stream, notes when each event arrives.
Reported: median, p99 and max of (arrival - commit), the first 10 events left out as warm-up.
Every event goes through the event log first (apps.live.eventlog: one Redis script before the
group sends), as in production. Target: median <= 5 ms.

Floor, measured in the same run: a bare Redis PUBLISH -> SUBSCRIBE round trip (one
publisher, one subscriber). The ratios say what the channel layer, daphne, the consumer and
the websocket add on top of Redis itself.

`--sender-loop` measures the sender loop's gain (`apps.live.realtime.sender_loop_run`):
events alternate between the loop and `async_to_sync` (bench/tricks.py), and both halves
are reported against the same floor.
"""

import argparse
import asyncio
import contextlib
import sys

import livekit

WARMUP = 10
TARGET_MEDIAN = 0.005


async def measure(
    base: str, token: str, *, events: int, interval: float, alternate: bool = False
) -> dict[int, float]:
    ws_url = base.replace("http://", "ws://") + "/ws/events/"
    ws = await livekit.ws_client(ws_url, base, token)
    arrivals: dict[int, float] = {}
    receiving = asyncio.ensure_future(livekit.receive_events(ws, arrivals, events + WARMUP))
    sender = livekit.start_sender(count=events + WARMUP, interval=interval, alternate=alternate)
    commits = await asyncio.to_thread(livekit.read_commits, sender)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receiving, timeout=10)
    await ws.close()
    lost = [seq for seq in commits if seq not in arrivals]
    if lost:
        print(f"LOST {len(lost)} events: {lost[:10]}...", file=sys.stderr)
    return {seq: arrivals[seq] - commits[seq] for seq in sorted(commits) if seq >= WARMUP and seq in arrivals}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between two events")
    parser.add_argument(
        "--direct", action="store_true", help="connect to daphne itself, not through the proxy"
    )
    parser.add_argument(
        "--sender-loop", action="store_true", help="alternate events with and without the sender loop"
    )
    parser.add_argument("--quick", action="store_true", help="50 events")
    args = parser.parse_args()
    if args.quick:
        args.events = 50

    env = livekit.configure()
    livekit.database_recreate()
    try:
        token = livekit.bench_token()
        floor, _ = asyncio.run(livekit.redis_floor(subscribers=1, rounds=args.events + WARMUP))
        floor = floor[WARMUP:]
        with livekit.front_door(env, direct=args.direct) as base:
            delays = asyncio.run(
                measure(base, token, events=args.events, interval=args.interval, alternate=args.sender_loop)
            )
    finally:
        livekit.database_drop()

    bare = livekit.summary(floor)
    if args.sender_loop:
        loop = livekit.summary([delay for seq, delay in delays.items() if seq % 2 == 0])
        plain = livekit.summary([delay for seq, delay in delays.items() if seq % 2 == 1])
        apart_ms = args.interval * 1000
        print(f"commit -> websocket client, {len(delays)} events ({apart_ms:.0f} ms apart), alternating:")
        print(livekit.stats_line("with the sender loop", loop))
        print(livekit.stats_line("with async_to_sync per event", plain))
        print(livekit.stats_line("redis PUBLISH -> SUBSCRIBE floor", bare))
        print(
            f"  ratio to the floor: median {loop['median'] / bare['median']:.1f}x with the loop, "
            f"{plain['median'] / bare['median']:.1f}x without (the loop saves "
            f"{(plain['median'] - loop['median']) / plain['median']:.0%} of the delay)"
        )
        return 0
    live = livekit.summary(list(delays.values()))
    print(f"commit -> websocket client, {live['n']} events ({args.interval * 1000:.0f} ms apart):")
    print(livekit.stats_line("websocket client", live))
    print(livekit.stats_line("redis PUBLISH -> SUBSCRIBE floor", bare))
    print(f"  ratio: median {live['median'] / bare['median']:.1f}x  p99 {live['p99'] / bare['p99']:.1f}x")
    ok = live["n"] == args.events and live["median"] <= TARGET_MEDIAN
    print(f"  target median <= {TARGET_MEDIAN * 1000:.0f} ms: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
