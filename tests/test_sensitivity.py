"""Sensitivity analysis (abm/sensitivity.py): specs, design, evaluation, analysis.

* Ishigami through the whole pipeline (spec file, process pool, run store, SALib
  analysis) gives S1 and ST within 0.02 of the analytic values at N = 4096, and
  grouped inputs give the analytic indices of the group.
* The N/2 column of the convergence check is a valid design of its own: the first
  half of the rows equals SALib's sample at N/2 with the same seed, and the reported
  N/2 indices equal SALib's analysis of that sample evaluated directly (Sobol, Sobol
  with second order and groups, Morris).
* Common random numbers: noise common to the points of a replicate leaves the indices
  unchanged, and the reported noise shares follow from the replicates' draws.
* The process pool and a real dask.distributed LocalCluster give identical runs and
  indices (the city model at 1% scale).
* An analysis interrupted part-way and started again computes exactly the missing
  runs, none twice, and ends with the indices of an uninterrupted one: in process
  (a model that fails after K runs) and as a command killed with SIGKILL, its run log
  cut mid-line, then run again unchanged. A failed run on a process pool cancels the
  runs not yet started.
* Bad specs (unknown key, bounds the wrong way round, N not a power of two, ...) are
  refused before any run starts, with a message naming the file and the problem.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from SALib.test_functions import Ishigami

from abm import cli, sensitivity
from abm.execution import ExperimentMismatch, RunSpec
from abm.posterior import load as load_posterior
from abm.report import indicators
from abm.runner import replicate_seeds, run_scenario
from abm.sensitivity import (
    CITY_OUTPUTS,
    SPEC_DIR,
    CityOutputs,
    Input,
    SpecError,
    ishigami,
    load_spec,
    run_analysis,
    run_key,
    sample_design,
)
from calibration.procedure import PARAMETERS

PI = math.pi


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, np.ndarray]:
    """Analytic S1 and ST of the Ishigami function (Saltelli et al., Global Sensitivity
    Analysis: The Primer, 2008, section 4.5)."""
    v1 = 0.5 * (1 + b * PI**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * PI**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return {"S1": np.array([v1, v2, 0.0]) / v, "ST": np.array([v1 + v13, v2, v13]) / v, "V": v}


def ishigami_spec(
    path: Path,
    n: int,
    method: str = "sobol",
    replicates: int = 1,
    noise_sd: float = 0.0,
    extra: str = "",
    groups: tuple[str | None, str | None, str | None] = (None, None, None),
) -> Path:
    inputs = "".join(
        f'\n[[inputs]]\nname = "x{k}"\nkey = "x{k}"\nbounds = [{-PI!r}, {PI!r}]\n' + (f'group = "{g}"\n' if g else "")
        for k, g in zip((1, 2, 3), groups, strict=True)
    )
    noise = f"noise_sd = {noise_sd}\n" if noise_sd else ""
    path.write_text(
        f'[experiment]\nname = "{path.stem}"\nmethod = "{method}"\nmodel = "ishigami"\nn = {n}\n'
        f'replicates = {replicates}\nseed = 20500\noutputs = ["y"]\n{noise}{extra}{inputs}'
    )
    return path


def factors(summary: dict, output: str, at: int = 0) -> dict[str, dict]:
    return {f["input"]: f for f in summary["outputs"][output]["indices"][at]["factors"]}


def read_log(directory: Path) -> list[dict]:
    """The complete lines of a run log."""
    records = []
    log = directory / "runs.jsonl"
    for line in log.read_text().splitlines() if log.exists() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


# --- against known answers ----------------------------------------------------


@pytest.mark.slow
def test_ishigami_through_the_pipeline_matches_analytic_indices(tmp_path):
    """The committed spec (N = 4096, 20,480 runs) on a process pool of 2."""
    spec = load_spec(SPEC_DIR / "ishigami.toml")
    assert spec.n == 4096 and spec.method == "sobol"
    summary = run_analysis(spec, tmp_path / "out", workers=2)
    exact = ishigami_indices()
    got = factors(summary, "y")
    for k, name in enumerate(("x1", "x2", "x3")):
        assert abs(got[name]["S1"] - exact["S1"][k]) < 0.02, (name, got[name])
        assert abs(got[name]["ST"] - exact["ST"][k]) < 0.02, (name, got[name])
    log = read_log(tmp_path / "out")
    assert len(log) == 4096 * 5 == len({r["key"] for r in log})
    assert {r["pid"] for r in log} != {os.getpid()}  # the runs ran in worker processes


def test_grouped_inputs_give_the_indices_of_the_group(tmp_path):
    """x1 and x3 as one group: its S1 and ST are both (V1 + V13) / V, since the group
    holds the only interaction; x2 alone keeps V2 / V."""
    spec = load_spec(ishigami_spec(tmp_path / "grouped.toml", 2048, groups=("x1_x3", None, "x1_x3")))
    assert spec.groups == ["x1_x3", "x2"] and spec.rows_per_base == 4
    summary = run_analysis(spec, tmp_path / "out")
    exact = ishigami_indices()
    got = factors(summary, "y")
    for index in ("S1", "ST"):
        assert abs(got["x1_x3"][index] - exact["ST"][0]) < 0.02
        assert abs(got["x2"][index] - exact["S1"][1]) < 0.02


@pytest.mark.parametrize(
    ("method", "extra", "groups"),
    [
        ("sobol", "", (None, None, None)),
        ("sobol", "calc_second_order = true\n", ("a", "b", "a")),
        ("morris", "num_levels = 6\n", (None, None, None)),
    ],
)
def test_half_design_is_salibs_design_at_half_n(tmp_path, method, extra, groups):
    """The N/2 column is SALib's own analysis of SALib's own N/2 sample."""
    n = 32
    spec = load_spec(ishigami_spec(tmp_path / f"{method}.toml", n, method=method, extra=extra, groups=groups))
    summary = run_analysis(spec, tmp_path / "out")
    problem = spec.problem()
    for size, at in ((n, 0), (n // 2, 1)):
        if method == "sobol":
            x = sobol_sample.sample(problem, size, calc_second_order=spec.calc_second_order, seed=20500)
            si = sobol_analyze.analyze(
                problem, Ishigami.evaluate(x), calc_second_order=spec.calc_second_order, seed=20501
            )
            columns = ("S1", "S1_conf", "ST", "ST_conf")
        else:
            x = morris_sample.sample(problem, size, num_levels=6, seed=20500)
            si = morris_analyze.analyze(problem, x, Ishigami.evaluate(x), num_levels=6, seed=20501)
            columns = ("mu", "mu_star", "mu_star_conf", "sigma")
        np.testing.assert_array_equal(sample_design(spec).x[: x.shape[0]], x)
        got = summary["outputs"]["y"]["indices"][at]
        assert got["n_base"] == size
        for j, f in enumerate(got["factors"]):
            assert f["input"] == spec.groups[j]
            for c in columns:
                assert f[c] == pytest.approx(float(si[c][j]), rel=1e-12, abs=1e-14)
        if spec.calc_second_order:
            s2 = {(p["input_a"], p["input_b"]): p["S2"] for p in got["S2"]}
            assert s2 == {("a", "b"): pytest.approx(float(si["S2"][0, 1]), rel=1e-12)}


def test_common_noise_cancels_and_noise_share_follows_from_the_draws(tmp_path):
    """Noise drawn from the replicate's seed is the same at every point: the mean over
    replicates shifts every point alike, so the indices are those without noise; the
    noise variance is the variance of the R draws, and the inputs' part of the variance
    is what the means vary beyond noise / R."""
    n, replicates, sd = 64, 4, 2.0
    quiet = run_analysis(load_spec(ishigami_spec(tmp_path / "quiet.toml", n, replicates=replicates)), tmp_path / "q")
    spec = load_spec(ishigami_spec(tmp_path / "noisy.toml", n, replicates=replicates, noise_sd=sd))
    noisy = run_analysis(spec, tmp_path / "n")
    for name, f in factors(noisy, "y").items():
        for c in ("S1", "ST"):
            assert f[c] == pytest.approx(factors(quiet, "y")[name][c], rel=1e-9, abs=1e-12)
    assert quiet["outputs"]["y"]["noise"]["share_of_run_variance"] == 0.0
    draws = [np.random.default_rng(s).standard_normal() for s in replicate_seeds(20500, replicates)]
    noise = sd**2 * np.var(draws, ddof=1)
    x = sobol_sample.sample(spec.problem(), n, calc_second_order=False, seed=20500)
    inputs = np.var(Ishigami.evaluate(x), ddof=1) - noise / replicates
    got = noisy["outputs"]["y"]["noise"]
    assert got["noise_variance"] == pytest.approx(noise, rel=1e-9)
    assert got["share_of_run_variance"] == pytest.approx(noise / (noise + inputs), rel=1e-9)
    assert 0.05 < got["share_of_run_variance"] < 0.95  # the test is not degenerate


def test_integer_inputs_take_each_whole_value_equally_and_stay_in_bounds():
    year = Input("year", "mandate.pv_on_new_houses_from_fiscal_year", 2026.0, 2050.0, integer=True)
    low, high = year.salib_bounds()
    assert (low, high) == (2026.0, 2051.0)
    u = (np.arange(25_000) + 0.5) / 25_000  # an even grid over [0, 1)
    values = [year.value(low + v * (high - low)) for v in u]
    counts = np.bincount(np.array(values) - 2026)
    assert counts.size == 25 and (counts == 1000).all()
    assert year.value(high) == 2050 and isinstance(year.value(2030.7), int)


def test_city_outputs_are_the_run_reports_indicators(strategy):
    """The city model function sets the run's values and reports indicators' means."""
    values = {"mandate.pv_on_new_houses_from_fiscal_year": 2030, "behaviour.peer_weight": 2.0}
    got = CityOutputs(strategy, CITY_OUTPUTS)(RunSpec("r", 11, 0.01, values))
    scenario = strategy.with_values(values)
    expected = indicators([run_scenario(scenario, 11, 0.01)], scenario)
    assert got == {k: expected[k]["mean"] for k in CITY_OUTPUTS}
    plain = indicators([run_scenario(strategy, 11, 0.01)], strategy)
    assert got["detached_owner_pv_share_2050"] != plain["detached_owner_pv_share_2050"]["mean"]


# --- interruptions -------------------------------------------------------------


class FailAfter:
    """Ishigami with noise that counts its runs and fails after ``limit`` of them."""

    def __init__(self, noise_sd: float, limit: int | None = None):
        self.noise_sd, self.limit, self.keys = noise_sd, limit, []

    def __call__(self, run: RunSpec) -> dict[str, float]:
        if self.limit is not None and len(self.keys) == self.limit:
            raise RuntimeError("interrupted")
        self.keys.append(run.key)
        return ishigami(run, self.noise_sd)


def test_interrupted_analysis_computes_only_missing_runs(tmp_path):
    spec = load_spec(ishigami_spec(tmp_path / "resume.toml", 16, replicates=2, noise_sd=0.5))
    every_key = {run_key(row, r) for row in range(16 * 5) for r in range(2)}
    whole = run_analysis(spec, tmp_path / "whole")

    first = FailAfter(0.5, limit=57)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_analysis(spec, tmp_path / "resumed", model=first)
    assert not (tmp_path / "resumed" / "summary.json").exists()
    assert len(read_log(tmp_path / "resumed")) == 57
    second = FailAfter(0.5)
    resumed = run_analysis(spec, tmp_path / "resumed", model=second)

    assert len(first.keys) + len(second.keys) == len(every_key)
    assert set(first.keys) | set(second.keys) == every_key  # none twice, none missing
    log = read_log(tmp_path / "resumed")
    assert len(log) == len(every_key) and {r["key"] for r in log} == every_key
    assert resumed["outputs"] == whole["outputs"]


class SeedRecorder:
    """Ishigami that notes the seed of each run, in the order the runs come."""

    def __init__(self):
        self.seeds: list[int] = []

    def __call__(self, run: RunSpec) -> dict[str, float]:
        self.seeds.append(run.seed)
        return ishigami(run)


def test_a_sweep_runs_the_runs_of_one_city_one_after_another(tmp_path):
    """Every row of a design repeats the replicate seeds, and a worker keeps only a few
    built cities (one per seed and scale): the runs come grouped by seed, so that each
    city is built once, whatever the number of replicates."""
    spec = load_spec(ishigami_spec(tmp_path / "seeds.toml", 8, replicates=6))
    recorder = SeedRecorder()
    run_analysis(spec, tmp_path / "out", model=recorder)
    assert len(recorder.seeds) == 8 * 5 * 6
    changes = sum(a != b for a, b in itertools.pairwise(recorder.seeds))
    assert changes == len(set(recorder.seeds)) - 1 == 5


class FailFirst:
    """Ishigami that fails on the first run and marks every other run it starts."""

    def __init__(self, marks: Path):
        self.marks = marks

    def __call__(self, run: RunSpec) -> dict[str, float]:
        if run.key == run_key(0, 0):
            raise RuntimeError("a failed run")
        (self.marks / run.key).touch()
        time.sleep(0.05)
        return ishigami(run)


def test_a_failed_run_stops_the_pool_without_starting_the_rest(tmp_path):
    """The failure propagates, and the runs not yet started are cancelled rather than
    run to the end while the pool shuts down."""
    marks = tmp_path / "started"
    marks.mkdir()
    spec = load_spec(ishigami_spec(tmp_path / "fails.toml", 32))  # 160 runs
    with pytest.raises(RuntimeError, match="a failed run"):
        run_analysis(spec, tmp_path / "out", workers=2, model=FailFirst(marks))
    started = len(list(marks.iterdir()))
    assert started < 20, started
    assert len(read_log(tmp_path / "out")) <= started


@pytest.mark.slow
def test_killed_command_run_again_ends_as_an_uninterrupted_one(tmp_path):
    """``abm sensitivity SPEC`` killed with SIGKILL, its last log line then cut in half
    (as a kill during a write leaves it), and the same command run again: it resumes
    the same results directory and ends with exactly the runs and indices of an
    uninterrupted run, each run logged once."""
    spec_path = ishigami_spec(tmp_path / "killed.toml", 256, replicates=2, noise_sd=0.5)
    command = [sys.executable, "-m", "abm.cli", "sensitivity", str(spec_path)]
    total = 256 * 5 * 2
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    log = None
    while time.monotonic() < deadline:
        found = list((tmp_path / "results").glob("sensitivity-killed-*/runs.jsonl"))
        if found and found[0].stat().st_size > 20_000:  # about two hundred runs
            log = found[0]
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert log is not None and proc.returncode == -signal.SIGKILL
    text = log.read_bytes()
    log.write_bytes(text[: text.rfind(b"\n", 0, len(text) - 1) + 40])  # cut the last line
    done_before = len(read_log(log.parent))
    assert 0 < done_before < total and not (log.parent / "summary.json").exists()

    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"resuming results/{log.parent.name} with {done_before:,} done" in again.stderr
    assert list((tmp_path / "results").iterdir()) == [log.parent]
    lines = log.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    assert len(records) == total == len({r["key"] for r in records})

    whole = run_analysis(load_spec(spec_path), tmp_path / "whole")
    resumed = json.loads((log.parent / "summary.json").read_text())
    assert resumed["outputs"] == json.loads(json.dumps(whole["outputs"]))
    assert {r["key"]: r["outputs"] for r in records} == {r["key"]: r["outputs"] for r in read_log(tmp_path / "whole")}


# --- bad specs -----------------------------------------------------------------


STRATEGY_SPEC = (SPEC_DIR / "strategy_sobol.toml").read_text()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'key = "subsidies.city_zeh.flat_yen"',
            'key = "subsidies.city_zeh.flat_yen_typo"',
            "input 'zeh_grant_yen'.key: unknown scenario key 'subsidies.city_zeh.flat_yen_typo': 'flat_yen_typo' is not a field",
        ),
        (
            'key = "subsidies.city_ev.flat_yen"',
            'key = "subsidies.city_evs.flat_yen"',
            "unknown scenario key 'subsidies.city_evs.flat_yen': the base scenario 'strategy' has no subsidies entry 'city_evs'",
        ),
        (
            'key = "behaviour.v2h_constant"',
            'key = "behavior.v2h_constant"',
            "unknown scenario key 'behavior.v2h_constant': no section 'behavior'",
        ),
        (
            "bounds = [0.0, 0.6]",
            "bounds = [0.6, 0.0]",
            "input 'ppa_promotion_maturity_boost'.bounds: the wrong way round: low 0.6 is above high 0.0",
        ),
        ("n = 128", "n = 48", "experiment.n: N = 48 is not a power of two"),
        ('method = "sobol"', 'method = "fast"', "experiment.method: expected one of sobol, morris, got 'fast'"),
        (
            "bounds = [-3.0, 1.0]\n",
            'bounds = [-3.0, 1.0]\ndistribution = "gaussian"\n',
            "input 'pv_keep_constant'.distribution: expected one of uniform, triangular, truncated_normal, got 'gaussian'",
        ),
        ("seed = 20500\n", "", "experiment: missing 'seed'"),
        (
            'name = "pv_keep_constant"\nkey = "behaviour.pv_keep_constant"\n',
            'name = "pv_keep_constant"\n',
            "input 'pv_keep_constant': missing 'key'",
        ),
        ('"co2_kt_2050",', '"co2_kt_2051",', "experiment.outputs: unknown output 'co2_kt_2051'"),
        (
            'key = "posterior"\nkind = "uncertainty"\nbounds = [0.0, 1.0]',
            'key = "posterior"\nkind = "uncertainty"\nbounds = [0.0, 0.5]',
            "input 'behaviour': the input of key 'posterior' picks a calibrated parameter set by its weight: it needs "
            "bounds = [0, 1]",
        ),
        (
            'key = "network.household_rewiring"\nkind = "uncertainty"',
            'key = "network.household_rewiring"\nkind = "future"',
            "input 'household_network_rewiring'.kind: expected one of measure, uncertainty, got 'future'",
        ),
        ("future_n = 16\n", "future_n = 48\n", "experiment.future_n: N = 48 is not a power of two"),
        (
            "bounds = [2026, 2050]",
            "bounds = [2026, 2060]",
            "input 'pv_obligation_fiscal_year': base scenario 'strategy' refuses mandate.pv_on_new_houses_from_fiscal_year: "
            "expected a fiscal year from 2014 to 2050, got 2060",
        ),
        (
            'key = "joint_purchase.cost_reduction_share"\nkind = "measure"\nbounds = [0.0, 0.3]',
            'key = "joint_purchase.cost_reduction_share"\nkind = "measure"\nbounds = [0.0, 1.3]',
            "refuses joint_purchase.cost_reduction_share: expected a share from 0 to 1 (the admissible range in limits.toml), got 1.3",
        ),
    ],
)
def test_bad_spec_is_refused_before_any_run(tmp_path, capsys, old, new, message):
    assert STRATEGY_SPEC.count(old) == 1, old
    path = tmp_path / "bad.toml"
    path.write_text(STRATEGY_SPEC.replace(old, new))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    out = tmp_path / "out"
    assert cli.main(["sensitivity", str(path), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_n_from_the_command_line_is_checked_too(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["sensitivity", "strategy_sobol", "--n", "100", "--out", str(out)]) == 2
    assert "--n: N = 100 is not a power of two, as a Sobol' sample needs (e.g. 128)" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("strategy_sobol", ["--futures", "1"], "--futures: 0 or a whole number >= 2"),
        ("strategy_sobol", ["--futures", "4", "--future-n", "12"], "--future-n: N = 12 is not a power of two"),
        ("strategy_sobol", ["--futures", "0", "--future-n", "16"], "--future-n: base points in each future need"),
        ("ishigami", ["--futures", "2"], "--futures: the analysis within futures needs an input of kind 'measure'"),
        ("strategy_morris", ["--futures", "2"], "--futures: the measures-within-futures analysis needs method"),
    ],
)
def test_futures_from_the_command_line_are_checked_too(tmp_path, capsys, spec, options, message):
    out = tmp_path / "out"
    assert cli.main(["sensitivity", spec, *options, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_futures_from_the_command_line_set_the_analysis_within_futures():
    spec = load_spec("strategy_sobol")
    assert spec.with_options(futures=0).future_n == 0
    assert (spec.with_options(futures=4).futures, spec.with_options(futures=4).future_n) == (4, spec.future_n)
    assert spec.with_options(futures=4, future_n=8).future_n == 8
    # a spec without futures takes the joint N for each future unless told otherwise
    none = spec.with_options(futures=0)
    assert none.with_options(n=32, futures=2).future_n == 32


def test_a_directory_holding_another_experiment_is_refused(tmp_path):
    out = tmp_path / "out"
    run_analysis(load_spec(ishigami_spec(tmp_path / "a.toml", 4)), out)
    with pytest.raises(ExperimentMismatch, match="holds a different experiment"):
        run_analysis(load_spec(ishigami_spec(tmp_path / "a.toml", 8)), out)


def test_the_command_refuses_another_experiment_before_saying_it_resumes(tmp_path, capsys):
    out = tmp_path / "out"
    run_analysis(load_spec(ishigami_spec(tmp_path / "a.toml", 4)), out)
    before = (out / "runs.jsonl").read_bytes()
    assert cli.main(["sensitivity", str(ishigami_spec(tmp_path / "a.toml", 8)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "resuming" not in err
    assert (
        err.strip()
        == f"abm: error: {out / 'experiment.json'}: holds a different experiment; use a new output directory to start another"
    )
    assert (out / "runs.jsonl").read_bytes() == before


def test_a_damaged_experiment_record_is_named_not_the_spec(tmp_path, capsys):
    spec_path = ishigami_spec(tmp_path / "a.toml", 4)
    out = tmp_path / "out"
    out.mkdir()
    (out / "experiment.json").write_bytes(b"\xff\xfe{")
    assert cli.main(["sensitivity", str(spec_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"abm: error: {out / 'experiment.json'}: damaged (UnicodeDecodeError)")
    assert str(spec_path) not in err and not (out / "runs.jsonl").exists()


@pytest.mark.parametrize("name", ["strategy_sobol", "strategy_morris", "ishigami", "ishigami_futures"])
def test_committed_specs_load(name):
    spec = load_spec(name)
    assert spec.name == name
    if spec.model == "city":
        assert {"agent_pv_generation_tj_2030", "agent_pv_generation_tj_2050", "co2_kt_2026_2050"} <= set(spec.outputs)
        assert len(spec.inputs) == 23 and len(spec.groups) == 22
        assert len(spec.of_kind("measure")) == 11 and spec.posterior_input.name == "behaviour"
        # what the posterior's pick carries is not also an input of its own
        calibrated = {f"behaviour.{p.name}" for p in PARAMETERS}
        assert not calibrated & {i.key for i in spec.inputs}


def test_morris_screens_what_sobol_analyses():
    sobol, morris = load_spec("strategy_sobol"), load_spec("strategy_morris")
    assert sobol.inputs == morris.inputs and sobol.outputs == morris.outputs


# --- executors (last: a Dask client leaves threads behind, and a later process
# pool would fork a multi-threaded process) -----------------------------------


@pytest.mark.slow
def test_process_pool_and_dask_local_cluster_give_identical_indices(tmp_path):
    """The city model at 1% scale: 2 inputs, N = 4, 1 replicate (16 runs each way)."""
    path = tmp_path / "city.toml"
    path.write_text(
        textwrap.dedent(
            """
            [experiment]
            name = "city_small"
            method = "sobol"
            base_scenario = "strategy"
            n = 4
            replicates = 1
            seed = 3
            scale = 0.01
            outputs = ["renewable_energy_tj_2050", "detached_owner_pv_share_2050", "yen_per_t_co2_avoided"]

            [[inputs]]
            name = "pv_obligation_fiscal_year"
            key = "mandate.pv_on_new_houses_from_fiscal_year"
            bounds = [2026, 2050]
            integer = true

            [[inputs]]
            name = "peer_weight"
            key = "behaviour.peer_weight"
            bounds = [0.0, 3.0]
            """
        )
    )
    spec = load_spec(path)
    pool = run_analysis(spec, tmp_path / "pool", workers=2)
    dask = run_analysis(spec, tmp_path / "dask", workers=2, scheduler="local")
    assert pool["outputs"] == dask["outputs"]
    by_key = {r["key"]: r["outputs"] for r in read_log(tmp_path / "pool")}
    assert by_key == {r["key"]: r["outputs"] for r in read_log(tmp_path / "dask")}
    assert len(by_key) == 4 * 4
    assert len({json.dumps(o, sort_keys=True) for o in by_key.values()}) > 1  # the runs differ
    assert dask["scheduler"] == "local" and pool["scheduler"] is None


def _without_the_posterior_pick(tmp_path: Path) -> Path:
    text = (SPEC_DIR / "strategy_sobol.toml").read_text()
    text = text.replace(
        '[[inputs]]\nname = "behaviour"\nkey = "posterior"\nkind = "uncertainty"\nbounds = [0.0, 1.0]\n', ""
    )
    text = text.replace(
        'base_scenario = "strategy"', f'base_scenario = "{SPEC_DIR.parent / "scenarios" / "strategy.toml"}"'
    )
    path = tmp_path / "no_pick.toml"
    path.write_text(text)
    return path


def test_replicates_draw_from_the_posterior_as_abm_run_does(tmp_path):
    """Without an input that picks the draw, each replicate draws its own, by its seed."""
    posterior = load_posterior()
    spec = load_spec(_without_the_posterior_pick(tmp_path)).with_options(4, 2, 0.01)
    assert spec.posterior_input is None
    design = sample_design(spec, posterior)
    expected = posterior.draws(list(design.seeds))  # what abm run draws for these seeds
    runs = design.runs(spec)
    assert len(runs) == design.x.shape[0] * 2
    for run in runs:
        rep = int(run.key.split("-rep")[1])
        for name, value in expected[rep].values.items():
            assert run.values[f"behaviour.{name}"] == value
    assert expected[0].values != expected[1].values
    plain = sample_design(spec)
    assert {k for k in plain.runs(spec)[0].values if k.startswith("behaviour.")} <= {i.key for i in spec.inputs}


def test_an_input_picks_each_row_s_parameter_set_by_its_weight():
    posterior = load_posterior()
    spec = load_spec("strategy_sobol").with_options(8, 2, 0.01)
    design = sample_design(spec, posterior)
    column = spec.inputs.index(spec.posterior_input)
    by_row: dict[int, list[dict]] = {}
    for run in design.runs(spec):
        row = int(run.key[3:9])
        by_row.setdefault(row, []).append({k: v for k, v in run.values.items() if k.startswith("behaviour.")})
        assert "posterior" not in run.values  # not a scenario key
    for row, behaviours in by_row.items():
        assert behaviours[0] == behaviours[1]  # both replicates: the row's set
        picked = posterior.at(float(design.x[row, column]))
        assert {k: behaviours[0][f"behaviour.{k}"] for k in picked.values} == picked.values
    assert len({json.dumps(b[0], sort_keys=True) for b in by_row.values()}) > 1
    # laid end to end, the weights give each set a share of [0, 1) equal to its weight
    m = 200_000
    picks = [posterior.at((k + 0.5) / m).particle for k in range(0, m, 7)]
    counts = {p: picks.count(p) / len(picks) for p in set(picks)}
    weights = dict(zip(posterior.particles, posterior.weights, strict=True))
    assert all(abs(counts.get(p, 0.0) - w) <= 2 * 7 / m + 1e-12 for p, w in weights.items())
    with pytest.raises(SpecError, match="needs one"):
        sample_design(spec)  # a pick without a posterior


def test_noise_above_the_threshold_is_not_ranked_and_says_what_would_resolve_it():
    """Rows whose effects have variance 1 and replicates with noise variance 3, against
    a threshold of 0.4: with R replicates the noise is (3 / R) / (1 + 3 / R) of the
    variance of the means, so R = 2 is not resolved, and the formula asks for
    ceil(3 x 0.6 / 0.4) = 5: R = 4 is still above the threshold, R = 5 below it.
    Checked on a large sample."""
    rng = np.random.default_rng(1)
    effects = rng.standard_normal(100_000)
    effects = (effects - effects.mean()) / effects.std(ddof=1)  # variance 1 exactly
    for replicates, resolved in ((2, False), (4, False), (5, True)):
        y = effects[:, None] + np.sqrt(3.0) * rng.standard_normal((effects.size, replicates))
        noise = sensitivity.noise_shares(y)
        assert noise["share_of_mean_variance"] == pytest.approx((3 / replicates) / (1 + 3 / replicates), abs=0.01)
        found = sensitivity.resolution(noise, replicates, 0.4)
        assert found["resolved"] is resolved
        if replicates == 2:
            assert found["replicates_needed"] == 5
    flat = sensitivity.resolution({"noise_variance": 4.0, "share_of_mean_variance": 1.0}, 2, 0.5)
    assert flat == {"resolved": False, "replicates_needed": None}  # no effect to resolve


@pytest.mark.slow
def test_the_same_city_command_resumes_its_unfinished_directory(tmp_path, monkeypatch, capsys):
    """Without --out, a city analysis run again finds its own unfinished directory: the one
    whose experiment (the posterior's draws included) is the same."""
    monkeypatch.setattr(sensitivity, "RESULTS_DIR", tmp_path)
    command = ["sensitivity", "strategy_morris", "--n", "4", "--scale", "0.01"]
    assert cli.main(command) == 0
    (first,) = tmp_path.iterdir()
    runs = len(read_log(first))
    (first / "summary.json").unlink()  # as if stopped before the analysis
    capsys.readouterr()
    assert cli.main(command) == 0
    assert f"resuming {first} with {runs:,} done" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [first] and len(read_log(first)) == runs
