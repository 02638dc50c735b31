"""`{kind, id}` subscriptions need the kind's view permission: without it the reply is
`permission_denied` (the same for an id that exists and one that does not, so a refusal tells
nothing about the row), no event of that object arrives, and the socket stays usable."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission

from apps.accounts.services import api_token_create
from apps.calculations.models import Calculation
from apps.charts.models import Function
from apps.live.realtime import broadcast_event
from tests.live.conftest import next_event, no_message, open_socket, request

# Their events are made up (only what delivery reads): tests/live/conftest.py checks their
# envelopes against the AsyncAPI document, not the events' fields.
WEBSOCKET_EVENTS_ARE_SYNTHETIC = True
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_layer", "close_thread_connections"),
]

send = sync_to_async(broadcast_event)


@pytest.fixture
def objects(db) -> dict[str, int]:
    calculation = Calculation.objects.create(
        name="guarded", date_start="2020-01-01", date_fin="2020-01-31", lag=1, status="queued"
    )
    function = Function.objects.create(expression="sin(t)", dt=1.0, interval=1.0)
    return {"calculation": calculation.pk, "function": function.pk}


async def socket_with(django_user_model, username: str, *codenames: str):
    def create() -> str:
        person = django_user_model.objects.create_user(username=username)
        person.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        return api_token_create(user=person, name="ws")[1]

    raw = await sync_to_async(create)()
    return await open_socket([(b"authorization", f"Bearer {raw}".encode())])


def refused(reply: dict) -> bool:
    return (reply["type"], reply["code"], reply["field"]) == ("error", "permission_denied", "kind")


@pytest.mark.parametrize("kind", ["calculation", "function"])
async def test_a_user_without_any_permission_is_refused_every_object_and_gets_none_of_its_events(
    django_user_model, objects, kind
):
    ws = await socket_with(django_user_model, "nobody")
    assert refused(await request(ws, {"action": "subscribe", "kind": kind, "id": objects[kind]}))
    assert refused(await request(ws, {"action": "subscribe", "kind": kind, "id": 987654321}))  # missing: same
    await send(kind=kind, obj_id=objects[kind], payload={"status": "running", "progress": 10})
    assert await no_message(ws)
    assert await request(ws, {"action": "ping"}) == {"type": "pong"}
    await ws.disconnect()


async def test_the_view_permission_of_one_kind_opens_that_kinds_objects_only(django_user_model, objects):
    ws = await socket_with(django_user_model, "calculations-only", "view_calculation")
    assert refused(await request(ws, {"action": "subscribe", "kind": "function", "id": objects["function"]}))
    assert await request(
        ws, {"action": "subscribe", "kind": "calculation", "id": objects["calculation"]}
    ) == {
        "type": "subscribed",
        "kind": "calculation",
        "id": objects["calculation"],
    }
    await send(kind="function", obj_id=objects["function"], payload={"status": "running", "progress": 10})
    await send(
        kind="calculation", obj_id=objects["calculation"], payload={"status": "running", "progress": 10}
    )
    received = await next_event(ws)
    assert (received["kind"], received["id"]) == ("calculation", objects["calculation"])
    assert await no_message(ws)
    await ws.disconnect()
