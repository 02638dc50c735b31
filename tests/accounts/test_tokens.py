"""Creating tokens: `manage.py create_api_token USERNAME` and the admin (raw value shown once)."""

import io
import logging
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse, reverse_lazy

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


ADD = reverse_lazy("admin:accounts_apitoken_add")
CHANGELIST = reverse_lazy("admin:accounts_apitoken_changelist")
RAW_VALUE = re.compile(r'id="api-token-raw"[^>]*value="([^"]+)"')


def logged_in(username: str, *codenames: str) -> tuple[Client, object]:
    """A staff member holding these `accounts` permissions, and a client logged in as them."""
    member = get_user_model().objects.create_user(username=username, password="staff-pass-123", is_staff=True)
    granted = Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
    member.user_permissions.add(*granted)
    client = Client()
    client.force_login(member)
    return client, member


def works(raw: str) -> bool:
    return Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/calculations").status_code != 401


def test_the_admin_shows_a_new_tokens_raw_value_once_on_the_page_that_answers_the_form(
    admin_client, user, caplog
):
    caplog.set_level(logging.DEBUG)
    response = admin_client.post(ADD, {"user": user.pk, "name": "laptop"})

    assert response.status_code == 200  # the answer itself, not a redirect to a page that re-reads it
    assert "no-store" in response["Cache-Control"]
    raw = RAW_VALUE.search(response.content.decode())[1]
    token = ApiToken.objects.get(user=user, name="laptop")
    assert token.prefix == raw[:8] and raw not in token.digest
    assert works(raw)
    # Kept nowhere: not in a cookie (Django's messages are signed, not encrypted), not in the
    # session, not in a log line.
    assert all(raw not in morsel.value for morsel in response.cookies.values())
    assert all(raw not in morsel.value for morsel in admin_client.cookies.values())
    assert raw not in str(dict(admin_client.session.items()))
    assert not [record for record in caplog.records if raw in record.getMessage()]
    # Never again: neither the list nor the token's own page shows it.
    assert raw not in admin_client.get(CHANGELIST).content.decode()
    assert (
        raw
        not in admin_client.get(reverse("admin:accounts_apitoken_change", args=[token.pk])).content.decode()
    )


def test_a_staff_user_may_create_a_token_only_for_themselves(user):
    client, member = logged_in("token-adder", "add_apitoken", "view_apitoken")
    boss = get_user_model().objects.create_superuser(username="boss", password="boss-pass-123")

    offered = client.get(ADD).context["adminform"].form.fields["user"].queryset
    assert list(offered) == [member]
    for victim in (boss, user):
        refused = client.post(ADD, {"user": victim.pk, "name": "takeover"})
        assert refused.status_code == 200 and refused.context["adminform"].form.errors["user"]
    assert not ApiToken.objects.filter(name="takeover").exists()

    raw = RAW_VALUE.search(client.post(ADD, {"user": member.pk, "name": "mine"}).content.decode())[1]
    assert ApiToken.objects.get(name="mine").user == member and works(raw)


def test_the_for_others_permission_allows_other_users_but_never_a_superuser(user):
    client, member = logged_in("token-admin", "add_apitoken", "view_apitoken", "add_apitoken_for_others")
    boss = get_user_model().objects.create_superuser(username="boss", password="boss-pass-123")

    assert set(client.get(ADD).context["adminform"].form.fields["user"].queryset) == {member, user}
    assert client.post(ADD, {"user": user.pk, "name": "for analyst"}).status_code == 200
    assert ApiToken.objects.get(name="for analyst").user == user
    refused = client.post(ADD, {"user": boss.pk, "name": "takeover"})
    assert refused.context["adminform"].form.errors["user"]
    assert not ApiToken.objects.filter(user=boss).exists()


def test_revoking_in_the_admin_needs_the_change_permission(user):
    from apps.accounts.services import api_token_create

    token, raw = api_token_create(user=user, name="someone else's")
    viewer, _ = logged_in("token-viewer", "view_apitoken")
    viewer.post(CHANGELIST, {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is None and works(raw)

    changer, _ = logged_in("token-changer", "view_apitoken", "change_apitoken")
    changer.post(CHANGELIST, {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None and not works(raw)


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
