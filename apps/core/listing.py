"""Lists that stay fast as rows pile up: status and search filters, counts, pages and cursors.

Every list of the API pages through here and answers one envelope (`list_envelope`):
`{"results", "count", "count_is_lower_bound", "pages", "page", "page_size", "next_cursor",
"prev_cursor"}`, with the same `page` / `page_size` bounds everywhere
(docs/reference/api-conventions.md). The contract:

- `?status=a,b` keeps the rows in any of those statuses (validated against the model's
  choices); `?search=` keeps rows whose text field contains the term, case-insensitively.
- `count` is exact without a search: for a whole job table it is read from the trigger-kept
  status counters (`apps.core.selectors.status_counts`), never from `COUNT(*)`. With a search,
  or for a list its caller narrowed (a model without statuses, one object's rows), it is
  counted up to `SEARCH_COUNT_CAP`; beyond that `count` is the cap and `count_is_lower_bound`
  is true.
- `?page=N` pages by position, `?page_size=` rows a page (PAGE_SIZE_DEFAULT, at most
  PAGE_SIZE_MAX). A page in the
  second half of the list is read backwards from the end, so the last page costs what the
  first one does instead of walking a million rows with OFFSET.
- `?cursor=` pages by keyset: `next_cursor` / `prev_cursor` of an answer name the position
  after its last / before its first row. Such a page costs the same at any depth: the
  `WHERE (key, id) < (...)` condition starts an index range scan at the position. Cursors are
  signed (tampering is a 422) and bound to the ordering they were made for.
- A filter on several statuses is one index range per status (`UNION ALL` of the per-status
  reads, each `LIMIT`ed), so each status uses its `(status, key, id)` index.

Every ordering ends in the primary key, so pages are deterministic and positions unique.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from django.core import signing
from django.db.models import Expression, F, Field, Model, Q, QuerySet

from apps.core.errors import DomainError
from apps.core.selectors import status_counts

SEARCH_COUNT_CAP = 10_000
# The bounds of every list's `page` and `page_size`: one contract, whatever the resource.
PAGE_SIZE_DEFAULT = 10  # the task asks for pages of 10 runs
PAGE_SIZE_MAX = 100
PAGE_MAX = 100_000
SEARCH_MAX_LENGTH = 200
_CURSOR_SALT = "calcboard.list-cursor"
_KEY = "list_key"  # the annotation every page query sorts by


@dataclass(frozen=True)
class ListOrdering:
    """One whitelisted ordering: rows sort by `key` (then pk) in that direction.

    `key` is a field name or an expression; the model declares an index on exactly it (and
    one on `(status, key, id)`), so every page is an index range scan. `parse` turns a
    cursor's JSON value back into the key's Python value.
    """

    key: str | Expression
    descending: bool
    parse: Callable[[Any], Any]


def parse_datetime_key(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("not a string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive datetime")
    return parsed


def parse_date_key(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return date.fromisoformat(value)


def parse_text_key(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


@dataclass(frozen=True)
class ListPage:
    results: list
    count: int
    count_is_lower_bound: bool
    pages: int
    page: int | None
    page_size: int
    next_cursor: str | None
    prev_cursor: str | None


def list_envelope(page: ListPage, *, item: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """The one answer of every list: the page's rows (each through `item`, when given) under
    `results`, then its paging fields (`apps.core.schemas.PageOut` documents them)."""
    results = page.results if item is None else [item(row) for row in page.results]
    return {
        "results": results,
        "count": page.count,
        "count_is_lower_bound": page.count_is_lower_bound,
        "pages": page.pages,
        "page": page.page,
        "page_size": page.page_size,
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }


def names_parse(
    *, value: str | Sequence[str] | None, allowed: Sequence[str], field: str, noun: str
) -> tuple[str, ...]:
    """`"a, b"` (or `["a", "b,c"]`, a repeated query parameter) -> the names in `allowed`'s
    order; blanks are ignored and an unknown name is a 422 naming `field` (rule
    `allowed_values`) that lists the allowed ones."""
    text = value if value is None or isinstance(value, str) else ",".join(value)
    requested = {item.strip() for item in (text or "").split(",") if item.strip()}
    unknown = sorted(requested - set(allowed))
    if unknown:
        raise DomainError(
            f"Unknown {noun}(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}.",
            field=field,
            rule="allowed_values",
        )
    return tuple(name for name in allowed if name in requested)


def status_names(model: type[Model]) -> list[str]:
    """The names of the model's statuses, in the order of its `status` field's choices."""
    field = model._meta.get_field("status")
    assert isinstance(field, Field)  # a column, not a relation
    return [str(choice) for choice, _ in field.flatchoices]


def statuses_parse(*, value: str | Sequence[str] | None, model: type[Model]) -> tuple[str, ...]:
    """`"queued, failed"` -> ("queued", "failed") in the model's order (its status choices)."""
    return names_parse(value=value, allowed=status_names(model), field="status", noun="status")


