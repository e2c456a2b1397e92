"""Subsidy designs compared on paired runs (abm/compare.py, ``abm compare``).

* Free riders counted by hand on small adoption logs, and the logs themselves
  checked against the runs' own stocks and ledgers (each PV adopter logged once,
  granted agents never more than the grants paid).
* Pairing: a design identical to its baseline differs by exactly zero in every run,
  and every agent it paid is a free rider.
* A design without city grants pays nothing and reports no free-rider share.
* Doubling a budget that runs out never pays fewer grants in any run, and the
  report names the years in which it no longer runs out.
* The free-rider share rises when the grant goes to agents more inclined to adopt.
* An interrupted comparison resumes without computing a run twice; serial and
  process-pool runs give the same analysis; a bad design file stops before any run.
"""

from __future__ import annotations

import csv
import json
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from abm.cli import main
from abm.compare import (
    FIRST_EVALUATED_YEAR,
    Comparison,
    ComparisonError,
    Design,
    PairedRun,
    _share_band,
    analyse,
    changed_grants,
    free_riders,
    run_comparison,
)
from abm.execution import RunStore, run_model_experiment
from abm.kernels import ADOPTED, GRANTED
from abm.population import LOGGED_TECHNOLOGIES
from abm.runner import run_scenario
from abm.scenario import DESIGN_DIR, SCENARIO_DIR, load_scenario

STRATEGY = SCENARIO_DIR / "strategy.toml"
SCALE = 0.02
SEEDS = (11, 12)
PV, ZEH = LOGGED_TECHNOLOGIES.index("pv"), LOGGED_TECHNOLOGIES.index("zeh")


def comparison(*designs, baseline=None, seeds=SEEDS, scale=SCALE, window=24) -> Comparison:
    base = baseline or load_scenario(STRATEGY)
    return Comparison(
        baseline=Design(base.name, base),
        designs=tuple(Design(d.name, d) for d in designs),
        seeds=seeds,
        behaviours=(None,) * len(seeds),
        scale=scale,
        window_months=window,
    )


def evaluate(c: Comparison, out: Path) -> dict:
    return analyse(c, run_model_experiment(PairedRun(c), c.specs(), RunStore(out)))


def log(n: int) -> np.ndarray:
    return np.full((2, len(LOGGED_TECHNOLOGIES), n), -1, dtype=np.int16)


def test_free_riders_counted_by_hand():
    design, baseline = log(6), log(6)
    # granted PV in the design at these months (-1: not granted) ...
    design[GRANTED, PV] = [150, 160, -1, 170, 200, 300]
    # ... and the months the same households adopted PV in the baseline
    baseline[ADOPTED, PV] = [140, 190, 100, -1, 224, 325]
    # agent 0 adopted earlier (free), 1 after the window, 2 got no grant, 3 never
    # adopted, 4 exactly at the window's end (free), 5 one month after it
    design[GRANTED, ZEH, 0] = 180  # a ZEH grant whose baseline household built no ZEH
    counts = free_riders({"households": design}, {"households": baseline}, window_months=24)
    assert counts == {"households": {"pv": {"granted": 5, "free_riders": 2}, "zeh": {"granted": 1, "free_riders": 0}}}
    wider = free_riders({"households": design}, {"households": baseline}, window_months=30)
    assert wider["households"]["pv"] == {"granted": 5, "free_riders": 4}  # agents 1 and 5 join
    assert free_riders({"households": log(6)}, {"households": baseline}, 24) == {}  # no grants: nothing counted


# without ageing (abm/pv_life.py) no system is removed and no owner adopts PV twice,
# so that the log of first adoptions can be checked against the stocks
NO_AGEING = {"technology.pv_end_of_life": False}


@pytest.fixture(scope="module")
def logged_run():
    return run_scenario(
        load_scenario(STRATEGY).with_values(NO_AGEING), 5, SCALE, adoption_log_from=FIRST_EVALUATED_YEAR
    )


