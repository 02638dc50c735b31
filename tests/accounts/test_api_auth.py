"""Who may call the REST API: an admin session or an active bearer token, nobody else."""

import pytest
from django.test import Client

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_create, api_token_revoke

ROUTES = [
    ("get", "/api/calculations"),
    ("post", "/api/calculations"),
    ("get", "/api/calculations/1"),
    ("get", "/api/calculations/1/result.csv"),
]
PAYLOAD = {"date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 1}


def call(client: Client, method: str, path: str, **headers):
    if method == "post":
        return client.post(path, PAYLOAD, content_type="application/json", headers=headers)
    return client.get(path, headers=headers)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_calculations_route_answers_401_without_credentials(db, method, path):
    response = call(Client(), method, path)
    assert response.status_code == 401
    assert response.json()["errors"] == [
        {"field": None, "rule": "authentication", "message": "Not authenticated."}
    ]


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Bearer ", "Token abc", "Basic YWRtaW46YWRtaW4=", "bearer"],
)
def test_a_wrong_or_malformed_authorization_header_is_a_401(db, header):
    assert Client().get("/api/calculations", headers={"Authorization": header}).status_code == 401


def test_a_bearer_token_lets_its_user_in(api_client):
    assert api_client.get("/api/calculations").status_code == 200
    assert api_client.post("/api/calculations", PAYLOAD, content_type="application/json").status_code == 201


def test_an_admin_session_lets_its_user_in(client, user):
    client.force_login(user)
    assert client.get("/api/calculations").status_code == 200
    assert client.post("/api/calculations", PAYLOAD, content_type="application/json").status_code == 201


def test_a_session_post_must_carry_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/api/calculations", PAYLOAD, content_type="application/json").status_code in (
        401,
        403,
    )


def test_a_revoked_token_is_refused(user):
    token, raw = api_token_create(user=user, name="laptop")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    assert client.get("/api/calculations").status_code == 200
    api_token_revoke(token=token)
    assert client.get("/api/calculations").status_code == 401


def test_the_token_of_a_deactivated_user_is_refused(user, api_client):
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert api_client.get("/api/calculations").status_code == 401


def test_a_used_token_records_when_it_was_last_used(user):
    token, raw = api_token_create(user=user, name="laptop")
    assert token.last_used_at is None
    Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/calculations")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_tokens_are_stored_as_digests_only(user):
    token, raw = api_token_create(user=user, name="laptop")
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw not in (stored.digest, stored.name) and stored.prefix == raw[:8] and len(stored.digest) == 64


def test_the_api_docs_work_after_an_admin_login(admin_client):
    assert admin_client.get("/api/docs").status_code == 200
    schema = admin_client.get("/api/openapi.json").json()
    assert {"/api/calculations", "/api/calculations/{id}", "/api/calculations/{id}/result.csv"} <= set(
        schema["paths"]
    )


def test_a_stranger_cannot_use_another_users_session_cookie_after_logout(client, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    client.logout()
    stranger = Client()
    stranger.cookies["sessionid"] = cookie
    assert stranger.get("/api/calculations").status_code == 401


def test_a_bearer_token_client_writes_without_a_csrf_token(api_token):
    # Real HTTP clients (curl, scripts) carry no CSRF cookie; the token alone must do.
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {api_token}"})
    assert client.post("/api/calculations", PAYLOAD, content_type="application/json").status_code == 201


@pytest.mark.parametrize("spelling", ["Bearer {}", "bearer {}", "BEARER   {}  ", "  Bearer {}"])
def test_the_rest_api_and_the_plain_views_read_every_spelling_of_the_scheme_alike(api_token, spelling):
    headers = {"Authorization": spelling.format(api_token)}
    assert Client().get("/api/calculations", headers=headers).status_code == 200
    # A chart image view (plain Django, apps.accounts.permissions.request_user): the token is
    # accepted, so the answer is about the function (404), not about credentials (401).
    assert Client().get("/charts/999999.png", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("header", "raw"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Bearer", None),
        ("Bearer   ", None),
        ("Basic abc", None),
        ("", None),
        (None, None),
        ("Bearer " + "x" * 300, "x" * 256),
    ],
)
def test_the_one_bearer_parser_reads_the_token_or_nothing(header, raw):
    from apps.accounts.auth import bearer_token_parse

    assert bearer_token_parse(header) == raw
