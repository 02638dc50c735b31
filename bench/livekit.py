"""Shared plumbing of the live benchmarks (`live_latency.py`, `live_fanout.py`, `live_replay.py`).

Each run gets its own database (calcboard_bench_live_<pid>), channel prefix and cache prefix,
a real web tier on free ports (the proxy in front of daphne for /ws/, as users reach it), a
bearer token for the
websocket clients, and a sender process that plays a Celery task: it commits a state change
of a real `Calculation` row and broadcasts it with `apps.live.realtime.broadcast_event`
(through the process's sender loop, `apps.live.realtime.sender_loop_run`, exactly like a worker), printing the
moment each transaction committed. PostgreSQL and Redis must be running (scripts/services).

The floor is measured in the same run: a bare Redis PUBLISH -> SUBSCRIBE round trip (and,
for the fan-out, the same to as many Redis subscribers as websocket clients).
"""

import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import processes  # noqa: E402

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

# Per run: other engineers' benchmarks on this machine recreate and drop their own database
# (a shared name dropped ours mid-run: tokens vanished, handshakes failed).
DB_NAME = os.environ.setdefault("CALCBOARD_BENCH_LIVE_DB", f"calcboard_bench_live_{os.getpid()}")
STREAM = "calculations"


def configure() -> dict[str, str]:
    """Environment shared by this process and its children; set before Django starts."""
    # The test settings derive this run's channel and cache prefixes and queues from the run id
    # (this process's pid, inherited by the children).
    env = {
        "DJANGO_SETTINGS_MODULE": "project.settings.test",
        "POSTGRES_DB": DB_NAME,
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    # The benchmarks measure delivery, not the per-client bounds: 500 sockets of one user
    # (live_fanout) and a replay of 10,000 events in one subscribe (live_replay). Children
    # inherit it, with what the test settings add to it, through the environment.
    os.environ["CALCBOARD_TEST_SETTINGS"] = json.dumps(
        {"LIVE_MAX_CONNECTIONS_PER_USER": 100_000, "LIVE_REPLAY_MAX_EVENTS": 100_000}
    )
    return env


def database_recreate() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    processes.database_recreate(DB_NAME)
    call_command("migrate", verbosity=0)


def database_drop() -> None:
    processes.database_drop(DB_NAME)


def bench_token() -> str:
    from django.contrib.auth import get_user_model

    from apps.accounts.services import api_token_create

    # Subscribing needs the view permissions (apps.accounts.permissions); a superuser has all.
    user, _ = get_user_model().objects.get_or_create(username="bench-live", defaults={"is_superuser": True})
    _, raw = api_token_create(user=user, name="live benchmark")
    return raw


@contextmanager
def front_door(env: dict[str, str], *, direct: bool = False) -> Iterator[str]:
    """The web tier as users reach it (nginx -> gunicorn, /ws/ -> daphne) on free ports;
    yields the proxy's base URL (http://127.0.0.1:PORT), or daphne's own with `direct` (to
    see what the proxy costs)."""
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness poll otherwise
    door = processes.FrontDoor(DB_NAME, extra_env=env, name="bench-live")
    try:
        yield f"http://127.0.0.1:{door.ws_port}" if direct else door.base_url
    finally:
        door.stop()


def start_sender(*, count: int, interval: float, alternate: bool = False) -> subprocess.Popen:
    """The sender process (see `sender_main`): prints one JSON line per committed event."""
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--count",
            str(count),
            "--interval",
            str(interval),
            *(["--alternate"] if alternate else []),
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        text=True,
    )