def test_adoption_log_changes_nothing_and_agrees_with_stocks_and_ledger(logged_run):
    plain = run_scenario(load_scenario(STRATEGY).with_values(NO_AGEING), 5, SCALE)
    assert plain.table == logged_run.table and plain.programme_spending == logged_run.programme_spending
    t = logged_run.table
    households = logged_run.adoptions["households"]
    weight = 1 / SCALE
    # a house with PV never rebuilds and owners with PV never reconsider: each PV
    # adopter is logged once, so the logged adopters are the systems added
    added = t["residential_pv_systems"][-1] - t["residential_pv_systems"][0] + t["residential_pv_added_systems"][0]
    assert np.count_nonzero(households[ADOPTED, PV] >= 0) == pytest.approx(added / weight, abs=1e-6)
    zeh = households[ADOPTED, ZEH] >= 0
    assert np.count_nonzero(zeh) == pytest.approx(sum(t["zeh_built"]) / weight, abs=1e-6)
    # a ZEH carries PV: its PV is logged in the same month
    assert np.array_equal(households[ADOPTED, PV][zeh], households[ADOPTED, ZEH][zeh])
    # an agent logged as granted adopted no earlier than FY2026, and then; never more
    # granted agents than city grants paid from FY2026 (an agent may get several)
    city_grants = sum(
        r["grants"]
        for r in logged_run.programme_spending
        if r["level"] == "city" and r["fiscal_year"] >= FIRST_EVALUATED_YEAR
    )
    granted = 0
    first_step = (FIRST_EVALUATED_YEAR - 2014) * 12
    for agents, months in logged_run.adoptions.items():
        paid = months[GRANTED] >= 0
        assert np.all(months[GRANTED][paid] >= first_step), agents
        assert np.all(months[ADOPTED][paid] >= 0), agents
        granted += np.count_nonzero(paid)
    assert 0 < granted * weight <= city_grants
    # the opening stock: the systems owned at the start, and no opening owner adopts PV again
    opening = logged_run.opening_households
    owned_at_start = t["residential_pv_systems"][0] - t["residential_pv_added_systems"][0]
    assert np.count_nonzero(opening["pv"]) == pytest.approx(owned_at_start / weight, abs=1e-6)
    assert not np.any(households[ADOPTED, PV][opening["pv"]] >= 0)
    assert plain.opening_households is None  # kept only with the logs


@pytest.fixture(scope="module")
def identical(tmp_path_factory):
    path = tmp_path_factory.mktemp("designs") / "same.toml"
    path.write_text(f'[scenario]\nname = "same-as-strategy"\nextends = "{STRATEGY}"\n')
    c = comparison(load_scenario(path))
    return evaluate(c, tmp_path_factory.mktemp("identical"))


def test_identical_design_differs_by_exactly_nothing(identical):
    entry = identical["by_design"]["same-as-strategy"]
    for key, b in entry["differences"].items():
        assert b == {"mean": 0.0, "p5": 0.0, "p95": 0.0}, key
    assert entry["co2_avoided_t_2026_2050"] == {"mean": 0.0, "p5": 0.0, "p95": 0.0}
    for series in entry["trajectory_differences"].values():
        assert not any(np.any(np.asarray(v)) for v in series.values())
    fr = entry["free_riders"]
    assert fr["mean"] == fr["p5"] == fr["p95"] == 1.0 and fr["runs_with_grants"] == len(SEEDS)
    assert fr["of_changed_grants"] is None  # it changes no grant
    assert {k: x["share"] for k, x in fr["by_technology"].items()} == dict.fromkeys(fr["by_technology"], 1.0)
    assert entry["city_yen_per_additional_kw"] is None and entry["city_yen_per_additional_t_co2"] is None


@pytest.fixture(scope="module")
def designs_compared(tmp_path_factory):
    """The no-city-grants and doubled-budget example designs against the strategy."""
    out = tmp_path_factory.mktemp("compared")
    c = comparison(
        load_scenario(DESIGN_DIR / "no-city-grants.toml"),
        load_scenario(DESIGN_DIR / "pv-budget-doubled.toml"),
        seeds=(11, 12, 13),
    )
    analysis = run_comparison(c, out)
    records = RunStore(out).load()
    return c, out, analysis, records


