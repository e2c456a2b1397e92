"""Home storage (abm.storage): its value, who may store, and what it leaves alone."""

from __future__ import annotations

import numpy as np
import pytest

from abm.economics import annuity
from abm.model import CityModel
from abm.scenario import load_scenario
from abm.storage import NOT_INSTALLED, storage_npv
from benchmarks.equivalence import BEFORE_STORAGE, NOBODY_STORES

SCALE = 0.02
STORAGE_COLUMNS = {
    "home_batteries",
    "home_battery_kwh",
    "v2h_units",
    "batteries_installed",
    "battery_kwh_installed",
    "v2h_installed",
    "storage_deciding_households",
    "storage_grant_yen",
    "storage_shifted_gwh",
    "storage_losses_gwh",
    "household_pv_self_consumed_gwh",
    "household_pv_self_consumption_share",
    "electricity_demand_gwh",  # holds the storage losses
}


def test_value_of_moved_output_is_the_annuity_of_its_margin():
    rate = np.array([0.03, 0.08])
    shifted, life, eff, retail, post = np.array([1500.0, 2000.0]), 15, 0.9, 28.0, 8.5
    after_fit = storage_npv(shifted, life, 0.0, rate, retail, 0.0, eff, np.full(2, 24.0), np.zeros(2), post)
    assert after_fit == pytest.approx(shifted * (eff * retail - post) * annuity(rate, 0.0, 1, life), rel=1e-12)
    # four years left of a 24-yen tariff: those years earn the tariff's margin instead
    during = storage_npv(shifted, life, 0.0, rate, retail, 0.0, eff, np.full(2, 24.0), np.full(2, 4), post)
    expected = shifted * (
        (eff * retail - 24.0) * annuity(rate, 0.0, 1, 4) + (eff * retail - post) * annuity(rate, 0.0, 5, life)
    )
    assert during == pytest.approx(expected, rel=1e-12)
    # a fading battery moves (1 - fade)^(t-1) of its first year's kWh in year t
    faded = storage_npv(shifted, life, 0.02, rate, retail, 0.01, eff, np.full(2, 24.0), np.zeros(2), post)
    years = np.arange(1, life + 1)
    by_hand = [
        sum(s * 0.98 ** (t - 1) * (eff * retail * 1.01 ** (t - 1) - post) / (1 + r) ** t for t in years)
        for s, r in zip(shifted, rate, strict=True)
    ]
    assert faded == pytest.approx(by_hand, rel=1e-12)
    # all at once, each household with its own tariff, years left and rate (one at the
    # price trend less the fade, where the series has no closed ratio)
    rate = np.array([0.03, 0.08, 1.01 * 0.98 - 1.0])
    shifted, fit, left = np.array([1500.0, 2000.0, 900.0]), np.array([24.0, 48.0, 39.0]), np.array([4, 0, 20])
    mixed = storage_npv(shifted, life, 0.02, rate, retail, 0.01, eff, fit, left, post)
    by_hand = [
        sum(
            s * 0.98 ** (t - 1) * (eff * retail * 1.01 ** (t - 1) - (f if t <= k else post)) / (1 + r) ** t
            for t in years
        )
        for s, r, f, k in zip(shifted, rate, fit, left, strict=True)
    ]
    assert mixed == pytest.approx(by_hand, rel=1e-12)


def _run(scenario, **behaviour) -> tuple[CityModel, dict[str, np.ndarray]]:
    model = CityModel(scenario, seed=5, scale=SCALE, behaviour=behaviour)
    model.run()
    return model, model.table()


def test_without_storage_its_parameters_change_nothing_else():
    """Storage draws from its own generator: with both constants at minus infinity
    nobody stores, and its other parameters leave every other output as it is, to the
    bit (the equivalence benchmark compares the same runs with the model before
    storage)."""
    scenario = load_scenario(BEFORE_STORAGE)
    _, low = _run(scenario, **NOBODY_STORES, household_storage_p=0.001, post_fit_storage_consideration=0.05)
    _, high = _run(scenario, **NOBODY_STORES, household_storage_p=0.1, post_fit_storage_consideration=1.0)
    assert low["storage_deciding_households"].sum() < high["storage_deciding_households"].sum()
    for table in (low, high):
        assert table["home_batteries"].max() == table["v2h_units"].max() == table["storage_grant_yen"].max() == 0
    for column in low:
        if column not in STORAGE_COLUMNS:
            np.testing.assert_array_equal(low[column], high[column], err_msg=column)


