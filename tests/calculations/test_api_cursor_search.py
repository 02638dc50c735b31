"""Cursors walked through a search: every matching run exactly once, in the list's order,
forwards and back, whatever runs the search leaves out between and around them."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.jobs.models import JobStatus
from tests.calculations.conftest import body

URL = "/api/calculations"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def wells(make_calculation) -> list:
    """34 runs, 26 of them named "Well 7 ...": interleaved with others in launch order, some
    launched at the same instant (the id breaks the tie), created out of launch order."""
    made = []
    for index in [*range(20, 34), *range(20)]:
        matching = index % 4 != 3
        made.append(
            make_calculation(
                name=f"{'Well 7' if matching else 'Pad 9'} run {index:02d}",
                launched_at=T0 + timedelta(minutes=index // 3),  # threes share an instant
                status=list(JobStatus)[index % 5],
            )
        )
    return made


def walk(api_client, params: dict, direction: str) -> list[list[int]]:
    """The ids of each page, following `direction` (next_cursor or prev_cursor) from the
    first page reached with `params` until the cursor runs out."""
    pages, cursor = [], None
    while True:
        page = body(api_client.get(URL, {**params, **({"cursor": cursor} if cursor else {})}))
        pages.append([item["id"] for item in page["results"]])
        if (cursor := page[direction]) is None:
            return pages
        params = {key: value for key, value in params.items() if key != "page"}


@pytest.mark.parametrize("ordering", ["launched_at", "-launched_at"])
def test_a_search_walked_by_cursor_returns_every_match_once_in_order_both_ways(api_client, wells, ordering):
    matches = sorted(
        (run for run in wells if run.name.startswith("Well 7")),
        key=lambda run: (run.launched_at, run.pk),
        reverse=ordering.startswith("-"),
    )
    expected = [run.pk for run in matches]
    params = {"search": "WELL 7", "ordering": ordering}

    forwards = walk(api_client, params, "next_cursor")
    assert [pk for page in forwards for pk in page] == expected  # each once, in order
    assert [len(page) for page in forwards] == [10, 10, 6]

    backwards = walk(api_client, {**params, "page": len(forwards)}, "prev_cursor")
    assert backwards == forwards[::-1]


def test_a_cursor_keeps_its_search_when_a_matching_run_is_added_behind_it(
    api_client, wells, make_calculation
):
    first = body(api_client.get(URL, {"search": "well 7", "ordering": "launched_at"}))
    newer = make_calculation(name="Well 7 late", launched_at=T0 + timedelta(days=1))
    make_calculation(name="Pad 9 late", launched_at=T0 + timedelta(days=1))
    rest = walk(
        api_client,
        {"search": "well 7", "ordering": "launched_at", "cursor": first["next_cursor"]},
        "next_cursor",
    )
    seen = [item["id"] for item in first["results"]] + [pk for page in rest for pk in page]
    assert len(seen) == len(set(seen)) == 27 and seen[-1] == newer.pk
