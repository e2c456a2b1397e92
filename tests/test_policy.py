"""Policy as data (abm/policy.py): grant amounts, first-come budgets, campaigns and
measures.

* ``SubsidyProgramme.amount_yen``: the city's band programme, per-kW grants with a cap
  and a share-of-cost limit, checked against hand-computed numbers; random programmes
  (hypothesis) against a plain-Python evaluation of the rule.
* ``BudgetLedger`` (hypothesis): random programmes and monthly application streams over
  several fiscal years, with refunds. The budget is never exceeded, the granted
  applications are a prefix of the arrival order and stop exactly at the first one
  that does not fit, a closed programme grants nothing more that fiscal year and
  reopens the next, the exhaustion date is the refused applicant's arrival day within
  the month, and the ledger equals an independent running total of grants less refunds.
* ``PolicyEnvironment``: which programmes apply, campaign multipliers and bonuses, PPA
  maturity, joint purchase and the PV mandate, checked against the scenario files.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from abm.clock import FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR, MONTHS_PER_YEAR, Month
from abm.policy import BudgetLedger, PolicyEnvironment, SubsidyProgramme, eligible
from abm.scenario import SCENARIO_DIR, load_scenario

# --- grant amounts ----------------------------------------------------------------


def test_city_band_programme_amounts(history):
    """30,000 yen below 4 kW, 50,000 yen from 4 kW (bands [0, 4) and [4, 10))."""
    policy = PolicyEnvironment(history)
    prog = next(p for p in policy.programmes if p.name == "city_pv")
    kw = np.array([2.0, 3.0, 3.99, 4.0, 4.5, 6.0, 9.9])
    cost = kw * 300_000.0
    np.testing.assert_array_equal(
        prog.amount_yen(kw, cost), [30000.0, 30000.0, 30000.0, 50000.0, 50000.0, 50000.0, 50000.0]
    )
    # without a share-of-cost limit a grant is still never more than the cost
    assert prog.amount_yen(np.array([0.1]), np.array([20_000.0]))[0] == 20000.0


def test_per_kw_programme_with_cap(history):
    """City grant to FY2018: 30,000 yen/kW, capped at 105,000 yen."""
    prog = next(p for p in PolicyEnvironment(history).programmes if p.name == "city_pv_per_kw")
    kw = np.array([1.0, 3.0, 3.5, 4.0, 8.0])
    # 30,000, 90,000, 105,000 (= 3.5 x 30,000), 120,000 -> 105,000, 240,000 -> 105,000
    np.testing.assert_allclose(prog.amount_yen(kw, kw * 400_000.0), [30000, 90000, 105000, 105000, 105000])


def test_per_kw_with_cap_and_share_of_cost():
    prog = SubsidyProgramme(
        name="x",
        level="prefecture",
        technology="pv",
        agents=("households",),
        first_fiscal_year=2024,
        last_fiscal_year=2025,
        yen_per_kw=20_000.0,
        cap_yen=80_000.0,
        max_share_of_cost=0.1,
    )
    kw = np.array([2.0, 3.0, 5.0, 5.0])
    cost = np.array([1_000_000.0, 500_000.0, 1_500_000.0, 600_000.0])
    # 2 kW: 40,000 (< cap, < 100,000); 3 kW: 60,000 -> 10% of 500,000 = 50,000;
    # 5 kW: 100,000 -> cap 80,000 (< 150,000); 5 kW, cheap: cap 80,000 -> 60,000
    np.testing.assert_allclose(prog.amount_yen(kw, cost), [40000, 50000, 80000, 60000])


def test_flat_plus_bands_stack():
    prog = SubsidyProgramme(
        name="x",
        level="city",
        technology="pv",
        agents=("households",),
        first_fiscal_year=2014,
        last_fiscal_year=2050,
        flat_yen=10_000.0,
        yen_per_kw=1_000.0,
        bands=((0.0, 4.0, 30_000.0), (3.0, 10.0, 5_000.0)),
    )
    kw = np.array([2.0, 3.5, 4.0, 12.0])
    # flat + per kW + every band that contains kw
    expected = [10000 + 2000 + 30000, 10000 + 3500 + 30000 + 5000, 10000 + 4000 + 5000, 10000 + 12000]
    np.testing.assert_allclose(prog.amount_yen(kw, kw * 1e6), expected)


def reference_amount(p: SubsidyProgramme, kw: float, cost: float) -> float:
    amount = p.flat_yen + p.yen_per_kw * kw
    for lo, hi, yen in p.bands:
        if lo <= kw < hi:
            amount += yen
    return min(amount, p.cap_yen, p.max_share_of_cost * cost)


money = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
band = st.tuples(
    st.floats(0.0, 12.0, allow_nan=False), st.floats(0.01, 6.0, allow_nan=False), st.floats(0.0, 1e5, allow_nan=False)
).map(lambda b: (b[0], b[0] + b[1], b[2]))


BUDGETS = st.one_of(
    st.just(math.inf),
    st.floats(0.0, 2e5, allow_nan=False),  # small: a few grants or none
    st.floats(0.0, 5e7, allow_nan=False),
)


@st.composite
def programmes(draw, name: str = "p") -> SubsidyProgramme:
    budget = draw(BUDGETS)
    return SubsidyProgramme(
        name=name,
        level=draw(st.sampled_from(["national", "prefecture", "city"])),
        technology="pv",
        agents=("households",),
        first_fiscal_year=FIRST_FISCAL_YEAR,
        last_fiscal_year=LAST_FISCAL_YEAR,
        yen_per_kw=draw(st.one_of(st.just(0.0), st.floats(0.0, 1e5, allow_nan=False))),
        flat_yen=draw(st.one_of(st.just(0.0), money)),
        bands=tuple(draw(st.lists(band, max_size=3))),
        cap_yen=draw(st.one_of(st.just(math.inf), money)),
        max_share_of_cost=draw(st.floats(0.0, 1.0, allow_nan=False)),
        annual_budget_yen=budget,
    )


@settings(max_examples=200, deadline=None)
@given(
    programmes(),
    st.lists(st.tuples(st.floats(0.0, 15.0, allow_nan=False), st.floats(0.0, 5e6, allow_nan=False)), min_size=1),
)
def test_amount_matches_reference(prog, applications):
    kw = np.array([a[0] for a in applications])
    cost = np.array([a[1] for a in applications])
    got = prog.amount_yen(kw, cost)
    expected = [reference_amount(prog, k, c) for k, c in applications]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)
    assert np.all(got >= 0)
    assert np.all(got <= prog.cap_yen)
    assert np.all(got <= prog.max_share_of_cost * cost * (1 + 1e-12))


# --- budgets ----------------------------------------------------------------------

# Relative slack for the floating-point sums of a year's grants: the ledger itself
# admits 1e-12 of the remaining budget for rounding in its cumulative sums.
ROUNDING = 2e-12

application = st.tuples(
    st.floats(0.5, 12.0, allow_nan=False),  # kW
    st.floats(1e5, 5e5, allow_nan=False),  # cost per kW
    st.floats(0.0, 1.0, allow_nan=False, exclude_max=True),  # arrival within the month
    st.booleans(),  # refunded afterwards, if granted
)


@st.composite
def ledger_cases(draw):
    """Programmes with budgets of their own and some of them on one shared budget too
    (their own, where finite, a ceiling within it)."""
    n_programmes = draw(st.integers(1, 4))
    progs = tuple(draw(programmes(name=f"p{i}")) for i in range(n_programmes))
    sharing = draw(st.lists(st.booleans(), min_size=n_programmes, max_size=n_programmes))
    progs = tuple(
        dataclasses.replace(p, budget="shared") if share else p for p, share in zip(progs, sharing, strict=True)
    )
    shared = {"shared": draw(BUDGETS)}
    first = draw(st.integers(FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR - 1))
    n_years = draw(st.integers(2, min(4, LAST_FISCAL_YEAR - first + 1)))
    weight = draw(st.sampled_from([1.0, 2.5, 20.0, 100.0]))
    # stream[year][month][programme] = applications
    streams = draw(
        st.lists(
            st.lists(
                st.lists(st.lists(application, max_size=8), min_size=n_programmes, max_size=n_programmes),
                min_size=MONTHS_PER_YEAR,
                max_size=MONTHS_PER_YEAR,
            ),
            min_size=n_years,
            max_size=n_years,
        )
    )
    return progs, shared, first, weight, streams


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ledger_cases())
def test_budget_ledger_first_come_never_exceeds(case):
    progs, shared, first, weight, streams = case
    ledger = BudgetLedger(progs, shared)
    members = {
        i: [j for j, q in enumerate(progs) if (q.budget or q.name) == (p.budget or p.name)] for i, p in enumerate(progs)
    }
    event(f"programmes on the shared budget: {sum(bool(p.budget) for p in progs)}")
    reference: dict[tuple[int, int], list[float]] = {}  # (row, programme) -> grants and refunds
    counts: dict[tuple[int, int], int] = {}  # (row, programme) -> simulated agents granted
    for y, year in enumerate(streams):
        fy = first + y
        ledger.start_fiscal_year(fy)
        row = fy - FIRST_FISCAL_YEAR
        assert not ledger.closed.any()  # every programme reopens each fiscal year
        closed_in = [False] * len(progs)

        def budget_spent(i: int, row: int = row) -> float:
            return math.fsum(ledger.spent_yen[row, j] for j in members[i])

        for m, batches in enumerate(year):
            month = Month(row * MONTHS_PER_YEAR + m)
            assert month.fiscal_year == fy
            for i, (prog, apps) in enumerate(zip(progs, batches, strict=True)):
                apps = sorted(apps, key=lambda a: a[2])
                kw = np.array([a[0] for a in apps])
                amounts = prog.amount_yen(kw, kw * np.array([a[1] for a in apps]))
                days = np.array([1 + int(a[2] * month.days) for a in apps], dtype=np.int64)
                before, before_shared = ledger.spent_yen[row, i], budget_spent(i)
                was_closed, closed_before = bool(ledger.closed[i]), ledger.closed.copy()
                granted = ledger.grant(i, amounts, weight, days, month)
                k = int(granted.sum())
                # a prefix of the arrival order
                assert granted[:k].all() and not granted[k:].any()
                own = prog.annual_budget_yen
                pool = shared[prog.budget] if prog.budget else math.inf
                assert ledger.budget_yen(i) == min(own, pool)
                if was_closed:
                    assert k == 0
                    assert ledger.spent_yen[row, i] == before
                    assert ledger.closed[i]
                elif k < len(apps):
                    # stopped at the first application that does not fit its own budget
                    # or the shared one, and closed the programme on its day; when the
                    # shared budget ran out, every programme on it
                    nxt = math.fsum(amounts[: k + 1]) * weight
                    assert before + nxt > own * (1 - ROUNDING) or before_shared + nxt > pool * (1 - ROUNDING)
                    closing = list(np.flatnonzero(ledger.closed & ~closed_before))
                    assert i in closing
                    if len(closing) > 1 or before + nxt <= own * (1 - ROUNDING):
                        assert before_shared + nxt > pool * (1 - ROUNDING)
                        assert closing == [j for j in members[i] if not closed_before[j]]
                    for j in closing:
                        closed_in[j] = True
                        date = ledger.exhausted_on[(progs[j].name, fy)]
                        assert date == month.date(int(days[k]))
                        assert (date.year, date.month) == (month.calendar_year, month.calendar_month)
                        assert 1 <= date.day <= month.days
                else:
                    assert not ledger.closed[i]
                reference.setdefault((row, i), []).append(math.fsum(amounts[:k]) * weight)
                assert budget_spent(i) <= pool * (1 + ROUNDING)
                assert ledger.spent_yen[row, i] <= own * (1 + ROUNDING)
                counts[(row, i)] = counts.get((row, i), 0) + k
                # refunds of some of this month's grants
                refund = np.array([a[3] for a in apps[:k]], dtype=bool)
                if refund.any():
                    ledger.refund(i, amounts[:k][refund], weight)
                    reference[(row, i)].append(-math.fsum(amounts[:k][refund]) * weight)
                    counts[(row, i)] -= int(refund.sum())
                    assert ledger.closed[i] == (was_closed or k < len(apps))
                assert budget_spent(i) <= pool * (1 + ROUNDING)
                assert ledger.spent_yen[row, i] <= own * (1 + ROUNDING)
                total = math.fsum(reference[(row, i)])
                scale = max(1.0, math.fsum(abs(x) for x in reference[(row, i)]))
                assert abs(ledger.spent_yen[row, i] - total) <= 1e-9 * scale
                # grants count real agents: weight per simulated agent
                assert ledger.grants[row, i] == pytest.approx(counts[(row, i)] * weight, rel=1e-12, abs=1e-9)
        event(f"programmes closed in a year: {sum(closed_in)}")
        for i in range(len(progs)):
            assert bool(ledger.closed[i]) == closed_in[i]
            assert ((progs[i].name, fy) in ledger.exhausted_on) == closed_in[i]
        # the ledger's own total by budget is the sum of its programmes' grants
        for i in range(len(progs)):
            q = ledger.arrays[6][i]
            assert ledger.budget_spent_yen[row, q] == pytest.approx(budget_spent(i), rel=1e-9, abs=1e-6)
    # rows outside the simulated years were never touched
    touched = {first + y - FIRST_FISCAL_YEAR for y in range(len(streams))}
    for row in set(range(ledger.spent_yen.shape[0])) - touched:
        assert not ledger.spent_yen[row].any() and not ledger.grants[row].any()


@pytest.mark.parametrize("weight", [1.0, 2.5, 64.0])
@pytest.mark.parametrize(
    ("budget_over_three", "expected"),
    [(1.0, 3), (1.0 - 1e-9, 2), (1.005, 3), (0.999, 2), (1.0 + 1e-9, 3)],
)
def test_budget_boundary(weight, budget_over_three, expected):
    """A budget of exactly the first three grants grants three; a yen less, two; and
    never more than the budget: the boundary is exact up to rounding."""
    amounts = np.array([30_000.0, 50_000.0, 20_000.0, 10_000.0, 40_000.0])
    budget = (30_000.0 + 50_000.0 + 20_000.0) * weight * budget_over_three
    prog = SubsidyProgramme("p", "city", "pv", ("households",), 2014, 2050, annual_budget_yen=budget)
    ledger = BudgetLedger((prog,))
    granted = ledger.grant(0, amounts, weight, np.array([1, 2, 3, 4, 5]), Month(0))
    assert granted.tolist() == [True] * expected + [False] * (5 - expected)
    assert ledger.spent_yen[0, 0] == math.fsum(amounts[:expected]) * weight
    assert ledger.spent_yen[0, 0] <= budget * (1 + ROUNDING)
    assert ledger.closed[0]
    assert ledger.exhausted_on[("p", 2014)].day == expected + 1


def test_closed_programme_reopens_next_fiscal_year():
    prog = SubsidyProgramme("p", "city", "pv", ("households",), 2014, 2050, flat_yen=100.0, annual_budget_yen=250.0)
    ledger = BudgetLedger((prog,))
    amounts = np.full(4, 100.0)
    days = np.array([3, 5, 9, 20])
    ledger.start_fiscal_year(2020)
    month = Month((2020 - 2014) * 12 + 5)  # September 2020
    np.testing.assert_array_equal(ledger.grant(0, amounts, 1.0, days, month), [True, True, False, False])
    assert ledger.exhausted_on[("p", 2020)].isoformat() == "2020-09-09"
    # nothing more this fiscal year, even an application that would fit
    assert not ledger.grant(0, np.array([10.0]), 1.0, np.array([1]), Month(month.step + 1)).any()
    ledger.refund(0, np.array([100.0]), 1.0)
    assert ledger.spent_yen[2020 - 2014, 0] == 100.0
    assert not ledger.grant(0, np.array([10.0]), 1.0, np.array([1]), Month(month.step + 2)).any()
    # the next fiscal year has its own budget
    ledger.start_fiscal_year(2021)
    np.testing.assert_array_equal(ledger.grant(0, amounts, 1.0, days, Month(84)), [True, True, False, False])
    assert ledger.spent_yen[2021 - 2014, 0] == 200.0
    assert ledger.spent_yen[2020 - 2014, 0] == 100.0
    assert ledger.exhausted_on[("p", 2021)].isoformat() == "2021-04-09"


def test_unlimited_budget_grants_everyone():
    prog = SubsidyProgramme("p", "national", "ev", ("households",), 2014, 2050, flat_yen=650_000.0)
    ledger = BudgetLedger((prog,))
    amounts = np.full(1000, 650_000.0)
    assert ledger.grant(0, amounts, 640.0, np.ones(1000, dtype=np.int64), Month(0)).all()
    assert ledger.spent_yen[0, 0] == pytest.approx(1000 * 650_000.0 * 640.0, rel=1e-12)
    assert not ledger.closed[0]


# --- the policy environment ------------------------------------------------------


POLICY_TOML = """
[scenario]
extends = "{baseline}"

