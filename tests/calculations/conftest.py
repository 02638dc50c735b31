"""Fixtures of the calculations tests: rows in each state, a live-event listener, a dead broker."""

import json
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from apps.calculations.models import Calculation
from apps.calculations.services import calculation_run
from apps.jobs.models import JobStatus
from apps.live.realtime import stream_group
from tests.conftest import ScratchQueue


@pytest.fixture
def make_calculation(db) -> Callable[..., Calculation]:
    """A row stored directly (no task published), in whatever state a test needs."""
    counter = iter(range(1, 1_000_000))

    def make(
        *,
        date_start: date = date(2020, 1, 1),
        date_fin: date = date(2020, 12, 31),
        lag: int = 1,
        status: str = JobStatus.QUEUED,
        **fields,
    ) -> Calculation:
        fields.setdefault("name", f"run {next(counter)}")
        return Calculation.objects.create(
            date_start=date_start, date_fin=date_fin, lag=lag, status=status, **fields
        )

    return make


@pytest.fixture
def make_finished(make_calculation) -> Callable[..., Calculation]:
    """A run that really went through `calculation_run` (in this process)."""

    def make(**fields) -> Calculation:
        calculation = make_calculation(**fields)
        calculation_run(calculation_id=calculation.pk)
        calculation.refresh_from_db()
        assert calculation.status == JobStatus.FINISHED
        return calculation

    return make


def backdate(calculation: Calculation, *, seconds: float) -> None:
    """Pretend the row was last written `seconds` ago (auto_now cannot be set through save)."""
    Calculation.objects.filter(pk=calculation.pk).update(
        updated_at=timezone.now() - timedelta(seconds=seconds)
    )


class EventListener:
    """Receives live events from the real channel layer (Redis), like the admin widget does."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(stream_group("calculation"), self.channel)

    def events(self, *, calculation_id: int, timeout: float = 2.0) -> list[dict]:
        """Every event for this run received until the stream stays quiet for `timeout` s."""
        import asyncio

        async def drain() -> list[dict]:
            found = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
                except TimeoutError:
                    return found
                event = message["event"]
                if event["kind"] == "calculation" and event["id"] == calculation_id:
                    found.append(event)
                    if event["status"] in ("finished", "failed"):
                        return found

        return async_to_sync(drain)()

    def close(self) -> None:
        async_to_sync(self.layer.group_discard)(stream_group("calculation"), self.channel)


@pytest.fixture
def live_events() -> Iterator[EventListener]:
    listener = EventListener()
    yield listener
    listener.close()


def body(response) -> dict:
    return json.loads(response.content)


@pytest.fixture
def scratch_queue(scratch_queues) -> ScratchQueue:
    """Runs are published to a queue no worker consumes (charts to another)."""
    return scratch_queues.calculations