def test_design_without_city_grants_pays_nothing_and_has_no_free_rider_share(designs_compared):
    _, out, analysis, _ = designs_compared
    entry = analysis["by_design"]["no-city-grants"]
    assert entry["levels"]["city_grants_yen_2026_2050"] == {"mean": 0.0, "p5": 0.0, "p95": 0.0}
    assert entry["levels"]["city_grants_2026_2050"]["mean"] == 0.0
    assert entry["free_riders"] is None
    assert json.loads((out / "summary.json").read_text())["by_design"]["no-city-grants"]["free_riders"] is None
    with open(out / "comparison.csv", newline="") as f:
        rows = {(r["design"], r["indicator"]): r for r in csv.DictReader(f)}
    row = rows[("no-city-grants", "free_rider_share_24m")]
    assert (row["mean"], row["p5"], row["p95"]) == ("", "", "") and row["note"] == "no city grants paid"
    report = re.sub(r'src="data:[^"]*"', "", (out / "report.html").read_text())  # the figures' bytes aside
    assert not re.search(r"\bnan\b", report, re.IGNORECASE)
    # the city's money bought PV: without it there is less
    assert entry["differences"]["agent_pv_kw_2050"]["mean"] < 0


def test_doubled_budget_never_pays_fewer_grants_and_report_names_the_years(designs_compared):
    c, out, _, records = designs_compared
    programme = "city_pv_strategy"

    def grants(name, r):
        rows = records[f"{name}/{r}"]["outputs"]["programme_spending"]
        return sum(x["grants"] for x in rows if x["programme"] == programme)

    def ran_out(name, r):
        return {int(fy) for fy in records[f"{name}/{r}"]["outputs"]["budget_exhausted"].get(programme, {})}

    for r in range(c.replicates):
        assert grants("pv-budget-doubled", r) >= grants("strategy", r)
    # the strategy's budget runs out every year in every run; doubled, it sometimes does not
    years = set(range(FIRST_EVALUATED_YEAR, 2051))
    assert all(ran_out("strategy", r) == years for r in range(c.replicates))
    counted = {
        fy for fy in years if sum(fy in ran_out("pv-budget-doubled", r) for r in range(c.replicates)) < c.replicates / 2
    }
    assert counted, "the doubled budget should stop running out in some year"
    report = (out / "report.html").read_text()
    row = next(line for line in report.split("<tr") if f"<td>{programme}</td><td>pv-budget-doubled</td>" in line)
    stops = row.split("<td>")[5].split("</td>")[0]  # the column of years it no longer runs out
    named = set()
    for part in stops.split("、"):
        first, _, last = part.partition("～")
        named |= set(range(int(first), int(last or first) + 1))
    assert named == counted


def test_free_rider_share_rises_when_the_grant_goes_to_the_keen(tmp_path, write_scenario):
    """Households given a strong liking for PV from FY2026 adopt it anyway: a grant
    paid to them buys less. The grant is the same in both comparisons."""
    grant = """
        [subsidies.city_pv_extra]
        level = "city"
        technology = "pv"
        agents = ["households"]
        yen_per_kw = 20000.0
        first_fiscal_year = 2026
        last_fiscal_year = 2050
    """
    keen = """
        [campaigns.pv_appeal]
        technologies = ["pv"]
        agents = ["households"]
        utility_bonus = 3.0
        first_fiscal_year = 2026
        last_fiscal_year = 2050
    """
    head = '[scenario]\nname = "{}"\nextends = "{}"\n'
    shares = []
    for label, extra in (("plain", ""), ("keen", keen)):
        base = write_scenario(f"{label}.toml", head.format(label, STRATEGY) + extra)
        design = write_scenario(f"{label}-grant.toml", head.format(f"{label}-grant", base) + grant)
        c = comparison(load_scenario(design), baseline=load_scenario(base))
        fr = evaluate(c, tmp_path / label)["by_design"][f"{label}-grant"]["free_riders"]
        shares.append(fr["by_technology"]["households.pv"]["share"])
    plain, keen_share = shares
    assert 0 < plain < keen_share < 1


