"""Importing history files: what is accepted, what is refused (nothing written), modes."""

from datetime import date, timedelta

import pytest

from apps.jobs.models import JobStatus
from apps.wells.models import HistoryImportChunk, ProductionRecord, Well
from tests.wells.conftest import csv_bytes


def stored(well) -> list[tuple]:
    return list(
        ProductionRecord.objects.filter(well=well)
        .order_by("date")
        .values_list("date", "oil", "water", "gas", "hours_on")
    )


def test_it_imports_a_daily_file_and_keeps_the_wells_figures(well, run_import):
    done = run_import(
        csv_bytes("2020-01-01,100,50,1000,24", "2020-01-02,80,20,,12", "2020-01-03,0,0,0,0"), well=well
    )
    assert (done.status, done.records, done.progress, done.error_count) == (JobStatus.FINISHED, 3, 100, 0)
    assert stored(well) == [
        (date(2020, 1, 1), 100, 50, 1000, 24),
        (date(2020, 1, 2), 80, 20, None, 12),
        (date(2020, 1, 3), 0, 0, 0, 0),
    ]
    well.refresh_from_db()
    assert (well.first_date, well.last_date, well.record_count) == (date(2020, 1, 1), date(2020, 1, 3), 3)
    assert (well.cumulative_oil, well.cumulative_water, well.cumulative_gas) == (180, 70, 1000)
    # January: 180 m3 of oil over 1.5 producing days; the shut-in day counts for nothing.
    assert well.last_month == date(2020, 1, 1) and well.last_month_oil_rate == 120
    assert well.last_month_water_cut == pytest.approx(70 / 250)
    assert not HistoryImportChunk.objects.filter(history_import=done).exists()


def test_columns_come_in_any_order(well, run_import):
    done = run_import(csv_bytes("12,2020-01-01,3,4", header="hours_on,date,water,oil\n"), well=well)
    assert done.status == JobStatus.FINISHED
    assert stored(well) == [(date(2020, 1, 1), 4, 3, None, 12)]


def test_a_mapping_date_format_and_thousands_separators_read_an_export(well, run_import):
    content = (
        b"DATEPRD,WELL_BORE_CODE,ON_STREAM_HRS,BORE_OIL_VOL,BORE_GAS_VOL,BORE_WAT_VOL,AVG_CHOKE\n"
        b'07-Apr-14,NO 15/9-F-1 C,24,"1,166","172,800",0,33.1\n'
        b'08-Apr-14,NO 15/9-F-1 C,23.5,"1,002.5","150,000",12,33.1\n'
    )
    done = run_import(
        content,
        well=well,
        columns="date:DATEPRD,oil:BORE_OIL_VOL,water:BORE_WAT_VOL,gas:BORE_GAS_VOL,hours_on:ON_STREAM_HRS",
        date_format="%d-%b-%y",
    )
    assert done.status == JobStatus.FINISHED, done.errors
    assert stored(well) == [
        (date(2014, 4, 7), 1166, 0, 172800, 24),
        (date(2014, 4, 8), 1002.5, 12, 150000, 23.5),
    ]


def test_append_adds_new_dates_after_the_stored_ones(well, run_import):
    run_import(csv_bytes("2020-01-01,1,1,,24"), well=well)
    done = run_import(csv_bytes("2020-01-02,2,2,,24"), well=well)
    assert done.status == JobStatus.FINISHED and len(stored(well)) == 2


def test_append_refuses_dates_already_stored_and_writes_nothing(well, run_import):
    run_import(csv_bytes("2020-01-01,1,1,,24", "2020-01-02,1,1,,24"), well=well)
    done = run_import(csv_bytes("2020-01-02,5,5,,24", "2020-01-03,5,5,,24"), well=well)
    assert done.status == JobStatus.FAILED and done.error_count == 1
    assert done.errors[0] == {
        "line": 2,
        "column": "date",
        "rule": "already_stored",
        "value": "2020-01-02",
        "message": "line 2, column date: this date is already stored (append adds new dates only; use mode=replace "
        "to replace them), got 2020-01-02",
    }
    assert [row[1] for row in stored(well)] == [1, 1]


def test_replace_replaces_the_files_date_range_only(well, run_import):
    run_import(csv_bytes(*(f"2020-01-0{day},{day},0,,24" for day in range(1, 6))), well=well)
    done = run_import(csv_bytes("2020-01-02,20,0,,24", "2020-01-04,40,0,,24"), well=well, mode="replace")
    assert done.status == JobStatus.FINISHED and done.records == 2
    assert [(row[0].day, row[1]) for row in stored(well)] == [(1, 1), (2, 20), (4, 40), (5, 5)]
    well.refresh_from_db()
    assert well.record_count == 4 and well.cumulative_oil == 66


