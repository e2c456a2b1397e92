"""The idiomatic Mesa reference implements the array model's household-PV rules.

``benchmarks/mesa_reference.py`` (one ``mesa.Agent`` per detached owner) is the
yardstick ``abm bench`` times the array model against, on the scenario
``benchmarks/household_pv.toml``. The timing means something only if both run the
same rules, so: the scenario leaves no decision but the households' rooftop PV; the
reference has one agent per deciding household with the array model's attributes and
network; and across seeds both give the same adoption curve within sampling error,
while a model with a different rule (q doubled) is told apart by the same comparison.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.bench import adoption_share, load_mesa_reference
from abm.city import DETACHED_OWNER, build_city
from abm.model import CityModel
from abm.scenario import load_scenario

ref = load_mesa_reference()

HOUSEHOLDS = 10_000
SEEDS = range(8)
YEARS = (2020, 2030, 2040, 2050)
TOLERANCE_SE = 4.0  # |difference of means| allowed, in standard errors of that difference


def test_household_pv_scenario_decides_nothing_but_household_pv():
    scenario = ref.household_pv_scenario(3_000)
    assert scenario["population.households"] == 3_000
    model = CityModel(scenario, seed=5)
    # the initial stock is scaled from the city's to the benchmark's number of households
    city = load_scenario(ref.SCENARIO_PATH)
    initial = scenario["households.initial_pv_systems"]
    assert initial == round(city["households.initial_pv_systems"] * 3_000 / city["population.households"])
    assert abs(np.count_nonzero(model.households.pv_kw) - initial) <= 0.2 * initial
    model.run()
    table = model.table()
    for column in (
        "business_pv_added_kw",
        "solar_sharing_added_kw",
        "ppa_added_kw",
        "new_detached_houses",
        "zeh_built",
        "ev_sales",
        "car_replacements",
        "subsidy_spent_yen",
    ):
        assert not table[column].any(), column
    assert table["residential_pv_added_systems"].sum() > 0
    share = adoption_share(model)
    assert share[2050] > share[2030] > share[2014] > 0


def test_reference_has_one_agent_per_deciding_household_with_its_network():
    scenario = ref.household_pv_scenario(3_000)
    households = build_city(scenario, 3, 1.0).households
    model = ref.HouseholdPVModel(scenario, households, seed=3)
    owners = np.flatnonzero(households.dwelling == DETACHED_OWNER)
    agents = sorted(model.agents, key=lambda a: a.household)
    assert [a.household for a in agents] == owners.tolist()
    is_owner = households.dwelling == DETACHED_OWNER
    a = households.network
    for agent in agents:
        row = a.indices[a.indptr[agent.household] : a.indptr[agent.household + 1]]
        assert agent.degree == max(row.size, 1)
        assert sorted(n.household for n in agent.neighbours) == sorted(row[is_owner[row]].tolist())
        assert agent.roof_kw == pytest.approx(float(households.roof_kw[agent.household]))
        assert agent.attitude == pytest.approx(float(households.attitude[agent.household]))
    # the initial stock: random owners until their capacity reaches the target
    target_kw = scenario["households.initial_pv_systems"] * np.mean([x.roof_kw for x in agents])
    adopted_kw = [x.roof_kw for x in agents if x.adopted]
    assert sum(adopted_kw) >= target_kw > sum(adopted_kw) - max(adopted_kw)


def test_reference_runs_the_whole_horizon_and_records_each_fiscal_year():
    scenario = ref.household_pv_scenario(1_000)
    households = build_city(scenario, 4, 1.0).households
    model = ref.HouseholdPVModel(scenario, households, seed=4)
    model.run()
    assert model.month == 444
    assert list(model.adoption_share) == list(range(2014, 2051))
    assert model.adoption_share[2050] == model.share_adopted()


@pytest.fixture(scope="module")
def curves() -> dict[str, np.ndarray]:
    """Adoption share of detached owners at YEARS, one row per seed: the Mesa
    reference, the array model, and the array model with q doubled. Both models of
    a seed share its city; their random streams differ."""
    scenario = ref.household_pv_scenario(HOUSEHOLDS)
    q = scenario["behaviour.household_pv_q"]
    out: dict[str, list[list[float]]] = {"mesa": [], "array": [], "array_2q": []}
    for seed in SEEDS:
        city = build_city(scenario, seed, 1.0)
        mesa = ref.HouseholdPVModel(scenario, city.households, seed=1_000 + seed)
        mesa.run()
        out["mesa"].append([mesa.adoption_share[y] for y in YEARS])
        for name, behaviour, model_seed in (
            ("array", None, 2_000 + seed),
            ("array_2q", {"household_pv_q": 2 * q}, 3_000 + seed),
        ):
            model = CityModel(scenario, seed=model_seed, city=city, behaviour=behaviour)
            model.run()
            share = adoption_share(model)
            out[name].append([share[y] for y in YEARS])
    return {k: np.array(v) for k, v in out.items()}


def _z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Difference of the mean curves over its standard error (seeds independent)."""
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    return (a.mean(axis=0) - b.mean(axis=0)) / se


@pytest.mark.slow
def test_mesa_reference_and_array_model_give_the_same_adoption_curve(curves):
    z = _z(curves["mesa"], curves["array"])
    assert np.all(np.abs(z) < TOLERANCE_SE), f"z = {z} at {YEARS}"
    # and the curve is not trivially flat: adoption grows in both
    for name in ("mesa", "array"):
        assert np.all(np.diff(curves[name].mean(axis=0)) > 0), name


@pytest.mark.slow
def test_the_comparison_tells_a_different_rule_apart(curves):
    """Power check: the same comparison against the array model with q doubled fails."""
    z = _z(curves["mesa"], curves["array_2q"])
    assert np.any(np.abs(z) > TOLERANCE_SE), f"z = {z} at {YEARS}"
