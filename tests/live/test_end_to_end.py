"""End to end: a calculation created through the REST API is followed over the websocket,
from `queued` to `finished`, with the events produced by a real Celery worker, in order."""

import itertools
import json
import os
import uuid
from datetime import datetime

import pytest
from asgiref.sync import sync_to_async

from harness import processes
from project.settings.test import child_settings_env
from tests.live.conftest import open_socket, request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_thread_connections")]


@pytest.fixture
def slow_worker(test_db_name, settings, dataservice, export_server):
    """A real worker on a queue of its own whose kernel takes a few steps of 50 ms each, so a
    run reports progress on the way (the session worker runs at full speed: no progress events)."""
    from project.celery import app

    queue = f"test-live-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    settings.CALCULATIONS_QUEUE = queue
    worker = processes.start_worker(
        test_db_name,
        name="live-e2e",
        concurrency=1,
        extra_env=child_settings_env(
            CALCULATIONS_QUEUE=queue,
            CHARTS_QUEUE=f"{queue}-charts",
            CALCULATIONS_STEP_DELAY=0.05,
            CALCULATIONS_PROGRESS_MIN_INTERVAL=0,
        ),
    )
    yield worker
    worker.stop()
    with app.connection_for_write() as conn:
        for name in (queue, f"{queue}-charts"):
            conn.default_channel.queue_delete(queue=name)


def at(event: dict) -> datetime:
    return datetime.fromisoformat(event["updated_at"])


async def test_a_calculation_created_through_the_api_is_followed_to_the_end_in_order(
    api_client, token_headers, slow_worker
):
    ws = await open_socket(token_headers)
    assert (await request(ws, {"action": "subscribe", "stream": "calculations"}))["type"] == "subscribed"

    response = await sync_to_async(api_client.post)(
        "/api/calculations",
        {"date_start": "2024-01-01", "date_fin": "2024-12-31", "lag": 1, "name": "followed live"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    calculation_id = json.loads(response.content)["id"]

    events: list[dict] = []
    while not events or events[-1]["status"] not in ("finished", "failed"):
        reply = await ws.receive_json_from(timeout=60)
        if (
            reply["type"] == "event" and reply["event"]["id"] == calculation_id
        ):  # other runs may share the stream
            events.append(reply["event"])
        if events and events[-1]["status"] in ("running", "finished"):
            # A subscriber that reacts by reading the API sees (at least) the state it was told about.
            detail = json.loads(
                (await sync_to_async(api_client.get)(f"/api/calculations/{calculation_id}")).content
            )
            assert detail["status"] in (
                ("running", "finished") if events[-1]["status"] == "running" else ("finished",)
            )

    statuses = [event["status"] for event in events]
    assert statuses[0] == "queued"
    assert statuses[-1] == "finished"
    assert statuses[1] == "running" and events[1]["progress"] == 0
    steps = [event["progress"] for event in events if event["status"] == "running"]
    assert any(0 < progress < 100 for progress in steps), statuses  # progress on the way
    assert steps == sorted(steps)
    assert set(statuses[1:-1]) == {"running"}  # never `running` after `finished`, nothing else between
    assert all(at(a) < at(b) for a, b in itertools.pairwise(events))
    finished = events[-1]
    assert finished["progress"] == 100 and finished["duration"] is not None and finished["error"] is None
    assert {"kind", "id", "name", "launched_at", "started_at", "finished_at"} <= finished.keys()
    assert finished["kind"] == "calculation" and finished["name"] == "followed live"
    await ws.disconnect()
