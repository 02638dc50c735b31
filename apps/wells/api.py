"""REST endpoints for wells, their history and its imports, mounted at /api (auth: session or
bearer). Reading needs `wells.view_well`, creating `wells.add_well`, importing `wells.change_well`."""

import functools
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Annotated, Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router
from pydantic import WithJsonSchema

from apps.accounts.permissions import access_check, operation_action, requires
from apps.core.errors import DomainError
from apps.core.formatting import DateInputError, parse_iso_date
from apps.core.http import RequestError
from apps.core.listing import list_envelope
from apps.core.schemas import error_responses
from apps.jobs.audit import actor_of
from apps.jobs.retention import job_pin
from apps.wells.models import HistoryImport, Well
from apps.wells.schemas import (
    FieldName,
    HistoryImportOut,
    HistoryOut,
    WellCreateIn,
    WellListOut,
    WellListQuery,
    WellOut,
)
from apps.wells.selectors import (
    history_import_get,
    history_import_out,
    well_get,
    well_history_csv,
    well_history_json,
    well_list,
    well_out,
)
from apps.wells.services import HISTORY_IMPORT_JOB, history_import_cancel, history_import_create, well_create

router = Router(tags=["wells"])

# A day as a query parameter, read by `parse_iso_date` (exactly YYYY-MM-DD, a real day).
Day = Annotated[str | None, WithJsonSchema({"type": "string", "format": "date", "example": "2024-01-01"})]


def _json(body: dict, *, status: int = 200, location: str | None = None) -> JsonResponse:
    response = JsonResponse(body, status=status)
    if location:
        response["Location"] = location
    return response


def _date(value: str | None, *, field: str) -> date | None:
    if value is None:
        return None
    try:
        return parse_iso_date(value, field=field)
    except DateInputError as exc:
        raise DomainError(str(exc), field=field, rule=exc.rule) from exc


IMPORT_DESCRIPTION = f"""Queue an import of a CSV file: the body itself (`Content-Type: text/csv`)
or a multipart form's `file`, up to {settings.WELLS_IMPORT_MAX_BYTES // 1024 // 1024} MB. Answers 202 with the import
(`GET /api/imports/{{id}}` follows it; live events on the `wells` stream).

Columns: a header row naming `date, oil, water, gas, hours_on` (daily) or `days_on` (monthly),
any order, `gas` optional. `columns=date:DATEPRD,oil:BORE_OIL_VOL,...` maps other names (the
file's other columns are then ignored); `date_format` (strftime, e.g. `%d-%b-%y`) reads
other dates; numbers may use thousands separators (`"1,166"`). `mode=append` (default)
refuses dates already stored, `mode=replace` replaces the file's date range. The whole file
is checked before anything is written: one problem and nothing is imported. Parameters go in
the query string (or as form fields beside `file`).

One user may have WELLS_QUOTA_IN_FLIGHT (default 20) imports queued or running at once; past
it the answer is a 429 (rule `quota`) with `Retry-After`, and nothing is stored."""


def _upload(request: HttpRequest) -> tuple[Iterable[bytes], str, dict[str, str]]:
    """The file's byte stream, its name and the form's fields (multipart) or none (text/csv)."""
    limit = settings.WELLS_IMPORT_MAX_BYTES
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > limit:
        raise RequestError(
            f"The file is larger than {limit} bytes.", field="file", rule="too_large", status=413
        )
    content_type = request.content_type or ""
    if length == 0 and content_type != "multipart/form-data":
        raise DomainError("The file is empty: send a header line and records.", field="file", rule="empty")
    if content_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError("Send the file in the multipart field 'file'.", field="file", rule="required")
        fields = {
            name: request.POST[name]
            for name in ("mode", "columns", "date_format", "field")
            if name in request.POST
        }
        return upload.chunks(), upload.name or "", fields
    if content_type not in ("text/csv", "text/plain", "application/csv"):
        raise RequestError(
            f"Send the file as 'Content-Type: text/csv' or as multipart/form-data with a 'file' field, not "
            f"{content_type or 'no content type'}.",
            field="body",
            rule="content_type",
            status=415,
        )
    return _body_pieces(request, limit=limit), "", {}


