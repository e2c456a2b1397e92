"""The decision rule (abm/decision.py, compiled in abm/kernels.py): consideration
draws, peer exposure and the logit choice with first-come grants.

* With identical agents, peer share over the whole population and certain adoption,
  ``draw_considerers`` is the Bass model: checked against the Bass closed form, against
  the exact monthly recursion (hazard at the mid-month share, extrapolated from last
  month's change), and month by month against the exact binomial law of each month's
  adopters given the share its hazard used.
* With heterogeneous campaign multipliers and peer shares each agent is drawn with
  exactly ``1 - exp(-(p m_i + q s_i) / 12)`` (binomial z-tests and a chi-square test).
* ``PeerExposure`` on a network equals the brute-force adjacency product.
* ``choose`` with a tiny budget grants no more than the budget, first come first
  served, and refused agents re-decide without the grant (and give back grants of
  an option they leave).
* Car replacements settled by the taste draw alone (petrol owners below the largest
  possible EV utility) give the same runs, to the bit, as evaluating every owner.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm import kernels
from abm.clock import Month
from abm.decision import Option, PeerExposure, choose
from abm.kernels import bernoulli_positions, draw_considerers
from abm.model import CityModel
from abm.network import small_world
from abm.policy import PolicyEnvironment
from abm.scenario import load_scenario

P_BASS, Q_BASS = 0.01, 0.3
N_BASS = 100_000
MONTHS = 360


def bass_closed_form(t: np.ndarray, p: float = P_BASS, q: float = Q_BASS) -> np.ndarray:
    e = np.exp(-(p + q) * t)
    return (1 - e) / (1 + (q / p) * e)


NO_CAMPAIGN = np.ones(4)  # base-rate multiplier by flag code


def simulate_bass(seed: int, n: int = N_BASS, months: int = MONTHS, substeps: int = 1):
    """Adoption share at the end of each month and each month's (new adopters, at-risk
    agents, peer share its hazard used), with the package's primitives. With
    ``substeps`` steps a month, each step's rates are a ``substeps``-th of the
    monthly ones (the hazard is rate x step length)."""
    rng = kernels.Stream(np.random.default_rng(seed))
    adopted = np.zeros(n, dtype=np.float32)
    exposure = PeerExposure(n, None)
    pool = np.arange(n)
    codes, nobody = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    shares, new, at_risk, start_share = [], [], [], []
    for step in range(months * substeps):
        at_risk.append(n - int(adopted.sum()))
        start_share.append(float(exposure.midmonth_share(pool[:1], step)[0]))
        p, q = P_BASS / substeps, Q_BASS / substeps
        considering = draw_considerers(
            rng, pool, step, p, q, NO_CAMPAIGN, 1.0, codes, exposure.state, adopted, adopted, nobody
        )
        assert not adopted[considering].any()
        adopted[considering] = 1  # every considerer adopts
        exposure.add(considering, month=step)
        new.append(considering.size)
        if (step + 1) % substeps == 0:
            shares.append(adopted.mean())
    return np.array(shares), np.array(new), np.array(at_risk), np.array(start_share)


def test_bass_closed_form_monthly():
    """Issue criterion: 4 seeds of 100,000 agents, 360 months, max |mean share - F(t)|
    < 0.01 -- for every one of 6 disjoint sets of 4 seeds, since the criterion must not
    depend on a lucky choice of seeds."""
    t = (np.arange(MONTHS) + 1) / 12
    closed = bass_closed_form(t)
    deviations = []
    for first_seed in range(0, 24, 4):
        shares = np.mean([simulate_bass(seed)[0] for seed in range(first_seed, first_seed + 4)], axis=0)
        deviations.append(float(np.abs(shares - closed).max()))
    assert max(deviations) < 0.01, deviations


def test_bass_closed_form_with_finer_time_step():
    """The same rule with a step of a tenth of a month reproduces the closed form within
    0.01: what separates the monthly rule from Bass is the time step, not the draws."""
    t = (np.arange(MONTHS) + 1) / 12
    shares = np.mean([simulate_bass(seed, substeps=10)[0] for seed in range(4)], axis=0)
    assert np.abs(shares - bass_closed_form(t)).max() < 0.01


def test_bass_follows_monthly_recursion():
    """The mean path follows the discrete-time Bass recursion
    F[m+1] = F[m] + (1 - F[m]) (1 - exp(-(p + q s[m]) / 12)), s[m] = F[m] + (F[m] - F[m-1]) / 2,
    within 4.5 standard errors of
    the mean over 8 seeds, at every month (errors from the seeds' spread, floored by the
    binomial error of one month's draw so that early months are not over-tight)."""
    seeds = range(8)
    shares = np.array([simulate_bass(seed)[0] for seed in seeds])
    f, previous, recursion = 0.0, 0.0, []
    for _ in range(MONTHS):
        midmonth = min(max(f + 0.5 * (f - previous), 0.0), 1.0)
        previous, f = f, f + (1 - f) * -math.expm1(-(P_BASS + Q_BASS * midmonth) / 12)
        recursion.append(f)
    recursion = np.array(recursion)
    binomial_sd = np.sqrt(recursion * (1 - recursion) / N_BASS)
    se = np.maximum(shares.std(axis=0, ddof=1), binomial_sd) / np.sqrt(len(seeds))
    z = (shares.mean(axis=0) - recursion) / np.maximum(se, 1e-12)
    assert np.abs(z).max() < 4.5
    # and the recursion itself is the closed form up to the monthly step's lag
    t = (np.arange(MONTHS) + 1) / 12
    assert np.abs(recursion - bass_closed_form(t)).max() < 0.01


def test_bass_monthly_adopters_are_binomial_given_the_month_start():
    """Given a month's start (hazard share s, K agents not yet adopted), its adopters are
    Binomial(K, 1 - exp(-(p + q s)/12)). Over 4 seeds x 360 months the standardised sum
    is N(0, 1) and the sum of squared z-scores (months with variance >= 10) is chi-square."""
    z_all, num, var = [], 0.0, 0.0
    for seed in range(4):
        _, new, at_risk, start = simulate_bass(seed)
        h = -np.expm1(-(P_BASS + Q_BASS * start) / 12)
        mean, v = at_risk * h, at_risk * h * (1 - h)
        num += float((new - mean).sum())
        var += float(v.sum())
        ok = v >= 10
        z_all.append((new[ok] - mean[ok]) / np.sqrt(v[ok]))
    z = np.concatenate(z_all)
    assert abs(num / math.sqrt(var)) < 4
    chi2 = float((z**2).sum())
    assert abs(chi2 - z.size) / math.sqrt(2 * z.size) < 4
    assert np.abs(z).max() < 5  # ~1,000 near-normal z-scores: P(any |z| > 5) < 1e-3


def test_draw_considerers_exact_probability_heterogeneous():
    """Each candidate of a heterogeneous pool is drawn with probability
    1 - exp(-(p m_i + q s_i)/12); non-candidates and agents outside the pool never."""
    generator = np.random.default_rng(12345)
    rng = kernels.Stream(generator)
    p, q, m_max = 0.6, 1.2, 3.0
    multipliers = np.array([0.5, 1.0, 2.0, 3.0])  # by flag code
    peer_shares = np.array([0.0, 0.4, 1.0])
    per_type = 100
    types = [(m, s) for m in multipliers for s in peer_shares]
    n_pool = per_type * len(types)
    # pool agents are the odd indices of a population of 2 n_pool + 1
    pool = 2 * np.arange(n_pool) + 1
    n = 2 * n_pool + 1
    m_of, s_of = np.zeros(n), np.zeros(n)
    code_of = np.zeros(n, dtype=np.int64)
    type_of = np.full(n, -1)
    for k, (m, s) in enumerate(types):
        members = pool[k * per_type : (k + 1) * per_type]
        m_of[members], s_of[members], type_of[members] = m, s, k
        code_of[members] = np.flatnonzero(multipliers == m)[0]
    candidate = np.zeros(n, dtype=bool)
    candidate[pool] = generator.random(n_pool) < 5 / 6
    held = (~candidate).astype(np.float32)
    # peers: 10 each, of whom 10 s adopted long ago (no change last month)
    nodes = np.zeros((n, 4), dtype=np.int32)
    nodes[:, kernels.COUNT] = np.round(10 * s_of)
    nodes[:, kernels.TOUCHED] = -100
    peers = (np.zeros(n + 1, dtype=np.int64), np.empty(0, dtype=np.int64), nodes, np.full(n, 0.1, dtype=np.float32))

    draws = 400
    hits = np.zeros(2 * n_pool + 1)
    for _ in range(draws):
        places = draw_considerers(rng, pool, 0, p, q, multipliers, m_max, code_of, peers, held, held, ~candidate)
        assert np.all(np.diff(places) > 0)  # distinct places, in pool order
        hits[pool[places]] += 1

    assert hits[~candidate].sum() == 0  # non-candidates and agents outside the pool
    prob = -np.expm1(-(p * m_of + q * s_of) / 12)
    # per type: binomial z-test
    for k in range(len(types)):
        members = np.flatnonzero((type_of == k) & candidate)
        trials = members.size * draws
        expected = trials * prob[members[0]]
        sd = math.sqrt(trials * prob[members[0]] * (1 - prob[members[0]]))
        z = (hits[members].sum() - expected) / sd
        assert abs(z) < 4, (types[k], z)
    # per agent: chi-square with one degree of freedom per candidate
    c = np.flatnonzero(candidate)
    chi2 = float((((hits[c] - draws * prob[c]) ** 2) / (draws * prob[c] * (1 - prob[c]))).sum())
    assert abs(chi2 - c.size) / math.sqrt(2 * c.size) < 4


@pytest.mark.parametrize("n, p", [(40, 0.3), (2_000, 0.004), (7, 0.97)])
def test_bernoulli_positions_are_independent_bernoulli_trials(n, p):
    rng = kernels.Stream(np.random.default_rng(n))
    draws = 20_000
    hits = np.zeros((draws, n), dtype=bool)
    for d in range(draws):
        pos = bernoulli_positions(rng, n, p)
        assert np.all(np.diff(pos) > 0) and (pos.size == 0 or (pos[0] >= 0 and pos[-1] < n))
        hits[d, pos] = True
    # each position with probability p (chi-square, one degree of freedom a position)
    freq = hits.sum(axis=0)
    chi2 = float((((freq - draws * p) ** 2) / (draws * p * (1 - p))).sum())
    assert abs(chi2 - n) / math.sqrt(2 * n) < 4
    # the count is binomial: its variance is n p (1 - p), which rules out dependence
    counts = hits.sum(axis=1)
    centred = counts - counts.mean()
    var_se = math.sqrt((np.mean(centred**4) - np.mean(centred**2) ** 2) / draws)  # of the sample variance
    assert abs(counts.var(ddof=1) - n * p * (1 - p)) < 4 * var_se
    # neighbouring positions independently: pairs (i, i+1) and (i+1, i+2) share a
    # position, so their indicators covary by p^3 - p^4
    both = np.mean(hits[:, :-1] & hits[:, 1:])
    pairs = n - 1
    var = (pairs * p**2 * (1 - p**2) + 2 * (pairs - 1) * (p**3 - p**4)) / pairs**2 / draws
    assert abs(both - p * p) < 4 * math.sqrt(var)


def test_bernoulli_positions_edge_cases():
    rng = kernels.Stream(np.random.default_rng(1))
    assert bernoulli_positions(rng, 0, 0.5).size == 0
    assert bernoulli_positions(rng, 10, 0.0).size == 0
    assert np.array_equal(bernoulli_positions(rng, 10, 1.0), np.arange(10))


def test_draw_considerers_zero_rates_draw_nobody():
    """No base rate and no peer rate: nobody considers, even with every peer adopting."""
    rng = kernels.Stream(np.random.default_rng(0))
    n = 1000
    exposure = PeerExposure(n, None)
    exposure.add(np.arange(n))
    free, nobody = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=bool)
    codes = np.zeros(n, dtype=np.int64)
    for p, q in [(0.0, 0.0), (0.0, 0.5), (0.5, 0.0)]:
        picked = draw_considerers(
            rng, np.arange(n), 0, p, q, NO_CAMPAIGN, 1.0, codes, exposure.state, free, free, nobody
        )
        assert (picked.size == 0) == (p == q == 0)


