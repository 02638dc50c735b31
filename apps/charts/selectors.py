"""Reads of the charts job. Lists never load the PNG bytes (`defer("image")`)."""

from typing import Literal

from django.db.models import F, QuerySet
from django.urls import reverse

from apps.charts.models import Function
from apps.core.errors import NotFoundError

_MAX_PK = 2**63 - 1  # bigint: a larger id from a URL cannot exist and must not reach SQL

Ordering = Literal["-created_at", "created_at", "-processed_at", "processed_at", "expression", "-expression"]


def function_image_url(*, function_id: int, image_hash: str) -> str | None:
    """The chart's versioned URL: the version is the image's content hash, so every new image
    gets a new URL and a browser never shows a stale one from its cache."""
    if not image_hash:
        return None
    return reverse("charts:image", kwargs={"function_id": function_id, "version": image_hash[:16]})


def function_list(*, ordering: Ordering = "-created_at", status: str | None = None) -> QuerySet[Function]:
    queryset = Function.objects.defer("image")
    if status:
        queryset = queryset.filter(status=status)
    # Rows never processed sort last either way; pk breaks ties so pages are stable.
    name = ordering.lstrip("-")
    field = F("finished_at" if name == "processed_at" else name)  # the job's finished_at, shown as processed_at
    if ordering.startswith("-"):
        return queryset.order_by(field.desc(nulls_last=True), "-pk")
    return queryset.order_by(field.asc(nulls_last=True), "pk")


def function_get(*, function_id: int) -> Function:
    function = (
        None if function_id > _MAX_PK else Function.objects.defer("image").filter(pk=function_id).first()
    )
    if function is None:
        raise NotFoundError(f"No function with id {function_id}.")
    return function


def function_image_hash(*, function_id: int) -> str | None:
    """The current image's hash ("" when there is no image), or None when there is no such row."""
    if function_id > _MAX_PK:
        return None
    return Function.objects.filter(pk=function_id).values_list("image_hash", flat=True).first()


def function_image(*, function_id: int) -> tuple[bytes, str] | None:
    """The PNG and its hash, or None when the row or its image does not exist."""
    if function_id > _MAX_PK:
        return None
    # The image and its hash are written together, so a hash means there is an image.
    row = (
        Function.objects.filter(pk=function_id)
        .exclude(image_hash="")
        .values_list("image", "image_hash")
        .first()
    )
    return None if row is None else (bytes(row[0]), row[1])
