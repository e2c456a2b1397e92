"""The PDCA review rule (abm.pdca): when it reviews, what it raises, and that it is off
unless a scenario asks for it."""

from __future__ import annotations

import pytest

from abm.clock import FIRST_FISCAL_YEAR
from abm.model import CityModel
from abm.pdca import PDCARule
from abm.scenario import DESIGN_DIR, ScenarioError, load_scenario

RULE = {
    "first_review_fiscal_year": 2028,
    "review_every_years": 3,
    "last_review_fiscal_year": 2040,
    "indicator": "evs",
    "path": {"2027": 100.0, "2030": 200.0},
    "programme": "city_ev",
    "raises": "flat_yen",
    "step_share": 0.5,
    "ceiling": 200000.0,
}


def test_reviews_in_its_years_and_raises_only_when_behind_up_to_the_ceiling():
    rule = PDCARule(RULE)
    assert [fy for fy in range(2026, 2045) if rule.is_review_year(fy)] == [2028, 2031, 2034, 2037, 2040]
    assert rule.review(2028, {"evs": 99.0}, 100000.0) == 150000.0  # behind the FY2027 point
    assert rule.review(2031, {"evs": 200.0}, 150000.0) is None  # on the FY2030 path
    assert rule.review(2034, {"evs": 10.0}, 150000.0) == 200000.0  # the ceiling
    assert rule.review(2037, {"evs": 10.0}, 200000.0) is None  # at the ceiling already
    assert [r.raised_to for r in rule.reviews] == [150000.0, None, 200000.0, None]


@pytest.fixture(scope="module")
def pdca_run():
    scenario = load_scenario(DESIGN_DIR / "pdca-review.toml")
    model = CityModel(scenario, seed=3, scale=0.05)
    model.run()
    return scenario, model, model.table()


def test_example_design_raises_its_budget_and_spends_within_it(pdca_run):
    scenario, model, table = pdca_run
    rule, start = model.pdca, scenario["subsidies.city_pv_strategy.annual_budget_yen"]
    raised = [r for r in rule.reviews if r.raised_to is not None]
    assert raised, "the strategy is behind the design's path, so some review must raise the budget"
    assert all(r.indicator < r.path for r in raised)
    expected, by_year = start, {}
    for fy in table["fiscal_year"]:
        for r in raised:
            if r.fiscal_year == fy:
                expected = r.raised_to
        by_year[int(fy)] = expected
    assert table["pdca_value"].tolist() == [by_year[int(fy)] for fy in table["fiscal_year"]]
    assert max(by_year.values()) <= scenario["pdca.ceiling"]
    i = model.policy.programme_index("city_pv_strategy")
    for fy, budget in by_year.items():
        assert model.policy.ledger.spent_yen[fy - FIRST_FISCAL_YEAR, i] <= budget * (1 + 1e-12)


def test_off_by_default(pdca_run):
    model = CityModel(load_scenario("strategy"), seed=3, scale=0.01, last_fiscal_year=2030)
    model.run()
    assert model.pdca is None and "pdca_value" not in model.table()


def test_a_rule_must_name_a_programme_of_the_scenario(tmp_path):
    bad = tmp_path / "bad.toml"
    design = (
        (DESIGN_DIR / "pdca-review.toml")
        .read_text()
        .replace(
            'extends = "../scenarios/strategy.toml"',
            f'extends = "{(DESIGN_DIR.parent / "scenarios" / "strategy.toml")}"',
        )
    )
    bad.write_text(design.replace('programme = "city_pv_strategy"', 'programme = "city_pv_typo"'))
    with pytest.raises(ScenarioError, match=r"pdca\.programme.*subsidies"):
        load_scenario(bad)
