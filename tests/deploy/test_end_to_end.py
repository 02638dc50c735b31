"""A whole story through the front door, as a client on the network lives it: a run created
over HTTP (proxy -> gunicorn), followed over a websocket (proxy -> daphne), worked by a real
Celery worker, read back over HTTP."""

import json

import httpx
import pytest
import websockets.sync.client

from apps.accounts.services import api_token_create
from tests.conftest import permissions_grant

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_run_created_and_followed_through_the_proxy_ends_finished(
    front_door, celery_worker, django_user_model
):
    user = django_user_model.objects.create_user(username="e2e-proxy", password="e2e-pass-123")
    permissions_grant(user, "view", "add", "change")
    token = api_token_create(user=user, name="e2e")[1]
    auth = {"Authorization": f"Bearer {token}"}

    with (
        websockets.sync.client.connect(
            front_door.ws_url, additional_headers={**auth, "Origin": front_door.base_url}, open_timeout=10
        ) as ws,
        httpx.Client(base_url=front_door.base_url, headers=auth, timeout=30) as http,
    ):
        ws.send(json.dumps({"action": "subscribe", "stream": "calculations"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"

        created = http.post(
            "/api/calculations", json={"date_start": "2020-01-01", "date_fin": "2020-12-31", "lag": 1}
        )
        assert created.status_code == 201, created.text
        pk = created.json()["id"]

        statuses: list[str] = []
        while not statuses or statuses[-1] not in ("finished", "failed"):
            message = json.loads(ws.recv(timeout=60))
            if message["type"] == "event" and message["event"]["id"] == pk:
                statuses.append(message["event"]["status"])
        detail = http.get(f"/api/calculations/{pk}", headers={"Accept-Encoding": "gzip"})

    assert statuses[0] == "queued" and statuses[-1] == "finished"
    assert detail.status_code == 200 and detail.headers["Content-Encoding"] == "gzip"
    assert detail.json()["status"] == "finished" and len(detail.json()["result"]) == 366