def sender_main(*, count: int, interval: float, alternate: bool = False) -> None:
    """Plays a Celery task `count` times: commit a state change, broadcast it after commit.
    With `alternate`, every odd event goes without the sender loop (`async_to_sync`, the
    plain code of bench/tricks.py), to measure the loop's gain."""
    import contextlib

    import django

    django.setup()
    import tricks
    from django.db import transaction
    from django.utils import timezone

    from apps.calculations.events import calculation_event_payload
    from apps.calculations.models import Calculation
    from apps.live import realtime
    from apps.live.realtime import broadcast_event

    calculation = Calculation.objects.create(
        name="bench", date_start="2024-01-01", date_fin="2024-12-31", lag=1, status="running"
    )
    committed: list[tuple[int, float]] = []
    for seq in range(count):
        started = time.monotonic()
        plain = alternate and seq % 2 == 1
        with (
            (
                tricks.without(realtime, "sender_loop_run", tricks.sender_loop_run_plain)
                if plain
                else contextlib.nullcontext()
            ),
            transaction.atomic(),
        ):
            calculation.progress = seq % 100
            calculation.updated_at = timezone.now()
            Calculation.objects.filter(pk=calculation.pk).update(
                progress=calculation.progress, updated_at=calculation.updated_at
            )
            # Registered before the broadcast, so it runs first: the moment of the commit.
            transaction.on_commit(functools.partial(_committed, committed, seq))
            broadcast_event(
                kind="calculation",
                obj_id=calculation.pk,
                payload={**calculation_event_payload(calculation), "seq": seq},
            )
        print(json.dumps({"seq": committed[-1][0], "commit": committed[-1][1]}), flush=True)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def _committed(committed: list[tuple[int, float]], seq: int) -> None:
    committed.append((seq, time.time()))


def read_commits(sender: subprocess.Popen) -> dict[int, float]:
    out, _ = sender.communicate(timeout=600)
    if sender.returncode != 0:
        raise RuntimeError(f"sender failed with {sender.returncode}")
    return {row["seq"]: row["commit"] for row in map(json.loads, out.splitlines())}


async def ws_client(url: str, origin: str, token: str, *, subscribe: bool = True) -> "ClientConnection":
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    ws = await connect(
        url,
        origin=Origin(origin),
        additional_headers={"Authorization": f"Bearer {token}"},
        ping_interval=None,
        max_queue=None,
        open_timeout=60,
    )
    if not subscribe:
        return ws
    await ws.send(json.dumps({"action": "subscribe", "stream": STREAM}))
    reply = json.loads(await ws.recv())
    if reply.get("type") != "subscribed":
        raise RuntimeError(f"subscription refused: {reply}")
    return ws


async def receive_events(ws: "ClientConnection", arrivals: dict[int, float], count: int) -> None:
    """Records when each event (by its `seq`) reached this client."""
    async for raw in ws:
        now = time.time()
        message = json.loads(raw)
        if message.get("type") == "event" and "seq" in message["event"]:
            arrivals[message["event"]["seq"]] = now
            if len(arrivals) >= count:
                return


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "p99": percentile(values, 99),
        "max": max(values),
        "n": len(values),
    }


async def redis_floor(
    *, subscribers: int, rounds: int, interval: float = 0.01
) -> tuple[list[float], list[float]]:
    """Bare Redis PUBLISH -> SUBSCRIBE: `subscribers` connections on one channel, `rounds`
    messages. Returns every delivery's delay and each round's delay until all received."""
    import redis.asyncio as aioredis
    from django.conf import settings

    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    url = host["address"] if isinstance(host, dict) else host
    channel = f"bench-live-floor-{os.getpid()}"
    clients = [aioredis.Redis.from_url(url) for _ in range(subscribers)]
    pubsubs = [client.pubsub() for client in clients]
    for pubsub in pubsubs:
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=5)  # the subscribe confirmation
    publisher = aioredis.Redis.from_url(url)
    deliveries: list[float] = []
    all_received: list[float] = []

    async def wait_one(pubsub: Any) -> float:  # a redis.asyncio PubSub
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=10)
            if message is not None:
                return time.time()

    for _ in range(rounds):
        waiters = [asyncio.ensure_future(wait_one(pubsub)) for pubsub in pubsubs]
        await asyncio.sleep(0)
        sent = time.time()
        await publisher.publish(channel, json.dumps({"sent": sent}))
        arrivals = await asyncio.gather(*waiters)
        delays = [arrival - sent for arrival in arrivals]
        deliveries.extend(delays)
        all_received.append(max(delays))
        await asyncio.sleep(interval)
    for pubsub in pubsubs:
        await pubsub.aclose()
    for client in [*clients, publisher]:
        await client.aclose()
    return deliveries, all_received


def ms(value: float) -> str:
    return f"{value * 1000:8.2f} ms"


def stats_line(
    label: str, stats: dict[str, float], *, keys: tuple[str, ...] = ("median", "p99", "max")
) -> str:
    return f"  {label:<34}" + "  ".join(f"{key} {ms(stats[key])}" for key in keys)


if __name__ == "__main__":  # the sender process
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--alternate", action="store_true")
    arguments = parser.parse_args()
    sender_main(count=arguments.count, interval=arguments.interval, alternate=arguments.alternate)
