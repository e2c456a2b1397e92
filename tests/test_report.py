"""The run report aggregates replicates as it says: checked on hand-built results
whose means, ranges, totals and run-out dates are known."""

from __future__ import annotations

import numpy as np
import pytest

from abm.report import band, budget_run_out, indicators
from abm.runner import RunResult, run_scenario


def _result(replicate: int, table: dict, exhausted: dict | None = None) -> RunResult:
    return RunResult(replicate, replicate, table, exhausted or {}, [])


def test_band_is_mean_and_5_to_95_percent_range():
    values = np.arange(101, dtype=float)  # percentiles of 0..100 are the percents themselves
    assert band(values) == {"mean": 50.0, "p5": 5.0, "p95": 95.0}


def test_totals_sum_over_years_and_bands_go_over_replicates(baseline):
    # two replicates of a real run, one with every yearly CO2 figure doubled: the
    # total of the second is twice the first's, and the band spans both
    run = run_scenario(baseline, 3, 0.01)
    doubled = dict(run.table)
    doubled["co2_kt"] = [2 * x for x in run.table["co2_kt"]]
    found = indicators([_result(0, run.table), _result(1, doubled)], baseline)
    once = float(np.sum(run.table["co2_kt"]))
    assert found["co2_kt_total"]["mean"] == pytest.approx(1.5 * once)
    assert found["co2_kt_total"]["p5"] == pytest.approx(once + 0.05 * once)
    assert found["co2_kt_total"]["p95"] == pytest.approx(once + 0.95 * once)
    assert found["co2_kt_2050"]["mean"] == pytest.approx(1.5 * run.table["co2_kt"][-1])


def test_budget_run_out_counts_replicates_and_orders_dates():
    results = [
        _result(0, {}, {"city_pv": {2026: "2026-10-18"}}),
        _result(1, {}, {"city_pv": {2026: "2026-07-01", 2027: "2028-02-01"}}),
        _result(2, {}, {}),
        _result(3, {}, {"city_pv": {2026: "2026-12-24"}}),
    ]
    out = budget_run_out(results)
    assert out["city_pv"]["2026"] == {
        "share_of_replicates": 0.75,
        "median_date": "2026-10-18",
        "earliest": "2026-07-01",
        "latest": "2026-12-24",
    }
    assert out["city_pv"]["2027"]["share_of_replicates"] == 0.25
