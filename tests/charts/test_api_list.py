"""GET /api/functions: the same paging contract as calculations."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.charts.models import Function

URL = "/api/functions"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def functions(make_function):
    """12 functions: every status, some never processed, expressions out of creation order."""
    rows = []
    for index in range(12):
        status = ["finished", "failed", "queued", "running"][index % 4]
        processed = T0 + timedelta(minutes=(index * 5) % 12) if status in ("finished", "failed") else None
        rows.append(make_function(f"sin(t) + {11 - index}", status=status, processed_at=processed))
    return rows


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def test_a_page_carries_the_paging_fields(api_client, functions):
    page = api_client.get(URL, {"page_size": 5}).json()
    assert (page["count"], page["pages"], page["page"], page["count_is_lower_bound"]) == (12, 3, 1, False)
    assert page["prev_cursor"] is None and page["next_cursor"]
    assert [item["id"] for item in page["results"]] == [row.pk for row in functions[::-1][:5]]


def test_page_two_follows_page_one(api_client, functions):
    assert ids(api_client.get(URL, {"page_size": 5, "page": 2})) == [row.pk for row in functions[::-1][5:10]]
    assert api_client.get(URL, {"page_size": 5, "page": 2}).json()["page_size"] == 5


def test_page_with_cursor_is_a_422(api_client, functions):
    cursor = api_client.get(URL, {"page_size": 5}).json()["next_cursor"]
    response = api_client.get(URL, {"page": 2, "cursor": cursor})
    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("cursor", "exclusive")]


def test_it_filters_by_several_statuses_and_counts_them_exactly(api_client, functions):
    page = api_client.get(URL, {"status": "queued,running", "ordering": "created_at"}).json()
    assert [item["id"] for item in page["results"]] == [
        row.pk for row in functions if row.status in ("queued", "running")
    ]
    assert page["count"] == 6


def test_search_matches_part_of_the_expression_whatever_the_case(api_client, functions, make_function):
    wanted = make_function("SQRT(t) * 2")
    assert ids(api_client.get(URL, {"search": "sqrt"})) == [wanted.pk]
    page = api_client.get(URL, {"search": "SIN(T) + 1", "status": "finished,failed"}).json()
    # "+ 1", "+ 10", "+ 11": indexes 10, 1, 0, of which 0 (finished) and 1 (failed)
    assert sorted(item["id"] for item in page["results"]) == [functions[0].pk, functions[1].pk]


@pytest.mark.parametrize(
    "ordering", ["-created_at", "created_at", "-processed_at", "processed_at", "expression", "-expression"]
)
def test_cursors_walk_every_ordering_like_pages_do(api_client, functions, ordering):
    by_page = [ids(api_client.get(URL, {"ordering": ordering, "page_size": 5, "page": n})) for n in (1, 2, 3)]
    walked, cursor = [], None
    while True:
        page = api_client.get(
            URL, {"ordering": ordering, "page_size": 5, **({"cursor": cursor} if cursor else {})}
        ).json()
        walked.append([item["id"] for item in page["results"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == by_page
    back = api_client.get(URL, {"ordering": ordering, "page_size": 5, "cursor": page["prev_cursor"]}).json()
    assert [item["id"] for item in back["results"]] == by_page[1]


def test_never_processed_rows_sort_last_both_ways(api_client, functions):
    unprocessed = {row.pk for row in functions if row.processed_at is None}
    for ordering in ("processed_at", "-processed_at"):
        listed = ids(api_client.get(URL, {"ordering": ordering, "page_size": 100}))
        assert set(listed[-len(unprocessed) :]) == unprocessed
        processed = [Function.objects.get(pk=pk).processed_at for pk in listed[: -len(unprocessed)]]
        assert processed == sorted(processed, reverse=ordering.startswith("-"))


def test_a_cursor_made_for_another_ordering_is_a_422(api_client, functions):
    cursor = api_client.get(URL, {"page_size": 5}).json()["next_cursor"]
    response = api_client.get(URL, {"cursor": cursor, "ordering": "expression"})
    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("cursor", "cursor_ordering")]


def test_counts_follow_creates_refreshes_and_deletes(api_client, functions):
    assert api_client.get(URL, {"status": "queued"}).json()["count"] == 3
    response = api_client.post(
        URL, {"expression": "t", "dt": 1, "interval": 1}, content_type="application/json"
    )
    assert response.status_code == 201
    api_client.post(
        f"{URL}/refresh", {"ids": [functions[0].pk, functions[1].pk]}, content_type="application/json"
    )
    assert api_client.get(URL, {"status": "queued"}).json()["count"] == 6
    Function.objects.filter(status="queued").delete()
    assert (
        api_client.get(URL, {"status": "queued,finished"}).json()["count"]
        == Function.objects.filter(status="finished").count()
    )
    assert api_client.get(URL).json()["count"] == Function.objects.count() == 7


def test_a_signed_cursor_whose_position_is_not_text_is_a_422_for_the_expression_ordering(
    api_client, functions
):
    from django.core import signing

    forged = signing.dumps(
        {"o": "expression", "k": 7, "i": 1, "f": True}, salt="calcboard.list-cursor", compress=True
    )
    response = api_client.get(URL, {"cursor": forged, "ordering": "expression"})
    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("cursor", "invalid_cursor")]
