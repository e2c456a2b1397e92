"""The city model (abm/model.py, abm/city.py, abm/accounting.py) at small scale.

* Conservation on a strategy run: in every month of every fiscal year each
  programme's ledger stays within its annual budget; the grant money the ledger pays
  equals the money the adopters receive; stocks never exceed who can hold them (PV
  systems and ZEH houses <= detached owner households, EVs <= cars, solar-sharing
  farms <= farm households); stock changes never exceed the year's additions; mean
  system size lies within the roof-size bounds.
* Life events follow their rates: new detached houses about 5,400 a year and car
  replacements about cars / 9 a year, within binomial sampling error.
* Accounts: renewable energy is agent PV plus the exogenous sources; the CO2 account
  reproduces the observed FY2017 total it is anchored on.
* Scale: the city at scale F has round(N F) agents of weight N / n (and the farms
  cover the city's farmland); weighted FY2050 stocks at scales 0.05 and 0.1 agree
  within sampling error.
"""

from __future__ import annotations

import gc
import itertools
import math
import pickle
import weakref

import numpy as np
import pytest

from abm import runner
from abm.city import DETACHED_OWNER, build_city
from abm.clock import FIRST_FISCAL_YEAR, FISCAL_YEARS, N_STEPS
from abm.households import Households
from abm.model import CityModel
from abm.runner import run_scenario

SCALE = 0.02
ROUNDING = 2e-12  # the ledger admits 1e-12 of the remaining budget for rounding


def counted_pv(population) -> tuple[float, float, float, float]:
    """(kW owned, systems, kW under PPAs, contracts) counted in the state arrays."""
    pv, ppa = population.pv_kw, population.ppa_kw
    return (
        float(np.sum(pv, dtype=np.float64)),
        float(np.count_nonzero(pv)),
        float(np.sum(ppa, dtype=np.float64)),
        float(np.count_nonzero(ppa)),
    )


class TrackingModel(CityModel):
    """Records also the grant money the populations received in each fiscal year,
    and the PV stocks as the state arrays hold them."""

    def _record(self) -> dict[str, float]:
        row = super()._record()
        row["received_grant_yen"] = sum(p.flows.grant_yen for p in self.populations) + row["storage_grant_yen"]
        row["kept_pv"] = [p.pv_stocks() for p in (self.households, self.businesses)]
        row["counted_pv"] = [counted_pv(p) for p in (self.households, self.businesses)]
        row["kept_zeh_ev"] = self.households.zeh_and_ev_stocks()
        row["counted_zeh_ev"] = tuple(float(np.count_nonzero(a)) for a in (self.households.zeh, self.households.ev))
        return row


@pytest.fixture(scope="module")
def strategy_run(strategy):
    model = TrackingModel(strategy, seed=7, scale=SCALE)
    budgets = np.array([model.policy.ledger.budget_yen(i) for i in range(len(model.policy.programmes))])
    over_budget = []
    steps = 0
    while model.running:
        fy = model.month.fiscal_year
        model.step()
        steps += 1
        spent = model.policy.ledger.spent_yen[fy - FIRST_FISCAL_YEAR]
        bad = spent > budgets * (1 + ROUNDING)
        if bad.any():
            over_budget.append((fy, steps, np.flatnonzero(bad).tolist()))
    return model, over_budget, steps


def test_runs_the_whole_horizon(strategy_run):
    model, _, steps = strategy_run
    assert steps == N_STEPS
    assert [r["fiscal_year"] for r in model.records] == list(FISCAL_YEARS)


def test_budgets_never_exceeded_in_any_month(strategy_run):
    model, over_budget, _ = strategy_run
    assert over_budget == []
    ledger = model.policy.ledger
    for i, p in enumerate(model.policy.programmes):
        for row, fy in enumerate(FISCAL_YEARS):
            assert ledger.spent_yen[row, i] <= ledger.budget_yen(i) * (1 + ROUNDING)
            assert ledger.spent_yen[row, i] >= 0
            if not p.is_active(fy):
                assert ledger.spent_yen[row, i] == 0 and ledger.grants[row, i] == 0
    # some budget must actually bind for this test to mean anything
    assert ledger.exhausted_on, "no programme ran out of money"
    for (name, fy), date in ledger.exhausted_on.items():
        assert (date.year, date.month) >= (fy, 4) and (date.year, date.month) <= (fy + 1, 3)
        i, p = next((i, p) for i, p in enumerate(model.policy.programmes) if p.name == name)
        assert p.is_active(fy) and math.isfinite(ledger.budget_yen(i))
    # a budget shared by several programmes is never exceeded by all of them together
    shared = model.policy.ledger.shared_budgets_yen
    assert shared, "the strategy's household programme draws on a shared budget"
    for name, budget in shared.items():
        members = [i for i, p in enumerate(model.policy.programmes) if p.budget == name]
        assert ledger.spent_yen[:, members].sum(axis=1).max() <= budget * (1 + ROUNDING)


