"""Creating tokens: `manage.py create_api_token USERNAME` and the admin (raw value shown once)."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from apps.accounts.models import ApiToken


def test_the_command_prints_a_new_token_that_works(user):
    out = io.StringIO()
    call_command("create_api_token", user.username, "--name", "ci", stdout=out)
    raw = out.getvalue().strip()
    assert len(raw) >= 40
    token = ApiToken.objects.get(user=user)
    assert token.name == "ci" and token.prefix == raw[:8]
    assert Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/calculations").status_code == 200


def test_the_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost")
    assert not ApiToken.objects.exists()


def test_the_admin_creates_a_token_and_shows_the_raw_value_once(admin_client, user):
    response = admin_client.post(
        reverse("admin:accounts_apitoken_add"), {"user": user.pk, "name": "laptop"}, follow=True
    )
    assert response.status_code == 200
    messages = [str(message) for message in response.context["messages"]]
    shown = [m for m in messages if "Copy it now" in m]
    assert len(shown) == 1
    raw = shown[0].rsplit(" ", 1)[1]
    token = ApiToken.objects.get(user=user, name="laptop")
    assert token.prefix == raw[:8] and raw not in token.digest
    assert Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/calculations").status_code == 200
    # Never again: neither the list nor the token's own page shows it.
    assert raw not in admin_client.get(reverse("admin:accounts_apitoken_changelist")).content.decode()
    assert raw not in admin_client.get(reverse("admin:accounts_apitoken_change", args=[token.pk])).content.decode()


def test_the_admin_revokes_tokens(admin_client, user):
    from apps.accounts.services import api_token_create

    token, raw = api_token_create(user=user, name="old")
    response = admin_client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert "1 token(s) revoked." in [str(m) for m in response.context["messages"]]
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/calculations").status_code == 401


def test_saving_an_existing_token_in_the_admin_changes_nothing(admin_client, user):
    from apps.accounts.services import api_token_create

    token, _ = api_token_create(user=user, name="keep")
    admin_client.post(reverse("admin:accounts_apitoken_change", args=[token.pk]), {})
    token.refresh_from_db()
    assert token.name == "keep" and token.revoked_at is None
