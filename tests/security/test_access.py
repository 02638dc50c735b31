"""Who may do what: a walk over EVERY route the project serves, as four kinds of caller.

Each route of the URLconf falls in exactly one class below, and each class has its rule:
- `/api/` operations and chart images (`/charts/`): each declares the model permission it
  needs with `apps.accounts.permissions.requires` / `view_requires` (reads `view_*`, creates
  `add_*` (re-run too), refresh/cancel `change_*`). Anonymous callers and bad tokens get 401; a
  user without the permission 403, both in the one error shape. Walked as: anonymous, a
  (staff) user with no permissions, a view-only user (reads pass, writes 403), a full user;
- the admin: anonymous visitors and users who are not staff are sent to the login page;
- public on purpose, each with its reason (`PUBLIC`).
A route added later that fits no class, or that declares no permission, fails
`test_every_route_has_an_access_rule` until someone decides its rule. The websocket routes
and streams are walked the same way.
"""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.urls import resolve

from apps.accounts.permissions import access_rule, permission_name
from apps.accounts.services import api_token_create, api_token_revoke
from apps.calculations.models import Calculation
from apps.live.consumers import CLOSE_UNAUTHENTICATED
from apps.live.routing import websocket_urlpatterns
from apps.live.selectors import live_model, live_streams
from project.api import api
from tests.conftest import permissions_grant
from tests.security.conftest import SAMPLE_BY_CONVERTER, VALID_BODIES, Reply, Route, all_routes, assert_error

ROUTES = all_routes()

# Routes anyone may call, and why.
PUBLIC = {
    "healthz": "the load balancer's and compose's probe: says ok/failing per dependency, no data",
    "readyz": "the readiness probe: each dependency's state and time, no data",
    "metrics": "the scraper's, on the internal network only: the proxy refuses it whatever the request "
    "carries (tests/deploy/test_metrics_scrape.py); counts and timings, no data",
    "admin:login": "the login form itself",
    "admin:logout": "logging out needs no rights (POST only)",
    f"{api.urls_namespace}:openapi-json": "the API description (paths and types, no data) for client authors",
    "asyncapi-json": "the websocket protocol's description (messages and types, no data) for client authors",
    f"{api.urls_namespace}:openapi-view": "the same description rendered by Swagger UI",
    f"{api.urls_namespace}:api-root": "no operation: ninja's placeholder that locates /api/, always a 404",
}
API_NAMESPACE = api.urls_namespace


def api_operations() -> list[tuple[str, str]]:
    """(method, url) of every operation of the NinjaAPI, path parameters filled in."""
    return sorted((method, url) for method, url, _ in _operations())


def _operations():
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            url = "/api" + prefix + path
            for name in {part[1:-1] for part in url.split("/") if part.startswith("{")}:
                url = url.replace("{" + name + "}", SAMPLE_BY_CONVERTER["int"])
            for operation in path_view.operations:
                for method in operation.methods:
                    yield method, url, operation.view_func


OPERATIONS = api_operations()
OPERATION_IDS = [f"{method} {url}" for method, url in OPERATIONS]
# What each operation declared (`requires`): (action, model), or None.
RULES = {(method, url): access_rule(view) for method, url, view in _operations()}
ADMIN_ROUTES = [route for route in ROUTES if route.namespace == "admin" and route.key not in PUBLIC]
CHART_ROUTES = [route for route in ROUTES if route.namespace == "charts"]


def classify(route: Route) -> str | None:
    if route.key in PUBLIC:
        return "public"
    if route.namespace == API_NAMESPACE:
        operation_routes = {resolve(url).route for _, url in OPERATIONS}
        return "api operation" if route.route in operation_routes else None
    if route.namespace == "admin":
        return "admin"
    if route.namespace == "charts":
        return "chart image"
    return None


def call(client: Client, method: str, url: str, **headers):
    # A valid body, so a refusal can only be about who is asking.
    if method == "GET":
        return client.get(url, headers=headers)
    body = json.dumps(VALID_BODIES.get(url, {}))  # operations without a body (cancel, rerun) get {}
    return client.generic(method, url, body, content_type="application/json", headers=headers)


def route_id(route: Route) -> str:
    return route.url


# --- the walk itself ---------------------------------------------------------------------


