"""apps.core.listing's contract, called directly: the bounds every list shares and the envelope."""

import pytest

from apps.calculations.models import Calculation
from apps.calculations.selectors import ORDERINGS
from apps.core.errors import DomainError
from apps.core.listing import (
    PAGE_MAX,
    PAGE_SIZE_MAX,
    ListPage,
    list_envelope,
    list_page,
    names_parse,
)


@pytest.mark.parametrize(
    ("paging", "field", "rule"),
    [
        ({"page": 0}, "page", "page_range"),
        ({"page": PAGE_MAX + 1}, "page", "page_range"),
        ({"page_size": 0}, "page_size", "page_size_range"),
        ({"page_size": PAGE_SIZE_MAX + 1}, "page_size", "page_size_range"),
    ],
)
def test_every_list_has_the_same_bounds(db, paging, field, rule):
    with pytest.raises(DomainError) as raised:
        list_page(queryset=Calculation.objects.all(), orderings=ORDERINGS, ordering="launched_at", **paging)
    assert [(error.field, error.rule) for error in raised.value.errors] == [(field, rule)]


def test_the_envelope_carries_the_rows_as_they_are_or_through_item():
    page = ListPage([1, 2], 2, False, 1, 1, 20, None, None)
    assert list_envelope(page) == {
        "results": [1, 2],
        "count": 2,
        "count_is_lower_bound": False,
        "pages": 1,
        "page": 1,
        "page_size": 20,
        "next_cursor": None,
        "prev_cursor": None,
    }
    assert list_envelope(page, item=lambda row: {"id": row})["results"] == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize("value", ["b, a", ["b", "a"], ["a,b", " "], ("b", "a,")])
def test_names_come_as_one_string_or_several_in_the_allowed_order(value):
    assert names_parse(value=value, allowed=["a", "b", "c"], field="f", noun="name") == ("a", "b")


def test_a_narrowed_list_is_counted_not_read_from_the_table_counters(db):
    for name in ("a1", "a2", "b1"):
        Calculation.objects.create(name=name, date_start="2024-01-01", date_fin="2024-01-02", lag=1)
    page = list_page(
        queryset=Calculation.objects.filter(name__startswith="a"),
        orderings=ORDERINGS,
        ordering="launched_at",
        page_size=1,
    )
    assert (page.count, page.pages, page.count_is_lower_bound, [c.name for c in page.results]) == (
        2,
        2,
        False,
        ["a1"],
    )
    past = list_page(
        queryset=Calculation.objects.filter(name__startswith="a"),
        orderings=ORDERINGS,
        ordering="launched_at",
        page=3,
        page_size=1,
    )
    assert (past.results, past.count) == ([], 2)


def test_rows_without_a_status_page_by_a_date_key_with_cursors(db):
    from datetime import date, timedelta

    from apps.calculations.models import CalculationRow
    from apps.core.listing import ListOrdering, parse_date_key

    run = Calculation.objects.create(name="rows", date_start="2024-01-01", date_fin="2024-01-05", lag=1)
    CalculationRow.objects.bulk_create(
        CalculationRow(
            calculation=run, date=date(2024, 1, 1) + timedelta(days=day), liquid=1, oil=1, water=0, wct=0
        )
        for day in range(5)
    )
    orderings = {"date": ListOrdering(key="date", descending=False, parse=parse_date_key)}
    rows = CalculationRow.objects.filter(calculation=run)
    first = list_page(queryset=rows, orderings=orderings, ordering="date", page_size=2)
    second = list_page(
        queryset=rows, orderings=orderings, ordering="date", page_size=2, cursor=first.next_cursor
    )
    assert (first.count, first.pages) == (5, 3)
    assert [row.date.day for row in first.results + second.results] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="has no status"):
        list_page(queryset=rows, orderings=orderings, ordering="date", statuses=["queued"])
