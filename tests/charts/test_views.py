"""The chart image view: who may see it and how browsers cache it."""

import pytest
from django.test import Client

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_revoke


@pytest.fixture
def charted(make_function):
    return make_function(status="finished")


def image_url(function) -> str:
    return f"/charts/{function.pk}/{function.image_hash[:16]}.png"


@pytest.mark.django_db
def test_an_anonymous_request_gets_401(charted):
    response = Client().get(image_url(charted))
    assert response.status_code == 401
    assert response.json()["errors"][0]["rule"] == "authentication"


@pytest.mark.django_db
def test_a_user_without_the_view_permission_gets_403(charted, django_user_model):
    # The access policy (apps.accounts.permissions): charts.view_function, staff or not.
    client = Client()
    client.force_login(django_user_model.objects.create_user(username="no-perms", is_staff=True))
    response = client.get(image_url(charted))
    assert response.status_code == 403
    assert response.json()["errors"][0]["rule"] == "permission"


@pytest.mark.django_db
def test_a_session_with_the_view_permission_is_enough_without_staff(charted, plain_client):
    assert plain_client.get(image_url(charted)).status_code == 200


@pytest.mark.django_db
def test_a_wrong_or_revoked_token_gets_401(charted, api_token):
    assert Client(headers={"Authorization": "Bearer nope"}).get(image_url(charted)).status_code == 401
    assert Client(headers={"Authorization": "Basic abc"}).get(image_url(charted)).status_code == 401
    api_token_revoke(token=ApiToken.objects.get())
    assert Client(headers={"Authorization": f"Bearer {api_token}"}).get(image_url(charted)).status_code == 401


@pytest.mark.django_db
def test_staff_get_the_versioned_png_cached_as_immutable(charted, staff_client):
    response = staff_client.get(image_url(charted))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == bytes(charted.image)
    assert response["ETag"] == f'"{charted.image_hash}"'
    assert "immutable" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert "Authorization" in response["Vary"] and "Cookie" in response["Vary"]


@pytest.mark.django_db
def test_a_bearer_token_is_enough(charted, api_client):
    assert api_client.get(image_url(charted)).status_code == 200


@pytest.mark.django_db
def test_the_unversioned_url_must_be_revalidated_and_answers_304_when_unchanged(charted, staff_client):
    first = staff_client.get(f"/charts/{charted.pk}.png")
    assert first.status_code == 200 and first["Cache-Control"] == "private, no-cache"
    again = staff_client.get(f"/charts/{charted.pk}.png", headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304 and again.content == b""
    changed = staff_client.get(f"/charts/{charted.pk}.png", headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("if_none_match", ["W/{etag}", '"other", {etag}', "*"])
def test_a_weak_listed_or_wildcard_if_none_match_answers_304_as_http_says(
    charted, staff_client, if_none_match
):
    etag = staff_client.get(f"/charts/{charted.pk}.png")["ETag"]
    again = staff_client.get(
        f"/charts/{charted.pk}.png", headers={"If-None-Match": if_none_match.format(etag=etag)}
    )
    assert (
        again.status_code == 304 and again["ETag"] == etag and again["Cache-Control"] == "private, no-cache"
    )


@pytest.mark.django_db
def test_an_old_version_redirects_to_the_current_image(charted, staff_client):
    response = staff_client.get(f"/charts/{charted.pk}/0000000000000000.png")
    assert response.status_code == 302
    assert response["Location"] == image_url(charted)
    assert response["Cache-Control"] == "private, no-cache"


@pytest.mark.django_db
def test_a_row_without_an_image_or_no_row_is_404(make_function, staff_client):
    queued = make_function(status="queued")
    assert staff_client.get(f"/charts/{queued.pk}.png").status_code == 404
    assert staff_client.get(f"/charts/{queued.pk}/0123456789abcdef.png").status_code == 404
    assert staff_client.get("/charts/999999999.png").status_code == 404
    assert staff_client.get(f"/charts/{2**70}.png").status_code == 404


@pytest.mark.django_db
def test_a_chart_deleted_between_the_two_reads_is_404(charted, staff_client, monkeypatch):
    monkeypatch.setattr("apps.charts.views.function_image", lambda function_id: None)
    assert staff_client.get(f"/charts/{charted.pk}.png").status_code == 404


@pytest.mark.django_db
def test_image_reads_refuse_ids_beyond_bigint(charted):
    from apps.charts import selectors

    assert selectors.function_image(function_id=2**70) is None
    assert selectors.function_image(function_id=charted.pk)[1] == charted.image_hash