def test_grant_money_paid_equals_money_received(strategy_run):
    model, _, _ = strategy_run
    ledger = model.policy.ledger
    city = [p.level == "city" for p in model.policy.programmes]
    for row, r in enumerate(model.records):
        spent = ledger.spent_yen[row]
        assert r["subsidy_spent_yen"] == pytest.approx(math.fsum(spent), rel=1e-12, abs=1e-6)
        assert r["city_subsidy_spent_yen"] == pytest.approx(math.fsum(spent[city]), rel=1e-12, abs=1e-6)
        assert r["received_grant_yen"] == pytest.approx(r["subsidy_spent_yen"], rel=1e-9, abs=1e-3)
    assert sum(r["subsidy_spent_yen"] for r in model.records) > 0


def test_pv_stocks_kept_from_the_decisions_are_a_count_of_the_state(strategy_run):
    """The populations keep PV stocks as the opening stock plus what the decisions
    added, without reading the state; at every year end that is, to the bit, what the
    state arrays hold."""
    model, _, _ = strategy_run
    for r in model.records:
        assert r["kept_pv"] == r["counted_pv"]
    households, businesses = model.records[-1]["counted_pv"]
    assert min(households) > 0 and businesses[0] > 0 and businesses[2] > 0


def test_zeh_and_ev_stocks_kept_from_the_decisions_are_a_count_of_the_state(strategy_run):
    """ZEH houses and EVs are kept as every ZEH built and the opening EVs plus the net
    switches to EVs, without reading the state; at every year end that is what the
    state arrays hold."""
    model, _, _ = strategy_run
    for r in model.records:
        assert r["kept_zeh_ev"] == r["counted_zeh_ev"]
    zeh, evs = model.records[-1]["counted_zeh_ev"]
    assert zeh > 0 and evs > 0


def test_stocks_within_who_can_hold_them(strategy_run, strategy):
    model, _, _ = strategy_run
    farms = model.farmers.a.n * model.farmers.weight
    hh = strategy.section("households")
    for r in model.records:
        owners = r["detached_owner_households"]
        assert r["residential_pv_systems"] <= owners
        assert r["zeh_houses"] <= owners
        assert r["household_ppa_contracts"] + r["residential_pv_systems"] <= owners
        assert r["evs"] <= r["cars"]
        assert r["solar_sharing_farms"] <= farms
        assert r["ppa_kw"] == pytest.approx(r["household_ppa_kw"] + r["business_ppa_kw"])
        # every system is a whole roof: between the smallest and largest roof
        n = r["residential_pv_systems"]
        assert hh["roof_kw_min"] * n * (1 - 1e-6) <= r["residential_pv_kw"] <= hh["roof_kw_max"] * n * (1 + 1e-6)
    # the whole city's dwellings: owners are a share of the households
    assert model.records[0]["detached_owner_households"] < strategy["population.households"]


def test_stock_changes_bounded_by_additions(strategy_run):
    model, _, _ = strategy_run
    rec = model.records
    for prev, r in itertools.pairwise(rec):
        assert r["residential_pv_systems"] - prev["residential_pv_systems"] <= r["residential_pv_added_systems"] + 1e-6
        assert r["zeh_houses"] - prev["zeh_houses"] <= r["zeh_built"] + 1e-6
        assert r["solar_sharing_farms"] - prev["solar_sharing_farms"] == pytest.approx(r["solar_sharing_added_farms"])
        assert r["solar_sharing_kw"] - prev["solar_sharing_kw"] == pytest.approx(
            r["solar_sharing_added_kw"], rel=1e-9, abs=1e-6
        )
        assert r["evs"] - prev["evs"] <= r["ev_sales"] + 1e-6
        assert r["ev_sales"] <= r["car_replacements"]
        assert r["zeh_built"] <= r["new_detached_houses"]


def test_life_event_rates(strategy_run, strategy):
    """New detached houses: each month Binomial(owners, 1 - exp(-rate / 12)) with
    rate = 5,400 / (owners x weight); car replacements Binomial(cars, 1 - exp(-1/(9 x 12))).
    The 37-year means are within 4 standard errors of the expectation."""
    model, _, _ = strategy_run
    hh = model.households
    w = hh.weight
    years = len(model.records)
    for column, agents, rate in [
        (
            "new_detached_houses",
            hh.owners.size,
            strategy["households.new_detached_houses_per_year"] / (hh.owners.size * w),
        ),
        ("car_replacements", hh.car_owners.size, 1 / strategy["households.car_replacement_years"]),
    ]:
        p = -math.expm1(-rate / 12)
        expected = 12 * agents * p * w
        sd_year = math.sqrt(12 * agents * p * (1 - p)) * w
        observed = np.mean([r[column] for r in model.records])
        assert abs(observed - expected) < 4 * sd_year / math.sqrt(years), column
    assert 12 * hh.owners.size * -math.expm1(-(5400 / (hh.owners.size * w)) / 12) * w == pytest.approx(5400, rel=0.01)