def test_midmonth_share_is_the_count_plus_half_of_last_months_change():
    """The lazily kept change of last month equals the change recorded month by month:
    at any point of month M, the mid-month share is (count now + (count at the start
    of M - count at the start of M-1) / 2) / degree, clipped to [0, 1]."""
    rng = np.random.default_rng(3)
    n = 300
    adjacency = small_world(n, 6, 0.2, rng)
    dense = adjacency.toarray()
    degree = np.maximum(dense.sum(axis=1), 1)
    exposure = PeerExposure(n, adjacency)
    adopted = np.zeros(n)
    start = {}
    for month in range(-1, 15):
        start[month] = dense @ adopted
        for _ in range(3):  # some months change nothing at all
            if month % 4 == 2:
                break
            add = rng.choice(np.flatnonzero(adopted == 0), 5, replace=False)
            exposure.add(add, month=month)
            adopted[add] = 1
            remove = rng.choice(np.flatnonzero(adopted == 1), 2, replace=False)
            exposure.add(remove, sign=-1.0, month=month)
            adopted[remove] = 0
            if month >= 0:
                last_change = start[month] - start.get(month - 1, 0 * adopted)
                expected = np.clip((dense @ adopted + 0.5 * last_change) / degree, 0, 1)
                np.testing.assert_allclose(exposure.midmonth_share(np.arange(n), month), expected, rtol=1e-6)


