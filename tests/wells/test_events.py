"""Live events of imports: every state change on the `wells` stream, in order."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.live.realtime import stream_group
from apps.wells.services import HISTORY_IMPORT_JOB, history_import_create, history_import_run, well_create
from tests.wells.conftest import csv_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_import_sends_queued_running_progress_and_finished_on_the_wells_stream():
    assert stream_group("historyimport") == HISTORY_IMPORT_JOB.stream_name == "wells"
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("wells", channel)
    try:
        well = well_create(name="E-1", field="North")
        accepted = history_import_create(stream=[csv_bytes("2020-01-01,1,1,,24")], well_id=well.pk)
        history_import_run(import_id=accepted.pk)

        async def drain() -> list[dict]:
            found = []
            while not found or found[-1]["status"] != "finished":
                message = await asyncio.wait_for(layer.receive(channel), 5)
                if message["event"]["id"] == accepted.pk:
                    found.append(message["event"])
            return found

        events = async_to_sync(drain)()
    finally:
        async_to_sync(layer.group_discard)("wells", channel)
    statuses = [event["status"] for event in events]
    assert statuses[0] == "queued" and statuses[-1] == "finished" and set(statuses[1:-1]) == {"running"}
    progress = [event["progress"] for event in events]
    assert progress == sorted(progress) and progress[-1] == 100
    assert (
        events[-1]["kind"] == "historyimport"
        and events[-1]["records"] == 1
        and events[-1]["well_id"] == well.pk
    )
    assert events[-1]["updated_at"].endswith("Z")