def test_accounts(strategy_run, strategy):
    model, _, _ = strategy_run
    table = model.table()
    ren = strategy.section("renewables")
    exogenous = sum(
        table[s]
        for s in (
            "waste_to_energy_tj",
            "biogas_tj",
            "renewable_heat_tj",
            "carbon_neutral_fuels_tj",
            "procurement_other_cities_tj",
            "offsets_tj",
            "large_pv_tj",
        )
    )
    np.testing.assert_allclose(table["renewable_energy_tj"], table["agent_pv_generation_tj"] + exogenous, rtol=1e-12)
    assert np.all(table["renewable_target_tj"] == ren["target_tj"])
    # agent PV: a year's output from the mean of its opening and closing stock, each
    # system at its age (abm/pv_life.py), kWh -> TJ
    kw = table["residential_pv_kw"] + table["business_pv_kw"] + table["ppa_kw"] + table["solar_sharing_kw"]
    kw = kw - table["agent_pv_degraded_kw"]
    yield_kwh = strategy["technology.pv_yield_kwh_per_kw_year"]
    np.testing.assert_allclose(
        table["agent_pv_generation_tj"][1:], (kw[:-1] + kw[1:]) / 2 * yield_kwh * 3.6e-6, rtol=1e-9
    )
    i2017 = FISCAL_YEARS.index(2017)
    assert table["co2_kt"][i2017] == pytest.approx(strategy["emissions.fy2017_kt"], rel=1e-9)
    assert np.all(table["co2_kt"] >= 0)
    np.testing.assert_allclose(
        table["co2_change_vs_fy2013_pct"], (table["co2_kt"] / strategy["emissions.fy2013_kt"] - 1) * 100, rtol=1e-9
    )


def test_planned_growth_factor_scales_the_trajectories_growth_after_fy2025(strategy):
    """Half the planned growth: each non-agent source after FY2025 is its FY2025 value
    plus half its planned growth (read off the scenario's own trajectories), the
    years before are as planned, and the agents' part is untouched."""
    from abm.accounting import EXOGENOUS_SOURCES
    from abm.trajectory import Trajectory

    tables = []
    for factor in (1.0, 0.5):
        model = CityModel(strategy.with_values({"renewables.planned_growth_factor": factor}), seed=3, scale=0.01)
        model.run()
        tables.append(model.table())
    planned, halved = tables
    years = planned["fiscal_year"]
    for source in EXOGENOUS_SOURCES:
        trajectory = Trajectory.from_table(strategy.section("renewables")[source])
        start = trajectory(2025)
        expected = [trajectory(y) if y <= 2025 else start + 0.5 * (trajectory(y) - start) for y in years]
        np.testing.assert_allclose(halved[source], expected, rtol=1e-12)
    np.testing.assert_array_equal(halved["agent_pv_generation_tj"], planned["agent_pv_generation_tj"])
    assert halved["renewable_energy_tj"][-1] < planned["renewable_energy_tj"][-1]


# --- scale ------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.0001, 0.01, 0.02, 0.05, 0.1])
def test_city_sizes_and_weights(strategy, scale):
    city = build_city(strategy, seed=1, scale=scale)
    for attrs, real in [
        (city.households, strategy["population.households"]),
        (city.businesses, strategy["population.businesses"]),
        (city.farmers, strategy["population.farm_households"]),
    ]:
        n = max(1, round(real * scale))
        assert attrs.n == n
        assert attrs.weight == real / n
        assert attrs.n * attrs.weight == pytest.approx(real, rel=1e-12)
        assert attrs.network.shape == (n, n)
    # the sampled farms farm the city's whole area
    total_ha = strategy["population.paddy_ha"] + strategy["population.upland_ha"]
    assert city.farmers.farmland_ha.sum() * city.farmers.weight == pytest.approx(total_ha, rel=1e-9)
    # only detached owners have a roof of their own
    hh = city.households
    assert np.all((hh.roof_kw > 0) == (hh.dwelling == DETACHED_OWNER))


