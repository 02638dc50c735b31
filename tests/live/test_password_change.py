"""A password change logs the user's sessions out (Django's session auth hash; the session
that made the change gets a new key): the sockets opened with the old sessions close with
4401, the changer reconnects with its new session, and API tokens (not tied to the password)
stay open."""

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model

from tests.live.conftest import open_socket
from tests.live.test_revocation import assert_closed_as_revoked, assert_still_open, bearer, logged_in_client

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_layer", "close_thread_connections"),
]


async def test_a_password_change_closes_the_sockets_of_the_old_sessions_and_not_of_tokens(
    user, api_token, settings
):
    settings.LIVE_AUTH_RECHECK_SECONDS = 0.2
    await sync_to_async(get_user_model().objects.filter(pk=user.pk).update)(is_staff=True)  # the admin's form
    changer, changer_cookie = await sync_to_async(logged_in_client)(user)
    _, other_cookie = await sync_to_async(logged_in_client)(user)  # another browser, logged in before
    changing, other, by_token = (
        await open_socket(changer_cookie),
        await open_socket(other_cookie),
        await open_socket(bearer(api_token)),
    )
    await assert_still_open(other)

    response = await sync_to_async(changer.post)(
        "/admin/password_change/",
        {
            "old_password": "analyst-pass-123",
            "new_password1": "a-new-pass-4567",
            "new_password2": "a-new-pass-4567",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/admin/password_change/done/"

    await assert_closed_as_revoked(other)
    await assert_closed_as_revoked(changing)  # its session key was replaced by the change
    await assert_still_open(by_token)
    name = django_settings.SESSION_COOKIE_NAME
    reconnected = await open_socket([(b"cookie", f"{name}={changer.cookies[name].value}".encode())])
    await assert_still_open(reconnected)
    await reconnected.disconnect()
    await by_token.disconnect()