def test_interrupted_comparison_resumes_without_repeating_a_run(tmp_path, designs_compared):
    c, out, analysis, _ = designs_compared
    lines = (out / "runs.jsonl").read_text().splitlines(keepends=True)
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "experiment.json").write_text((out / "experiment.json").read_text())
    (partial / "runs.jsonl").write_text("".join(lines[:4]) + lines[4][:50])  # the fifth cut short by a kill
    resumed = run_comparison(c, partial)
    again = (partial / "runs.jsonl").read_text().splitlines()
    assert again[:4] == [x.rstrip("\n") for x in lines[:4]]
    keys = [json.loads(x)["key"] for x in again]
    assert sorted(keys) == sorted(s.key for s in c.specs())  # each run once
    assert resumed == analysis


def test_other_comparison_in_the_same_directory_is_refused(designs_compared):
    out = designs_compared[1]
    other = comparison(load_scenario(DESIGN_DIR / "pv-grant-30k.toml"))
    with pytest.raises(ComparisonError, match="different experiment"):
        run_comparison(other, out)


@pytest.mark.slow
def test_process_pool_gives_the_serial_analysis(tmp_path, identical):
    c = comparison(load_scenario(DESIGN_DIR / "pv-grant-30k.toml"))
    serial = evaluate(c, tmp_path / "serial")
    with ProcessPoolExecutor(max_workers=2) as pool:
        records = run_model_experiment(PairedRun(c), c.specs(), RunStore(tmp_path / "pool"), pool)
    assert analyse(c, records) == serial


def test_design_names_must_be_unique_and_safe():
    strategy = load_scenario(STRATEGY)
    with pytest.raises(ComparisonError, match="a name of its own"):
        comparison(strategy)
    # a file's unsafe name is refused on loading (tests/test_scenario.py); a name given in code here
    base = load_scenario(STRATEGY)
    with pytest.raises(ComparisonError, match=r"strategy\.toml: key 'scenario\.name'"):
        Comparison(Design(base.name, base), (Design("../up", strategy),), SEEDS, (None, None))


def test_bad_design_file_stops_before_any_run(tmp_path, write_scenario, capsys):
    good = DESIGN_DIR / "pv-budget-doubled.toml"
    bad = write_scenario(
        "bad.toml",
        f"""
        [scenario]
        name = "bad"
        extends = "{STRATEGY}"
        [subsidies.city_pv_strategy]
        annual_budget_yen = "lots"
        """,
    )
    out = tmp_path / "out"
    code = main(["compare", str(good), str(bad), "--scale", "0.02", "--replicates", "1", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{bad}: key 'subsidies.city_pv_strategy.annual_budget_yen'" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("design", "grants"),
    [
        # the household PV budget: the businesses' PV grant, which it leaves alone, is not among them
        ("pv-budget-doubled", ["households.pv"]),
        ("pv-budget-to-ppa", ["households.ppa", "households.pv"]),
        ("pv-obligation-2030", []),
    ],
)
def test_free_riders_of_the_grants_a_design_changes(design, grants):
    assert changed_grants(load_scenario(DESIGN_DIR / f"{design}.toml"), load_scenario(STRATEGY)) == grants


def test_the_share_of_changed_grants_counts_only_their_agents():
    runs = [
        {
            "households": {"pv": {"granted": 10, "free_riders": 2}},
            "businesses": {"pv": {"granted": 30, "free_riders": 30}},
        }
    ]
    (households, _), (both, _) = _share_band(runs, ["households.pv"]), _share_band(runs, None)
    assert households["mean"] == pytest.approx(0.2)
    assert both["mean"] == pytest.approx(32 / 40)


@pytest.mark.parametrize("design", sorted(p.name for p in DESIGN_DIR.glob("*.toml")))
def test_example_designs_load_and_describe_themselves(design):
    text = (DESIGN_DIR / design).read_text()
    assert text.startswith("# Tests:"), "each example design says what it tests"
    s = load_scenario(DESIGN_DIR / design)
    assert s.name == design.removesuffix(".toml")
    assert s["scenario.description"] and s["scenario.description_ja"]
    assert str(STRATEGY.resolve()) in s.files  # extends the strategy