def test_detached_share_matches_population_statistics(strategy):
    """At scale 0.1 (64,000 households) the detached share and owners' share match the
    statistics; the neighbourhood Beta law makes the detached share vary by ~1,280
    neighbourhoods, whose mean has sd sqrt(m(1-m)/(c+1)/1280) ~ 0.006."""
    city = build_city(strategy, seed=2, scale=0.1)
    d = city.households.dwelling
    detached = d != 2
    m, c = strategy["population.detached_share"], strategy["network.neighbourhood_concentration"]
    hoods = strategy["population.households"] / strategy["network.neighbourhood_households"]
    sd = math.sqrt(m * (1 - m) / (c + 1) / hoods + m * (1 - m) / d.size)
    assert abs(detached.mean() - m) < 4 * sd
    owner_share = (d == DETACHED_OWNER).sum() / detached.sum()
    q = strategy["population.detached_owner_share"]
    assert abs(owner_share - q) < 4 * math.sqrt(q * (1 - q) / detached.sum())


@pytest.mark.slow
def test_weighted_stocks_independent_of_scale(strategy):
    """FY2050 weighted stocks at scale 0.05 and 0.1, 6 seeds each: the difference of
    the means is within 4.5 standard errors (Welch, errors from the seeds' spread;
    for t with ~10 degrees of freedom P(|t| > 4.5) ~ 0.001). The standard error must
    itself be small (< 5% of the stock) for the comparison to have any power."""
    columns = ("residential_pv_kw", "residential_pv_systems", "evs", "zeh_houses", "business_pv_kw")
    values = {}
    for scale in (0.05, 0.1):
        tables = [run_scenario(strategy, seed, scale).table for seed in range(200, 206)]
        values[scale] = np.array([[t[c][-1] for c in columns] for t in tables])
    a, b = values[0.05], values[0.1]
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    diff = a.mean(axis=0) - b.mean(axis=0)
    for k, c in enumerate(columns):
        assert se[k] < 0.05 * b[:, k].mean(), c
        assert abs(diff[k]) < 4.5 * se[k], (c, diff[k], se[k])


def instances_made(cls: type, monkeypatch) -> list[weakref.ref]:
    """Weak references to every instance of ``cls`` made from now on in the test."""
    made = []
    build = cls.__init__

    def recording(self, *args, **kwargs):
        build(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(cls, "__init__", recording)
    return made


def test_a_finished_run_frees_its_agents_without_the_garbage_collector(strategy, monkeypatch):
    """run_scenario closes its model: the agents' arrays are freed by reference counting
    as it returns, not at Python's next full garbage collection (a Mesa model is a
    reference cycle), so that the next run of a sweep reuses their memory."""
    made = instances_made(Households, monkeypatch)
    gc.collect()
    gc.disable()
    try:
        run_scenario(strategy, seed=1, scale=SCALE, last_fiscal_year=2017)
        assert len(made) == 1
        assert made[0]() is None
    finally:
        gc.enable()


def test_settling_a_worker_after_a_run_keeps_nothing_of_that_run(strategy, monkeypatch):
    """A sweep's worker freezes what it holds after its first run (so that full garbage
    collections stop rescanning it); the run's model, a reference cycle, is garbage by
    then and must be collected first, not frozen for the life of the process."""
    made = instances_made(CityModel, monkeypatch)
    try:
        runner.run_replicates(strategy, [1], scale=SCALE)
        runner.settle_worker.__wrapped__()  # as in a fresh worker, whatever ran before here
        gc.collect()
        assert len(made) == 1
        assert made[0]() is None
    finally:
        gc.unfreeze()


def test_runs_on_one_city_give_what_runs_on_fresh_cities_give(strategy):
    """A city keeps what runs derive from it (present-value factors, EV utilities,
    inverse degrees; :class:`abm.city.Derived`). Runs on one city in turn, with the
    numbers those depend on changed between them and then changed back, must give
    each the outputs of a run on a fresh copy of the city; the changes must matter."""
    variants = [  # (scenario, behaviour given to the model)
        (strategy, None),
        (strategy.with_values({"technology.pv_life_years": 15}), None),
        (strategy.with_values({"behaviour.attitude_weight": 3.0, "technology.car_appraisal_years": 4}), None),
        (strategy.with_values({"technology.fit_term_years_business": 10}), None),
        (strategy, {"ev_constant": 1.0, "ev_apartment_constant": 0.5}),
        (strategy, None),
    ]
    city = build_city(strategy, seed=7, scale=SCALE)
    outputs = []
    for scenario, behaviour in variants:
        fresh = pickle.loads(pickle.dumps(city))  # a copy starts without derived values
        on_fresh = CityModel(scenario, seed=7, city=fresh, behaviour=behaviour, last_fiscal_year=2022)
        on_fresh.run()
        on_shared = CityModel(scenario, seed=7, city=city, behaviour=behaviour, last_fiscal_year=2022)
        on_shared.run()
        assert on_shared.records == on_fresh.records
        outputs.append(on_shared.records)
    for a, b in itertools.pairwise(outputs[:-1]):
        assert a != b
