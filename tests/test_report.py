"""The run report aggregates replicates as it says: checked on hand-built results
whose means, ranges, totals and run-out dates are known."""

from __future__ import annotations

import numpy as np
import pytest

from abm.report import YEARLY, band, budget_run_out, indicators, yearly
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


def test_yearly_bands_go_over_replicates_year_by_year(baseline):
    # 101 copies of a real run, copy k with its PV and PPA additions raised by k kW
    # every year: the yearly mean rises by 50 kW, the 5-95% range is 5 to 95 kW above
    run = run_scenario(baseline, 3, 0.01)
    results = []
    for k in range(101):
        table = dict(run.table)
        table["residential_pv_added_kw"] = [x + k for x in run.table["residential_pv_added_kw"]]
        table["household_ppa_added_kw"] = [x + k for x in run.table["household_ppa_added_kw"]]
        results.append(_result(k, table))
    rows, columns = yearly(results)
    assert [r["fiscal_year"] for r in rows] == list(run.table["fiscal_year"])
    assert columns[0] == "fiscal_year" and len(columns) == 1 + 3 * len(YEARLY)
    for i, row in enumerate(rows):
        owned, ppa = run.table["residential_pv_added_kw"][i], run.table["household_ppa_added_kw"][i]
        assert row["residential_pv_added_kw_mean"] == pytest.approx(owned + 50)
        assert row["residential_pv_with_ppa_added_kw_mean"] == pytest.approx(owned + ppa + 100)
        assert row["residential_pv_with_ppa_added_kw_p5"] == pytest.approx(owned + ppa + 10)
        assert row["residential_pv_with_ppa_added_kw_p95"] == pytest.approx(owned + ppa + 190)
        assert row["co2_kt_p5"] == row["co2_kt_p95"] == pytest.approx(run.table["co2_kt"][i])
