"""The demo field: deterministic, and with what real histories have."""

import hashlib
import io

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from apps.wells import demo
from apps.wells.models import ProductionRecord, Well


def test_the_demo_files_are_the_same_on_every_run():
    for index, spec in enumerate(demo.demo_wells()):
        assert demo.demo_history_csv(spec, index=index) == demo.demo_history_csv(spec, index=index)
    first = [
        hashlib.sha256(demo.demo_history_csv(s, index=i)).hexdigest() for i, s in enumerate(demo.demo_wells())
    ]
    assert len(set(first)) == demo.WELLS  # and every well is its own


def test_a_demo_history_has_a_peak_decline_water_breakthrough_shut_ins_and_partial_days():
    spec = demo.demo_wells()[1]  # a well with a workover
    frame = pd.read_csv(io.BytesIO(demo.demo_history_csv(spec, index=1)))
    assert 5 * 365 <= len(frame) <= 10 * 366
    producing = frame[frame.hours_on > 0]
    rate = producing.oil * 24 / producing.hours_on
    peak = rate.rolling(30).median().idxmax()
    assert 0 < peak < len(frame) / 2  # a build-up, then the decline
    assert rate.iloc[-60:].median() < rate.max() / 2
    cut = frame.water / (frame.oil + frame.water)
    assert cut.iloc[:30].mean() < 0.1 and cut.iloc[-60:].mean() > 0.5
    assert (frame.hours_on == 0).sum() > 10 and ((frame.hours_on > 0) & (frame.hours_on < 24)).sum() > 50


def records_digest() -> str:
    rows = ProductionRecord.objects.order_by("well__name", "date").values_list(
        "well__name", "date", "oil", "water", "gas", "hours_on"
    )
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


@pytest.mark.django_db
def test_the_command_loads_the_same_field_every_time_and_only_once():
    call_command("load_demo_field", stdout=io.StringIO())
    assert Well.objects.filter(field__name=demo.FIELD).count() == demo.WELLS
    digest = records_digest()
    out = io.StringIO()
    call_command("load_demo_field", stdout=out)
    assert "nothing loaded" in out.getvalue() and records_digest() == digest
    ProductionRecord.objects.all().delete()
    Well.objects.all().delete()
    call_command("load_demo_field", stdout=io.StringIO())
    assert records_digest() == digest
    wells = Well.objects.filter(field__name=demo.FIELD)
    assert all(well.record_count >= 5 * 365 and well.last_month_water_cut > 0 for well in wells)
    assert np.isclose(
        sum(w.cumulative_oil for w in wells),
        sum(r for r in ProductionRecord.objects.values_list("oil", flat=True)),
        rtol=1e-6,
    )
