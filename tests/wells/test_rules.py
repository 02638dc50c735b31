"""The smaller rules: well names, parameters, headers, multi-well files, the lifecycle's
repairs and a crash."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import ConflictError, DomainError
from apps.jobs.models import JobStatus
from apps.wells import parsing, services
from apps.wells.models import HistoryImport, HistoryImportChunk
from apps.wells.services import history_import_create, history_import_run, history_imports_sweep, well_create
from tests.wells.conftest import csv_bytes


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"name": " ", "field": "N"}, "name", "required"),
        ({"name": "A\x01", "field": "N"}, "name", "invalid_characters"),
        ({"name": "A" * 201, "field": "N"}, "name", "string_too_long"),
        ({"name": "A", "field": ""}, "field", "required"),
        ({"name": "A", "field": "N", "frequency": "weekly"}, "frequency", "literal_error"),
    ],
)
def test_a_well_needs_a_name_a_field_and_a_frequency(db, kwargs, field, rule):
    with pytest.raises(DomainError) as refused:
        well_create(**kwargs)
    assert (refused.value.errors[0].field, refused.value.errors[0].rule) == (field, rule)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("date:A,date:B", "duplicate"),
        ("date:A,oil:A", "duplicate"),
        ("date:", "format"),
        ("when:A", "allowed_values"),
    ],
)
def test_a_bad_column_mapping_is_refused(value, rule):
    with pytest.raises(DomainError) as refused:
        parsing.columns_parse(value=value)
    assert refused.value.errors[0].rule == rule


def test_a_mapping_reads_blanks_and_pairs():
    assert parsing.columns_parse(value=" date : D , ,oil:O") == {"date": "D", "oil": "O"}
    assert parsing.date_format_check(value=" %d.%m.%Y ") == "%d.%m.%Y"
    with pytest.raises(DomainError):
        parsing.date_format_check(value="%Y")


@pytest.mark.parametrize(
    ("header", "mapping", "multi", "rule"),
    [
        ("date,oil,oil,water,hours_on", {}, False, "duplicate_column"),
        ("date,oil,water,hours_on,days_on", {}, False, "time_columns"),
        ("well,date,oil,water,hours_on", {}, False, "unknown_columns"),
        ("date,oil,water,hours_on", {}, True, "missing_columns"),
        ("D,O,W,H", {"date": "D", "oil": "O", "water": "W", "hours_on": "HRS"}, False, "missing_columns"),
        ('"date,oil', {}, False, "csv"),
    ],
)
def test_a_header_is_checked_before_any_record(header, mapping, multi, rule):
    with pytest.raises(parsing.FileRefused) as refused:
        parsing.header_parse(line=header + "\n", mapping=mapping, multi_well=multi)
    assert refused.value.problem.rule == rule


def test_a_mapping_keeps_our_own_names_that_are_not_mapped_away():
    header = parsing.header_parse(line="D,oil,water,hours_on,X\n", mapping={"date": "D"}, multi_well=False)
    assert header.sources == {"date": "D", "oil": "oil", "water": "water", "hours_on": "hours_on"}


def test_a_multi_well_file_names_each_records_well(db, run_import):
    content = csv_bytes(
        ",2020-01-01,1,0,,24", f"{'L' * 201},2020-01-01,1,0,,24", header="well,date,oil,water,gas,hours_on\n"
    )
    done = run_import(content, field="North")
    assert [(e["line"], e["rule"]) for e in done.errors] == [(2, "required"), (3, "too_long")]


def test_dates_with_spaces_and_other_formats_are_read(well, run_import):
    done = run_import(csv_bytes(" 2020-01-01 ,1, 2 ,,24"), well=well)
    assert done.status == JobStatus.FINISHED
    bad = run_import(csv_bytes("01/02/2020,1,1,,24"), well=well, date_format="%d.%m.%Y")
    assert (
        bad.errors[0]["message"]
        == "line 2, column date: must be a date in the format %d.%m.%Y, got 01/02/2020"
    )


def test_monthly_days_on_cannot_exceed_the_month(monthly_well, run_import):
    done = run_import(
        csv_bytes("2021-02-01,1,1,,29", header="date,oil,water,gas,days_on\n"), well=monthly_well
    )
    assert (done.errors[0]["rule"], done.errors[0]["column"]) == ("range", "days_on")


def test_a_crash_fails_the_import_with_a_readable_reason_and_writes_nothing(well, monkeypatch):
    accepted = history_import_create(stream=[csv_bytes("2020-01-01,1,1,,24")], well_id=well.pk)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "_copy", broken)
    done = history_import_run(import_id=accepted.pk)
    assert done.status == JobStatus.FAILED
    assert done.error == "The import crashed (RuntimeError); nothing was imported. See the worker log."
    assert not well.records.exists()


def test_an_import_that_lost_its_job_writes_nothing(well, monkeypatch):
    accepted = history_import_create(stream=[csv_bytes("2020-01-01,1,1,,24")], well_id=well.pk)
    real = services.wells_summary_refresh

    def cancelled_meanwhile(**kwargs):
        real(**kwargs)
        HistoryImport.objects.filter(pk=accepted.pk).update(status=JobStatus.CANCELLED, attempt_token=None)

    monkeypatch.setattr(services, "wells_summary_refresh", cancelled_meanwhile)
    assert history_import_run(import_id=accepted.pk) is None
    assert not well.records.exists()


def test_the_sweep_requeues_a_lost_import_and_drops_files_of_ended_ones(well, settings):
    lost = history_import_create(stream=[csv_bytes("2020-01-01,1,1,,24")], well_id=well.pk)
    HistoryImport.objects.filter(pk=lost.pk).update(
        status=JobStatus.RUNNING,
        attempts=1,
        updated_at=timezone.now() - timedelta(seconds=services.HISTORY_IMPORT_JOB.setting("STALE_AFTER") + 5),
    )
    other = well_create(name="B-1", field="North")
    ended = history_import_create(stream=[csv_bytes("2020-01-01,1,1,,24")], well_id=other.pk)
    HistoryImport.objects.filter(pk=ended.pk).update(status=JobStatus.CANCELLED)
    counts = history_imports_sweep()
    assert counts["requeued"] == 1
    assert HistoryImport.objects.get(pk=lost.pk).status == JobStatus.QUEUED
    assert not HistoryImportChunk.objects.filter(history_import=ended).exists()
    assert HistoryImportChunk.objects.filter(history_import=lost).exists()


def test_a_cancelled_import_cannot_be_cancelled_again(well):
    accepted = history_import_create(stream=[csv_bytes("2020-01-01,1,1,,24")], well_id=well.pk)
    services.history_import_cancel(import_id=accepted.pk)
    with pytest.raises(ConflictError):
        services.history_import_cancel(import_id=accepted.pk)


def test_the_reader_decodes_in_pieces_and_iterates_lines():
    reader = parsing.Utf8Reader([b"a,b\n1,", b"2\n\xc3", b"\xa9\n"])
    assert reader.readline() == "a,b\n" and list(reader) == ["1,2\n", "é\n"]
    assert parsing.Utf8Reader([b"\xef\xbb\xbfx\ny"]).read() == "x\ny"
    with pytest.raises(DomainError):
        parsing.date_format_check(value="%Q")


@pytest.mark.parametrize(
    ("header", "mapping", "rule"),
    [
        ("\n", {}, "empty"),
        ("D,well,oil,water,hours_on", {"date": "D"}, "unknown_columns"),
        ("date,oil,water", {}, "missing_columns"),
    ],
)
def test_more_headers_are_refused(header, mapping, rule):
    with pytest.raises(parsing.FileRefused) as refused:
        parsing.header_parse(line=header, mapping=mapping, multi_well=False)
    assert refused.value.problem.rule == rule


@pytest.mark.parametrize(
    ("line", "column", "rule"),
    [
        (",1,1,,24", "date", "required"),
        ("1899-12-31,1,1,,24", "date", "date_range"),
        ("2020-01-01,inf,1,,24", "oil", "number"),
        ("2020-01-01,1,1,,", "hours_on", "required"),
        ("2020-01-01,1,1,-2,24", "gas", "min"),
    ],
)
def test_more_values_are_refused(well, run_import, line, column, rule):
    done = run_import(csv_bytes(line), well=well)
    assert (done.errors[0]["column"], done.errors[0]["rule"]) == (column, rule)


def test_import_parameters_are_checked_before_the_file_is_stored(well):
    with pytest.raises(DomainError) as refused:
        history_import_create(stream=[b"x"], well_id=well.pk, mode="merge")
    assert refused.value.errors[0].field == "mode"
    with pytest.raises(DomainError) as refused:
        history_import_create(stream=[b"x"], well_id=well.pk, columns="well:W")
    assert refused.value.errors[0].rule == "allowed_values"
    assert not HistoryImport.objects.exists()


def test_a_file_object_is_stored_in_pieces(well, monkeypatch):
    import io

    monkeypatch.setattr(services, "CHUNK_BYTES", 10)
    content = csv_bytes(*(f"2020-01-{day:02d},1,1,,24" for day in range(1, 29)))
    accepted = history_import_create(stream=io.BytesIO(content), well_id=well.pk)
    pieces = list(
        HistoryImportChunk.objects.filter(history_import=accepted)
        .order_by("seq")
        .values_list("data", flat=True)
    )
    assert len(pieces) > 8 and b"".join(bytes(p) for p in pieces) == content
    assert history_import_run(import_id=accepted.pk).records == 28


def test_the_tasks_run_the_services(well):
    from apps.wells.tasks import history_import_run_task, history_imports_sweep_task

    accepted = history_import_create(stream=[csv_bytes("2020-01-01,1,1,,24")], well_id=well.pk)
    history_import_run_task.apply(args=[accepted.pk])
    assert HistoryImport.objects.get(pk=accepted.pk).status == JobStatus.FINISHED
    assert history_imports_sweep_task.apply().get()["requeued"] == 0


def test_an_import_past_its_soft_time_limit_fails_as_timed_out(well, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    accepted = history_import_create(stream=[csv_bytes("2020-01-01,1,1,,24")], well_id=well.pk)

    def too_slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "_write", too_slow)
    done = history_import_run(import_id=accepted.pk)
    assert done.status == JobStatus.FAILED and done.error.startswith("The import timed out after 1800 s")


def test_field_well_counts_stay_exact_across_creates_moves_and_deletes(db):
    from apps.wells.models import OilField, Well

    wells = [well_create(name=f"C-{i}", field="North") for i in range(3)]
    south = OilField.objects.create(name="South")
    Well.objects.filter(pk=wells[0].pk).update(field=south)
    Well.objects.filter(pk=wells[1].pk).delete()
    counts = dict(OilField.objects.values_list("name", "well_count"))
    assert counts == {"North": 1, "South": 1}
    assert counts["North"] == Well.objects.filter(field__name="North").count()