def test_peer_exposure_network_matches_adjacency_product():
    """Adopting neighbours over degree, with additions and removals, equals A x / deg."""
    rng = np.random.default_rng(7)
    n = 400
    adjacency = small_world(n, 6, 0.2, rng)
    dense = adjacency.toarray()
    exposure = PeerExposure(n, adjacency)
    adopted = np.zeros(n)
    for _ in range(20):
        add = rng.choice(np.flatnonzero(adopted == 0), 10, replace=False)
        exposure.add(add)
        adopted[add] = 1
        remove = rng.choice(np.flatnonzero(adopted == 1), 3, replace=False)
        exposure.add(remove, sign=-1.0)
        adopted[remove] = 0
        everyone = np.arange(n)
        degree = np.maximum(dense.sum(axis=1), 1)
        expected = dense @ adopted / degree
        np.testing.assert_allclose(exposure.share(everyone), expected, rtol=1e-6)
    np.testing.assert_array_equal(exposure.count, dense @ adopted)


def test_peer_exposure_population_share():
    exposure = PeerExposure(50, None)
    exposure.add(np.arange(10))
    exposure.add(np.arange(3), sign=-1.0)
    np.testing.assert_allclose(exposure.share(np.arange(5)), np.full(5, 7 / 50))


# --- choice with first-come grants -------------------------------------------------


