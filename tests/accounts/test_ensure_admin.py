import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apps.accounts.management.commands.ensure_admin import EXAMPLE_PASSWORD
from apps.accounts.services import api_token_create, api_token_revoke


def run(monkeypatch, **env) -> str:
    for name in ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def test_it_creates_the_first_admin_from_the_environment(db, monkeypatch):
    output = run(
        monkeypatch,
        DJANGO_SUPERUSER_USERNAME="boss",
        DJANGO_SUPERUSER_PASSWORD="s3cret-pass",
        DJANGO_SUPERUSER_EMAIL="boss@example.com",
    )
    assert "created" in output
    boss = get_user_model().objects.get(username="boss")
    assert boss.is_superuser and boss.is_staff and boss.check_password("s3cret-pass")


def test_it_leaves_an_existing_admin_alone(db, monkeypatch):
    get_user_model().objects.create_superuser(username="boss", password="original-pass")
    assert "already exists" in run(
        monkeypatch, DJANGO_SUPERUSER_USERNAME="boss", DJANGO_SUPERUSER_PASSWORD="other"
    )
    assert get_user_model().objects.get(username="boss").check_password("original-pass")


def test_it_does_nothing_without_a_user_name_in_the_environment(db, monkeypatch):
    assert "no admin user created" in run(monkeypatch, DJANGO_SUPERUSER_PASSWORD="whatever-pass")
    assert not get_user_model().objects.exists()


def test_a_token_is_active_until_revoked(user):
    token, _ = api_token_create(user=user, name="t")
    assert token.is_active and str(token) == f"t ({token.prefix}…)"
    api_token_revoke(token=token)
    api_token_revoke(token=token)  # revoking twice keeps the first date
    assert not token.is_active


def test_it_generates_and_prints_a_password_once_when_none_is_set(db, monkeypatch):
    output = run(monkeypatch, DJANGO_SUPERUSER_USERNAME="boss")
    password = output.rsplit(": ", 1)[1].strip()
    assert "generated password" in output and len(password) >= 20
    assert get_user_model().objects.get(username="boss").check_password(password)
    assert password not in run(monkeypatch, DJANGO_SUPERUSER_USERNAME="boss")  # never again


def test_under_production_settings_it_refuses_the_example_password(db, monkeypatch, settings):
    settings.ADMIN_PASSWORD_STRICT = True
    with pytest.raises(CommandError, match="example password"):
        run(monkeypatch, DJANGO_SUPERUSER_USERNAME="boss", DJANGO_SUPERUSER_PASSWORD=EXAMPLE_PASSWORD)
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("weak", ["qwertyuiop", "12345678901", "password123", "short"])
def test_under_production_settings_it_refuses_a_weak_password(db, monkeypatch, settings, weak):
    settings.ADMIN_PASSWORD_STRICT = True
    with pytest.raises(CommandError, match="too weak"):
        run(monkeypatch, DJANGO_SUPERUSER_USERNAME="boss", DJANGO_SUPERUSER_PASSWORD=weak)
    assert not get_user_model().objects.exists()


def test_under_production_settings_it_accepts_a_strong_password(db, monkeypatch, settings):
    settings.ADMIN_PASSWORD_STRICT = True
    assert "created" in run(
        monkeypatch, DJANGO_SUPERUSER_USERNAME="boss", DJANGO_SUPERUSER_PASSWORD="Tq7-vorpal-Heron-91"
    )
    assert get_user_model().objects.get(username="boss").check_password("Tq7-vorpal-Heron-91")


def test_the_first_admin_and_its_cli_token_may_do_everything(db, monkeypatch):
    """`ensure_admin` + `create_api_token`, the README's first steps, keep working under the
    access policy: a superuser needs no permission rows."""
    from django.test import Client

    run(monkeypatch, DJANGO_SUPERUSER_USERNAME="boss", DJANGO_SUPERUSER_PASSWORD="s3cret-pass")
    out = io.StringIO()
    call_command("create_api_token", "boss", stdout=out)
    client = Client(headers={"Authorization": f"Bearer {out.getvalue().strip()}"})
    body = {"date_start": "2020-01-01", "date_fin": "2020-01-31", "lag": 7}
    assert client.post("/api/calculations", body, content_type="application/json").status_code == 201
    assert (
        client.post(
            "/api/functions",
            {"expression": "sin(t)", "dt": 1, "interval": 1},
            content_type="application/json",
        ).status_code
        == 201
    )
    assert client.post(
        "/api/functions/refresh", {"ids": [1]}, content_type="application/json"
    ).status_code in (200, 404)
    assert client.get("/api/calculations").status_code == 200
