"""Writes of wells: create a well, accept a history file, import it (the job), cancel, sweep.

Life of an import (the job lifecycle itself is `apps.jobs.services`):

1. `history_import_create` checks the parameters, stores the file in chunks beside a queued
   `HistoryImport` and publishes the job after commit. A one-well import is refused (409)
   while another import of that well is queued or running.
2. `history_import_run` (the worker) reads the whole file and checks every record
   (`apps.wells.parsing`) without writing anything; the records it accepts are spooled to a
   temporary file as compact numpy arrays. Any problem ends the job `failed`, with the first
   100 problems and their count on the import, and nothing written.
3. Then ONE transaction locks the wells (`SELECT ... FOR UPDATE`, in id order: two imports
   into one well wait for each other, never interleave), creates the wells a multi-well file
   names, checks the file against what is stored (append refuses dates already stored),
   deletes the file's date range (replace), COPYs the records in, refreshes the wells'
   summaries and ends the job `finished`, only while this attempt still holds it. A worker
   killed before the commit leaves nothing; its redelivered attempt starts over, so no
   record is ever written twice.
"""

import io
import json
import logging
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import IO, Any

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from apps.core.errors import ConflictError, DomainError
from apps.jobs import services as jobs
from apps.jobs.audit import Actor
from apps.jobs.models import IN_FLIGHT, JobStatus
from apps.jobs.quotas import jobs_quota_check
from apps.jobs.registry import JobKind, JobPolicy
from apps.jobs.services import JobAbandoned
from apps.wells import parsing
from apps.wells.events import HistoryImportEventOut, history_import_event_payload
from apps.wells.models import (
    NAME_MAX_LENGTH,
    NOTES_MAX_LENGTH,
    Frequency,
    HistoryImport,
    HistoryImportChunk,
    ImportMode,
    OilField,
    ProductionRecord,
    Well,
)
from apps.wells.selectors import well_get

logger = logging.getLogger(__name__)

# How history imports plug into the one job lifecycle (apps.jobs.services), declared once in
# the registry (apps.wells.apps): the `wells` queue, the `wells-sweep` beat entry, the
# `wells` live stream.
HISTORY_IMPORT_JOB = JobKind(
    model=HistoryImport,
    task_name="wells.import",
    sweep_task_name="wells.sweep",
    payload=history_import_event_payload,
    event_schema=HistoryImportEventOut,
    stream="wells",
    policy=JobPolicy(
        # A 200 MiB file takes minutes to read and write; progress is written at least every
        # chunk, so two minutes without one means the worker is gone.
        soft_time_limit=1800.0,
        stale_after=120.0,
        progress_min_interval=0.5,
        # Ended imports (their error lists, and the file's chunks if any are left) go after 90
        # days unless pinned; the records they wrote belong to the wells and stay.
        retention_days=90.0,
    ),
)

CHUNK_BYTES = 1024 * 1024  # a stored piece of an uploaded file
PARSE_SHARE = 80  # progress while reading the file; the write takes the rest


# --- wells ------------------------------------------------------------------------------


