"""The access policy module itself: permission names, the decorators' contract, who counts
as a user for plain views."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.test import RequestFactory

from apps.accounts.permissions import (
    NotAuthenticatedError,
    PermissionDeniedError,
    access_check,
    access_rule,
    permission_name,
    request_user,
    requires,
    token_owners,
    user_may,
    view_requires,
)
from apps.calculations.models import Calculation
from apps.charts.models import Function
from apps.core.http import error_status
from tests.conftest import permissions_grant


def test_permission_names_are_djangos():
    assert permission_name(model=Calculation, action="view") == "calculations.view_calculation"
    assert permission_name(model=Function, action="change") == "charts.change_function"


@pytest.mark.parametrize("decorator", [requires, view_requires])
def test_an_unknown_action_is_refused_when_the_route_is_declared(decorator):
    with pytest.raises(ValueError, match="unknown action"):
        decorator("delete", Calculation)


def test_a_declared_rule_can_be_read_back():
    @requires("change", Function)
    def endpoint(request):
        return "ran"

    assert access_rule(endpoint) == ("change", Function)
    assert access_rule(lambda request: None) is None


def test_nobody_anonymous_or_inactive_may_do_anything(db):
    assert not user_may(user=None, model=Calculation, action="view")
    assert not user_may(user=AnonymousUser(), model=Calculation, action="view")
    inactive = get_user_model().objects.create_user(username="gone", is_active=False)
    permissions_grant(inactive, "view")
    assert not user_may(user=inactive, model=Calculation, action="view")


def test_permissions_are_per_model_and_per_action(db):
    reader = get_user_model().objects.create_user(username="reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_calculation"))
    assert user_may(user=reader, model=Calculation, action="view")
    assert not user_may(user=reader, model=Calculation, action="add")
    assert not user_may(user=reader, model=Function, action="view")
    with pytest.raises(PermissionDeniedError) as denied:
        access_check(user=reader, model=Function, action="view", field="stream")
    assert error_status(denied.value) == 403
    assert denied.value.as_body()["errors"] == [
        {"field": "stream", "rule": "permission", "message": denied.value.message}
    ]


@pytest.mark.parametrize("header", ["Basic YTpi", "Bearer", "Bearer  ", "Bearer not-a-token"])
def test_a_plain_view_refuses_a_bad_authorization_header_even_with_a_session(user, header):
    request = RequestFactory().get("/charts/1.png", headers={"Authorization": header})
    request.user = user  # a session would not rescue a wrong token
    with pytest.raises(NotAuthenticatedError):
        request_user(request)


def test_a_plain_view_takes_the_session_user_without_a_header(user):
    request = RequestFactory().get("/charts/1.png")
    request.user = user
    assert request_user(request) == user
    request.user = AnonymousUser()
    with pytest.raises(NotAuthenticatedError):
        request_user(request)


def test_nobody_who_is_not_an_active_user_may_create_tokens_for_anyone(user):
    assert not token_owners(actor=None).exists()
    assert not token_owners(actor=AnonymousUser()).exists()
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    user.refresh_from_db()
    assert not token_owners(actor=user).exists()
