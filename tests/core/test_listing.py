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
        "results": [1, 2], "count": 2, "count_is_lower_bound": False, "pages": 1, "page": 1, "page_size": 20,
        "next_cursor": None, "prev_cursor": None,
    }
    assert list_envelope(page, item=lambda row: {"id": row})["results"] == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize("value", ["b, a", ["b", "a"], ["a,b", " "], ("b",  "a,")])
def test_names_come_as_one_string_or_several_in_the_allowed_order(value):
    assert names_parse(value=value, allowed=["a", "b", "c"], field="f", noun="name") == ("a", "b")