def _text(value: str | None, *, field: str, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError(f"{field} must not be empty.", field=field, rule="required")
    if len(value) > max_length:
        raise DomainError(f"{field} is at most {max_length} characters.", field=field, rule="string_too_long")
    if any(ord(char) < 32 and char not in "\t\n\r" for char in value):
        raise DomainError(
            f"{field} must not contain control characters.", field=field, rule="invalid_characters"
        )
    return value


def field_get_or_create(*, name: str) -> OilField:
    name = _text(name, field="field", max_length=NAME_MAX_LENGTH)
    found, _ = OilField.objects.get_or_create(name=name)
    return found


def well_create(*, name: str, field: str, notes: str = "", frequency: str = Frequency.DAILY) -> Well:
    """A new well in a field (created on first use); 409 when the field has a well of that name."""
    name = _text(name, field="name", max_length=NAME_MAX_LENGTH)
    notes = _text(notes, field="notes", max_length=NOTES_MAX_LENGTH, required=False)
    if frequency not in Frequency.values:
        raise DomainError(
            f"frequency must be one of: {', '.join(Frequency.values)}.",
            field="frequency",
            rule="literal_error",
        )
    try:
        with transaction.atomic():
            oil_field = field_get_or_create(name=field)
            well = Well.objects.create(field=oil_field, name=name, notes=notes, frequency=frequency)
    except IntegrityError as exc:
        raise ConflictError(
            f"Field {field.strip()!r} already has a well named {name!r}.", field="name", rule="unique"
        ) from exc
    return well


# --- accepting a file -------------------------------------------------------------------


def _chunks_store(*, history_import: HistoryImport, stream: IO[bytes] | Iterable[bytes]) -> int:
    """Store the file in CHUNK_BYTES pieces; returns its size."""
    size = 0
    seq = 0
    pending: list[HistoryImportChunk] = []
    read = getattr(stream, "read", None)  # a file, or any iterable of bytes
    pieces: Iterator[bytes] = iter(lambda: read(CHUNK_BYTES), b"") if read is not None else iter(stream)
    for piece in pieces:
        if not piece:
            continue
        size += len(piece)
        pending.append(HistoryImportChunk(history_import=history_import, seq=seq, data=piece))
        seq += 1
        if len(pending) >= 8:
            HistoryImportChunk.objects.bulk_create(pending)
            pending = []
    if pending:
        HistoryImportChunk.objects.bulk_create(pending)
    return size


def history_import_create(
    *,
    stream: IO[bytes] | Iterable[bytes],
    well_id: int | None = None,
    field: str | None = None,
    mode: str = ImportMode.APPEND,
    columns: str | None = None,
    date_format: str | None = None,
    file_name: str = "",
    actor: Actor | None = None,
) -> HistoryImport:
    """Accept a history file for one well (`well_id`) or, with a `well` column, for the wells
    of `field` (created as needed), and queue its import. Parameters are checked here (422
    naming them); the file's content is checked by the job. 409 while the well has an import
    in flight; 422 for an empty file. `actor`: who uploads it (the audit trail, and whose quota of
    imports in flight it counts against: 429 past it, nothing stored)."""
    if mode not in ImportMode.values:
        raise DomainError(
            f"mode must be one of: {', '.join(ImportMode.values)}.", field="mode", rule="literal_error"
        )
    mapping = parsing.columns_parse(value=columns)
    date_format = parsing.date_format_check(value=date_format)
    file_name = (file_name or "")[:255]
    well = well_get(well_id=well_id) if well_id is not None else None
    if well is not None and "well" in mapping:
        raise DomainError(
            "columns: a one-well file has no well column.", field="columns", rule="allowed_values"
        )
    user_id = actor.user_id if actor else None
    try:
        with transaction.atomic():
            jobs_quota_check(kind=HISTORY_IMPORT_JOB, user_id=user_id, adding=1)
            oil_field = field_get_or_create(name=field or "") if well is None else None
            now = timezone.now()
            history_import = HistoryImport.objects.create(
                well=well,
                field=oil_field,
                mode=mode,
                columns=mapping,
                date_format=date_format,
                file_name=file_name,
                status=JobStatus.QUEUED,
                queued_at=now,
                created_by_id=user_id,
                created_by_token=actor.token_name if actor else "",
                queued_by_id=user_id,
            )
            size = _chunks_store(history_import=history_import, stream=stream)
            if size == 0:
                raise DomainError(
                    "The file is empty: send a header line and records.", field="file", rule="empty"
                )
            history_import.file_size = size
            history_import.save(update_fields=["file_size"])
            jobs.job_broadcast(kind=HISTORY_IMPORT_JOB, job=history_import)
            jobs.jobs_publish_on_commit(kind=HISTORY_IMPORT_JOB, ids=[history_import.pk])
    except IntegrityError as exc:
        if well is None or "wells_import_one_in_flight" not in str(exc):
            raise
        running = (
            HistoryImport.objects.filter(well=well, status__in=list(IN_FLIGHT))
            .values_list("pk", flat=True)
            .first()
        )
        raise ConflictError(
            f"Well {well.pk} already has an import in flight (import {running}): wait for it to end or cancel it.",
            field="well",
            rule="import_in_flight",
        ) from exc
    return history_import


def history_import_cancel(*, import_id: int, actor: Actor | None = None) -> HistoryImport:
    """Cancel a queued or running import (409 naming its status once it has ended). A running
    import stops at its next progress step, or at its final write: nothing is written. `actor`
    goes into the audit trail (cancelled_by, cancelled_at)."""
    cancelled = jobs.job_cancel(kind=HISTORY_IMPORT_JOB, job_id=import_id, actor=actor)
    HistoryImportChunk.objects.filter(history_import_id=import_id).delete()
    return cancelled


def history_imports_cancel(*, ids: list[int], actor: Actor | None = None) -> list[HistoryImport]:
    cancelled = jobs.jobs_cancel(kind=HISTORY_IMPORT_JOB, ids=ids, actor=actor)
    HistoryImportChunk.objects.filter(history_import_id__in=[job.pk for job in cancelled]).delete()
    return cancelled


def history_imports_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Periodic repair (beat): see `apps.jobs.services.jobs_sweep`; also drops the stored file
    of imports that ended without their worker doing it."""
    counts = jobs.jobs_sweep(kind=HISTORY_IMPORT_JOB, now=now)
    HistoryImportChunk.objects.exclude(history_import__status__in=list(IN_FLIGHT)).delete()
    return counts


# --- the job ----------------------------------------------------------------------------


class ImportRefused(Exception):
    """The file has problems: nothing is written, the problems go on the import."""

    def __init__(self, log: parsing.ProblemLog) -> None:
        super().__init__(f"{log.total} problem(s)")
        self.log = log


def _file_pieces(import_id: int) -> Iterator[bytes]:
    """The stored file, piece by piece, one query per piece (never the whole file in memory)."""
    seqs = list(
        HistoryImportChunk.objects.filter(history_import_id=import_id)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    for seq in seqs:
        data = (
            HistoryImportChunk.objects.filter(history_import_id=import_id, seq=seq)
            .values_list("data", flat=True)
            .first()
        )
        if data is not None:
            yield bytes(data)


class _Progress:
    """Writes progress at most every PROGRESS_MIN_INTERVAL seconds (the kind's policy); where a cancelled
    import notices it (JobAbandoned)."""

    def __init__(self, job: HistoryImport) -> None:
        self.job = job
        self.last = 0.0

    def step(self, percent: int) -> None:
        import time

        delay = HISTORY_IMPORT_JOB.setting("STEP_DELAY")
        if delay > 0:
            time.sleep(delay)
        now = time.monotonic()
        if now - self.last < HISTORY_IMPORT_JOB.setting("PROGRESS_MIN_INTERVAL") and delay <= 0:
            return
        self.last = now
        jobs.job_progress(kind=HISTORY_IMPORT_JOB, job=self.job, percent=min(percent, 99))


class _Spool:
    """The accepted records, as numpy arrays in a temporary file, read back chunk by chunk."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - lives across read and write; closed by close()
        self.chunks = 0
        self.records = 0

    def write(self, records: np.ndarray) -> None:
        if len(records):
            np.save(self.file, records, allow_pickle=False)
            self.chunks += 1
            self.records += len(records)

    def read(self) -> Iterator[np.ndarray]:
        self.file.seek(0)
        for _ in range(self.chunks):
            yield np.load(self.file, allow_pickle=False)

    def close(self) -> None:
        self.file.close()


class _Dates:
    """Every accepted date of every well with its line (compact arrays), to find a date given
    twice and, at the write, dates already stored."""

    def __init__(self) -> None:
        self.dates: list[np.ndarray] = []
        self.wells: list[np.ndarray] = []
        self.lines: list[np.ndarray] = []

    def add(self, chunk: parsing.ParsedChunk) -> None:
        self.dates.append(chunk.records["date"].copy())
        self.wells.append(chunk.records["well"].copy())
        self.lines.append(chunk.lines)

    def sorted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(well, date, line) sorted by well, date, line."""
        if not self.dates:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        wells, dates, lines = (
            np.concatenate(part).astype(np.int64) for part in (self.wells, self.dates, self.lines)
        )
        order = np.lexsort((lines, dates, wells))
        return wells[order], dates[order], lines[order]


def _pg_date(days: int) -> date:
    return date(2000, 1, 1) + np.timedelta64(int(days), "D").astype(object)


def _duplicates(wells: np.ndarray, dates: np.ndarray, lines: np.ndarray) -> list[parsing.ImportProblem]:
    same = np.flatnonzero((wells[1:] == wells[:-1]) & (dates[1:] == dates[:-1])) + 1
    problems = []
    for i in same:
        first = i - 1
        while first > 0 and wells[first - 1] == wells[i] and dates[first - 1] == dates[i]:
            first -= 1
        problems.append(
            parsing.problem(
                int(lines[i]),
                "date",
                "duplicate_date",
                _pg_date(dates[i]).isoformat(),
                f"the file gives this date twice (first on line {int(lines[first])})",
            )
        )
    return sorted(problems, key=lambda p: p.line or 0)


def _json(value: Any) -> Any:
    # A job loaded by the lifecycle's raw UPDATE ... RETURNING holds JSON columns as text.
    return json.loads(value) if isinstance(value, str) else value


def _read(job: HistoryImport, progress: _Progress) -> tuple[parsing.Header, _Spool, _Dates, list[str]]:
    """Read and check the whole file; spool what is accepted. ImportRefused on any problem."""
    log = parsing.ProblemLog()
    wells = parsing.WellIndex()
    spool, dates = _Spool(), _Dates()
    try:
        header, reader, chunks = parsing.file_read(
            pieces=_file_pieces(job.pk),
            mapping=_json(job.columns),
            multi_well=job.well_id is None,
            date_format=job.date_format,
            wells=wells,
        )
        for chunk, problems in chunks:
            log.extend(problems)
            if not log.total:
                spool.write(chunk.records)
            dates.add(chunk)
            progress.step(PARSE_SHARE * reader.bytes_read // max(job.file_size, 1))
    except parsing.FileRefused as refused:
        spool.close()
        log.add(refused.problem)
        raise ImportRefused(log) from refused
    log.extend(_duplicates(*dates.sorted()))
    if not log.total and spool.records == 0:
        log.add(parsing.problem(None, None, "empty", None, "the file has a header but no records"))
    if log.total:
        spool.close()
        raise ImportRefused(log)
    return header, spool, dates, wells.names


def _lock_wells(job: HistoryImport, header: parsing.Header, names: list[str]) -> tuple[list[int], int]:
    """The ids of the file's wells (index -> id), locked for this transaction, and how many
    were created. In id order, so two imports never deadlock."""
    table = Well._meta.db_table
    with connection.cursor() as cursor:
        if job.well_id is not None:
            cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [job.well_id])
            return [job.well_id], 0
        cursor.execute(
            f"INSERT INTO {table} (field_id, name, notes, frequency, created_at, record_count, cumulative_oil, "
            "cumulative_water, cumulative_gas) SELECT %s, name, '', %s, now(), 0, 0, 0, 0 "
            "FROM unnest(%s::text[]) AS name "
            "ON CONFLICT (field_id, name) DO NOTHING",
            [job.field_id, header.frequency, names],
        )
        created = cursor.rowcount
        cursor.execute(
            f"SELECT id, name FROM {table} WHERE field_id = %s AND name = ANY(%s) ORDER BY id FOR UPDATE",
            [job.field_id, names],
        )
        ids = {name: pk for pk, name in cursor.fetchall()}
    return [ids[name] for name in names], created


def _check_stored(
    job: HistoryImport, header: parsing.Header, ids: list[int], names: list[str], dates: _Dates
) -> list[parsing.ImportProblem]:
    """What the file cannot do to the stored history: another frequency than a well's records,
    and (append) dates already stored."""
    problems: list[parsing.ImportProblem] = []
    rows = Well.objects.filter(pk__in=ids).values_list("pk", "frequency", "record_count")
    mismatched = [pk for pk, frequency, count in rows if count and frequency != header.frequency]
    for pk in mismatched:
        label = f"well {names[ids.index(pk)]!r}" if job.well_id is None else "this well"
        stored = Frequency.MONTHLY if header.frequency == Frequency.DAILY else Frequency.DAILY
        need = "days_on" if stored == Frequency.MONTHLY else "hours_on"
        problems.append(
            parsing.problem(
                1,
                header.time_column,
                "frequency",
                None,
                f"{label} has {stored} history: send {stored} records (with {need})",
            )
        )
    if problems or job.mode != ImportMode.APPEND:
        return problems
    wells, days, lines = dates.sorted()
    table = ProductionRecord._meta.db_table
    well_ids = np.array(ids, dtype=np.int64)[wells] if len(wells) else wells
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT well_id, (date - DATE '2000-01-01') FROM {table} r "
            "JOIN unnest(%s::bigint[], %s::int[], %s::int[]) AS f(well, first, last) "
            "ON r.well_id = f.well AND r.date BETWEEN DATE '2000-01-01' + f.first "
            "AND DATE '2000-01-01' + f.last",
            _ranges(ids, well_ids, days),
        )
        stored = cursor.fetchall()
    if not stored:
        return problems
    stored_keys = np.array([pk * 1_000_000 + day for pk, day in stored], dtype=np.int64)
    keys = well_ids * 1_000_000 + days
    problems.extend(
        parsing.problem(
            int(lines[i]),
            "date",
            "already_stored",
            _pg_date(days[i]).isoformat(),
            "this date is already stored (append adds new dates only; use mode=replace to replace them)",
        )
        for i in np.flatnonzero(np.isin(keys, stored_keys))
    )
    return sorted(problems, key=lambda p: p.line or 0)


def _ranges(ids: list[int], well_ids: np.ndarray, days: np.ndarray) -> list[list[int]]:
    """Per well of the file: [ids], [first day], [last day] (PostgreSQL day numbers)."""
    wells, firsts, lasts = [], [], []
    for pk in ids:
        mine = days[well_ids == pk]
        if len(mine):
            wells.append(int(pk))
            firsts.append(int(mine.min()))
            lasts.append(int(mine.max()))
    return [wells, firsts, lasts]


# PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html): a
# header, then per row a field count and each field as (length, big-endian value). Every
# field here is fixed-width, so numpy lays out a whole chunk at once.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


def _copy_dtype(columns: tuple[str, ...]) -> np.dtype:
    parts: list[tuple[str, str]] = [
        ("fields", ">i2"),
        ("well_len", ">i4"),
        ("well", ">i8"),
        ("date_len", ">i4"),
        ("date", ">i4"),
    ]
    for name in columns:
        parts += [(f"{name}_len", ">i4"), (name, ">f4")]
    return np.dtype(parts)


def _copy(records: np.ndarray, *, ids: np.ndarray, time_column: str) -> None:
    """COPY one spooled chunk in: rows with gas and rows without it, each a binary COPY."""
    table = ProductionRecord._meta.db_table
    has_gas = ~np.isnan(records["gas"])
    for with_gas in (True, False):
        part = records[has_gas] if with_gas else records[~has_gas]
        if not len(part):
            continue
        values = ("oil", "water", "gas", "time") if with_gas else ("oil", "water", "time")
        rows = np.empty(len(part), dtype=_copy_dtype(values))
        rows["fields"] = 2 + len(values)
        rows["well_len"], rows["well"] = 8, ids[part["well"]]
        rows["date_len"], rows["date"] = 4, part["date"]
        for name in values:
            rows[f"{name}_len"], rows[name] = 4, part[name]
        columns = ", ".join(["well_id", "date", "oil", "water", *(["gas"] if with_gas else []), time_column])
        with connection.cursor() as cursor, connection.wrap_database_errors:
            cursor.cursor.copy_expert(
                f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT binary)",
                io.BytesIO(_COPY_HEADER + rows.tobytes() + _COPY_TRAILER),
            )


def wells_summary_refresh(*, well_ids: list[int]) -> None:
    """Recompute the summary of these wells from their records (one statement): first and last
    date, count, cumulative volumes, and over the last month with records the oil rate per
    producing day and the water cut."""
    wells = Well._meta.db_table
    records = ProductionRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {wells} w
               SET first_date = s.first_date, last_date = s.last_date, record_count = coalesce(s.n, 0),
                   cumulative_oil = coalesce(s.oil, 0), cumulative_water = coalesce(s.water, 0),
                   cumulative_gas = coalesce(s.gas, 0), last_month = date_trunc('month', s.last_date)::date,
                   last_month_oil_rate = m.oil_rate, last_month_water_cut = m.water_cut,
                   history_updated_at = now()
              FROM unnest(%s::bigint[]) AS target(id)
              LEFT JOIN LATERAL (
                   SELECT min(date) AS first_date, max(date) AS last_date, count(*) AS n,
                          sum(oil::float8) AS oil, sum(water::float8) AS water, sum(gas::float8) AS gas
                     FROM {records} WHERE well_id = target.id) s ON true
              LEFT JOIN LATERAL (
                   SELECT sum(oil::float8)
                          / nullif(sum(coalesce(hours_on::float8 / 24, days_on::float8)), 0) AS oil_rate,
                          sum(water::float8) / nullif(sum(oil::float8) + sum(water::float8), 0) AS water_cut
                     FROM {records}
                    WHERE well_id = target.id AND date >= date_trunc('month', s.last_date)::date) m ON true
             WHERE w.id = target.id
            """,
            [well_ids],
        )


def _write(
    job: HistoryImport, header: parsing.Header, spool: _Spool, dates: _Dates, names: list[str]
) -> None:
    """The one transaction of an import (see the module's docstring). ImportRefused when the
    stored history refuses the file; JobAbandoned when this attempt lost the job."""
    with transaction.atomic():
        ids, created = _lock_wells(job, header, names)
        problems = _check_stored(job, header, ids, names, dates)
        if problems:
            log = parsing.ProblemLog()
            log.extend(problems)
            raise ImportRefused(log)
        Well.objects.filter(pk__in=ids, record_count=0).exclude(frequency=header.frequency).update(
            frequency=header.frequency
        )
        table = ProductionRecord._meta.db_table
        if job.mode == ImportMode.REPLACE:
            wells, days, _ = dates.sorted()
            ranges = _ranges(ids, np.array(ids, dtype=np.int64)[wells], days)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {table} r USING unnest(%s::bigint[], %s::int[], %s::int[]) AS f(well, first, last) "
                    "WHERE r.well_id = f.well "
                    "AND r.date BETWEEN DATE '2000-01-01' + f.first AND DATE '2000-01-01' + f.last",
                    ranges,
                )
        id_array = np.array(ids, dtype=np.int64)
        for records in spool.read():
            _copy(records, ids=id_array, time_column=header.time_column)
        wells_summary_refresh(well_ids=ids)
        HistoryImportChunk.objects.filter(history_import_id=job.pk).delete()
        values = {"records": spool.records, "wells_created": created}
        if not jobs.job_finish(kind=HISTORY_IMPORT_JOB, job=job, values=values):
            raise JobAbandoned(f"Import {job.pk} is no longer held by this attempt.")


