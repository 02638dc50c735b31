"""Reads of the chart job. Lists never load the PNG bytes (`defer("image")`)."""

from collections.abc import Sequence
from typing import Literal, get_args

from django.db.models import Q
from django.urls import reverse

from apps.charts.models import PROCESSED_ASC_KEY, PROCESSED_DESC_KEY, Function
from apps.core.errors import NotFoundError
from apps.core.listing import (
    PAGE_SIZE_DEFAULT,
    ListOrdering,
    ListPage,
    list_page,
    parse_datetime_key,
    parse_text_key,
    search_parse,
    statuses_parse,
)
from apps.jobs.models import MAX_ID

Ordering = Literal["-created_at", "created_at", "-processed_at", "processed_at", "expression", "-expression"]
# Rows never processed sort last either way (the PROCESSED_* keys); pk breaks ties. Each key
# has its own index, and one under a status filter (apps.charts.models).
ORDERINGS = {
    "-created_at": ListOrdering(key="created_at", descending=True, parse=parse_datetime_key),
    "created_at": ListOrdering(key="created_at", descending=False, parse=parse_datetime_key),
    "-processed_at": ListOrdering(key=PROCESSED_DESC_KEY, descending=True, parse=parse_datetime_key),
    "processed_at": ListOrdering(key=PROCESSED_ASC_KEY, descending=False, parse=parse_datetime_key),
    "expression": ListOrdering(key="expression", descending=False, parse=parse_text_key),
    "-expression": ListOrdering(key="expression", descending=True, parse=parse_text_key),
}
assert set(ORDERINGS) == set(get_args(Ordering))  # one list of orderings


def function_image_url(*, function_id: int, image_hash: str) -> str | None:
    """The chart's versioned URL: the version is the image's content hash, so every new image
    gets a new URL and a browser never shows a stale one from its cache."""
    if not image_hash:
        return None
    return reverse("charts:image", kwargs={"function_id": function_id, "version": image_hash[:16]})


def function_list(
    *,
    page: int | None = None,
    page_size: int = PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
    ordering: str = "-created_at",
    status: str | Sequence[str] | None = None,
    search: str | None = None,
    created_by_id: int | None = None,
) -> ListPage:
    """One page of functions (without their PNGs), newest first by default; `status`
    ("queued,failed"), `search` (in the expression) and `created_by_id` narrow it. See
    apps.core.listing."""
    term = search_parse(value=search)
    narrowed = Q(expression__icontains=term) if term else Q()
    if created_by_id is not None:
        narrowed &= Q(created_by_id=created_by_id)
    return list_page(
        queryset=Function.objects.select_related("created_by", "cancelled_by", "rerun_by").defer("image"),
        orderings=ORDERINGS,
        ordering=ordering,
        statuses=statuses_parse(value=status, model=Function),
        search=narrowed or None,
        page=page,
        page_size=page_size,
        cursor=cursor,
    )


def function_get(*, function_id: int) -> Function:
    in_range = 1 <= function_id <= MAX_ID
    function = (
        Function.objects.select_related("created_by", "cancelled_by", "rerun_by")
        .defer("image")
        .filter(pk=function_id)
        .first()
        if in_range
        else None
    )
    if function is None:
        raise NotFoundError(f"No function with id {function_id}.")
    return function


def function_image_hash(*, function_id: int) -> str | None:
    """The current image's hash ("" when there is no image), or None when there is no such row."""
    if not 1 <= function_id <= MAX_ID:
        return None
    return Function.objects.filter(pk=function_id).values_list("image_hash", flat=True).first()


def function_image(*, function_id: int) -> tuple[bytes, str] | None:
    """The PNG and its hash, or None when the row or its image does not exist."""
    if not 1 <= function_id <= MAX_ID:
        return None
    # The image and its hash are written together, so a hash means there is an image.
    row = (
        Function.objects.filter(pk=function_id)
        .exclude(image_hash="")
        .values_list("image", "image_hash")
        .first()
    )
    if row is None:
        return None
    image, image_hash = row
    assert image is not None  # written with its hash
    return bytes(image), image_hash