def route_rule(route: Route):
    if route.namespace == API_NAMESPACE:
        return {rule for (_, url), rule in RULES.items() if resolve(url).route == route.route}
    return {access_rule(resolve(route.url).func)}


def test_every_route_has_an_access_rule():
    unclassified = [route.route for route in ROUTES if classify(route) is None]
    assert not unclassified, f"decide who may call these and add them to tests/security: {unclassified}"
    guarded = [route for route in ROUTES if classify(route) in ("api operation", "chart image")]
    undeclared = [route.route for route in guarded if None in route_rule(route)]
    assert not undeclared, f"declare the permission with apps.accounts.permissions.requires: {undeclared}"


@pytest.mark.parametrize(("method", "url"), OPERATIONS, ids=OPERATION_IDS)
def test_a_read_needs_view_and_a_write_needs_add_or_change(method, url):
    action, _ = RULES[(method, url)]
    assert action == "view" if method == "GET" else action in ("add", "change"), (method, url, action)


def test_the_walk_reaches_the_api_the_admin_and_the_chart_images():
    # Guards the walk against silently finding nothing (a renamed namespace, say).
    classes = [classify(route) for route in ROUTES]
    assert classes.count("api operation") >= 7
    assert classes.count("admin") >= 20
    assert classes.count("chart image") == 2
    assert len(OPERATIONS) >= 9


def test_every_operation_documents_its_401(client):
    schema = client.get("/api/openapi.json").json()
    for path, path_item in schema["paths"].items():
        for method, operation in path_item.items():
            assert "401" in operation["responses"], f"{method.upper()} {path} does not document 401"
            assert operation.get("security"), f"{method.upper()} {path} declares no security scheme"


# --- the REST API --------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), OPERATIONS, ids=OPERATION_IDS)
def test_an_api_operation_answers_401_without_credentials(db, method, url):
    body = assert_error(call(Client(), method, url), 401, field=None, rule="authentication")
    assert "Bearer" in body["detail"]


@pytest.mark.parametrize(("method", "url"), OPERATIONS, ids=OPERATION_IDS)
def test_an_api_operation_answers_401_to_a_revoked_token(user, method, url):
    token, raw = api_token_create(user=user, name="lost laptop")
    api_token_revoke(token=token)
    assert_error(
        call(Client(), method, url, Authorization=f"Bearer {raw}"), 401, field=None, rule="authentication"
    )


@pytest.mark.parametrize(("method", "url"), OPERATIONS, ids=OPERATION_IDS)
def test_an_api_operation_answers_401_to_a_malformed_authorization_header(db, method, url):
    for header in ("Bearer", "Basic YWRtaW46YWRtaW4=", "Bearer " + "x" * 5000):
        assert_error(call(Client(), method, url, Authorization=header), 401, rule="authentication")


@pytest.mark.parametrize(("method", "url"), OPERATIONS, ids=OPERATION_IDS)
def test_an_api_operation_lets_a_valid_token_through(api_token, method, url):
    # The other half of the proof: the 401s above are about credentials, not the request.
    response = call(Client(), method, url, Authorization=f"Bearer {api_token}")
    assert response.status_code != 401 and response.status_code < 500, response.content[:300]


