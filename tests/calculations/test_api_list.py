from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from apps.calculations.models import CalculationStatus
from tests.calculations.conftest import body

URL = "/api/calculations"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def runs(make_calculation):
    """23 runs launched a minute apart, in every status, created out of launch order."""
    statuses = list(CalculationStatus)
    created = {}
    for minute in [*range(12, 23), *range(0, 12)]:
        created[minute] = make_calculation(
            name=f"run {minute:02d}", launched_at=T0 + timedelta(minutes=minute), status=statuses[minute % 4]
        )
    return [created[minute] for minute in range(23)]


def names(response) -> list[str]:
    return [item["name"] for item in body(response)["results"]]


def test_it_lists_ten_runs_per_page_newest_first_with_totals(api_client, runs):
    response = api_client.get(URL)
    assert response.status_code == 200
    page = body(response)
    assert (page["count"], page["pages"], page["page"]) == (23, 3, 1)
    assert names(response) == [f"run {minute:02d}" for minute in range(22, 12, -1)]


def test_each_item_has_id_name_launch_date_and_status(api_client, runs):
    item = body(api_client.get(URL))["results"][0]
    assert item == {"id": runs[22].pk, "name": "run 22", "launched_at": "2024-05-01T12:22:00.000000Z", "status": "finished"}


def test_it_orders_by_launch_date_ascending_on_request(api_client, runs):
    response = api_client.get(URL, {"ordering": "launched_at", "page": 3})
    assert names(response) == ["run 20", "run 21", "run 22"]
    assert names(api_client.get(URL, {"ordering": "launched_at"}))[:2] == ["run 00", "run 01"]


def test_the_pages_cover_every_run_exactly_once(api_client, runs):
    for ordering in ("launched_at", "-launched_at"):
        seen = [name for page in (1, 2, 3) for name in names(api_client.get(URL, {"ordering": ordering, "page": page}))]
        assert sorted(seen) == sorted(run.name for run in runs) and len(seen) == 23


def test_runs_launched_at_the_same_instant_keep_a_stable_order(api_client, make_calculation):
    twins = [make_calculation(name=f"twin {index}", launched_at=T0) for index in range(12)]
    ids = [twin.pk for twin in twins]
    newest = [item["id"] for page in (1, 2) for item in body(api_client.get(URL, {"page": page}))["results"]]
    oldest = [item["id"] for page in (1, 2) for item in body(api_client.get(URL, {"page": page, "ordering": "launched_at"}))["results"]]
    assert newest == sorted(ids, reverse=True) and oldest == sorted(ids)


@pytest.mark.parametrize("page", [4, 1000, 10**15])
def test_a_page_past_the_end_is_empty(api_client, runs, page):
    response = api_client.get(URL, {"page": page})
    assert response.status_code == 200
    assert body(response) == {"count": 23, "pages": 3, "page": page, "results": []}


def test_an_empty_list_has_no_pages(api_client):
    assert body(api_client.get(URL)) == {"count": 0, "pages": 0, "page": 1, "results": []}


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"ordering": "name"}, "ordering", "literal_error"),
        ({"ordering": "-id"}, "ordering", "literal_error"),
        ({"page": 0}, "page", "greater_than_equal"),
        ({"page": -1}, "page", "greater_than_equal"),
        ({"page": "two"}, "page", "int_parsing"),
        ({"page": "9" * 5000}, "page", "int_parsing_size"),
    ],
)
def test_bad_paging_parameters_are_a_422(api_client, params, field, rule):
    response = api_client.get(URL, params)
    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in body(response)["errors"]] == [(field, rule)]


def test_listing_requires_credentials(db):
    assert Client().get(URL).status_code == 401
