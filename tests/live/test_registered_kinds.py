"""A job kind registered once is live at once: its stream and its objects' groups open to the
users with its view permission, and the lifecycle's signal reaches its subscribers."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission

from apps.accounts.services import api_token_create
from apps.jobs.registry import job_kinds
from apps.jobs.signals import job_changed
from tests.jobs.test_registry import THROWAWAY
from tests.live.conftest import next_event, open_socket, request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_thread_connections")]


@pytest.fixture
def throwaway():
    job_kinds.register(THROWAWAY)
    yield THROWAWAY
    job_kinds.unregister(THROWAWAY.live_kind)


async def socket_of(django_user_model, username: str, *permissions: str):
    def create():
        user = django_user_model.objects.create_user(username=username)
        for codename in permissions:
            user.user_permissions.add(Permission.objects.get(codename=codename))
        return api_token_create(user=user, name="ws")[1]

    raw = await sync_to_async(create)()
    return await open_socket([(b"authorization", f"Bearer {raw}".encode())])


async def test_a_registered_kinds_stream_needs_its_view_permission(throwaway, django_user_model):
    ws = await socket_of(django_user_model, "no-imports", "view_calculation")
    error = await request(ws, {"action": "subscribe", "stream": "imports"})
    assert (error["code"], error["field"]) == ("permission_denied", "stream")
    assert "'accounts.view_apitoken'" in error["message"]
    error = await request(ws, {"action": "subscribe", "kind": "apitoken", "id": 1})
    assert (error["code"], error["field"]) == ("permission_denied", "kind")
    await ws.disconnect()


async def test_a_registered_kinds_events_reach_its_stream(throwaway, django_user_model):
    ws = await socket_of(django_user_model, "imports-viewer", "view_apitoken")
    assert await request(ws, {"action": "subscribe", "stream": "imports"}) == {
        "type": "subscribed",
        "stream": "imports",
    }
    await sync_to_async(job_changed.send)(
        sender=throwaway, kind="apitoken", obj_id=7, payload={"status": "queued"}
    )
    event = await next_event(ws)
    assert (event["kind"], event["id"], event["status"]) == ("apitoken", 7, "queued")
    await ws.disconnect()


async def test_an_unregistered_stream_is_refused_naming_the_registered_ones(django_user_model):
    ws = await socket_of(django_user_model, "viewer", "view_calculation")
    error = await request(ws, {"action": "subscribe", "stream": "imports"})
    assert error["code"] == "invalid_stream"
    assert all(kind.stream_name in error["message"] for kind in job_kinds)
    await ws.disconnect()