def test_a_monthly_well_takes_days_on_dated_the_first(monthly_well, run_import):
    done = run_import(
        csv_bytes("2020-01-01,310,0,,31", "2020-02-01,290,10,,29", header="date,oil,water,gas,days_on\n"),
        well=monthly_well,
    )
    assert done.status == JobStatus.FINISHED
    monthly_well.refresh_from_db()
    assert monthly_well.last_month_oil_rate == 10 and monthly_well.record_count == 2


def test_a_multi_well_file_creates_its_wells_in_the_field(db, well, run_import):
    content = csv_bytes(
        "A-1,2020-01-01,1,0,,24",
        "B-2,2020-01-01,2,0,,24",
        "B-2,2020-01-02,3,0,,24",
        header="well,date,oil,water,gas,hours_on\n",
    )
    done = run_import(content, field="North")
    assert done.status == JobStatus.FINISHED and (done.records, done.wells_created) == (3, 1)
    created = Well.objects.get(field__name="North", name="B-2")
    assert created.record_count == 2 and created.field.well_count == 2
    assert len(stored(well)) == 1


BAD_FILES = [
    (b"", "file", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", None, "encoding"),
    (b"date,oil,water,hours_on\n2020-01-01,1,\xe9,24\n", None, "encoding"),
    (b"date,oil,water,hours_on\n2020-01-01,1,1\x00,24\n", None, "csv"),
    (b"date,oil,water,hours_on\n", None, "empty"),
    (b"2020-01-01,1,2,24\n2020-01-02,1,2,24\n", None, "no_header"),
    (b"date,oil,hours_on\n2020-01-01,1,24\n", None, "missing_columns"),
    (b"date,oil,water,hours_on,choke\n2020-01-01,1,1,24,3\n", "choke", "unknown_columns"),
    (b"date,oil,water,hours_on\n2020-13-01,1,1,24\n", "date", "date"),
    (b"date,oil,water,hours_on\n2020-01-01,-3.2,1,24\n", "oil", "min"),
    (b"date,oil,water,hours_on\n2020-01-01,1,1,25.5\n", "hours_on", "range"),
    (b"date,oil,water,hours_on\n2020-01-01,1,1,24\n2020-01-01,2,2,24\n", "date", "duplicate_date"),
    (b"date,oil,water,hours_on\n2020-01-01,1,1,24\n2020-01-02,1,1,24,9\n", None, "csv"),
    (b"date,oil,water,hours_on\n2099-01-01,1,1,24\n", "date", "future"),
    (b"date,oil,water,hours_on\n2020-01-01,abc,1,24\n", "oil", "number"),
    (b"date,oil,water,hours_on\n2020-01-01,,1,24\n", "oil", "required"),
]


@pytest.mark.parametrize(("content", "column", "rule"), BAD_FILES)
def test_a_bad_file_is_refused_naming_the_rule_and_nothing_is_written(
    well, run_import, content, column, rule
):
    run_import(csv_bytes("2019-01-01,1,1,,24"), well=well)
    if rule == "empty" and content == b"":
        from apps.core.errors import DomainError
        from apps.wells.services import history_import_create

        with pytest.raises(DomainError) as refused:
            history_import_create(stream=[content], well_id=well.pk)
        assert (refused.value.errors[0].field, refused.value.errors[0].rule) == ("file", "empty")
        return
    done = run_import(content, well=well)
    assert done.status == JobStatus.FAILED
    assert (done.errors[0]["column"], done.errors[0]["rule"]) == (column, rule), done.errors
    assert "nothing was imported" in done.error
    assert len(stored(well)) == 1


def test_a_daily_file_for_a_monthly_well_is_refused(monthly_well, run_import):
    run_import(csv_bytes("2020-01-01,1,1,,31", header="date,oil,water,gas,days_on\n"), well=monthly_well)
    done = run_import(csv_bytes("2020-02-01,1,1,,24"), well=monthly_well)
    assert done.status == JobStatus.FAILED
    assert (done.errors[0]["rule"], done.errors[0]["column"]) == ("frequency", "hours_on")


def test_monthly_records_must_be_dated_the_first(monthly_well, run_import):
    done = run_import(
        csv_bytes("2020-01-15,1,1,,10", header="date,oil,water,gas,days_on\n"), well=monthly_well
    )
    assert done.errors[0]["rule"] == "first_of_month"


def test_errors_keep_the_first_hundred_and_count_them_all(well, run_import):
    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(250)]
    done = run_import(csv_bytes(*(f"{day},-{i},0,,24" for i, day in enumerate(days, 1))), well=well)
    assert done.error_count == 250 and len(done.errors) == 100
    assert done.errors[0]["message"] == "line 2, column oil: must be >= 0, got -1"
    assert done.errors[99]["line"] == 101
    assert "The file has 250 problems" in done.error