[campaigns.school]
technologies = ["pv", "ev"]
agents = ["households"]
base_rate_multiplier = 1.5
utility_bonus = 0.25
first_fiscal_year = 2030
last_fiscal_year = 2040

[campaigns.old_houses]
technologies = ["pv"]
agents = ["households"]
eligibility = "existing"
base_rate_multiplier = 2.0
first_fiscal_year = 2035
last_fiscal_year = 2050

[campaigns.big_emitters]
technologies = ["pv", "ppa"]
agents = ["businesses"]
eligibility = "large_emitters"
base_rate_multiplier = 3.0
utility_bonus = 1.0
first_fiscal_year = 2026
last_fiscal_year = 2050

[campaigns.dampener]
technologies = ["ev"]
agents = ["households"]
base_rate_multiplier = 0.5
first_fiscal_year = 2030
last_fiscal_year = 2030

[joint_purchase]
cost_reduction_share = 0.15
participation_share = 0.3
first_fiscal_year = 2026
last_fiscal_year = 2040

[ppa_promotion]
maturity_boost = 0.9
first_fiscal_year = 2027
last_fiscal_year = 2050

[mandate]
pv_on_new_houses_from_fiscal_year = 2030
compliance_share = 0.8
"""


@pytest.fixture
def measures(write_scenario):
    path = write_scenario("measures.toml", POLICY_TOML.format(baseline=SCENARIO_DIR / "baseline.toml"))
    return PolicyEnvironment(load_scenario(path))


def test_programmes_for_match_the_scenario_tables(strategy, history):
    """Every (technology, agent type, fiscal year): the programmes that apply are those
    whose table names the technology and agents and whose years include the year."""
    for scenario in (history, strategy):
        policy = PolicyEnvironment(scenario)
        tables = scenario.section("subsidies")
        for tech in ("pv", "ppa", "zeh", "ev", "solar_sharing"):
            for agents in ("households", "businesses", "farmers"):
                for fy in range(FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR + 1):
                    expected = {
                        name
                        for name, t in tables.items()
                        if t["technology"] == tech
                        and agents in t["agents"]
                        and t["first_fiscal_year"] <= fy <= t["last_fiscal_year"]
                    }
                    got = {policy.programmes[i].name for i in policy.programmes_for(tech, agents, fy)}
                    assert got == expected, (tech, agents, fy)


def test_history_programmes_by_year(history):
    """Hand-checked against history.toml: the city PV grant was per kW to FY2018, by band
    from FY2019, with the prefecture's grant stacked in FY2024-FY2025."""
    policy = PolicyEnvironment(history)

    def names(fy: int) -> set[str]:
        return {policy.programmes[i].name for i in policy.programmes_for("pv", "households", fy)}

    assert names(2016) == {"city_pv_per_kw"}
    assert names(2019) == {"city_pv"}
    assert names(2024) == {"city_pv", "prefecture_pv"}
    assert names(2026) == set()


