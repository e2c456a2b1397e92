"""The city's household programme as it was (history.toml): one budget for PV,
batteries, V2H and ZEH, which ran out on 18 October in FY2023."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from abm.model import CityModel
from abm.scenario import load_scenario

OBSERVED_RUN_OUT = dt.date(2023, 10, 18)  # saitama_city_subsidy_history.csv


@pytest.fixture(scope="module")
def fy2023_run_out_dates():
    scenario = load_scenario("history")
    dates = []
    for seed in range(4):
        model = CityModel(scenario, seed=seed, scale=0.25, last_fiscal_year=2023)
        model.run()
        closed = {name: d for (name, fy), d in model.policy.ledger.exhausted_on.items() if fy == 2023}
        # the programmes of one shared budget close together
        assert set(closed) == {"city_pv", "city_battery", "city_v2h", "city_zeh"}, closed
        assert len(set(closed.values())) == 1, closed
        dates.append(closed["city_pv"])
    return dates


def test_fy2023_shared_budget_runs_out_in_the_second_half_of_the_year(fy2023_run_out_dates):
    """The model's budget runs out in every replicate, all programmes on it on one day,
    after the observed 18 October and before the fiscal year ends (late December to
    late January at default behaviour): later than observed, because the model's
    programme leaves out the equipment it has no agent for (fuel cells, HEMS), which
    drew on the same budget."""
    assert all(d is not None for d in fy2023_run_out_dates), fy2023_run_out_dates
    assert all(OBSERVED_RUN_OUT <= d <= dt.date(2024, 3, 31) for d in fy2023_run_out_dates)
    # a budget that never binds would put no date at all; one drained at once, April
    assert np.median([d.month for d in fy2023_run_out_dates]) in (10, 11, 12, 1, 2, 3)
