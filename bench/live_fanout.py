"""Benchmark: fan-out of one event to 500 websocket subscribers.

    .venv/bin/python bench/live_fanout.py [--clients 500] [--rounds 20]

500 clients (one asyncio process, the `websockets` package) connect with a bearer token to a
real proxy in front of daphne and subscribe to the `calculations` stream. A sender process (bench/livekit.py)
then commits and broadcasts one event per round, a second apart. For every round we note
when each client got the event. Reported: per delivery (clients x rounds) median and p99 of
(arrival - commit), and per round the time until all clients had it. Target: p99 < 1 s.

Floor, in the same run: bare Redis PUBLISH -> SUBSCRIBE, one round trip to one subscriber,
and one message to as many Redis subscribers (connections) as websocket clients.
On this 2-core machine the clients, daphne, Redis and PostgreSQL share the CPUs.
"""

import argparse
import asyncio
import sys
import time

import livekit

TARGET_P99 = 1.0


async def measure(
    base: str, token: str, *, clients: int, rounds: int
) -> tuple[list[float], list[float], float]:
    ws_url = base.replace("http://", "ws://") + "/ws/events/"
    gate = asyncio.Semaphore(50)  # handshakes in flight at once

    async def one():
        async with gate:
            return await livekit.ws_client(ws_url, base, token)

    began = time.monotonic()
    sockets = await asyncio.gather(*(one() for _ in range(clients)))
    connect_seconds = time.monotonic() - began
    arrivals: list[dict[int, float]] = [{} for _ in sockets]
    receivers = [
        asyncio.ensure_future(livekit.receive_events(ws, seen, rounds))
        for ws, seen in zip(sockets, arrivals, strict=True)
    ]
    sender = livekit.start_sender(count=rounds, interval=1.0)
    commits = await asyncio.to_thread(livekit.read_commits, sender)
    await asyncio.wait(receivers, timeout=10)
    for ws in sockets:
        await ws.close()

    deliveries: list[float] = []
    all_received: list[float] = []
    missing = 0
    for seq, committed in commits.items():
        delays = [seen[seq] - committed for seen in arrivals if seq in seen]
        missing += len(sockets) - len(delays)
        deliveries.extend(delays)
        if delays:
            all_received.append(max(delays))
    if missing:
        print(f"MISSING {missing} deliveries", file=sys.stderr)
    return deliveries, all_received, connect_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    env = livekit.configure()
    livekit.database_recreate()
    try:
        token = livekit.bench_token()
        single, _ = asyncio.run(livekit.redis_floor(subscribers=1, rounds=200))
        floor_deliveries, floor_rounds = asyncio.run(
            livekit.redis_floor(subscribers=args.clients, rounds=args.rounds)
        )
        with livekit.front_door(env) as base:
            deliveries, rounds, connect_seconds = asyncio.run(
                measure(base, token, clients=args.clients, rounds=args.rounds)
            )
    finally:
        livekit.database_drop()

    live, per_round = livekit.summary(deliveries), livekit.summary(rounds)
    bare, bare_round, one = (
        livekit.summary(floor_deliveries),
        livekit.summary(floor_rounds),
        livekit.summary(single),
    )
    expected = args.clients * args.rounds
    n = args.clients
    print(f"{n} websocket subscribers connected in {connect_seconds:.1f} s; {args.rounds} events, 1 s apart")
    print(livekit.stats_line(f"per delivery ({live['n']}/{expected})", live))
    print(livekit.stats_line(f"all {n} received, per event", per_round, keys=("median", "max")))
    print(livekit.stats_line("redis floor, 1 subscriber", one, keys=("median", "p99")))
    print(livekit.stats_line(f"redis floor, {n} subscribers", bare, keys=("median", "p99")))
    print(livekit.stats_line(f"redis floor, all {n} received", bare_round, keys=("median", "max")))
    print(
        f"  ratio to {n} redis subscribers: median {live['median'] / bare['median']:.1f}x"
        f"  p99 {live['p99'] / bare['p99']:.1f}x"
        f"  all received {per_round['median'] / bare_round['median']:.1f}x"
    )
    print(f"  ratio to the 1-subscriber redis round trip: p99 {live['p99'] / one['p99']:.0f}x")
    ok = live["n"] == expected and live["p99"] < TARGET_P99
    print(f"  target p99 < {TARGET_P99:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
