"""The websocket contract: /api/asyncapi.json is valid AsyncAPI 3.0 (checked against the
specification's own JSON Schema), its payload schemas are valid JSON Schema, and a session
that goes through every kind of server message, with events from the real services,
sends nothing the document does not describe (tests/live/conftest.py checks every message of
every websocket test the same way)."""

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.jobs.registry import job_kinds
from project.asyncapi import client_messages, server_messages
from tests.live.conftest import open_socket, request
from tests.live.contract import Contract, document, message_names, violations

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "tests/clients/node_modules/@asyncapi/specs/schemas"


@pytest.fixture(scope="module")
def asyncapi_schema() -> dict:
    """The AsyncAPI 3.0.0 JSON Schema of the pinned @asyncapi/specs (scripts/install-client-tools)."""
    subprocess.run([str(ROOT / "scripts/install-client-tools")], check=True, timeout=600)
    return json.loads((SPECS / "3.0.0-without-$id.json").read_text())


@pytest.fixture
def served(db) -> dict:
    response = Client().get("/api/asyncapi.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()


def test_it_is_served_beside_the_openapi_document_without_credentials(served):
    assert served["asyncapi"] == "3.0.0"
    assert served["servers"]["site"] == {**served["servers"]["site"], "host": "testserver", "protocol": "ws"}
    assert served["channels"]["events"]["address"] == "/ws/events/"


def test_it_names_wss_on_a_secure_site(db):
    secure = Client().get("/api/asyncapi.json", secure=True).json()
    assert secure["servers"]["site"]["protocol"] == "wss"


def test_it_is_valid_asyncapi_3(served, asyncapi_schema):
    validator = jsonschema.Draft7Validator(asyncapi_schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(served)]
    assert not errors, errors


def test_the_specification_schema_catches_a_broken_document(served, asyncapi_schema):
    # The other half of the proof: the check is strict, not a formality.
    broken = {**served, "operations": {"ping": {**served["operations"]["ping"], "action": "publish"}}}
    assert not jsonschema.Draft7Validator(asyncapi_schema).is_valid(broken)


def test_every_payload_schema_is_valid_json_schema(served):
    for name, schema in served["components"]["schemas"].items():
        jsonschema.Draft7Validator.check_schema(schema), name


def test_every_reference_resolves(served):
    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(served))
    assert len(found) > 30
    for ref in found:
        target = served
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert isinstance(target, dict), ref


def test_every_message_both_ways_is_in_the_channel_and_an_operation(served):
    names = set(client_messages()) | set(server_messages())
    assert set(served["channels"]["events"]["messages"]) == names
    received = {
        ref["$ref"].rsplit("/", 1)[1]
        for op in served["operations"].values()
        if op["action"] == "receive"
        for ref in op["messages"]
    }
    sent = {
        ref["$ref"].rsplit("/", 1)[1]
        for op in served["operations"].values()
        if op["action"] == "send"
        for ref in op["messages"]
    }
    assert (received, sent) == (set(client_messages()), set(server_messages()))


def test_every_registered_kind_types_its_events(served):
    names = [f"{kind.model.__name__}Event" for kind in job_kinds]
    assert {"CalculationEvent", "FunctionEvent"} <= set(names)
    assert [kind.live_kind for kind in job_kinds if kind.event_schema is None] == []
    for name in names:
        schema = served["components"]["schemas"][name]
        assert schema["additionalProperties"] is False and set(schema["required"]) == set(
            schema["properties"]
        )
        for field, spec in schema["properties"].items():
            assert "type" in spec or "anyOf" in spec or "const" in spec or "enum" in spec, (name, field)


@pytest.mark.parametrize(
    "message",
    [
        {"action": "subscribe", "stream": "calculations"},
        {"action": "subscribe", "stream": "functions", "since": "3f9a0c1e.1767261600123-0"},
        {"action": "subscribe", "kind": "function", "id": 42},
        {"action": "unsubscribe", "kind": "calculation", "id": 1},
        {"action": "ping"},
    ],
)
def test_the_documented_client_messages_are_what_the_server_takes(message):
    root = document()
    matching = [
        name
        for name in client_messages()
        if jsonschema.Draft7Validator({**root, "$ref": f"#/components/messages/{name}/payload"}).is_valid(
            message
        )
    ]
    assert len(matching) == 1, matching


@pytest.mark.parametrize(
    "message",
    [
        {"type": "hello"},
        {"type": "pong", "extra": 1},
        {"type": "error", "code": "made_up", "field": None, "message": "x"},
        {"type": "subscribed", "stream": "made_up"},
        {"type": "event", "event": {"kind": "calculation", "id": 1, "status": "running"}},
    ],
)
def test_the_checker_refuses_what_the_document_does_not_describe(message):
    assert violations(message)


def test_an_event_timestamp_must_be_the_apis_format():
    event = {
        "kind": "function",
        "id": 1,
        "expression": "t",
        "status": "queued",
        "progress": 0,
        "processed_at": None,
        "error": None,
        "image_url": None,
        "updated_at": "2026-01-01T10:00:00.000001Z",
        "event_id": "3f9a0c1e.1-0",
    }
    assert message_names({"type": "event", "event": event}) == ["event"]
    assert violations({"type": "event", "event": {**event, "updated_at": "2026-01-01T10:00:00.000001+00:00"}})


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_layer", "close_thread_connections")
async def test_a_session_through_every_server_message_conforms(token_headers, websocket_contract):
    from apps.calculations.models import Calculation
    from apps.calculations.services import calculation_cancel
    from apps.charts.models import Function
    from apps.charts.services import function_cancel

    calculation = await sync_to_async(Calculation.objects.create)(
        name="contract", date_start="2024-01-01", date_fin="2024-01-31", lag=1
    )
    function = await sync_to_async(Function.objects.create)(expression="sin(t)", dt=1.0, interval=1.0)
    ws = await open_socket(token_headers)
    await request(ws, {"action": "subscribe", "stream": "calculations"})
    await request(ws, {"action": "subscribe", "kind": "function", "id": function.pk})
    await sync_to_async(calculation_cancel)(calculation_id=calculation.pk)  # a real event of each kind
    assert (await ws.receive_json_from(timeout=5))["event"]["status"] == "cancelled"
    await sync_to_async(function_cancel)(function_id=function.pk)
    assert (await ws.receive_json_from(timeout=5))["event"]["kind"] == "function"
    # A `since` from a log this server does not have: resync, then subscribed.
    await request(ws, {"action": "subscribe", "stream": "functions", "since": "00000000.1-0"})
    await ws.receive_json_from(timeout=5)
    await request(ws, {"action": "ping"})
    await request(ws, {"action": "unsubscribe", "stream": "calculations"})
    await request(ws, {"action": "unsubscribe", "kind": "function", "id": function.pk})
    await request(ws, {"action": "dance"})
    await ws.disconnect()

    contract = Contract()
    seen = {name for message in websocket_contract for name in contract.names(message)}
    assert seen == set(server_messages()), set(server_messages()) - seen
