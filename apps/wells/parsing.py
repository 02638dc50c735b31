"""Reading a history CSV: the header, the column mapping, the values and their rules.

The file is streamed: bytes are decoded as UTF-8 piece by piece, the header is checked on its
own, and the records are parsed by pandas' C reader WELLS_IMPORT_CHUNK_ROWS at a time and checked with
vectorised rules. What a chunk yields is a numpy array of validated records (never a Python
object per record), and every problem is an `ImportProblem` naming the line, the column, the
rule and the value. Nothing here touches the database.

Lines are the file's physical lines (the header is line 1) as long as no quoted value spans
lines, which production exports never do.
"""

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from django.conf import settings

from apps.core.errors import DomainError
from apps.wells.models import DAYS_ON_MAX, HOURS_ON_MAX, NAME_MAX_LENGTH, VOLUME_MAX, Frequency

ERRORS_KEPT = 100
# Our names for a history file's columns. `hours_on` (daily) or `days_on` (monthly); `well`
# only in a multi-well file; `gas` optional.
VOLUME_COLUMNS = ("oil", "water", "gas")
TIME_COLUMNS = ("hours_on", "days_on")
COLUMNS = ("well", "date", *VOLUME_COLUMNS, *TIME_COLUMNS)
DATE_MIN = date(1900, 1, 1)
# "1,166" or "12,345,678.9": commas only as thousands separators; "1,5" is not a number here.
_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"
_PG_EPOCH = np.datetime64("2000-01-01", "D")

# A validated record as the importer stores it until the write: the well's index in the
# file's list of wells, the date as PostgreSQL days since 2000-01-01, and the values.
RECORD = np.dtype(
    [("well", "<i4"), ("date", "<i4"), ("oil", "<f4"), ("water", "<f4"), ("gas", "<f4"), ("time", "<f4")]
)


@dataclass(frozen=True)
class ImportProblem:
    line: int | None
    column: str | None
    rule: str
    value: str | None
    message: str

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "value": self.value,
            "message": self.message,
        }


@dataclass
class ProblemLog:
    """The first ERRORS_KEPT problems, in line order within each chunk, and how many in all."""

    kept: list[ImportProblem] = field(default_factory=list)
    total: int = 0

    def add(self, problem: ImportProblem) -> None:
        self.total += 1
        if len(self.kept) < ERRORS_KEPT:
            self.kept.append(problem)

    def extend(self, problems: Iterable[ImportProblem]) -> None:
        for problem in problems:
            self.add(problem)