def test_storage_moves_output_but_adds_no_energy():
    """With grants for storage at zero and budgets of their own, storage cannot touch
    the PV decisions: the PV stock and the renewable energy are those of a city without
    storage, and the city's demand differs by the storage losses alone."""
    scenario = load_scenario(BEFORE_STORAGE)
    _, without = _run(scenario, **NOBODY_STORES)
    _, with_storage = _run(scenario, battery_constant=3.0, v2h_constant=1.0)
    assert with_storage["home_batteries"][-1] > 0 and with_storage["v2h_units"][-1] > 0
    for column in ("residential_pv_kw", "agent_pv_generation_tj", "renewable_energy_tj", "evs", "zeh_houses"):
        np.testing.assert_array_equal(without[column], with_storage[column], err_msg=column)
    np.testing.assert_allclose(
        with_storage["electricity_demand_gwh"] - without["electricity_demand_gwh"],
        with_storage["storage_losses_gwh"],
        rtol=1e-9,
        atol=1e-9,
    )
    assert (with_storage["household_pv_self_consumption_share"] >= without["household_pv_self_consumption_share"]).all()
    assert with_storage["household_pv_self_consumption_share"][-1] > without["household_pv_self_consumption_share"][-1]
    owned = without["residential_pv_kw"] > 0
    assert without["household_pv_self_consumption_share"][owned] == pytest.approx(
        scenario["technology.household_self_consumption_share"]
    )


def test_storage_stays_with_roof_owners_and_stocks_count_the_state():
    scenario = load_scenario("strategy").with_values({"technology.pv_end_of_life": False})
    model, table = _run(scenario, battery_constant=3.0, v2h_constant=1.0)
    hh = model.households
    storage = hh.storage
    batteries = np.flatnonzero(storage.battery_installed != NOT_INSTALLED)
    v2h = np.flatnonzero(storage.v2h_installed != NOT_INSTALLED)
    assert batteries.size and v2h.size
    assert storage.owner[batteries].all() and storage.owner[v2h].all()
    # a battery is bought beside PV, and PV that does not age is never removed
    assert (hh.pv_kw[batteries] > 0).all()
    assert not np.intersect1d(batteries, v2h).size  # one store per household
    assert table["home_batteries"][-1] == pytest.approx(batteries.size * hh.weight)
    assert table["v2h_units"][-1] == pytest.approx(v2h.size * hh.weight)
    # batteries at the end of their life are gone: none older than its life
    assert (storage.battery_installed[batteries] > 2050 - storage.battery_life).all()
    installed = table["batteries_installed"]
    life = storage.battery_life
    assert table["home_batteries"][-1] == pytest.approx(installed[-life:].sum(), rel=1e-9)


def test_a_battery_moves_nothing_once_its_pv_is_removed():
    """Keeping an old system made unattractive, so that many are removed beside a
    battery: what storage moves is each battery on a roof that still has PV, at its
    fade, plus each V2H unit's share of its roof's output, summed here from the state."""
    scenario = load_scenario("strategy").with_values({"behaviour.pv_keep_constant": -5.0})
    model, table = _run(scenario, battery_constant=3.0, v2h_constant=1.0)
    hh, storage = model.households, model.households.storage
    batteries = np.flatnonzero(storage.battery_installed != NOT_INSTALLED)
    stranded = batteries[hh.pv_kw[batteries] == 0]
    assert stranded.size  # the case this test is about
    assert (storage.shifted_kwh[stranded] == 0).all()
    with_pv = batteries[hh.pv_kw[batteries] > 0]
    age = 2050 - storage.battery_installed[with_pv]
    moved_kwh = np.sum(storage.shifted_kwh[with_pv] * (1 - storage.fade) ** age.astype(float))
    v2h = storage.v2h_installed != NOT_INSTALLED
    moved_kwh += np.sum(hh.pv_kw[v2h]) * storage.yield_kwh_per_kw * (storage.v2h_share - storage.own_share)
    assert table["storage_shifted_gwh"][-1] == pytest.approx(moved_kwh / 1e6 * hh.weight, rel=1e-9)