def test_campaign_multipliers_and_bonuses(measures):
    policy = measures
    hh = {"new_build": np.array([False, True])}
    assert np.all(policy.base_rate_multiplier("pv", "households", 2029, hh) == 1.0)
    np.testing.assert_allclose(policy.base_rate_multiplier("pv", "households", 2030, hh), [1.5, 1.5])
    # school and old_houses stack (product) for existing houses only
    np.testing.assert_allclose(policy.base_rate_multiplier("pv", "households", 2036, hh), [3.0, 1.5])
    np.testing.assert_allclose(policy.base_rate_multiplier("pv", "households", 2045, hh), [2.0, 1.0])
    np.testing.assert_allclose(policy.utility_bonus("ev", "households", 2031, hh), [0.25, 0.25])
    assert np.all(policy.utility_bonus("ev", "households", 2041, hh) == 0.0)
    # the largest multiplier any agent can have; a multiplier below 1 counts as 1
    assert policy.max_base_rate_multiplier("pv", "households", 2036) == pytest.approx(3.0)
    assert policy.max_base_rate_multiplier("ev", "households", 2030) == pytest.approx(1.5)
    np.testing.assert_allclose(policy.base_rate_multiplier("ev", "households", 2030, hh), [0.75, 0.75])
    biz = {"new_build": np.zeros(3, dtype=bool), "large_emitters": np.array([True, False, True])}
    np.testing.assert_allclose(policy.base_rate_multiplier("pv", "businesses", 2030, biz), [3.0, 1.0, 3.0])
    np.testing.assert_allclose(policy.utility_bonus("ppa", "businesses", 2030, biz), [1.0, 0.0, 1.0])
    assert policy.max_base_rate_multiplier("pv", "businesses", 2025) == 1.0
    assert np.all(policy.base_rate_multiplier("pv", "farmers", 2030, hh) == 1.0)