def _body_pieces(request: HttpRequest, *, limit: int) -> Iterator[bytes]:
    read = 0
    while piece := request.read(1024 * 1024):
        read += len(piece)
        if read > limit:
            raise RequestError(
                f"The file is larger than {limit} bytes.", field="file", rule="too_large", status=413
            )
        yield piece


def _accepted(history_import: HistoryImport) -> JsonResponse:
    body = history_import_out(history_import_get(import_id=history_import.pk))
    return _json(body, status=202, location=f"/api/imports/{history_import.pk}")


IMPORT_PARAMETERS = ("mode", "columns", "date_format")
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
# The file as a CSV body or a form's `file`, and the body refusals of these routes (their own
# limit and types, not the JSON routes' documented by project.api).
IMPORT_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "mode": {"type": "string"},
                        "columns": {"type": "string"},
                        "date_format": {"type": "string"},
                    },
                    "required": ["file"],
                }
            },
        },
    },
    "responses": {
        "413": {
            "description": "The file is larger than 200 MiB (rule `too_large`).",
            "content": _ERROR_CONTENT,
        },
        "415": {
            "description": "Neither text/csv nor multipart/form-data (rule `content_type`).",
            "content": _ERROR_CONTENT,
        },
    },
}


@router.post(
    "/wells/import",
    response={202: HistoryImportOut, **error_responses(409, 429)},
    summary="Import a multi-well file (a `well` column) into a field, creating its wells",
    description=IMPORT_DESCRIPTION.replace(
        "Columns: a header row naming", "Columns: a header row naming `well`,"
    ),
    openapi_extra=IMPORT_OPENAPI,
)
@requires("change", Well)
def well_multi_import_endpoint(
    request: HttpRequest,
    field: FieldName = Query(None, description="The field of the file's wells (created as needed)."),
    mode: Literal["append", "replace"] | None = Query(None),
    columns: str | None = Query(None, max_length=2000),
    date_format: str | None = Query(None, max_length=100),
) -> JsonResponse:
    access_check(user=request.user, model=Well, action="add")  # it creates the wells it names
    stream, name, fields = _upload(request)
    target = fields.get("field") or field
    if not target:
        raise DomainError(
            "field is required: the field whose wells the file names.", field="field", rule="required"
        )
    history_import = history_import_create(
        stream=stream,
        field=target,
        mode=fields.get("mode") or mode or "append",
        columns=fields.get("columns") or columns,
        date_format=fields.get("date_format") or date_format,
        file_name=name,
        actor=actor_of(request),
    )
    return _accepted(history_import)


@router.post("/wells", response={201: WellOut, **error_responses(409)}, summary="Create a well")
@requires("add", Well)
def well_create_endpoint(request: HttpRequest, payload: WellCreateIn) -> JsonResponse:
    """A well in a field (the field is created on first use); 409 when the field already has a
    well of that name."""
    well = well_create(
        name=payload.name, field=payload.field, notes=payload.notes, frequency=payload.frequency
    )
    return _json(well_out(well_get(well_id=well.pk)), status=201, location=f"/api/wells/{well.pk}")


@router.get("/wells", response={200: WellListOut, **error_responses()}, summary="List wells")
@requires("view", Well)
def well_list_endpoint(request: HttpRequest, query: Query[WellListQuery]) -> dict[str, Any]:
    """Wells with their history's figures, sorted by `ordering` (then id), `page_size` a page,
    by `page` or `cursor`. `count` is exact (also per field); with `search` it is counted up
    to 10,000."""
    found = well_list(
        page=query.page,
        page_size=query.page_size,
        cursor=query.cursor,
        ordering=query.ordering,
        field=query.field,
        search=query.search,
    )
    return list_envelope(found, item=well_out)


@router.get(
    "/wells/{id}", response={200: WellOut, **error_responses(404)}, summary="One well", url_name="well_detail"
)
@requires("view", Well)
def well_detail_endpoint(request: HttpRequest, id: int) -> dict[str, Any]:
    return well_out(well_get(well_id=id))


HISTORY_DESCRIPTION = """The well's production periods, oldest first, with derived rates:
per producing day (volume / time on stream; null for a shut-in), per calendar day (volume /
days in the period), water cut (water / (oil + water)) and cumulative volumes since the
first record. `from` / `to` (YYYY-MM-DD, inclusive) narrow the range; `resample=month`
sums the periods per calendar month; `format=csv` answers the same columns as CSV."""