class FileRefused(Exception):
    """A problem that stops reading the file (encoding, header, CSV structure)."""

    def __init__(self, problem: ImportProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _where(line: int | None, column: str | None) -> str:
    parts = [f"line {line}" if line else "", f"column {column}" if column else ""]
    return ", ".join(part for part in parts if part)


def problem(line: int | None, column: str | None, rule: str, value: str | None, text: str) -> ImportProblem:
    """`line 1043, column oil: must be >= 0, got -3.2`."""
    where = _where(line, column)
    got = f", got {value}" if value is not None else ""
    return ImportProblem(line, column, rule, value, f"{where + ': ' if where else ''}{text}{got}")


# --- parameters -------------------------------------------------------------------------


def columns_parse(*, value: str | None) -> dict[str, str]:
    """`"date:DATEPRD,oil:BORE_OIL_VOL"` -> {"date": "DATEPRD", "oil": "BORE_OIL_VOL"}."""
    mapping: dict[str, str] = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        ours, sep, theirs = item.partition(":")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not ours or not theirs:
            raise DomainError(
                f"columns must be pairs like date:DATEPRD, separated by commas; got {item.strip()!r}.",
                field="columns",
                rule="format",
            )
        if ours not in COLUMNS:
            raise DomainError(
                f"columns: unknown column {ours!r}; ours are {', '.join(COLUMNS)}.",
                field="columns",
                rule="allowed_values",
            )
        if ours in mapping:
            raise DomainError(f"columns: {ours!r} is mapped twice.", field="columns", rule="duplicate")
        mapping[ours] = theirs
    if len(set(mapping.values())) != len(mapping):
        raise DomainError(
            "columns: one file column is mapped to two of ours.", field="columns", rule="duplicate"
        )
    return mapping


def date_format_check(*, value: str | None) -> str:
    """A strftime format that can read a day back (`%d-%b-%y` for 07-Apr-14), or ""."""
    value = (value or "").strip()
    if not value:
        return ""
    sample = datetime(2014, 4, 7)  # noqa: DTZ001 - a day to write and read back, no instant
    try:
        parsed = datetime.strptime(sample.strftime(value), value)  # noqa: DTZ007 - the same day
    except ValueError:
        parsed = None
    if parsed is None or parsed.date() != sample.date():
        raise DomainError(
            f"date_format {value!r} cannot read a date back: give day, month and year, like %d-%b-%y or %d.%m.%Y.",
            field="date_format",
            rule="format",
        )
    return value


# --- decoding ---------------------------------------------------------------------------


class Utf8Reader:
    """A text file over an iterable of byte pieces, decoded as UTF-8 (a BOM is dropped).

    Counts the bytes and lines it has handed out, so a decoding error names its line and the
    importer can report progress.
    """

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = iter(pieces)
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._buffer = ""
        self._done = False
        self._first = True
        self.bytes_read = 0
        self.lines_read = 0  # complete lines handed out

    def _fill(self, size: int) -> None:
        while not self._done and (size < 0 or len(self._buffer) < size):
            piece = next(self._pieces, None)
            final = piece is None
            if piece is None:
                self._done = True
                piece = b""
            self.bytes_read += len(piece)
            try:
                text = self._decoder.decode(piece, final=final)
            except UnicodeDecodeError as exc:
                line = self.lines_read + self._buffer.count("\n") + piece[: exc.start].count(b"\n") + 1
                raise FileRefused(
                    problem(line, None, "encoding", None, "the file is not UTF-8 text (save it as CSV UTF-8)")
                ) from exc
            if self._first and text:
                text = text.removeprefix("\ufeff")
                self._first = False
            if "\x00" in text:
                line = self.lines_read + (self._buffer + text).split("\x00")[0].count("\n") + 1
                raise FileRefused(
                    problem(line, None, "csv", None, "the file is not a CSV text file (it holds NUL bytes)")
                )
            self._buffer += text

    def read(self, size: int = -1) -> str:
        self._fill(size)
        if size < 0:
            text, self._buffer = self._buffer, ""
        else:
            text, self._buffer = self._buffer[:size], self._buffer[size:]
        self.lines_read += text.count("\n")
        return text

    def readline(self) -> str:
        while "\n" not in self._buffer and not self._done:
            self._fill(len(self._buffer) + 65536)
        end = self._buffer.find("\n")
        end = len(self._buffer) if end < 0 else end + 1
        text, self._buffer = self._buffer[:end], self._buffer[end:]
        self.lines_read += text.count("\n")
        return text

    def __iter__(self) -> Iterator[str]:  # pandas checks for it on file-like objects
        while line := self.readline():
            yield line


# --- the header -------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """Where our columns are in the file: our name -> the file's header text."""

    sources: dict[str, str]
    frequency: str
    multi_well: bool

    @property
    def time_column(self) -> str:
        return "hours_on" if self.frequency == Frequency.DAILY else "days_on"


def _looks_like_data(cell: str) -> bool:
    text = cell.strip().replace(",", "")
    if re.fullmatch(r"[+-]?\d+(\.\d*)?", text):
        return True
    return bool(
        re.fullmatch(r"\d{1,4}[-./]\d{1,2}[-./]\d{1,4}|\d{1,2}[-./ ][A-Za-z]{3}[-./ ]\d{2,4}", cell.strip())
    )


def header_parse(*, line: str, mapping: dict[str, str], multi_well: bool) -> Header:
    """Check the header line against the columns we need; FileRefused naming what is wrong."""
    if not line.strip():
        raise FileRefused(
            problem(None, None, "empty", None, "the file is empty: send a header line and records")
        )
    try:
        names = next(csv.reader([line], strict=True))
    except csv.Error as exc:
        raise FileRefused(problem(1, None, "csv", None, f"the header is not CSV ({exc})")) from exc
    names = [name.strip() for name in names]
    if names and all(_looks_like_data(name) or not name for name in names) and any(names):
        raise FileRefused(
            problem(
                1,
                None,
                "no_header",
                line.strip()[:200],
                "the first line must be a header naming the columns "
                f"({', '.join(c for c in COLUMNS if c != 'well' or multi_well)}); it looks like data",
            )
        )
    seen: set[str] = set()
    for name in names:
        if name in seen and name:
            raise FileRefused(
                problem(1, name, "duplicate_column", None, "the header names this column twice")
            )
        seen.add(name)
    if mapping:
        sources = dict(mapping)
        for ours in COLUMNS:  # our own names count when not mapped away
            if ours not in sources and ours in seen and ours not in mapping.values():
                sources[ours] = ours
        missing_sources = [f"{theirs} (for {ours})" for ours, theirs in sources.items() if theirs not in seen]
        if missing_sources:
            raise FileRefused(
                problem(
                    1,
                    None,
                    "missing_columns",
                    None,
                    f"the mapped column(s) {', '.join(missing_sources)} are not "
                    f"in the header ({', '.join(names)})",
                )
            )
    else:
        unknown = [name for name in names if name not in COLUMNS or (name == "well" and not multi_well)]
        if unknown:
            allowed = ", ".join(c for c in COLUMNS if c != "well" or multi_well)
            raise FileRefused(
                problem(
                    1,
                    unknown[0],
                    "unknown_columns",
                    None,
                    f"unknown column(s) {', '.join(unknown)}; the columns "
                    f"are {allowed} (map other names with the columns parameter)",
                )
            )
        sources = {name: name for name in names}
    if "well" in sources and not multi_well:
        raise FileRefused(
            problem(
                1,
                "well",
                "unknown_columns",
                None,
                "a well column belongs in a multi-well file (POST /api/wells/import)",
            )
        )
    times = [column for column in TIME_COLUMNS if column in sources]
    if len(times) == 2:
        raise FileRefused(
            problem(
                1, None, "time_columns", None, "give hours_on (daily history) or days_on (monthly), not both"
            )
        )
    required = ["well"] if multi_well else []
    required += ["date", "oil", "water"]
    missing = [column for column in required if column not in sources]
    if not times:
        missing.append("hours_on or days_on")
    if missing:
        raise FileRefused(
            problem(
                1,
                None,
                "missing_columns",
                None,
                f"missing column(s) {', '.join(missing)} (the header has {', '.join(names)})",
            )
        )
    frequency = Frequency.DAILY if times[0] == "hours_on" else Frequency.MONTHLY
    return Header(sources=sources, frequency=frequency, multi_well=multi_well)


# --- the records ------------------------------------------------------------------------


@dataclass
class ParsedChunk:
    records: np.ndarray  # RECORD
    lines: np.ndarray  # the file line of each record
    wells: list[str]  # the file's wells so far (multi-well files), indexed by `records["well"]`


class WellIndex:
    """Numbers the wells of a multi-well file in the order they first appear."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}

    def codes(self, names: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each record's well index, and which names are empty or too long (stripped)."""
        codes, uniques = pd.factorize(names)  # hashing whole strings: only the few uniques are looked at
        stripped = [str(name).strip() for name in uniques]
        mapped = np.array(
            [self._index.setdefault(name, len(self._index)) if name else -1 for name in stripped],
            dtype=np.int32,
        )
        self.names = list(self._index)
        bad_empty = np.array([not name for name in stripped], dtype=bool)
        bad_long = np.array([len(name) > NAME_MAX_LENGTH for name in stripped], dtype=bool)
        return np.maximum(mapped[codes], 0), bad_empty[codes], bad_long[codes]


def _numbers(
    text: pd.Series, *, column: str, lines: np.ndarray, log: list[ImportProblem]
) -> tuple[np.ndarray, np.ndarray]:
    """The column as float64 (NaN where empty), and where it is empty; problems for what is
    not a finite number."""
    raw = text.to_numpy(dtype=object)
    try:
        # Fast path, the usual file: every value a plain number (Python's float(), in C).
        values = raw.astype(np.float64)
        if np.isfinite(values).all():
            return values, np.zeros(len(raw), dtype=bool)
    except (ValueError, TypeError):
        pass
    stripped = text.str.strip()
    commas = stripped.str.contains(",", regex=False).to_numpy()
    if commas.any():
        good = stripped.str.fullmatch(_THOUSANDS).to_numpy()
        stripped = stripped.str.replace(",", "", regex=False)
        bad_commas = commas & ~good
    else:
        bad_commas = np.zeros(len(text), dtype=bool)
    values = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    empty = (stripped == "").to_numpy()
    bad = (~empty & ~np.isfinite(values)) | bad_commas
    log.extend(
        problem(int(lines[i]), column, "number", text.iat[i], "must be a number (like 1234.5 or 1,234.5)")
        for i in np.flatnonzero(bad)
    )
    values[bad] = np.nan
    return values, empty


def _range_problems(
    values: np.ndarray,
    ok: np.ndarray,
    *,
    column: str,
    rule_text: str,
    text: pd.Series,
    lines: np.ndarray,
    log: list[ImportProblem],
    rule: str = "range",
) -> None:
    log.extend(problem(int(lines[i]), column, rule, text.iat[i], rule_text) for i in np.flatnonzero(~ok))


def chunk_parse(
    *, frame: pd.DataFrame, header: Header, date_format: str, wells: WellIndex, today: date
) -> tuple[ParsedChunk, list[ImportProblem]]:
    """Validate one chunk of records (columns renamed to ours, all text)."""
    lines = frame.index.to_numpy(dtype=np.int64) + 2
    found: list[ImportProblem] = []
    size = len(frame)
    records = np.zeros(size, dtype=RECORD)
    valid = np.ones(size, dtype=bool)

    if header.multi_well:
        codes, empty, long = wells.codes(frame["well"])
        found.extend(
            problem(int(lines[i]), "well", "required", None, "the well's name is missing")
            for i in np.flatnonzero(empty)
        )
        found.extend(
            problem(
                int(lines[i]),
                "well",
                "too_long",
                frame["well"].iat[i].strip()[:40] + "…",
                f"a well's name is at most {NAME_MAX_LENGTH} characters",
            )
            for i in np.flatnonzero(long)
        )
        valid &= ~(empty | long)
        records["well"] = codes

    raw_dates = frame["date"]
    date_pattern = date_format or "%Y-%m-%d"
    parsed = pd.to_datetime(raw_dates, format=date_pattern, errors="coerce")
    expected = (
        f"must be a date in the format {date_format}"
        if date_format
        else "must be a date like 2014-04-07 (YYYY-MM-DD)"
    )
    days = parsed.to_numpy(dtype="datetime64[D]")
    missing = np.isnat(days)
    if missing.any():  # values with spaces around them get a second chance, stripped
        retry = pd.to_datetime(raw_dates[missing].str.strip(), format=date_pattern, errors="coerce")
        days[missing] = retry.to_numpy(dtype="datetime64[D]")
        missing = np.isnat(days)
    for i in np.flatnonzero(missing):
        value = raw_dates.iat[i].strip()
        if value == "":
            found.append(problem(int(lines[i]), "date", "required", None, "the date is missing"))
        else:
            found.append(problem(int(lines[i]), "date", "date", raw_dates.iat[i], expected))
    valid &= ~missing
    ok_days = np.where(missing, _PG_EPOCH, days)
    early = ok_days < np.datetime64(DATE_MIN, "D")
    late = ok_days > np.datetime64(today, "D")
    found.extend(
        problem(
            int(lines[i]),
            "date",
            "date_range",
            frame["date"].iat[i],
            f"must be on or after {DATE_MIN.isoformat()}",
        )
        for i in np.flatnonzero(early & ~missing)
    )
    found.extend(
        problem(int(lines[i]), "date", "future", frame["date"].iat[i], "must not be in the future")
        for i in np.flatnonzero(late & ~missing)
    )
    valid &= ~(early | late)
    records["date"] = (ok_days - _PG_EPOCH).astype(np.int32)

    for column in VOLUME_COLUMNS:
        if column not in frame:
            records[column] = np.nan
            continue
        text = frame[column]
        values, empty = _numbers(text, column=column, lines=lines, log=found)
        if column != "gas":
            found.extend(
                problem(
                    int(lines[i]),
                    column,
                    "required",
                    None,
                    f"the {column} volume is missing (write 0 for none)",
                )
                for i in np.flatnonzero(empty)
            )
            valid &= ~empty
        finite = np.isfinite(values)
        negative = finite & (values < 0)
        huge = finite & (values > VOLUME_MAX)
        _range_problems(
            values,
            ~negative,
            column=column,
            rule_text="must be >= 0",
            text=text,
            lines=lines,
            log=found,
            rule="min",
        )
        _range_problems(
            values,
            ~huge,
            column=column,
            rule_text=f"must be at most {VOLUME_MAX:.0e}",
            text=text,
            lines=lines,
            log=found,
            rule="max",
        )
        valid &= ~(negative | huge) & (finite | empty)
        records[column] = values

    time_column = header.time_column
    text = frame[time_column]
    values, empty = _numbers(text, column=time_column, lines=lines, log=found)
    found.extend(
        problem(
            int(lines[i]),
            time_column,
            "required",
            None,
            "the time on stream is missing (write 0 for a shut-in)",
        )
        for i in np.flatnonzero(empty)
    )
    finite = np.isfinite(values)
    if header.frequency == Frequency.DAILY:
        out = finite & ((values < 0) | (values > HOURS_ON_MAX))
        _range_problems(
            values,
            ~out,
            column=time_column,
            rule_text=f"must be from 0 to {HOURS_ON_MAX}",
            text=text,
            lines=lines,
            log=found,
        )
    else:
        month_days = (
            (ok_days.astype("datetime64[M]") + 1).astype("datetime64[D]")
            - ok_days.astype("datetime64[M]").astype("datetime64[D]")
        ).astype(np.int64)
        out = finite & ((values < 0) | (values > np.minimum(month_days, DAYS_ON_MAX)))
        _range_problems(
            values,
            ~out,
            column=time_column,
            rule_text="must be from 0 to the days in the month",
            text=text,
            lines=lines,
            log=found,
        )
        not_first = ~missing & (ok_days != ok_days.astype("datetime64[M]").astype("datetime64[D]"))
        found.extend(
            problem(
                int(lines[i]),
                "date",
                "first_of_month",
                frame["date"].iat[i],
                "monthly history is dated the first of the month",
            )
            for i in np.flatnonzero(not_first)
        )
        valid &= ~not_first
    valid &= finite & ~out
    records["time"] = values

    found.sort(key=lambda p: (p.line or 0, COLUMNS.index(p.column) if p.column in COLUMNS else 99))
    keep = np.flatnonzero(valid) if found else slice(None)
    return ParsedChunk(records=records[keep], lines=lines[keep], wells=wells.names), found


def file_read(
    *,
    pieces: Iterable[bytes],
    mapping: dict[str, str],
    multi_well: bool,
    date_format: str,
    wells: WellIndex,
    today: date | None = None,
) -> tuple[Header, Utf8Reader, Iterator[tuple[ParsedChunk, list[ImportProblem]]]]:
    """Read and check the header (FileRefused when it is wrong); then the records come chunk
    by chunk, validated, from the returned iterator (which raises FileRefused for a file that
    stops being CSV). The reader tells how far it got (`bytes_read`)."""
    reader = Utf8Reader(pieces)
    line = reader.readline()
    header = header_parse(line=line, mapping=mapping, multi_well=multi_well)
    names = [name.strip() for name in next(csv.reader([line]))]
    return (
        header,
        reader,
        _chunks(
            reader=reader,
            header=header,
            names=names,
            date_format=date_format,
            wells=wells,
            today=today or datetime.now(UTC).date(),
        ),
    )


def _chunks(
    *, reader: Utf8Reader, header: Header, names: list[str], date_format: str, wells: WellIndex, today: date
) -> Iterator[tuple[ParsedChunk, list[ImportProblem]]]:
    # Every column is read (no `usecols`): pandas then refuses a line with more fields than
    # the first one instead of silently dropping the extra ones.
    positions = {ours: names.index(theirs) for ours, theirs in header.sources.items()}
    try:
        frames = pd.read_csv(
            reader,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            chunksize=settings.WELLS_IMPORT_CHUNK_ROWS,
            engine="c",
            skip_blank_lines=True,
            index_col=False,
        )
        for frame in frames:
            if frame.shape[1] != len(names):
                line = int(frame.index[0]) + 2
                raise FileRefused(
                    problem(
                        line,
                        None,
                        "csv",
                        None,
                        f"the line has {frame.shape[1]} fields, the header {len(names)}",
                    )
                )
            ours_only = pd.DataFrame({ours: frame.iloc[:, i] for ours, i in positions.items()}).fillna("")
            yield chunk_parse(
                frame=ours_only, header=header, date_format=date_format, wells=wells, today=today
            )
    except pd.errors.EmptyDataError:  # a header and nothing else: no records (the importer says so)
        return
    except pd.errors.ParserError as exc:
        message = str(exc).strip().splitlines()[0]
        match = re.search(r"line (\d+)", message)
        where = int(match.group(1)) + 1 if match else None
        raise FileRefused(
            problem(where, None, "csv", None, f"the file is not valid CSV ({message})")
        ) from exc