def search_parse(*, value: str | None) -> str:
    """The search term, stripped; PostgreSQL text cannot hold NUL, so it is refused."""
    value = value or ""
    if "\x00" in value:
        raise DomainError("search must not contain NUL characters.", field="search", rule="null_character")
    if len(value) > SEARCH_MAX_LENGTH:
        raise DomainError(
            f"search is at most {SEARCH_MAX_LENGTH} characters.", field="search", rule="string_too_long"
        )
    return value.strip()


def _cursor_error(message: str) -> DomainError:
    return DomainError(message, field="cursor", rule="invalid_cursor")


def _cursor_make(*, ordering: str, key: Any, pk: int, forward: bool) -> str:
    value = key.isoformat() if isinstance(key, date) else key  # a datetime is a date too
    return signing.dumps({"o": ordering, "k": value, "i": pk, "f": forward}, salt=_CURSOR_SALT, compress=True)


def _cursor_read(*, cursor: str, ordering_name: str, ordering: ListOrdering) -> tuple[Any, int, bool]:
    try:
        data = signing.loads(cursor, salt=_CURSOR_SALT)
    except signing.BadSignature as exc:
        message = "cursor is not one this API issued (use next_cursor or prev_cursor as given)."
        raise _cursor_error(message) from exc
    if not isinstance(data, dict):
        raise _cursor_error("cursor is malformed.")
    if data.get("o") != ordering_name:
        raise DomainError(
            f"This cursor was made for ordering={data.get('o')}; send that ordering with it, or start again "
            f"from page 1.",
            field="cursor",
            rule="cursor_ordering",
        )
    # Signed by us, so well-formed; checked anyway so a change of format cannot reach SQL.
    try:
        key = ordering.parse(data["k"])
        pk = data["i"]
        forward = data["f"]
    except (KeyError, TypeError, ValueError) as exc:
        raise _cursor_error("cursor is malformed.") from exc
    if not isinstance(pk, int) or isinstance(pk, bool) or not isinstance(forward, bool):
        raise _cursor_error("cursor is malformed.")
    return key, pk, forward


def _order_by(ordering: ListOrdering, *, reverse: bool) -> tuple:
    descending = ordering.descending != reverse
    return (F(_KEY).desc(), F("pk").desc()) if descending else (F(_KEY).asc(), F("pk").asc())


def _after(ordering: ListOrdering, *, key: Any, pk: int, forward: bool) -> Q:
    """Rows strictly after (forward) or before the position (key, pk) in this ordering.

    The redundant `key <= x` (or `>=`) bound is what lets PostgreSQL start an index range scan
    at the position instead of filtering from the top of the index.
    """
    descending = ordering.descending == forward
    if descending:
        return Q(**{f"{_KEY}__lte": key}) & (Q(**{f"{_KEY}__lt": key}) | Q(pk__lt=pk))
    return Q(**{f"{_KEY}__gte": key}) & (Q(**{f"{_KEY}__gt": key}) | Q(pk__gt=pk))


def _fetch(
    queryset: QuerySet,
    *,
    ordering: ListOrdering,
    statuses: tuple[str, ...],
    reverse: bool,
    offset: int,
    limit: int,
    position: Q | None = None,
) -> list:
    """`limit` rows from `offset` in the (maybe reversed) ordering, at most one index range
    per status."""
    keyed = queryset.annotate(**{_KEY: F(ordering.key) if isinstance(ordering.key, str) else ordering.key})
    if position is not None:
        keyed = keyed.filter(position)
    order = _order_by(ordering, reverse=reverse)
    if len(statuses) <= 1:
        if statuses:
            keyed = keyed.filter(status=statuses[0])
        return list(keyed.order_by(*order)[offset : offset + limit])
    # One sorted, limited read per status, merged: each one walks its own (status, key, id)
    # index from the position instead of one scan filtering out the other statuses.
    parts = [keyed.filter(status=status).order_by(*order)[: offset + limit] for status in statuses]
    merged = parts[0].union(*parts[1:], all=True)
    descending = ordering.descending != reverse
    outer = (f"-{_KEY}", "-id") if descending else (_KEY, "id")
    return list(merged.order_by(*outer)[offset : offset + limit])