def policy_with(write_scenario, programmes: str) -> PolicyEnvironment:
    """A policy environment whose only programmes are ``programmes`` (TOML text)."""
    path = write_scenario(
        "choice.toml",
        """
        [tariffs]
        residential_yen_per_kwh = { 2014 = 30.0 }
        business_yen_per_kwh = { 2014 = 30.0 }
        """
        + programmes,
    )
    return PolicyEnvironment(load_scenario(path))


TINY = """
[subsidies.tiny]
level = "city"
technology = "pv"
agents = ["households"]
flat_yen = 1000.0
annual_budget_yen = 5500.0
first_fiscal_year = 2014
last_fiscal_year = 2050
"""


@pytest.mark.parametrize(("weight", "expected_grants"), [(1.0, 5), (2.5, 2), (0.4, 13)])
def test_choose_tiny_budget_refused_agents_choose_nothing(write_scenario, weight, expected_grants):
    """Option 1 is worth taking only with the grant: exactly floor(budget / (weight x
    1,000)) agents get it and adopt, every refused agent re-decides and takes nothing."""
    policy = policy_with(write_scenario, TINY)
    n = 200
    rng = np.random.default_rng(3)
    utility = np.column_stack([np.zeros(n), np.full(n, -50.0)])
    yen_to_utility = np.column_stack([np.zeros(n), np.full(n, 0.1)])  # +100 with the grant
    kw = np.full(n, 4.0)
    month = Month(0)
    d = choose(
        rng,
        policy,
        month,
        "households",
        weight,
        {"new_build": np.zeros(n, dtype=bool)},
        utility,
        yen_to_utility,
        [Option(None), Option("pv", kw, kw * 300000.0)],
    )
    ledger = policy.ledger
    assert (d.chosen == 1).sum() == expected_grants == math.floor(5500.0 / (weight * 1000.0))
    assert np.all(d.grant_yen[d.chosen == 1] == 1000.0)
    assert np.all(d.grant_yen[d.chosen == 0] == 0.0)
    assert ledger.spent_yen[0, 0] <= 5500.0
    assert ledger.spent_yen[0, 0] == pytest.approx(d.grant_yen.sum() * weight, rel=1e-12)
    assert ledger.grants[0, 0] == pytest.approx(expected_grants * weight, rel=1e-12)
    assert ledger.closed[0]
    date = ledger.exhausted_on[("tiny", 2014)]
    assert (date.year, date.month) == (2014, 4)