@pytest.mark.parametrize(("method", "url"), OPERATIONS, ids=OPERATION_IDS)
def test_an_api_operation_refuses_a_session_post_without_csrf(user, method, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = call(client, method, url)
    if method == "GET":
        assert response.status_code != 401
    else:  # a cross-site form could otherwise act with the admin's cookie
        assert response.status_code in (401, 403), response.content[:300]


# --- by permission: no permissions, view only, everything -----------------------------------


@pytest.fixture
def nobody(db):
    """Staff, so the admin would let them log in, but without a single permission."""
    return get_user_model().objects.create_user(username="nobody", password="nobody-pass-123", is_staff=True)


@pytest.fixture
def viewer(db):
    user = get_user_model().objects.create_user(username="viewer", password="viewer-pass-123")
    permissions_grant(user, "view")
    return user


def token_of(user) -> str:
    return api_token_create(user=user, name="access walk")[1]


def is_read(method: str) -> bool:
    return method == "GET"


@pytest.mark.parametrize(("method", "url"), OPERATIONS, ids=OPERATION_IDS)
def test_an_api_operation_answers_403_to_a_user_without_permissions(rows, nobody, method, url):
    body = assert_error(
        call(Client(), method, url, Authorization=f"Bearer {token_of(nobody)}"),
        403,
        field=None,
        rule="permission",
    )
    action, model = RULES[(method, url)]
    assert permission_name(model=model, action=action) in body["detail"]


@pytest.mark.parametrize(("method", "url"), OPERATIONS, ids=OPERATION_IDS)
def test_a_view_only_user_may_read_and_may_not_write(rows, viewer, method, url):
    response = call(Client(), method, url, Authorization=f"Bearer {token_of(viewer)}")
    if is_read(method):
        assert response.status_code not in (401, 403) and response.status_code < 500, response.content[:300]
    else:
        assert_error(response, 403, field=None, rule="permission")


@pytest.mark.parametrize(("method", "url"), OPERATIONS, ids=OPERATION_IDS)
def test_a_full_user_may_do_everything(rows, user, method, url):
    response = call(Client(), method, url, Authorization=f"Bearer {token_of(user)}")
    assert response.status_code not in (401, 403) and response.status_code < 500, response.content[:300]


@pytest.mark.parametrize(("method", "url"), OPERATIONS, ids=OPERATION_IDS)
def test_a_session_follows_the_same_permissions(rows, viewer, method, url):
    client = Client()
    client.force_login(viewer)
    response = call(client, method, url)
    assert response.status_code == (200 if is_read(method) else 403) or (
        is_read(method) and response.status_code in (404, 409)
    ), response.content[:300]


def test_a_superuser_may_do_everything_without_a_single_permission(rows):
    boss = get_user_model().objects.create_superuser(username="boss", password="boss-pass-123")
    headers = {"Authorization": f"Bearer {token_of(boss)}"}
    assert Client().get("/api/calculations", headers=headers).status_code == 200
    assert call(Client(), "POST", "/api/functions", **headers).status_code == 201
    assert Client().get(f"/charts/{rows.charted.pk}.png", headers=headers).status_code == 200


def staff_with(username: str, *actions: str):
    staff = get_user_model().objects.create_user(username=username, password="staff-pass-123", is_staff=True)
    permissions_grant(staff, *actions)
    return staff


def test_a_rerun_needs_add_in_the_api(rows):
    changer, adder = staff_with("changer", "view", "change"), staff_with("adder", "view", "add")
    url = f"/api/calculations/{rows.finished.pk}/rerun"
    before = Calculation.objects.count()

    refused = call(Client(), "POST", url, Authorization=f"Bearer {token_of(changer)}")
    body = assert_error(refused, 403, field=None, rule="permission")
    assert "calculations.add_calculation" in body["detail"]
    assert Calculation.objects.count() == before

    created = call(Client(), "POST", url, Authorization=f"Bearer {token_of(adder)}")
    assert created.status_code == 201, created.content[:300]
    assert Calculation.objects.count() == before + 1


def test_a_rerun_needs_add_in_the_admin_too(rows):
    changelist = "/admin/calculations/calculation/"
    before = Calculation.objects.count()
    for username, actions, created in (("changer", ("view", "change"), 0), ("adder", ("view", "add"), 1)):
        client = Client()
        client.force_login(staff_with(username, *actions))
        choices = client.get(changelist).context["action_form"].fields["action"].choices
        offered = "run_again" in [name for name, _ in choices]
        client.post(changelist, {"action": "run_again", "_selected_action": [rows.finished.pk]})
        assert offered is bool(created), username
        assert Calculation.objects.count() == before + created, username
        before += created


def test_the_api_and_the_admin_take_the_rerun_rule_from_the_access_policy():
    from apps.accounts.permissions import operation_action
    from apps.calculations.admin import CalculationAdmin

    assert operation_action("rerun") == "add"
    assert RULES[("POST", "/api/calculations/1/rerun")] == ("add", Calculation)
    assert list(CalculationAdmin.run_again.allowed_permissions) == ["add"]


def test_an_inactive_users_session_has_no_permission(rows, user):
    client = Client()
    client.force_login(user)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert client.get("/api/calculations").status_code == 401  # the session no longer authenticates


# --- chart images ----------------------------------------------------------------------------


@pytest.mark.parametrize("route", CHART_ROUTES, ids=route_id)
def test_a_chart_image_answers_401_without_a_user(db, route):
    assert_error(Client().get(route.url), 401, rule="authentication")


@pytest.mark.parametrize("route", CHART_ROUTES, ids=route_id)
def test_a_chart_image_answers_403_to_a_user_without_permissions(nobody, route):
    client = Client()
    client.force_login(nobody)
    body = assert_error(client.get(route.url), 403, rule="permission")
    assert "charts.view_function" in body["detail"]
    assert_error(
        Client().get(route.url, headers={"Authorization": f"Bearer {token_of(nobody)}"}),
        403,
        rule="permission",
    )


@pytest.mark.parametrize("route", CHART_ROUTES, ids=route_id)
def test_a_chart_image_answers_401_to_a_revoked_token(user, route):
    token, raw = api_token_create(user=user, name="lost laptop")
    api_token_revoke(token=token)
    assert_error(
        Client().get(route.url, headers={"Authorization": f"Bearer {raw}"}), 401, rule="authentication"
    )


def test_a_chart_image_is_served_to_a_viewer_by_token_and_by_session(rows, viewer):
    url = f"/charts/{rows.charted.pk}.png"
    session = Client()
    session.force_login(viewer)
    for response in (
        Client().get(url, headers={"Authorization": f"Bearer {token_of(viewer)}"}),
        session.get(url),
    ):
        assert response.status_code == 200 and response["Content-Type"] == "image/png"


# --- the admin -----------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=route_id)
def test_an_admin_page_sends_an_anonymous_visitor_to_the_login(db, route):
    response = Client().get(route.url)
    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=route_id)