def test_ppa_maturity_joint_purchase_and_mandate(measures, baseline):
    b = PolicyEnvironment(baseline)
    # defaults: market_maturity = {2014 = 0.0, 2019 = 0.05, 2024 = 0.2}
    assert b.ppa_maturity(2014) == 0.0
    assert b.ppa_maturity(2022) == pytest.approx(0.05 + 0.15 * 3 / 5)
    assert b.ppa_maturity(2040) == pytest.approx(0.2)
    # promotion adds 0.9 from FY2027, and maturity is a share: at most 1
    assert measures.ppa_maturity(2026) == pytest.approx(0.2)
    assert measures.ppa_maturity(2027) == 1.0
    assert b.joint_purchase(2030) == (0.0, 0.0)
    assert measures.joint_purchase(2025) == (0.0, 0.0)
    assert measures.joint_purchase(2026) == (0.3, 0.15)
    assert measures.joint_purchase(2041) == (0.0, 0.0)
    assert b.pv_mandate_share(2050) == 0.0
    assert measures.pv_mandate_share(2029) == 0.0
    assert measures.pv_mandate_share(2030) == 0.8
    assert measures.pv_mandate_share(2050) == 0.8


def test_eligibility_rules():
    flags = {"new_build": np.array([True, False]), "large_emitters": np.array([False, True])}
    assert eligible("any", flags) is True
    np.testing.assert_array_equal(eligible("existing", flags), [False, True])
    np.testing.assert_array_equal(eligible("new_build", flags), [True, False])
    np.testing.assert_array_equal(eligible("large_emitters", flags), [False, True])


