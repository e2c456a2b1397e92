"""Scenario files (abm/scenario.py): extends chains, table-by-table overrides,
validation, and ``Scenario.with_values``.

* A file extending baseline that changes one key keeps every other resolved key of
  baseline; trajectories and lists are replaced whole, tables merged key by key; every
  scenario starts from abm/data/defaults.toml.
* ``with_values`` validates like a file and applies, without touching the original.
* Bad input raises ``ScenarioError`` naming the file and the key, for each kind of
  mistake (unknown key or section, wrong type, negative amount, share above 1, years
  outside FY2014-FY2050, missing programme keys, first year after last, missing or
  cyclic ``extends``), and a validated scenario does not fail later at run time.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from abm.model import CityModel
from abm.scenario import DEFAULTS, SCENARIO_DIR, ScenarioError, load_scenario

BASELINE = SCENARIO_DIR / "baseline.toml"
HISTORY = SCENARIO_DIR / "history.toml"
STRATEGY = SCENARIO_DIR / "strategy.toml"


def without(data: dict, *dotted: str) -> dict:
    out = copy.deepcopy(data)
    for key in dotted:
        *parents, last = key.split(".")
        node = out
        for p in parents:
            node = node[p]
        node.pop(last, None)
    return out


def test_changing_bands_keeps_every_other_key(write_scenario, baseline):
    path = write_scenario(
        "bands.toml",
        f"""
        [scenario]
        name = "bands"
        extends = "{BASELINE}"

        [subsidies.city_pv]
        bands = [[0.0, 5.0, 40000.0], [5.0, 10.0, 70000.0]]
        """,
    )
    s = load_scenario(path)
    assert s.name == "bands"
    assert s["subsidies.city_pv.bands"] == [[0.0, 5.0, 40000.0], [5.0, 10.0, 70000.0]]
    assert without(s.data, "scenario", "subsidies.city_pv.bands") == without(
        baseline.data, "scenario", "subsidies.city_pv.bands"
    )
    assert s.files == (*baseline.files, str(path.resolve()))


def test_extends_chain_and_defaults(strategy, history):
    assert strategy.files == (str(HISTORY), str(BASELINE), str(STRATEGY))
    assert strategy.name == "strategy"
    # every section of defaults.toml is present, with the defaults where no file overrides
    for section, table in DEFAULTS.items():
        for key, value in table.items():
            if key not in _raw_keys(section):
                assert history[f"{section}.{key}"] == value


def _raw_keys(section: str) -> set[str]:
    import tomllib

    keys: set[str] = set()
    for path in (HISTORY, BASELINE, STRATEGY):
        with open(path, "rb") as f:
            keys |= set(tomllib.load(f).get(section, {}))
    return keys


def test_trajectories_replaced_whole_tables_merged(write_scenario, baseline):
    path = write_scenario(
        "merge.toml",
        f"""
        [scenario]
        extends = "{BASELINE}"

        [prices]
        electricity_price_yen_per_kwh = {{ 2030 = 35.0 }}

        [subsidies.city_pv]
        annual_budget_yen = 1.0
        """,
    )
    s = load_scenario(path)
    assert s["prices.electricity_price_yen_per_kwh"] == {"2030": 35.0}
    assert s["subsidies.city_pv.annual_budget_yen"] == 1.0
    assert without(s["subsidies.city_pv"], "annual_budget_yen") == without(
        baseline["subsidies.city_pv"], "annual_budget_yen"
    )
    assert s["prices.pv_cost_yen_per_kw"] == baseline["prices.pv_cost_yen_per_kw"]


def test_unnamed_file_is_not_named_after_its_parent(write_scenario):
    path = write_scenario("variant.toml", f'[scenario]\nextends = "{BASELINE}"\n\n[households]\nroof_kw_mean = 5.0\n')
    assert load_scenario(path).name == "variant"


def test_with_values_validates_and_applies(baseline):
    before = copy.deepcopy(baseline.data)
    s = baseline.with_values({"subsidies.city_pv.annual_budget_yen": 1e9})
    assert s["subsidies.city_pv.annual_budget_yen"] == 1e9
    assert without(s.data, "subsidies.city_pv.annual_budget_yen") == without(
        baseline.data, "subsidies.city_pv.annual_budget_yen"
    )
    assert baseline.data == before  # the original is untouched
    assert s.files == (*baseline.files, "overrides")
    t = baseline.with_values({"behaviour.household_pv_q": 0.5, "network.household_degree": 12})
    assert (t["behaviour.household_pv_q"], t["network.household_degree"]) == (0.5, 12)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"households.roof_kw_mean_typo": 1.0}, "households.roof_kw_mean_typo"),
        ({"nonsense.x": 1.0}, "nonsense"),
        ({"subsidies.city_pv.annual_budget_yen": -1.0}, "subsidies.city_pv.annual_budget_yen"),
        ({"subsidies.city_pv.budget": 1.0}, "subsidies.city_pv.budget"),
        ({"households.roof_kw_mean": "big"}, "households.roof_kw_mean"),
        ({"network.household_rewiring": 1.5}, "network.household_rewiring"),
        ({"subsidies.new.yen_per_kw": 1.0}, "subsidies.new.level"),
        ({"subsidies.city_pv.first_fiscal_year": 2051}, "subsidies.city_pv.first_fiscal_year"),
    ],
)
def test_with_values_rejects_bad_keys(baseline, values, key):
    with pytest.raises(ScenarioError) as err:
        baseline.with_values(values)
    assert err.value.key == key
    assert key in str(err.value)


BAD_FILES = {
    "unknown_key": ("[households]\nroof_kw_mean_typo = 1.0\n", "households.roof_kw_mean_typo"),
    "wrong_type": ('[households]\nroof_kw_mean = "big"\n', "households.roof_kw_mean"),
    "negative": ("[subsidies.city_pv]\nannual_budget_yen = -5.0\n", "subsidies.city_pv.annual_budget_yen"),
    "share_above_one": ("[population]\ndetached_share = 1.2\n", "population.detached_share"),
    "year_2060": ("[subsidies.city_pv]\nlast_fiscal_year = 2060\n", "subsidies.city_pv.last_fiscal_year"),
    "trajectory_2070": (
        "[prices]\nelectricity_price_yen_per_kwh = { 2014 = 28.0, 2070 = 30.0 }\n",
        "prices.electricity_price_yen_per_kwh.2070",
    ),
    "negative_trajectory": (
        "[prices]\nelectricity_price_yen_per_kwh = { 2014 = -1.0 }\n",
        "prices.electricity_price_yen_per_kwh.2014",
    ),
    "unknown_section": ("[grants]\ncity = 1.0\n", "grants"),
    "missing_programme_keys": (
        '[subsidies.new_grant]\nlevel = "city"\nyen_per_kw = 1000.0\n',
        "subsidies.new_grant.technology",
    ),
    "first_after_last": (
        "[subsidies.city_pv]\nfirst_fiscal_year = 2040\nlast_fiscal_year = 2030\n",
        "subsidies.city_pv.last_fiscal_year",
    ),
    "bad_choice": ('[subsidies.city_pv]\nlevel = "town"\n', "subsidies.city_pv.level"),
    "bad_bands": ("[subsidies.city_pv]\nbands = [[4.0, 2.0, 1000.0]]\n", "subsidies.city_pv.bands"),
    "integer_as_float": ("[network]\nhousehold_degree = 10.5\n", "network.household_degree"),
    "zero_years": ("[technology]\npv_life_years = 0\n", "technology.pv_life_years"),
    "infinite_trajectory": ("[renewables]\noffsets_tj = { 2030 = inf }\n", "renewables.offsets_tj.2030"),
    "infinite_budget": ("[subsidies.city_pv]\nannual_budget_yen = inf\n", "subsidies.city_pv.annual_budget_yen"),
    "nan_grant": ("[subsidies.city_pv]\nflat_yen = nan\n", "subsidies.city_pv.flat_yen"),
    "no_households": ("[population]\nhouseholds = 0\n", "population.households"),
    "exabytes_of_households": ("[population]\nhouseholds = 100000000000000000000\n", "population.households"),
    "ev_grant_for_farmers": (
        '[subsidies.farm_ev]\nlevel = "city"\ntechnology = "ev"\nagents = ["farmers"]\nflat_yen = 1000.0\n'
        "first_fiscal_year = 2026\nlast_fiscal_year = 2030\n",
        "subsidies.farm_ev.agents",
    ),
    "unknown_shared_budget": ('[subsidies.city_pv]\nbudget = "city_home"\n', "subsidies.city_pv.budget"),
    "shared_budget_without_amount": ('[budgets.city_home]\ndescription = "x"\n', "budgets.city_home.annual_budget_yen"),
    "joint_purchase_backwards": (
        "[joint_purchase]\nfirst_fiscal_year = 2040\nlast_fiscal_year = 2030\n",
        "joint_purchase.last_fiscal_year",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_name_file_and_key(write_scenario, case):
    body, key = BAD_FILES[case]
    path = write_scenario(f"{case}.toml", f'[scenario]\nextends = "{BASELINE}"\n\n' + body)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert Path(err.value.file).name == path.name
    assert err.value.key == key
    message = str(err.value)
    assert path.name in message and key in message and "expected" in message


def test_first_year_after_last_across_files(write_scenario):
    """history.toml ends the band grant in FY2025: starting it in FY2030 is caught on
    the resolved data and reported against the file that made it wrong."""
    path = write_scenario(
        "late.toml", f'[scenario]\nextends = "{HISTORY}"\n\n[subsidies.city_pv]\nfirst_fiscal_year = 2030\n'
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert Path(err.value.file).name == "late.toml"
    assert err.value.key == "subsidies.city_pv.last_fiscal_year"


def test_missing_and_cyclic_extends(write_scenario):
    missing = write_scenario("orphan.toml", '[scenario]\nextends = "no_such_parent.toml"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(missing)
    assert Path(err.value.file).name == "orphan.toml"
    assert err.value.key == "scenario.extends"
    assert "no_such_parent.toml" in str(err.value)
    write_scenario("a.toml", '[scenario]\nextends = "b.toml"\n')
    b = write_scenario("b.toml", '[scenario]\nextends = "a.toml"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(b)
    assert err.value.key == "scenario.extends"


def test_relative_extends_from_the_files_directory(write_scenario, baseline):
    parent = write_scenario("parent.toml", f'[scenario]\nextends = "{BASELINE}"\n\n[households]\nroof_kw_mean = 5.0\n')
    sub = parent.parent / "sub"
    sub.mkdir()
    child = sub / "child.toml"
    child.write_text('[scenario]\nextends = "../parent.toml"\n\n[households]\nroof_kw_sd = 1.0\n')
    s = load_scenario(child)
    assert (s["households.roof_kw_mean"], s["households.roof_kw_sd"]) == (5.0, 1.0)
    assert s["households.roof_kw_max"] == baseline["households.roof_kw_max"]


def test_a_file_anywhere_extends_a_scenario_by_its_name(write_scenario, strategy):
    """A design kept outside the project extends ``strategy`` by name; a file
    ``strategy.toml`` beside it wins, as relative paths do."""
    design = write_scenario("mine.toml", '[scenario]\nextends = "strategy"\n\n[households]\nroof_kw_sd = 1.0\n')

    def model_part(scenario):
        return {k: v for k, v in scenario.data.items() if k != "scenario"}

    s = load_scenario(design)
    assert s["households.roof_kw_sd"] == 1.0
    assert model_part(s.with_values({"households.roof_kw_sd": strategy["households.roof_kw_sd"]})) == model_part(
        strategy
    )
    also = write_scenario("also.toml", '[scenario]\nextends = "strategy.toml"\n')
    assert model_part(load_scenario(also)) == model_part(strategy)
    write_scenario("strategy.toml", '[scenario]\nextends = "baseline"\n\n[households]\nroof_kw_mean = 5.0\n')
    assert load_scenario(also)["households.roof_kw_mean"] == 5.0


def test_peer_scope_must_be_network_or_population(baseline):
    baseline.with_values({"behaviour.peer_scope": "population"})  # valid
    with pytest.raises(ScenarioError):
        baseline.with_values({"behaviour.peer_scope": "populaton"})


def test_missing_path_with_directory_is_not_the_builtin(tmp_path):
    with pytest.raises(ScenarioError):
        load_scenario(tmp_path / "my_runs" / "strategy.toml")


def test_validated_campaign_does_not_fail_at_run_time(baseline):
    values = {
        "campaigns.x.technologies": ["pv"],
        "campaigns.x.agents": ["households"],
        "campaigns.x.eligibility": "large_emitters",
        "campaigns.x.first_fiscal_year": 2014,
        "campaigns.x.last_fiscal_year": 2050,
    }
    with pytest.raises(ScenarioError, match="large_emitters"):
        baseline.with_values(values)
    # for businesses it is valid and runs
    values["campaigns.x.agents"] = ["businesses"]
    model = CityModel(baseline.with_values(values), seed=1, scale=0.01)
    for _ in range(12):
        model.step()


def test_digest_follows_the_values_not_the_files(tmp_path):
    here = load_scenario("baseline")
    for name in ("history.toml", "baseline.toml"):  # baseline extends history
        (tmp_path / name).write_text((SCENARIO_DIR / name).read_text())
    elsewhere = load_scenario(str(tmp_path / "baseline.toml"))
    assert elsewhere.files != here.files and elsewhere.sha256() == here.sha256()
    assert here.with_values({"behaviour.peer_weight": 1.25}).sha256() != here.sha256()


@pytest.mark.parametrize("name", ["../../escaped", "", ".hidden", "a/b", "a b"])
def test_scenario_name_must_be_one_safe_path_component(write_scenario, name):
    path = write_scenario("named.toml", f'[scenario]\nname = "{name}"\nextends = "{BASELINE}"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.key == "scenario.name" and Path(err.value.file).name == "named.toml"


def test_binary_file_is_refused_and_a_byte_order_mark_accepted(tmp_path):
    binary = tmp_path / "b.toml"
    binary.write_bytes(bytes(range(128, 256)) * 8)
    with pytest.raises(ScenarioError) as err:
        load_scenario(binary)
    assert err.value.key == "(file)" and "UTF-8" in str(err.value)
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + f'[scenario]\nname = "bom"\nextends = "{BASELINE}"\n'.encode())
    assert load_scenario(bom).name == "bom"
