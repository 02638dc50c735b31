"""GET /api/calculations: ordering, pages and cursors, status and search filters, counts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from django.db import connection
from django.test import Client

from apps.calculations.models import Calculation
from apps.calculations.services import calculation_create, calculation_run
from apps.core.listing import SEARCH_COUNT_CAP
from apps.jobs.models import JobStatus
from tests.calculations.conftest import body

URL = "/api/calculations"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def runs(make_calculation):
    """23 runs launched a minute apart, in every status, created out of launch order."""
    statuses = list(JobStatus)
    created = {}
    for minute in [*range(12, 23), *range(12)]:
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


def test_a_page_holds_ten_runs_unless_asked_otherwise(api_client, runs):
    page = body(api_client.get(URL))
    assert (page["page_size"], len(page["results"]), page["pages"]) == (10, 10, 3)
    assert len(body(api_client.get(URL, {"page_size": 100}))["results"]) == 23


def test_each_item_has_id_name_launch_date_and_status(api_client, runs):
    item = body(api_client.get(URL))["results"][0]
    assert item == {
        "id": runs[22].pk,
        "name": "run 22",
        "launched_at": "2024-05-01T12:22:00.000000Z",
        "status": "finished",
        "pinned": False,
        "created_by": None,
        "cancelled_by": None,
    }


def test_it_orders_by_launch_date_ascending_on_request(api_client, runs):
    response = api_client.get(URL, {"ordering": "launched_at", "page": 3})
    assert names(response) == ["run 20", "run 21", "run 22"]
    assert names(api_client.get(URL, {"ordering": "launched_at"}))[:2] == ["run 00", "run 01"]


def test_the_pages_cover_every_run_exactly_once(api_client, runs):
    for ordering in ("launched_at", "-launched_at"):
        seen = [
            name
            for page in (1, 2, 3)
            for name in names(api_client.get(URL, {"ordering": ordering, "page": page}))
        ]
        assert sorted(seen) == sorted(run.name for run in runs) and len(seen) == 23


def test_runs_launched_at_the_same_instant_keep_a_stable_order(api_client, make_calculation):
    twins = [make_calculation(name=f"twin {index}", launched_at=T0) for index in range(12)]
    ids = [twin.pk for twin in twins]
    newest = [item["id"] for page in (1, 2) for item in body(api_client.get(URL, {"page": page}))["results"]]
    oldest = [
        item["id"]
        for page in (1, 2)
        for item in body(api_client.get(URL, {"page": page, "ordering": "launched_at"}))["results"]
    ]
    assert newest == sorted(ids, reverse=True) and oldest == sorted(ids)


@pytest.mark.parametrize("page", [4, 1000, 100_000])
def test_a_page_past_the_end_is_empty(api_client, runs, page):
    response = api_client.get(URL, {"page": page})
    assert response.status_code == 200
    assert body(response) == {
        "count": 23,
        "count_is_lower_bound": False,
        "pages": 3,
        "page": page,
        "page_size": 10,
        "next_cursor": None,
        "prev_cursor": None,
        "results": [],
    }


def test_an_empty_list_has_no_pages(api_client):
    assert body(api_client.get(URL)) == {
        "count": 0,
        "count_is_lower_bound": False,
        "pages": 0,
        "page": 1,
        "page_size": 10,
        "next_cursor": None,
        "prev_cursor": None,
        "results": [],
    }


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"ordering": "name"}, "ordering", "literal_error"),
        ({"ordering": "-id"}, "ordering", "literal_error"),
        ({"page": 0}, "page", "greater_than_equal"),
        ({"page": -1}, "page", "greater_than_equal"),
        ({"page": 100_001}, "page", "less_than_equal"),
        ({"page_size": 0}, "page_size", "greater_than_equal"),
        ({"page_size": 101}, "page_size", "less_than_equal"),
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


# --- filters --------------------------------------------------------------------------------


def test_it_filters_by_one_status_with_an_exact_count(api_client, runs):
    page = body(api_client.get(URL, {"status": "failed"}))
    expected = [f"run {minute:02d}" for minute in range(22, -1, -1) if minute % 4 == 3]
    assert [item["name"] for item in page["results"]] == expected
    assert (page["count"], page["pages"], page["count_is_lower_bound"]) == (len(expected), 1, False)


def test_it_filters_by_several_statuses_in_the_ordering_asked_for(api_client, runs):
    params = {"status": " queued, ,running ", "ordering": "launched_at"}
    seen = [name for number in (1, 2) for name in names(api_client.get(URL, {**params, "page": number}))]
    assert seen == [f"run {minute:02d}" for minute in range(23) if minute % 4 in (0, 1)]
    assert body(api_client.get(URL, params))["count"] == 12


def test_statuses_may_be_repeated_instead_of_comma_separated(api_client, runs):
    repeated = body(api_client.get(URL, {"status": ["queued", "running"]}))
    assert repeated == body(api_client.get(URL, {"status": "queued,running"})) and repeated["count"] == 12


def test_every_status_at_once_is_the_whole_list(api_client, runs):
    page = body(api_client.get(URL, {"status": ",".join(JobStatus.values)}))
    assert page["count"] == 23 and names(api_client.get(URL)) == [item["name"] for item in page["results"]]


def test_an_unknown_status_is_a_422_listing_the_allowed_ones(api_client, runs):
    response = api_client.get(URL, {"status": "finished,done"})
    assert response.status_code == 422
    [error] = body(response)["errors"]
    assert (error["field"], error["rule"]) == ("status", "allowed_values")
    assert "done" in error["message"] and all(status in error["message"] for status in JobStatus.values)


def test_the_documented_status_values_are_the_models_choices(api_client):
    schema = api_client.get("/api/openapi.json").json()
    [status] = [p for p in schema["paths"]["/api/calculations"]["get"]["parameters"] if p["name"] == "status"]
    [array] = [form for form in status["schema"]["anyOf"] if form["type"] == "array"]
    assert array["items"]["enum"] == JobStatus.values


def test_search_matches_part_of_the_name_whatever_the_case(api_client, make_calculation):
    for name in ("Well 12, 2024", "well 120 review", "Pad 7", "WELL 3"):
        make_calculation(name=name)
    assert sorted(names(api_client.get(URL, {"search": " wELL 12 "}))) == ["Well 12, 2024", "well 120 review"]
    assert body(api_client.get(URL, {"search": "well"}))["count"] == 3


def test_search_takes_percent_and_underscore_literally(api_client, make_calculation):
    make_calculation(name="100% water")
    make_calculation(name="oil_rate")
    make_calculation(name="oil rate")
    assert names(api_client.get(URL, {"search": "%"})) == ["100% water"]
    assert names(api_client.get(URL, {"search": "_"})) == ["oil_rate"]


def test_search_status_ordering_and_pages_combine(api_client, runs):
    params = {"search": "RUN 1", "status": "finished,failed", "ordering": "launched_at"}
    page = body(api_client.get(URL, params))
    # run 1x (10-19) and run 01, in status finished (minute % 4 == 2) or failed (== 3)
    assert [item["name"] for item in page["results"]] == [
        "run 10",
        "run 11",
        "run 14",
        "run 15",
        "run 18",
        "run 19",
    ]
    assert (page["count"], page["count_is_lower_bound"]) == (6, False)


@pytest.mark.django_db
def test_a_search_count_is_capped_at_ten_thousand_and_says_so(api_client):
    with connection.cursor() as cursor:  # 10,001 rows in one statement
        cursor.execute(
            f"INSERT INTO {Calculation._meta.db_table} (name, date_start, date_fin, lag, status, progress, "
            "launched_at, error, attempts, updated_at) SELECT 'Well ' || i, '2024-01-01', '2024-01-02', 1, "
            "'queued', 0, now() + i * interval '1 second', '', 0, now() FROM generate_series(0, %s) AS i",
            [SEARCH_COUNT_CAP],
        )
    capped = body(api_client.get(URL, {"search": "well"}))
    assert (capped["count"], capped["count_is_lower_bound"], capped["pages"]) == (10_000, True, 1000)
    assert len(capped["results"]) == 10 and capped["next_cursor"] is not None
    exact = body(api_client.get(URL, {"search": "well 1000"}))  # 1000 and 10000
    assert (exact["count"], exact["count_is_lower_bound"]) == (2, False)
    assert body(api_client.get(URL))["count"] == 10_001  # no search: exact, from the counters
    deep = body(api_client.get(URL, {"search": "well", "page": 1001, "ordering": "launched_at"}))
    assert [item["name"] for item in deep["results"]] == ["Well 10000"]  # past the capped count, still served
    assert body(api_client.get(URL, {"search": "well", "page": 2000}))["results"] == []


@pytest.mark.parametrize(
    ("params", "rule"),
    [({"search": "x" * 201}, "string_too_long"), ({"search": "a\x00b"}, "null_character")],
)
def test_a_bad_search_is_a_422(api_client, params, rule):
    response = api_client.get(URL, params)
    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in body(response)["errors"]] == [("search", rule)]


# --- cursors --------------------------------------------------------------------------------


def walk(
    client, params: dict, *, direction: str = "next_cursor", cursor: str | None = None
) -> list[list[str]]:
    pages = []
    while True:
        page = body(client.get(URL, {**params, **({"cursor": cursor} if cursor else {})}))
        assert page["page"] is None or cursor is None
        pages.append([item["name"] for item in page["results"]])
        cursor = page[direction]
        if cursor is None:
            return pages


@pytest.mark.parametrize("status", [None, "finished", "queued,running,failed"])
@pytest.mark.parametrize("ordering", ["launched_at", "-launched_at"])
def test_cursors_walk_every_page_both_ways_like_page_numbers(api_client, runs, ordering, status):
    params = {"ordering": ordering, **({"status": status} if status else {})}
    by_number = [names(api_client.get(URL, {**params, "page": number})) for number in (1, 2, 3)]
    by_number = [page for page in by_number if page]
    forward = walk(api_client, params)
    assert forward == by_number
    last = body(api_client.get(URL, {**params, "page": len(by_number)}))
    assert last["next_cursor"] is None
    backward = (
        walk(api_client, params, direction="prev_cursor", cursor=last["prev_cursor"])
        if last["prev_cursor"]
        else []
    )
    assert backward == by_number[-2::-1]


def test_the_first_page_has_no_previous_and_the_next_cursor_continues_it(api_client, runs):
    first = body(api_client.get(URL))
    assert first["prev_cursor"] is None
    second = body(api_client.get(URL, {"cursor": first["next_cursor"]}))
    assert [item["name"] for item in second["results"]] == [f"run {m:02d}" for m in range(12, 2, -1)]
    assert (second["page"], second["count"], second["pages"]) == (None, 23, 3)
    back = body(api_client.get(URL, {"cursor": second["prev_cursor"]}))
    assert back["results"] == first["results"] and back["prev_cursor"] is None


def test_a_cursor_stays_put_when_rows_are_added_before_it(api_client, runs, make_calculation):
    first = body(api_client.get(URL))
    make_calculation(name="newer", launched_at=T0 + timedelta(hours=1))
    second = body(api_client.get(URL, {"cursor": first["next_cursor"]}))
    assert next(item["name"] for item in second["results"]) == "run 12"


def test_a_cursor_past_the_last_row_gives_an_empty_page_and_a_way_back(api_client, runs):
    last = body(api_client.get(URL, {"page": 3}))
    Calculation.objects.filter(name__in=["run 00", "run 01"]).delete()
    middle = body(api_client.get(URL, {"page": 2}))
    Calculation.objects.filter(launched_at__lt=T0 + timedelta(minutes=3)).delete()
    empty = body(api_client.get(URL, {"cursor": middle["next_cursor"]}))
    assert (empty["results"], empty["next_cursor"]) == ([], None)
    # back to the page that ends with the last row seen
    assert names(api_client.get(URL, {"cursor": empty["prev_cursor"]})) == [
        f"run {m:02d}" for m in range(12, 2, -1)
    ]
    assert last["results"]


def test_a_cursor_back_from_before_the_first_row_gives_an_empty_page_and_a_way_forward(api_client, runs):
    second = body(api_client.get(URL, {"page": 2}))
    Calculation.objects.filter(launched_at__gte=T0 + timedelta(minutes=13)).delete()
    empty = body(api_client.get(URL, {"cursor": second["prev_cursor"]}))
    assert (empty["results"], empty["prev_cursor"]) == ([], None)
    assert names(api_client.get(URL, {"cursor": empty["next_cursor"]}))[0] == "run 12"


def tampered(cursor: str) -> str:
    value, signature = cursor.rsplit(":", 1)
    return f"{value[:-2]}{'A' if value[-2] != 'A' else 'B'}{value[-1]}:{signature}"


def forged(payload: dict) -> str:
    return signing.dumps(payload, salt="calcboard.list-cursor", compress=True)


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (tampered, "invalid_cursor"),
        (lambda cursor: "garbage", "invalid_cursor"),
        (lambda cursor: cursor + "x", "invalid_cursor"),
        (lambda cursor: signing.dumps({"o": "-launched_at"}, salt="another-salt"), "invalid_cursor"),
        (lambda cursor: forged({"o": "-launched_at", "k": "yesterday", "i": 1, "f": True}), "invalid_cursor"),
        (
            lambda cursor: forged({"o": "-launched_at", "k": "2024-01-01T00:00:00", "i": 1, "f": True}),
            "invalid_cursor",
        ),
        (lambda cursor: forged({"o": "-launched_at", "k": 5, "i": 1, "f": True}), "invalid_cursor"),
        (
            lambda cursor: forged(
                {"o": "-launched_at", "k": "2024-01-01T00:00:00+00:00", "i": "1", "f": True}
            ),
            "invalid_cursor",
        ),
        (
            lambda cursor: forged({"o": "-launched_at", "k": "2024-01-01T00:00:00+00:00", "i": 1, "f": 1}),
            "invalid_cursor",
        ),
        (lambda cursor: forged({"o": "-launched_at", "i": 1, "f": True}), "invalid_cursor"),
        (lambda cursor: forged(["not", "an", "object"]), "invalid_cursor"),
        (
            lambda cursor: forged({"o": "launched_at", "k": "2024-01-01T00:00:00+00:00", "i": 1, "f": True}),
            "cursor_ordering",
        ),
    ],
    ids=[
        "tampered",
        "garbage",
        "extended",
        "other-salt",
        "bad-date",
        "naive-date",
        "number-key",
        "text-id",
        "int-direction",
        "no-key",
        "not-an-object",
        "other-ordering",
    ],
)
def test_a_cursor_the_api_did_not_issue_for_this_ordering_is_a_422(api_client, runs, make, rule):
    cursor = body(api_client.get(URL))["next_cursor"]
    response = api_client.get(URL, {"cursor": make(cursor)})
    assert response.status_code == 422, response.content
    assert [(e["field"], e["rule"]) for e in body(response)["errors"]] == [("cursor", rule)]


def test_a_cursor_with_a_page_is_a_422(api_client, runs):
    cursor = body(api_client.get(URL))["next_cursor"]
    response = api_client.get(URL, {"cursor": cursor, "page": 2})
    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in body(response)["errors"]] == [("cursor", "exclusive")]


# --- counts ---------------------------------------------------------------------------------


def counts(client) -> dict[str, int]:
    return {status: body(client.get(URL, {"status": status}))["count"] for status in JobStatus.values}


@pytest.mark.django_db(transaction=True)
def test_counts_stay_exact_across_creates_status_changes_and_deletes(api_client, scratch_queue):
    """Committed writes through every path (API, services, bulk update, delete), each
    count checked against COUNT(*) of the same rows."""

    def assert_exact() -> None:
        expected = {s: Calculation.objects.filter(status=s).count() for s in JobStatus.values}
        assert counts(api_client) == expected
        assert body(api_client.get(URL))["count"] == Calculation.objects.count()

    for _ in range(3):
        response = api_client.post(
            URL,
            {"date_start": "2024-01-01", "date_fin": "2024-01-31", "lag": 1},
            content_type="application/json",
        )
        assert response.status_code == 201
    created = calculation_create(date_start="2024-01-01", date_fin="2024-01-10", lag=1)
    assert_exact()
    calculation_run(calculation_id=created.pk)
    assert_exact()
    Calculation.objects.filter(status=JobStatus.QUEUED).update(status=JobStatus.RUNNING)
    assert_exact()
    Calculation.objects.filter(pk=created.pk).update(progress=50)  # no status change
    assert_exact()
    Calculation.objects.filter(pk=created.pk).delete()
    assert_exact()
    Calculation.objects.all().delete()
    assert counts(api_client) == dict.fromkeys(JobStatus.values, 0)