@router.get(
    "/wells/{id}/history",
    response={200: HistoryOut, **error_responses(404)},
    summary="A well's production history with derived rates",
    description=HISTORY_DESCRIPTION,
    url_name="well_history",
    openapi_extra={
        "responses": {
            200: {
                "description": "JSON (default) or CSV (`format=csv`).",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
@requires("view", Well)
def well_history_endpoint(
    request: HttpRequest,
    id: int,
    date_from: Day = Query(None, alias="from", description="First day, YYYY-MM-DD."),
    date_to: Day = Query(None, alias="to", description="Last day (inclusive), YYYY-MM-DD."),
    resample: Literal["month"] | None = Query(None, description="`month`: one period per calendar month."),
    format: Literal["json", "csv"] = Query("json"),
) -> HttpResponse:
    history = functools.partial(
        well_history_csv if format == "csv" else well_history_json,
        well_id=id,
        date_from=_date(date_from, field="from"),
        date_to=_date(date_to, field="to"),
        resample=resample,
    )
    if format == "csv":
        response = HttpResponse(history(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="well-{id}-history.csv"'
        return response
    # The periods (tens of thousands) are written by PostgreSQL and passed through as text.
    return HttpResponse(history(), content_type="application/json")


@router.post(
    "/wells/{id}/history",
    response={202: HistoryImportOut, **error_responses(404, 409, 429)},
    summary="Import history into a well",
    description=IMPORT_DESCRIPTION,
    openapi_extra=IMPORT_OPENAPI,
)
@requires("change", Well)
def well_history_import_endpoint(
    request: HttpRequest,
    id: int,
    mode: Literal["append", "replace"] | None = Query(None, description="append (default) or replace."),
    columns: str | None = Query(None, max_length=2000, description="Column mapping, ours:theirs,..."),
    date_format: str | None = Query(None, max_length=100, description="strftime format of the dates."),
) -> JsonResponse:
    well_get(well_id=id)  # 404 before the body is read
    stream, name, fields = _upload(request)
    history_import = history_import_create(
        stream=stream,
        well_id=id,
        mode=fields.get("mode") or mode or "append",
        columns=fields.get("columns") or columns,
        date_format=fields.get("date_format") or date_format,
        file_name=name,
        actor=actor_of(request),
    )
    return _accepted(history_import)


@router.get(
    "/imports/{id}",
    response={200: HistoryImportOut, **error_responses(404)},
    summary="One history import",
    url_name="history_import_detail",
)
@requires("view", Well)
def history_import_detail_endpoint(request: HttpRequest, id: int) -> JsonResponse:
    """Its status and progress, and once it failed, the first 100 problems with their count."""
    return _json(history_import_out(history_import_get(import_id=id)))


@router.post(
    "/imports/{id}/cancel",
    response={200: HistoryImportOut, **error_responses(404, 409)},
    summary="Cancel an import",
)
@requires(operation_action("cancel"), Well)
def history_import_cancel_endpoint(request: HttpRequest, id: int) -> JsonResponse:
    """A queued import ends at once; a running one stops before it writes: nothing is imported."""
    history_import_cancel(import_id=id, actor=actor_of(request))
    return _json(history_import_out(history_import_get(import_id=id)))


def _pin_endpoint(pinned: bool) -> None:
    """Register `POST /imports/{id}/pin` or `/imports/{id}/unpin`."""
    action = "pin" if pinned else "unpin"

    def endpoint(request: HttpRequest, id: int) -> JsonResponse:
        job_pin(kind=HISTORY_IMPORT_JOB, job_id=id, actor=actor_of(request), pinned=pinned)
        return _json(history_import_out(history_import_get(import_id=id)))

    endpoint.__name__ = endpoint.__qualname__ = f"history_import_{action}_endpoint"
    endpoint.__doc__ = (
        "Keep the import (its problems list) for ever: retention never removes a pinned import (WELLS_RETENTION_DAYS)."
        if pinned
        else "Let retention remove the import again once it is older than the retention period."
    )
    router.post(
        f"/imports/{{id}}/{action}",
        response={200: HistoryImportOut, **error_responses(404)},
        summary="Pin an import (kept for ever)" if pinned else "Unpin an import",
    )(requires("change", Well)(endpoint))


for _pinned in (True, False):
    _pin_endpoint(_pinned)