def test_an_admin_page_refuses_a_user_who_is_not_staff(plain_client, route):
    response = plain_client.get(route.url)
    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith("/admin/login/?next=")


def test_an_admin_action_refuses_a_user_who_is_not_staff(plain_client, rows):
    response = plain_client.post(f"/admin/calculations/calculation/{rows.queued.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    rows.queued.refresh_from_db()  # still there


def test_the_admin_lets_staff_in(staff_client):
    assert staff_client.get("/admin/").status_code == 200


# --- public on purpose -------------------------------------------------------------------------


def test_healthz_is_public_on_purpose(db):
    response = Client().get("/healthz")
    assert response.status_code in (200, 503)
    assert set(response.json()) >= {"status", "checks"}


def test_the_api_description_is_public_on_purpose_and_holds_no_data(rows):
    schema = Client().get("/api/openapi.json")
    assert schema.status_code == 200
    assert rows.finished.name not in schema.content.decode()
    assert Client().get("/api/docs").status_code == 200


def test_the_admin_login_form_is_public_on_purpose(db):
    assert Client().get("/admin/login/").status_code == 200


# --- the websocket API ---------------------------------------------------------------------------

WEBSOCKET_PATHS = ["/" + str(pattern.pattern) for pattern in websocket_urlpatterns]
ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")


@pytest.fixture
async def close_thread_connections():
    # The consumer's ORM calls run in asgiref's thread, whose connection outlives the test.
    yield
    await sync_to_async(connections.close_all)()


def communicator(path: str, *, headers=(), subprotocols=None) -> WebsocketCommunicator:
    from project.asgi import application

    return WebsocketCommunicator(
        application, path, headers=[ORIGIN, HOST, *headers], subprotocols=subprotocols
    )


async def assert_refused(ws: WebsocketCommunicator) -> None:
    connected, _ = await ws.connect(timeout=5)
    if connected:  # accepted only to say why, then closed
        error = await ws.receive_json_from(timeout=5)
        assert error["type"] == "error" and error["code"] == "unauthenticated"
        assert await ws.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": CLOSE_UNAUTHENTICATED,
        }
    await ws.disconnect()


def test_the_websocket_api_has_routes():
    assert "/ws/events/" in WEBSOCKET_PATHS


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("path", WEBSOCKET_PATHS)
async def test_a_websocket_without_credentials_is_refused(path):
    await assert_refused(communicator(path))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("path", WEBSOCKET_PATHS)