def list_page(
    *,
    queryset: QuerySet,
    orderings: Mapping[str, ListOrdering],
    ordering: str,
    statuses: Iterable[str] = (),
    search: Q | None = None,
    page: int | None = None,
    page_size: int = PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
    count: int | None = None,
) -> ListPage:
    """One page of `queryset`: narrowed to what the caller may see (or one object's rows), but
    not by status or search: those come as `statuses` and `search`, so that the count of a
    whole job table can use the counters.

    A table without statuses whose rows the caller counts itself (wells: per-field counts kept
    by a trigger) passes `count`, the exact number of rows `queryset` holds."""
    if ordering not in orderings:
        message = f"ordering must be one of: {', '.join(orderings)}."
        raise DomainError(message, field="ordering", rule="literal_error")
    if cursor is not None and page is not None:
        raise DomainError("Send either cursor or page, not both.", field="cursor", rule="exclusive")
    if page is not None and not 1 <= page <= PAGE_MAX:
        raise DomainError(f"page must be from 1 to {PAGE_MAX}.", field="page", rule="page_range")
    if not 1 <= page_size <= PAGE_SIZE_MAX:
        message = f"page_size must be from 1 to {PAGE_SIZE_MAX}."
        raise DomainError(message, field="page_size", rule="page_size_range")
    per_page = page_size
    spec = orderings[ordering]
    model = queryset.model
    has_status = any(field.name == "status" for field in model._meta.get_fields())
    all_statuses = tuple(status_names(model)) if has_status else ()
    chosen = tuple(statuses)
    if chosen and not has_status:
        raise ValueError(f"{model.__name__} has no status to filter by")
    if set(chosen) >= set(all_statuses):
        chosen = ()  # every status: no filter at all
    # The counters count whole tables by status: they answer for a list of a whole job table,
    # not for one narrowed by its caller (a well's history) or a table without statuses.
    counters = has_status and not queryset.query.has_filters()
    if search is not None:
        queryset = queryset.filter(search)

    # The count: exact from the counters, or capped when a search (or a narrowed list) makes
    # counting a scan.
    rows_in_table: float = math.inf  # unknown: a page past a capped count is read, not assumed empty
    per_status: dict[str, int] = {}
    if counters:
        per_status = status_counts(model=model)
        rows_in_table = sum(per_status.values())
    if count is not None:
        rows_in_table = count
    if count is not None and search is None:
        lower_bound = False
    elif counters and search is None:
        count = sum(per_status.get(status, 0) for status in chosen) if chosen else int(rows_in_table)
        lower_bound = False
    else:
        counted = (queryset.filter(status__in=chosen) if chosen else queryset).order_by()
        count = counted[: SEARCH_COUNT_CAP + 1].count()
        lower_bound = count > SEARCH_COUNT_CAP
        count = min(count, SEARCH_COUNT_CAP)
    pages = math.ceil(count / per_page)

    def cursor_for(row: Any, *, forward: bool) -> str:
        return _cursor_make(ordering=ordering, key=getattr(row, _KEY), pk=row.pk, forward=forward)

    fetch = partial(_fetch, queryset=queryset, ordering=spec, statuses=chosen)
    if cursor is not None:
        key, pk, forward = _cursor_read(cursor=cursor, ordering_name=ordering, ordering=spec)
        position = _after(spec, key=key, pk=pk, forward=forward)
        rows = fetch(reverse=not forward, offset=0, limit=per_page + 1, position=position)
        more = len(rows) > per_page
        rows = rows[:per_page]
        if not forward:
            rows.reverse()
        if not rows:
            # Nothing left that way (rows deleted since): a cursor back the other way that
            # includes the row at the position itself, by moving the position one id past it.
            descending_back = spec.descending == (not forward)
            shifted = pk + 1 if descending_back else pk - 1
            back = _cursor_make(ordering=ordering, key=key, pk=shifted, forward=not forward)
            next_cursor, prev_cursor = (None, back) if forward else (back, None)
            return ListPage([], count, lower_bound, pages, None, per_page, next_cursor, prev_cursor)
        after_last = cursor_for(rows[-1], forward=True) if (more or not forward) else None
        before_first = cursor_for(rows[0], forward=False) if (more or forward) else None
        return ListPage(rows, count, lower_bound, pages, None, per_page, after_last, before_first)

    page = page or 1
    offset = (page - 1) * per_page
    if offset >= (rows_in_table if lower_bound else count):
        # Past the end: no query, so no giant OFFSET reaches PostgreSQL.
        return ListPage([], count, lower_bound, pages, page, per_page, None, None)
    if not lower_bound and offset + per_page / 2 > count - offset - per_page / 2:
        # Nearer the end than the start: read backwards from the end.
        take = min(per_page, count - offset)
        rows = fetch(reverse=True, offset=max(count - offset - per_page, 0), limit=take)
        rows.reverse()
        more = offset + len(rows) < count
    else:
        rows = fetch(reverse=False, offset=offset, limit=per_page + 1)
        more = len(rows) > per_page
        rows = rows[:per_page]
    next_cursor = cursor_for(rows[-1], forward=True) if rows and more else None
    prev_cursor = cursor_for(rows[0], forward=False) if rows and offset > 0 else None
    return ListPage(rows, count, lower_bound, pages, page, per_page, next_cursor, prev_cursor)
