"""Calibration (calibration/, abm/posterior.py, ``abm calibrate``) and the runs it needs.

* ABC-SMC recovers known posteriors: the mean of two normals under a flat prior
  (posterior N(x̄, σ²/n)) and a binomial rate under a uniform prior (Beta(k+1, n-k+1)),
  within sampling error; proposals follow the density their importance weights use;
  the budget is spent exactly, and the same seed gives the same generations.
* Targets: yearly additions are differences of the observed levels; calendar years
  are 0.25 x FY(t-1) + 0.75 x FY(t); cumulative patterns accumulate from FY2014; the
  derived ZEH share of all new detached houses is the FY2018 units over starts.
* A run cut short at ``last_fiscal_year`` is the full run's first years.
* An interrupted calibration resumes without recomputing a finished run and ends
  with the same posterior as an uninterrupted one.
* ``abm run`` draws each replicate's parameters from the posterior by its seed and
  records them in provenance.json; ``--no-posterior`` keeps the scenario's values.
* Out of sample (quick mode, the whole ``abm calibrate`` path): calibrated on outcomes
  up to 2018 only, the forecast of 2019 and 2020 residential PV additions is within
  25% of observed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import abm
from abm import posterior as posterior_module
from abm.cli import main
from abm.output import MODEL_FILES, model_code_sha256
from abm.runner import run_scenario
from calibration import procedure
from calibration.abc import (
    KernelMixture,
    Parameter,
    local_covariances,
    smc,
    truncated_weights,
    weighted_quantile,
)
from calibration.procedure import QUICK, Settings, calibrate, run_store
from calibration.targets import (
    CALENDAR,
    FISCAL,
    SHARE_RATIO_CAP,
    Pattern,
    distance,
    load_patterns,
    read_table,
    zeh_share_of_new_detached,
)

# --- ABC on toy models with known posteriors ---------------------------------


def _posterior(generations, params):
    post = generations[-1]
    theta = np.column_stack([p.value(post.unit[post.accepted, j]) for j, p in enumerate(params)])
    return theta, post


def test_abc_recovers_normal_means():
    rng = np.random.default_rng(11)
    n_obs, sigma = 25, 1.0
    obs = rng.normal([1.3, -0.7], sigma, size=(n_obs, 2)).mean(axis=0)
    params = [Parameter("m1", -5, 5), Parameter("m2", -5, 5)]
    noise = np.random.default_rng(12)

    def simulate(_generation, values):
        return list(noise.normal(values[:, None, :], sigma, size=(len(values), n_obs, 2)).mean(axis=1))

    gens = smc(params, simulate, lambda o: float(np.hypot(*(o - obs))), 40000, 5, 0.05, seed=3)
    theta, post = _posterior(gens, params)
    mean = post.weight @ theta
    sd = np.sqrt(post.weight @ (theta - mean) ** 2)
    exact_sd = sigma / np.sqrt(n_obs)
    # the mean within 4 standard errors (half the effective sample size, for the noise
    # of selecting by simulated distances); the sd within ABC's tolerance inflation
    assert np.all(np.abs(mean - obs) < 4 * exact_sd / np.sqrt(post.effective_sample_size / 2))
    assert np.all((sd > 0.9 * exact_sd) & (sd < 1.25 * exact_sd))
    assert post.tolerance < exact_sd and post.effective_sample_size > 0.25 * post.accepted.size
    assert [g.kind for g in gens] == ["prior", "search", "search", "search", "final"]


def test_abc_recovers_binomial_rate():
    n, k = 60, 21
    params = [Parameter("rate", 0.0, 1.0)]
    noise = np.random.default_rng(5)

    def simulate(_generation, values):
        return list(noise.binomial(n, values[:, 0]))

    gens = smc(params, simulate, lambda o: abs(o - k) / n, 20000, 3, 0.05, seed=8)
    rate, post = _posterior(gens, params)
    exact = stats.beta(k + 1, n - k + 1)
    assert post.tolerance == 0  # exact matches only: the ABC posterior is then exact
    assert abs(post.weight @ rate[:, 0] - exact.mean()) < 4 * exact.std() / np.sqrt(post.effective_sample_size / 2)
    q5, q95 = weighted_quantile(rate[:, 0], post.weight, [0.05, 0.95])
    assert abs(q5 - exact.ppf(0.05)) < 0.04 and abs(q95 - exact.ppf(0.95)) < 0.04


def test_abc_spends_its_budget_deterministically():
    params = [Parameter("a", 0, 1), Parameter("b", 0.01, 1, log=True)]
    sizes = []

    def simulate(_generation, values):
        sizes.append(len(values))
        return list(values.sum(axis=1))

    first = smc(params, simulate, lambda o: abs(o - 0.5), 500, 4, 0.2, seed=1)
    assert sum(sizes) == 500 and sizes == [104, 104, 104, 188]  # 3/8 of the budget to the final generation
    again = smc(params, simulate, lambda o: abs(o - 0.5), 500, 4, 0.2, seed=1)
    assert all(np.array_equal(a.unit, b.unit) for a, b in zip(first, again, strict=True))
    assert first[-1].tolerance < first[0].tolerance


def test_proposals_follow_the_density_used_for_their_weights():
    rng = np.random.default_rng(2)
    centres = rng.random((5, 2)) * np.array([0.3, 1.0])  # some near the edge
    weight = rng.dirichlet(np.ones(5))
    cov = np.array([[[0.02, 0.004], [0.004, 0.003]]]) * rng.uniform(0.5, 2.0, size=(5, 1, 1))
    cells = 300
    grid = (np.arange(cells) + 0.5) / cells
    x = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1).reshape(-1, 2)
    mixture = KernelMixture(centres, weight, cov)
    density = np.exp(mixture.log_density(x))
    draws = mixture.draw(rng, 40000)
    assert ((draws >= 0) & (draws <= 1)).all()
    # the share of draws in a few boxes matches the density truncated to the cube
    for lo, hi in (([0, 0], [0.1, 1]), ([0, 0.5], [1, 1]), ([0.2, 0], [1, 0.3])):
        in_box = np.all((x >= lo) & (x <= hi), axis=1)
        expected = density[in_box].sum() / density.sum()
        assert np.mean(np.all((draws >= lo) & (draws <= hi), axis=1)) == pytest.approx(expected, abs=0.01)


def test_local_covariances_point_at_the_better_sets():
    unit = np.array([[0.1, 0.1], [0.2, 0.2], [0.8, 0.8]])
    cov = local_covariances(unit, np.full(3, 1 / 3), np.array([0.1, 0.2, 0.9]))
    # fewer sets than needed to halve: all are used; the outlier's kernel is the widest
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    assert np.trace(cov[2]) > np.trace(cov[0])


def test_truncated_weights_cap_single_sets():
    raw = np.array([1.0] * 99 + [1000.0])
    w = truncated_weights(np.log(raw))
    assert w.sum() == pytest.approx(1.0)
    # the outlier is capped at sqrt(100) = 10 times the mean raw weight
    assert w[-1] / w[0] == pytest.approx(10 * raw.mean())


def test_log_uniform_parameter():
    p = Parameter("p", 0.001, 0.1, log=True)
    assert p.value(np.array([0.0, 0.5, 1.0])) == pytest.approx([0.001, 0.01, 0.1])
    with pytest.raises(ValueError):
        Parameter("bad", 0.0, 1.0, log=True)


# --- targets -------------------------------------------------------------------


def test_additions_are_differences_of_observed_levels():
    patterns = {p.name: p for p in load_patterns()}
    _, rows = read_table("pv_capacity_fit_portal_saitama.csv")
    level = {int(r["year_end_dec"]): float(r["city_PV_R_kW"]) for r in rows}
    res = patterns["residential_pv_added_kw"]
    assert res.years == tuple(range(2015, 2021))
    assert res.observed == tuple(level[y] - level[y - 1] for y in res.years)
    assert patterns["residential_pv_added_systems"].observed[0] == 1756  # 8,197 - 6,441 systems
    assert sum(p.weight > 0 for p in patterns.values()) == 6  # six patterns fitted at once


def test_calendar_alignment_and_cumulative_patterns():
    years = list(range(2014, 2023))
    outputs = {"fiscal_year": years, "flow": [float(y) for y in years], "all": [4.0] * len(years)}
    cal = Pattern("c", "c", "u", CALENDAR, (2015, 2016), (1.0, 1.0), ("flow",), "s")
    assert cal.simulated(outputs) == pytest.approx([2014.75, 2015.75])
    share = Pattern("s", "s", "%", CALENDAR, (2016,), (1.0,), ("flow",), "s", denominator=("all",), factor=100)
    assert share.simulated(outputs) == pytest.approx([2015.75 / 4 * 100])
    cum = Pattern("k", "k", "n", FISCAL, (2014, 2016), (1.0, 1.0), ("all",), "s", cumulative=True)
    assert cum.simulated(outputs) == pytest.approx([4.0, 12.0])
    # relative errors: 100% too high in one year of two
    fiscal = Pattern("f", "f", "u", FISCAL, (2015, 2016), (2015.0, 1008.0), ("flow",), "s")
    assert fiscal.error(fiscal.simulated(outputs), None) == pytest.approx(np.sqrt(0.5))
    assert fiscal.error(fiscal.simulated(outputs), 2015) == pytest.approx(0.0)
    assert distance([fiscal], outputs, 2015) == pytest.approx(0.0)


def test_share_errors_are_log_ratios_symmetric_in_factors():
    years = [2015, 2016]
    outputs = {"fiscal_year": years, "sold": [2.0, 0.5], "none": [0.0, 0.0], "all": [1.0, 1.0]}
    share = Pattern("s", "s", "%", FISCAL, (2015, 2016), (1.0, 1.0), ("sold",), "s", denominator=("all",))
    # twice and half the observation are equally far: log 2 in both years
    assert share.error(share.simulated(outputs), None) == pytest.approx(np.log(2))
    none = dataclasses.replace(share, numerator=("none",))
    assert none.error(none.simulated(outputs), None) == pytest.approx(np.log(SHARE_RATIO_CAP))
    kw = Pattern("k", "k", "kW", FISCAL, (2015, 2016), (1.0, 1.0), ("sold",), "s")
    assert kw.error(kw.simulated(outputs), None) == pytest.approx(np.sqrt((1.0**2 + 0.5**2) / 2))


def test_share_tolerance_is_centred_when_shares_spread_evenly_over_their_log():
    """Why shares are fitted on log ratios: runs whose share is spread evenly over its
    logarithm (as a flat prior on a logit constant spreads it) and kept within a
    tolerance of an observation are centred on it with log ratios, and fall short of
    it on average with relative errors."""
    rng = np.random.default_rng(5)
    shares = 10 ** rng.uniform(-2, 1, 40_000)
    share = Pattern("s", "s", "%", FISCAL, (2021,), (0.6,), ("ev",), "s", denominator=("cars",))
    kw = dataclasses.replace(share, denominator=())

    def kept(pattern):  # the 12% nearest: a window of about +-40% around 0.6
        errors = np.array([pattern.error(np.array([v]), None) for v in shares])
        return shares[errors < np.quantile(errors, 0.12)]

    assert np.exp(np.log(kept(share)).mean()) == pytest.approx(0.6, rel=0.01)
    assert kept(kw).mean() < 0.6 * 0.97


def test_zeh_share_of_all_new_detached_houses():
    shares = zeh_share_of_new_detached()
    # FY2018: 56,307 units over 54,352 / 18.9% custom + 1,796 / 1.2% spec starts
    assert shares[2018][0] == pytest.approx(56307 / (54352 / 0.189 + 1796 / 0.012) * 100)
    assert all(5 < v < 15 for v, _ in shares.values())


# --- runs cut short ------------------------------------------------------------


def test_short_run_is_the_start_of_the_full_run(history):
    full = run_scenario(history, seed=3, scale=0.01)
    short = run_scenario(history, seed=3, scale=0.01, last_fiscal_year=2019)
    assert short.table["fiscal_year"] == list(range(2014, 2020))
    for column, values in short.table.items():
        assert values == full.table[column][: len(values)], column
    with pytest.raises(ValueError, match="last_fiscal_year"):
        run_scenario(history, seed=3, scale=0.01, last_fiscal_year=2016)


# --- resuming --------------------------------------------------------------------

TINY = Settings(budget=32, generations=2, accept_fraction=0.25, scale=0.005, seed=9)


class Interrupted(Exception):
    pass


def test_interrupted_calibration_resumes_without_recomputing(tmp_path):
    finished = []

    def stop_after_ten(record):
        finished.append(record["key"])
        if len(finished) == 10:
            raise Interrupted

    with pytest.raises(Interrupted):
        calibrate(TINY, tmp_path / "a", on_done=stop_after_ten)
    assert len(run_store(tmp_path / "a").load()) == 10

    again = []
    calibrate(TINY, tmp_path / "a", on_done=lambda r: again.append(r["key"]))
    assert len(again) == TINY.budget - 10
    assert not set(again) & set(finished)

    calibrate(TINY, tmp_path / "b")
    posterior_a = (tmp_path / "a" / "posterior.csv").read_text()
    assert posterior_a == (tmp_path / "b" / "posterior.csv").read_text()
    # a store holding a different calibration is refused, not mixed
    with pytest.raises(ValueError, match="different experiment"):
        calibrate(dataclasses.replace(TINY, seed=10), tmp_path / "a")


def test_store_made_by_other_model_code_is_refused(tmp_path, monkeypatch):
    calibrate(TINY, tmp_path / "a")
    monkeypatch.setattr(procedure, "model_code_sha256", lambda: "0" * 64)
    with pytest.raises(ValueError, match="different experiment"):
        calibrate(TINY, tmp_path / "a")


def test_model_code_digest_covers_the_model_files():
    package = Path(abm.__file__).resolve().parent
    assert {"model.py", "decision.py", "households.py"} <= {p.name for p in package.glob(MODEL_FILES[0])}
    assert (package / "data" / "defaults.toml") in set(package.glob(MODEL_FILES[1]))
    assert re.fullmatch(r"[0-9a-f]{64}", model_code_sha256())


# --- the posterior in scenario runs ----------------------------------------------


def _write_posterior(path: Path) -> None:
    path.write_text(
        "particle,weight,distance,household_pv_p,peer_weight\n"
        "g1-00001,0.75,0.1,0.01,1.5\n"
        "g1-00002,0.25,0.2,0.02,0.5\n"
        "g1-00003,0.0,0.3,0.03,2.5\n"
    )


def test_posterior_draws_follow_weights_and_seeds(tmp_path):
    _write_posterior(tmp_path / "posterior.csv")
    post = posterior_module.load(tmp_path / "posterior.csv")
    draws = post.draws(range(4000))
    assert draws[7] == post.draw(7)  # a replicate's draw depends on its seed only
    particles = [d.particle for d in draws]
    assert particles.count("g1-00001") / 4000 == pytest.approx(0.75, abs=0.03)
    assert "g1-00003" not in particles
    assert draws[0].values.keys() == {"household_pv_p", "peer_weight"}
    (tmp_path / "bad.csv").write_text("particle,weight,distance,not_a_key\nx,1,0,1\n")
    with pytest.raises(ValueError, match="not_a_key"):
        posterior_module.load(tmp_path / "bad.csv")


def test_run_draws_replicate_parameters_from_the_posterior(tmp_path, monkeypatch):
    _write_posterior(tmp_path / "posterior.csv")
    monkeypatch.setattr(posterior_module, "POSTERIOR_PATH", tmp_path / "posterior.csv")
    common = ["history", "--replicates", "2", "--scale", "0.005", "--no-progress"]
    assert main(["run", *common, "--out", str(tmp_path / "drawn")]) == 0
    prov = json.loads((tmp_path / "drawn" / "provenance.json").read_text())
    draws = prov["behaviour"]["draws"]
    assert [d["seed"] for d in draws] == prov["seeds"]
    post = posterior_module.load(tmp_path / "posterior.csv")
    assert [d["values"] for d in draws] == [post.draw(s).values for s in prov["seeds"]]
    digest = hashlib.sha256((tmp_path / "posterior.csv").read_bytes()).hexdigest()
    assert prov["behaviour"]["posterior_sha256"] == digest

    assert main(["run", *common, "--no-posterior", "--out", str(tmp_path / "own")]) == 0
    prov = json.loads((tmp_path / "own" / "provenance.json").read_text())
    assert "draws" not in prov["behaviour"]

    monkeypatch.setattr(posterior_module, "POSTERIOR_PATH", tmp_path / "missing.csv")
    assert main(["run", *common, "--out", str(tmp_path / "none")]) == 2


def test_project_posterior_is_readable_and_named_relative_to_the_project():
    post = posterior_module.load()
    assert len(post.particles) >= 50
    assert post.weights.sum() == pytest.approx(1.0)
    assert posterior_module.provenance(post, [])["posterior"] == "calibration/posterior.csv"


# --- out of sample: the whole quick path -----------------------------------------


@pytest.mark.slow
def test_quick_holdout_calibration_forecasts_unseen_years(tmp_path):
    out = tmp_path / "holdout"
    args = ["calibrate", "--quick", "--holdout-after", "2018", "--workers", "2", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    for name in ("posterior.csv", "settings.json", "report/fit.json", "report/fit.md", "report/patterns.png"):
        assert (out / name).is_file(), name
    settings = json.loads((out / "settings.json").read_text())
    assert settings["budget"] == QUICK.budget and settings["holdout_after"] == 2018
    fit = {p["name"]: p for p in json.loads((out / "report" / "fit.json").read_text())["patterns"]}
    res = fit["residential_pv_added_kw"]
    assert [y for y, f in zip(res["years"], res["fitted"], strict=True) if f] == [2015, 2016, 2017, 2018]
    for year, obs, sim, fitted in zip(res["years"], res["observed"], res["posterior_mean"], res["fitted"], strict=True):
        if not fitted:
            assert abs(sim - obs) / obs < 0.25, (year, obs, sim)