def test_choose_without_the_agents_who_surely_take_nothing_is_the_same_choice(write_scenario):
    """Leaving out of the compiled ``choose`` the agents for whom only option 0 is open,
    with the others' places among all of them (``slots``), gives the others the same
    choices and grants and leaves the ledger and the stream where choosing with
    everybody does. The tiny budget grants 5 of about 50 applicants, so the order of
    arrival drawn over all agents decides who gets it."""
    n = 120
    generator = np.random.default_rng(8)
    only_nothing = generator.random(n) < 0.6
    noisy = np.column_stack([np.zeros(n), np.where(only_nothing, -np.inf, -50.0 + generator.random(n))])
    yen_to_utility = np.full((n, 1), 0.1)  # +100 with the grant
    option_kw = np.vstack([np.zeros(n), np.full(n, 4.0)])
    option_cost = option_kw * 300000.0
    codes = np.zeros(n, dtype=np.int64)
    runs = []
    for keep in (np.ones(n, dtype=bool), ~only_nothing):
        policy = policy_with(write_scenario, TINY)
        bits = np.random.PCG64(21)
        chosen, received, _logged = kernels.choose(
            tuple(kernels.Stream(bits)),
            noisy[keep],
            yen_to_utility[keep],
            np.ascontiguousarray(option_kw[:, keep]),
            np.ascontiguousarray(option_cost[:, keep]),
            policy.offers("households", 2014, (None, "pv")),
            codes[keep],
            policy.grants(Month(0)),
            1.0,
            kernels.NO_SLOTS if keep.all() else np.flatnonzero(keep),
            n,
        )
        runs.append((keep, chosen, received, policy.ledger.arrays, bits.state))
    (_, chosen_all, received_all, ledger_all, state_all), (keep, chosen, received, ledger, state) = runs
    assert np.count_nonzero(chosen) == 5 and np.all(received[chosen == 1] == 1000.0)
    assert np.all(chosen_all[only_nothing] == 0)
    assert np.array_equal(chosen_all[keep], chosen) and np.array_equal(received_all[keep], received)
    assert all(np.array_equal(a, b) for a, b in zip(ledger_all, ledger, strict=True))
    assert state_all == state


