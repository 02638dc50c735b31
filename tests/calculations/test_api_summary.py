"""`?fields=summary`: figures computed by PostgreSQL, checked against the rows in Python."""

from datetime import date, timedelta

import pytest

from apps.calculations.models import CalculationRow
from apps.jobs.models import JobStatus
from tests.calculations.conftest import body


def summary_of(api_client, pk: int, fields: str = "summary") -> dict | None:
    response = api_client.get(f"/api/calculations/{pk}?fields={fields}")
    assert response.status_code == 200, response.content
    return body(response)["summary"]


def expected_summary(calculation) -> dict:
    """The figures, computed here independently from the stored rows."""
    rows = list(CalculationRow.objects.filter(calculation=calculation).order_by("date"))
    # Each row stands for `lag` days; the last one only up to date_fin inclusive.
    steps = [min(calculation.lag, (calculation.date_fin - row.date).days + 1) for row in rows]
    peak = max(rows, key=lambda row: (row.liquid, -row.date.toordinal()))
    first, last = rows[0], rows[-1]
    return {
        "rows": len(rows),
        "first_date": first.date.isoformat(),
        "last_date": last.date.isoformat(),
        "cumulative_oil": sum(row.oil * step for row, step in zip(rows, steps, strict=True)),
        "cumulative_water": sum(row.water * step for row, step in zip(rows, steps, strict=True)),
        "cumulative_liquid": sum(row.liquid * step for row, step in zip(rows, steps, strict=True)),
        "wct_first": first.wct,
        "wct_last": last.wct,
        "wct_mean": sum(row.wct for row in rows) / len(rows),
        "peak_liquid": peak.liquid,
        "peak_liquid_date": peak.date.isoformat(),
        "oil_decline": (first.oil - last.oil) / first.oil * 100,
        "total_days": sum(steps),
    }


@pytest.mark.parametrize(
    ("date_start", "date_fin", "lag"),
    [
        (date(2020, 1, 1), date(2029, 12, 31), 1),  # ten years, daily
        (date(2020, 1, 1), date(2021, 3, 3), 7),  # the last row covers 3 days, not 7
        (date(2024, 5, 5), date(2024, 5, 5), 30),  # one row, one day
    ],
)
def test_the_summary_matches_figures_computed_from_the_rows(
    api_client, make_finished, date_start, date_fin, lag
):
    calculation = make_finished(date_start=date_start, date_fin=date_fin, lag=lag)
    summary = summary_of(api_client, calculation.pk)
    expected = expected_summary(calculation)

    # The steps add up to the run's period exactly.
    assert expected.pop("total_days") == (date_fin - date_start).days + 1
    assert set(summary) == set(expected)
    for name in (
        "rows",
        "first_date",
        "last_date",
        "wct_first",
        "wct_last",
        "peak_liquid",
        "peak_liquid_date",
    ):
        assert summary[name] == expected[name], name
    for name in ("cumulative_oil", "cumulative_water", "cumulative_liquid", "wct_mean", "oil_decline"):
        assert summary[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-9), name


def test_the_summary_reads_like_a_declining_well(api_client, make_finished):
    calculation = make_finished(date_start=date(2020, 1, 1), date_fin=date(2029, 12, 31), lag=1)
    summary = summary_of(api_client, calculation.pk)
    assert summary["cumulative_liquid"] == pytest.approx(
        summary["cumulative_oil"] + summary["cumulative_water"]
    )
    assert 0 <= summary["wct_first"] < summary["wct_mean"] < summary["wct_last"] <= 1
    assert 0 < summary["oil_decline"] < 100


def test_the_peak_is_the_first_date_of_the_highest_rate_and_a_zero_first_oil_rate_has_no_decline(
    api_client, make_calculation
):
    calculation = make_calculation(
        status=JobStatus.FINISHED, date_start=date(2021, 1, 1), date_fin=date(2021, 1, 4), lag=1
    )
    values = [(10.0, 0.0), (50.0, 5.0), (50.0, 40.0), (20.0, 10.0)]  # (liquid, oil)
    CalculationRow.objects.bulk_create(
        CalculationRow(
            calculation=calculation,
            date=date(2021, 1, 1) + timedelta(days=index),
            liquid=liquid,
            oil=oil,
            water=liquid - oil,
            wct=(liquid - oil) / liquid,
        )
        for index, (liquid, oil) in enumerate(values)
    )
    summary = summary_of(api_client, calculation.pk)
    assert summary["peak_liquid"] == 50.0 and summary["peak_liquid_date"] == "2021-01-02"
    assert summary["oil_decline"] is None
    assert summary["cumulative_oil"] == 55.0


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED])
def test_an_unfinished_run_has_a_null_summary(api_client, make_calculation, status):
    calculation = make_calculation(status=status)
    assert summary_of(api_client, calculation.pk) is None


def test_a_finished_run_without_rows_has_a_null_summary(api_client, make_calculation):
    calculation = make_calculation(status=JobStatus.FINISHED)
    assert summary_of(api_client, calculation.pk) is None


def test_the_summary_is_only_there_when_asked_for_and_combines_with_other_fields(api_client, make_finished):
    calculation = make_finished(date_start=date(2020, 1, 1), date_fin=date(2020, 1, 31), lag=1)
    plain = body(api_client.get(f"/api/calculations/{calculation.pk}"))
    assert "summary" not in plain
    both = body(api_client.get(f"/api/calculations/{calculation.pk}?fields=name, summary"))
    assert both["name"] == calculation.name and both["summary"]["rows"] == 31
    assert both["result"] == plain["result"]


def test_fields_still_refuses_unknown_names_and_lists_summary(api_client, make_finished):
    calculation = make_finished(date_start=date(2020, 1, 1), date_fin=date(2020, 1, 31), lag=1)
    response = api_client.get(f"/api/calculations/{calculation.pk}?fields=summary,totals")
    assert response.status_code == 422
    error = body(response)["errors"][0]
    assert error["field"] == "fields" and error["rule"] == "allowed_values"
    assert "name, duration, summary" in error["message"]


def test_the_openapi_schema_types_the_summary_and_states_the_units(api_client):
    schema = body(api_client.get("/api/openapi.json"))
    components = schema["components"]["schemas"]
    summary = components["CalculationSummaryOut"]["properties"]
    assert summary["cumulative_oil"]["type"] == "number" and "m3" in summary["cumulative_oil"]["description"]
    assert "m3/day" in summary["peak_liquid"]["description"]
    assert "fraction 0-1" in summary["wct_mean"]["description"]
    assert "%" in summary["oil_decline"]["description"]
    assert summary["first_date"]["format"] == "date"
    rows = components["CalculationRowOut"]["properties"]
    assert all("m3/day" in rows[name]["description"] for name in ("liquid", "oil", "water"))
    assert "fraction from 0 to 1" in rows["wct"]["description"]
    detail = components["CalculationDetailOut"]["properties"]["summary"]
    assert {"$ref": "#/components/schemas/CalculationSummaryOut"} in detail["anyOf"]