# --- a budget shared by several programmes ---------------------------------------------


def test_shared_budget_is_never_exceeded_and_closes_all_its_programmes_at_once():
    """experiments/designs/shared-home-budget.toml: the strategy's household PV, ZEH and
    EV grants drawn from one budget of 280 million yen. Across the three, a year's
    grants never exceed it; when it runs out, all three close on the same day; and it
    does run out in some years (else the test would show nothing)."""
    from abm.runner import run_scenario
    from abm.scenario import DESIGN_DIR

    scenario = load_scenario(DESIGN_DIR / "shared-home-budget.toml")
    members = ("city_pv_strategy", "city_zeh", "city_ev")
    budget = scenario["budgets.city_home.annual_budget_yen"]
    result = run_scenario(scenario, seed=3, scale=0.05)
    by_year: dict[int, float] = {}
    for row in result.programme_spending:
        if row["programme"] in members:
            by_year[row["fiscal_year"]] = by_year.get(row["fiscal_year"], 0.0) + row["granted_yen"]
            assert row["budget"] == "city_home" and row["annual_budget_yen"] == budget
    assert set(range(2026, 2051)) <= set(by_year)
    assert max(by_year.values()) <= budget * (1 + 1e-9)
    ran_out = 0
    for fy in by_year:
        dates = {result.budget_exhausted.get(p, {}).get(fy) for p in members}
        assert len(dates) == 1, (fy, dates)
        ran_out += dates != {None}
    assert ran_out >= 10