async def test_a_websocket_with_a_valid_token_is_accepted(path, django_user_model):
    # The other half of the proof: the refusals here are about credentials, not the origin.
    user = await sync_to_async(django_user_model.objects.create_user)(username="ws0", password="ws-pass-123")
    _, raw = await sync_to_async(api_token_create)(user=user, name="laptop")
    ws = communicator(path, headers=[(b"authorization", f"Bearer {raw}".encode())])
    connected, _ = await ws.connect(timeout=5)
    assert connected
    await ws.send_json_to({"action": "ping"})
    assert await ws.receive_json_from(timeout=5) == {"type": "pong"}
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("path", WEBSOCKET_PATHS)
async def test_a_websocket_with_a_revoked_token_is_refused(path, django_user_model):
    user = await sync_to_async(django_user_model.objects.create_user)(username="ws", password="ws-pass-123")
    token, raw = await sync_to_async(api_token_create)(user=user, name="lost laptop")
    await sync_to_async(api_token_revoke)(token=token)
    await assert_refused(communicator(path, headers=[(b"authorization", f"Bearer {raw}".encode())]))
    await assert_refused(communicator(path, subprotocols=["calcboard.v1", f"calcboard.bearer.{raw}"]))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("path", WEBSOCKET_PATHS)
async def test_a_websocket_with_a_session_of_a_logged_out_user_is_refused(path, django_user_model):
    user = await sync_to_async(django_user_model.objects.create_user)(username="ws2", password="ws-pass-123")
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    await sync_to_async(client.logout)()
    await assert_refused(
        communicator(path, headers=[(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())])
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("stream", list(STREAMS := live_streams()))
async def test_a_stream_needs_the_view_permission_of_its_kind(stream, django_user_model):
    nobody = await sync_to_async(django_user_model.objects.create_user)(username="ws-nobody", is_staff=True)
    others = await sync_to_async(django_user_model.objects.create_user)(username="ws-others")
    model = live_model(kind=STREAMS[stream])
    other_kinds = [kind for other, kind in STREAMS.items() if other != stream]

    def grant_others():
        from django.contrib.auth.models import Permission

        for kind in other_kinds:
            codename = f"view_{live_model(kind=kind)._meta.model_name}"
            others.user_permissions.add(Permission.objects.get(codename=codename))

    await sync_to_async(grant_others)()
    for user in (nobody, others):
        _, raw = await sync_to_async(api_token_create)(user=user, name="ws")
        ws = communicator(WEBSOCKET_PATHS[0], headers=[(b"authorization", f"Bearer {raw}".encode())])
        assert (await ws.connect(timeout=5))[0]
        await ws.send_json_to({"action": "subscribe", "stream": stream})
        error = await ws.receive_json_from(timeout=5)
        assert error["type"] == "error" and error["code"] == "permission_denied", error
        assert error["field"] == "stream" and stream in error["message"]
        assert permission_name(model=model, action="view") in error["message"]
        await ws.send_json_to({"action": "ping"})  # refused, not closed
        assert await ws.receive_json_from(timeout=5) == {"type": "pong"}
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("stream", list(STREAMS))
async def test_a_viewer_may_subscribe_to_every_stream(stream, django_user_model):
    viewer = await sync_to_async(django_user_model.objects.create_user)(username="ws-viewer")
    await sync_to_async(permissions_grant)(viewer, "view")
    _, raw = await sync_to_async(api_token_create)(user=viewer, name="ws")
    ws = communicator(WEBSOCKET_PATHS[0], headers=[(b"authorization", f"Bearer {raw}".encode())])
    assert (await ws.connect(timeout=5))[0]
    await ws.send_json_to({"action": "subscribe", "stream": stream})
    assert await ws.receive_json_from(timeout=5) == {"type": "subscribed", "stream": stream}
    await ws.disconnect()


# --- the same walk through the front door ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_through_the_proxy_every_api_operation_answers_401_and_every_admin_page_the_login(front_door):
    """What a stranger on the network gets: the proxy, gunicorn and the real middleware stack,
    with no test client shortcut (CSRF enforced, as for a browser or curl)."""
    import httpx

    with httpx.Client(base_url=front_door.base_url) as client:
        for method, url in OPERATIONS:
            body = (
                None if method == "GET" else json.dumps(VALID_BODIES.get(url, {}))
            )  # cancel, rerun: no body
            response = client.request(method, url, content=body, headers={"Content-Type": "application/json"})
            assert_error(Reply(response), 401, field=None, rule="authentication")
        for route in ADMIN_ROUTES:
            response = client.get(route.url)
            assert response.status_code == 302, (route.url, response.status_code)
            assert response.headers["Location"].startswith("/admin/login/?next="), route.url
        for route in CHART_ROUTES:
            assert_error(Reply(client.get(route.url)), 401, rule="authentication")