def test_choose_refused_agents_keep_their_choice_without_the_grant(write_scenario):
    """Stacked programmes: a national one without budget and a city one with a tiny
    budget. Agents adopt either way; those refused the city grant get the national
    grant only, and all money granted reaches the adopters."""
    programmes = (
        TINY
        + """
[subsidies.national]
level = "national"
technology = "pv"
agents = ["households"]
flat_yen = 700.0
first_fiscal_year = 2014
last_fiscal_year = 2050
"""
    )
    policy = policy_with(write_scenario, programmes)
    policy.start_fiscal_year(2015)
    n, weight = 100, 1.0
    rng = np.random.default_rng(5)
    utility = np.column_stack([np.full(n, -50.0), np.zeros(n)])
    yen_to_utility = np.column_stack([np.zeros(n), np.full(n, 1e-3)])
    kw = np.full(n, 3.0)
    d = choose(
        rng,
        policy,
        Month(13),
        "households",
        weight,
        {"new_build": np.zeros(n, dtype=bool)},
        utility,
        yen_to_utility,
        [Option(None), Option("pv", kw, kw * 300000.0)],
    )
    assert np.all(d.chosen == 1)
    amounts = np.sort(d.grant_yen)
    assert np.count_nonzero(amounts == 1700.0) == 5
    assert np.count_nonzero(amounts == 700.0) == n - 5
    names = [p.name for p in policy.programmes]
    row = 2015 - 2014
    spent = policy.ledger.spent_yen[row]
    assert spent[names.index("tiny")] == pytest.approx(5000.0, rel=1e-12)
    assert spent[names.index("national")] == pytest.approx(700.0 * n, rel=1e-12)
    assert spent.sum() == pytest.approx(d.grant_yen.sum() * weight, rel=1e-12)


def test_choose_agents_leaving_an_option_give_its_grants_back(write_scenario):
    """Option 1 needs both of its grants (A with a large budget, B with a tiny one).
    Agents granted A but refused B switch to nothing and refund A: both programmes end
    up paying the same agents, and the ledger equals what the adopters received."""
    programmes = """
[subsidies.a_large]
level = "national"
technology = "pv"
agents = ["households"]
flat_yen = 1000.0
annual_budget_yen = 1.0e9
first_fiscal_year = 2014
last_fiscal_year = 2050

[subsidies.b_tiny]
level = "city"
technology = "pv"
agents = ["households"]
flat_yen = 1000.0
annual_budget_yen = 4500.0
first_fiscal_year = 2014
last_fiscal_year = 2050
"""
    policy = policy_with(write_scenario, programmes)
    n, weight = 60, 1.0
    rng = np.random.default_rng(11)
    utility = np.column_stack([np.zeros(n), np.full(n, -100.0)])
    # both grants: +150 (adopt); one grant: +75 (stay with nothing)
    yen_to_utility = np.column_stack([np.zeros(n), np.full(n, 0.075)])
    kw = np.full(n, 3.0)
    d = choose(
        rng,
        policy,
        Month(0),
        "households",
        weight,
        {"new_build": np.zeros(n, dtype=bool)},
        utility,
        yen_to_utility,
        [Option(None), Option("pv", kw, kw * 300000.0)],
    )
    assert (d.chosen == 1).sum() == 4
    assert np.all(d.grant_yen[d.chosen == 1] == 2000.0)
    assert np.all(d.grant_yen[d.chosen == 0] == 0.0)
    spent = policy.ledger.spent_yen[0]
    np.testing.assert_allclose(spent, [4000.0, 4000.0], rtol=1e-12)
    np.testing.assert_allclose(policy.ledger.grants[0], [4.0, 4.0], rtol=1e-12)


@pytest.mark.parametrize("behaviour", [{}, {"econ_weight": -10.0, "peer_weight": -1.0}])
def test_car_choices_settled_by_taste_alone_are_those_of_full_evaluation(strategy, behaviour):
    """``replace_cars`` lets a petrol owner whose taste for an EV is below minus the
    largest utility any owner could have keep petrol without reading its attributes
    (most replacements, 53-95% a year in the full city). Evaluating every owner in
    full instead (an infinite bound) gives the same run to the bit, grants included,
    also with weights of the other sign than the calibrated ones."""
    runs = []
    for settle_by_taste in (True, False):
        model = CityModel(strategy, seed=11, scale=0.05, behaviour=behaviour)
        if not settle_by_taste:
            hh = model.households
            hh._car_bounds = (np.inf, *hh._car_bounds[1:])
        model.run()
        runs.append(model)
    settled, full = runs
    assert np.array_equal(settled.households.ev, full.households.ev)
    assert np.array_equal(settled.policy.ledger.spent_yen, full.policy.ledger.spent_yen)
    a, b = settled.table(), full.table()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert a["ev_sales"].sum() > 0
