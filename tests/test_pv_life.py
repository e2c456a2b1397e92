"""The life of a PV system (abm/pv_life.py): lives, degradation, the end-of-life choice,
and the stock and generation they leave.

* Lives: the drawn lives have the Weibull law's mean and its share of early ends
  (closed form).
* Degradation: the capacity lost to age equals an independent sum over systems.
* The choice at the end of life: for identical owners the shares of repowering,
  keeping and removing equal the logit probabilities of their utilities, computed
  here from the valuation's own formulas, within sampling error.
* In a run: a removed system produces nothing (the stock the accounts use equals the
  capacity still on roofs, system by system at its age), the stock kept from tallies
  equals the agents' arrays, panels removed are the factor times the kW taken down,
  and with ageing off the new outputs are zero and generation is the stock's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.economics import PVEconomics, annuity
from abm.model import CityModel
from abm.pv_life import KEEP, NO_END, NOT_INSTALLED, REMOVE, REPOWER, EndOfLifeValues, PVLife
from abm.scenario import load_scenario


@pytest.fixture(scope="module")
def strategy_scenario():
    return load_scenario("strategy")


def life(scenario, n: int, seed: int = 5, **values) -> PVLife:
    if values:
        scenario = scenario.with_values(values)
    return PVLife(scenario, n, seed, 0)


def test_lives_follow_the_weibull_law(strategy_scenario):
    pv = life(strategy_scenario, 1)
    lives = pv._lives(200_000).astype(float)
    k, mean = pv.shape, pv.mean_life
    scale = mean / math.gamma(1 + 1 / k)
    # rounding to whole years moves the mean by less than a hundredth of a year here
    assert lives.mean() == pytest.approx(mean, abs=0.05)
    for years in (15, 20, 30):
        # P(rounded life <= years) = P(life < years + 0.5)
        expected = 1 - math.exp(-(((years + 0.5) / scale) ** k))
        se = math.sqrt(expected * (1 - expected) / lives.size)
        assert abs(np.mean(lives <= years) - expected) < 4 * se


def test_degraded_capacity_is_each_system_at_its_age(strategy_scenario):
    """Systems bought in FY2010, 2030 and 2040 and a PPA of FY2020, registered as a run
    registers them (at the start of the next fiscal year)."""
    pv = life(strategy_scenario, 5)
    kw, ppa = np.zeros(5, dtype=np.float32), np.zeros(5, dtype=np.float32)
    for bought, agent, size, array in ((2010, 0, 4.0, kw), (2020, 1, 6.0, ppa), (2030, 2, 5.5, kw), (2040, 3, 3.0, kw)):
        array[agent] = size
        pv.register(bought + 1, kw, ppa)
    assert list(pv.installed) == [2010, NOT_INSTALLED, 2030, 2040, NOT_INSTALLED]
    assert list(pv.ppa_installed) == [NOT_INSTALLED, 2020, NOT_INSTALLED, NOT_INSTALLED, NOT_INSTALLED]
    d = pv.degradation
    expected = 4.0 * (1 - (1 - d) ** 30) + 6.0 * (1 - (1 - d) ** 20) + 5.5 * (1 - (1 - d) ** 10)
    assert pv.degraded_kw(2040) == pytest.approx(expected, rel=1e-12)


def _values(scenario, fy: int = 2040) -> EndOfLifeValues:
    return EndOfLifeValues(PVEconomics(scenario), 250_000.0, 30.0, 8.0, 10, 0.3)


def test_end_of_life_shares_are_the_logit_probabilities(strategy_scenario):
    """20,000 identical owners (4 kW, installed FY2015, rate 5%) at the end of life in
    FY2040: the shares equal exp(U) / sum exp(U) of the three options' utilities,
    computed from the same valuation."""
    n, fy = 20_000, 2040
    pv = life(strategy_scenario, n, **{"behaviour.pv_keep_constant": -0.5})
    kw = np.full(n, 4.0, dtype=np.float32)
    pv.installed[:] = 2015
    pv.life_ends[:] = fy
    rate = np.full(n, 0.05)
    values = _values(strategy_scenario, fy)
    buy_constant, econ_weight = -1.0, 3.0
    removed = pv.end_of_life(fy, kw, values, rate, buy_constant, econ_weight)
    one = np.array([4.0])
    cost = 250_000.0 * 4.0
    economics = PVEconomics(strategy_scenario)
    repower = buy_constant + econ_weight * values.repower_npv(one, rate[:1])[0] / cost
    output = 4.0 * economics.yield_kwh_per_kw * (1 - economics.degradation) ** 25
    growth = (1 + economics.price_trend) * (1 - economics.degradation) - 1
    keep_value = output * (0.3 * 30.0 + 0.7 * economics.post_fit) * annuity(0.05, growth, 1, pv.keep_years)
    keep_value -= 4.0 * economics.om * annuity(0.05, 0.0, 1, pv.keep_years)
    keep = -0.5 + econ_weight * keep_value / cost
    utilities = np.array([repower, keep, 0.0])
    p = np.exp(utilities) / np.exp(utilities).sum()
    flows = pv.year
    shares = np.array([flows.repowered_kw, flows.kept_kw, flows.removed_kw]) / (4.0 * n)
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(shares - p) < 4 * se), (shares, p)
    assert removed.size == round(flows.removed_systems)
    # what was removed is gone from the roofs and from the ledger of ages
    assert np.all(kw[removed] == 0) and np.all(pv.installed[removed] == NOT_INSTALLED)
    kept = (kw > 0) & (pv.installed == 2015)
    assert np.all(pv.life_ends[kept] == fy + pv.keep_years)
    assert np.all(pv.life_ends[pv.installed == fy] > fy)  # repowered: a new life
    assert pv.panels_removed_t() == pytest.approx((flows.repowered_kw + flows.removed_kw) * pv.panel_t_per_kw)
    assert {REPOWER, KEEP, REMOVE} == {0, 1, 2}


def _run(scenario, seed: int = 4, scale: float = 0.05) -> CityModel:
    model = CityModel(scenario, seed=seed, scale=scale)
    model.run()
    return model


def test_removed_systems_produce_nothing_and_the_stock_is_what_is_on_the_roofs(strategy_scenario):
    """Keeping made unattractive (so that many systems are removed): at the end of the
    run the stock kept from the tallies equals the capacity on the roofs, and what the
    accounts produce from equals each system on a roof at its age, removed ones not
    at all."""
    scenario = strategy_scenario.with_values({"behaviour.pv_keep_constant": -5.0})
    model = _run(scenario)
    table = model.table()
    assert sum(table["residential_pv_removed_kw"]) > 0.05 * table["residential_pv_kw"][-1]
    fy = int(table["fiscal_year"][-1])
    for population, stock in ((model.households, "residential_pv_kw"), (model.businesses, "business_pv_kw")):
        on_roofs = float(np.sum(population.pv_kw, dtype=np.float64)) * population.weight
        assert table[stock][-1] == pytest.approx(on_roofs, rel=1e-9)
        life = population.pv_life
        gone = (population.pv_kw == 0) & (life.installed != NOT_INSTALLED)
        assert not gone.any()  # no age is kept for a system no longer there
        assert np.array_equal(life.life_ends != NO_END, life.installed != NOT_INSTALLED)  # nor a life
    d = scenario["technology.pv_degradation_per_year"]
    producing = 0.0
    for population in (model.households, model.businesses):
        life = population.pv_life
        for kw, installed in ((population.pv_kw, life.installed), (population.ppa_kw, life.ppa_installed)):
            there = kw > 0
            # bought this year: registered with its year at the next, new until then
            age = np.where(installed[there] == NOT_INSTALLED, 0, fy - installed[there])
            producing += float(np.sum(kw[there] * (1 - d) ** age)) * population.weight
    farmers = table["solar_sharing_kw"][-1]
    agent_kw = table["residential_pv_kw"][-1] + table["business_pv_kw"][-1] + table["ppa_kw"][-1] + farmers
    assert agent_kw - table["agent_pv_degraded_kw"][-1] == pytest.approx(producing + farmers, rel=1e-9)
    panels = np.array(table["pv_panels_removed_t"])
    taken_down = sum(
        np.array(table[f"{p}_pv_{what}_kw"]) for p in ("residential", "business") for what in ("repowered", "removed")
    )
    np.testing.assert_allclose(panels, taken_down * scenario["technology.pv_panel_t_per_kw"], rtol=1e-12)


def test_without_ageing_the_stock_produces_as_new(strategy_scenario):
    scenario = strategy_scenario.with_values({"technology.pv_end_of_life": False})
    table = _run(scenario, scale=0.02).table()
    for column in (
        "agent_pv_degraded_kw",
        "pv_panels_removed_t",
        "residential_pv_removed_kw",
        "business_pv_removed_kw",
    ):
        assert not any(table[column])
    kw = table["residential_pv_kw"] + table["business_pv_kw"] + table["ppa_kw"] + table["solar_sharing_kw"]
    yield_kwh = scenario["technology.pv_yield_kwh_per_kw_year"]
    # from the second year on: the mean of last year's and this year's stock at the yield
    expected_tj = (kw[:-1] + kw[1:]) / 2 * yield_kwh / 1e6 * 3.6
    np.testing.assert_allclose(table["agent_pv_generation_tj"][1:], expected_tj, rtol=1e-12)