def _refuse(job: HistoryImport, log: parsing.ProblemLog) -> HistoryImport | None:
    """End the import failed with its problems; its file is dropped (send a corrected one)."""
    table = HistoryImport._meta.db_table
    errors = [problem.as_dict() for problem in log.kept]
    noun = "problem" if log.total == 1 else "problems"
    first = log.kept[0].message if log.kept else ""
    error = f"The file has {log.total} {noun}; nothing was imported. First: {first}"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET errors = %s::jsonb, error_count = %s WHERE id = %s AND attempt_token = %s",
                [json.dumps(errors), log.total, job.pk, job.attempt_token],
            )
        failed = jobs.job_fail(kind=HISTORY_IMPORT_JOB, job_id=job.pk, job=job, error=error)
        if failed is not None:
            HistoryImportChunk.objects.filter(history_import_id=job.pk).delete()
            failed.errors, failed.error_count = errors, log.total
    return failed


def history_import_run(*, import_id: int, resume: bool = False) -> HistoryImport | None:
    """Import one queued file end to end in this process (the `wells.import` task). Returns the
    import as this attempt left it, or None when there was nothing to do or this attempt lost
    it (cancelled, swept, claimed again)."""
    job = jobs.job_claim(kind=HISTORY_IMPORT_JOB, job_id=import_id, resume=resume)
    if job is None:
        return None
    progress = _Progress(job)
    spool: _Spool | None = None
    try:
        try:
            header, spool, dates, names = _read(job, progress)
            progress.step(PARSE_SHARE)
            _write(job, header, spool, dates, names)
        except ImportRefused as refused:
            return _refuse(job, refused.log)
        return job
    except JobAbandoned:
        logger.info("Import %s stopped: cancelled or taken over by another attempt.", import_id)
        return None
    except (OperationalError, InterfaceError):
        raise
    except SoftTimeLimitExceeded:
        error = f"The import timed out after {HISTORY_IMPORT_JOB.setting('SOFT_TIME_LIMIT'):g} s; nothing was imported."
        return jobs.job_fail(kind=HISTORY_IMPORT_JOB, job_id=import_id, job=job, error=error)
    except Exception as exc:
        logger.exception("Import %s failed", import_id)
        error = f"The import crashed ({type(exc).__name__}); nothing was imported. See the worker log."
        return jobs.job_fail(kind=HISTORY_IMPORT_JOB, job_id=import_id, job=job, error=error)
    finally:
        if spool is not None:
            spool.close()
