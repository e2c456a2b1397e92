"""The measures within futures (abm/futures.py), checked on a function whose conditional
indices are known, and the spec's checks of what the analysis needs.

SALib's Ishigami function with x3 as the uncertainty (experiments/sensitivity/
ishigami_futures.toml): in the future x3 = u it is (1 + b u^4) sin x1 + a sin^2 x2,
additive in the measures, so S1 = ST of x1 is V1 / (V1 + V2) with V1 = (1 + b u^4)^2 / 2
and V2 = a^2 / 8 (the variances of sin and sin^2 of a uniform angle), and x1 ranks
first exactly where that share is above one half.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from abm import futures
from abm.sensitivity import SpecError, load_spec

A, B = 7.0, 0.1


def exact_share_of_x1(u: np.ndarray) -> np.ndarray:
    v1 = (1 + B * u**4) ** 2 / 2
    return v1 / (v1 + A**2 / 8)


@pytest.fixture(scope="module")
def ishigami_futures(tmp_path_factory):
    spec = load_spec("ishigami_futures")
    out = tmp_path_factory.mktemp("futures")
    return spec, out, futures.run_analysis(spec, out)


def test_indices_in_each_future_are_the_conditional_ishigami_indices(ishigami_futures):
    spec, _, summary = ishigami_futures
    result = summary["outputs"]["y"]
    u = futures.sample_futures(spec).futures[:, 0]
    exact = exact_share_of_x1(u)
    assert result["ranked_futures"] == spec.futures
    for f, share in zip(result["per_future"], exact, strict=True):
        by = {m["measure"]: m for m in f["indices"]}
        for index in ("S1", "ST"):
            assert by["x1"][index] == pytest.approx(share, abs=0.02)
            assert by["x2"][index] == pytest.approx(1 - share, abs=0.02)


def test_the_ranking_over_futures_is_the_exact_one(ishigami_futures):
    spec, _, summary = ishigami_futures
    result = summary["outputs"]["y"]
    u = futures.sample_futures(spec).futures[:, 0]
    exact_first = exact_share_of_x1(u) > 0.5
    by = {m["measure"]: m for m in result["measures"]}
    assert by["x1"]["share_first"] == pytest.approx(exact_first.mean())
    assert by["x2"]["share_first"] == pytest.approx(1 - exact_first.mean())
    # the Latin hypercube puts as many futures beyond sqrt(5) as the law does, to a future
    assert abs(exact_first.mean() - (np.pi - 5**0.5) / np.pi) <= 1 / spec.futures
    # x1's share rises with u, x2's falls: what each follows, and which way
    assert by["x1"]["follows"] == {"uncertainty": "x3", "spearman": pytest.approx(1.0)}
    assert by["x2"]["follows"] == {"uncertainty": "x3", "spearman": pytest.approx(-1.0)}
    assert [m["measure"] for m in result["measures"]] == ["x2", "x1"]  # by median rank


def test_report_files_and_the_futures_they_were_run_at(ishigami_futures):
    spec, out, _ = ishigami_futures
    names = {p.name for p in out.iterdir()}
    assert {"experiment.json", "runs.jsonl", "indices.csv", "futures.csv", "indices.md", "spread_y.png"} <= names
    rows = (out / "futures.csv").read_text().splitlines()
    assert len(rows) == 1 + spec.futures
    u = futures.sample_futures(spec).futures[:, 0]
    assert [float(r.split(",")[1]) for r in rows[1:]] == pytest.approx(u)
    runs = (out / "runs.jsonl").read_text().splitlines()
    assert len(runs) == spec.futures * futures.rows_per_future(spec) * spec.replicates
    assert (
        "x1 ranks first in" in (out / "indices.md").read_text()
        or "x2 ranks first in" in (out / "indices.md").read_text()
    )


def test_an_interrupted_analysis_resumes_without_repeating_a_run(tmp_path):
    spec = load_spec("ishigami_futures")
    spec = type(spec)(**{**spec.__dict__, "futures": 4, "future_n": 64})
    out, done = tmp_path / "futures", []

    def stop_after_some(_record):
        done.append(1)
        if len(done) == 300:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        futures.run_analysis(spec, out, on_done=stop_after_some)
    stored = (out / "runs.jsonl").read_text().splitlines()
    assert 300 <= len(stored) < 4 * futures.rows_per_future(spec)
    resumed = futures.run_analysis(spec, out)
    keys = [json.loads(line)["key"] for line in (out / "runs.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 4 * futures.rows_per_future(spec)
    fresh = futures.run_analysis(spec, tmp_path / "fresh")
    assert resumed["outputs"] == fresh["outputs"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ('kind = "measure"\nbounds = [0.0, 3.141592653589793]', "needs an input of kind 'uncertainty'"),
        ('kind = "lever"\nbounds = [0.0, 3.141592653589793]', "expected one of measure, uncertainty"),
    ],
)
def test_a_spec_that_cannot_be_analysed_within_futures_is_refused(tmp_path, change, problem):
    text = load_spec("ishigami_futures").path.read_text()
    text = text.replace('kind = "uncertainty"\nbounds = [0.0, 3.141592653589793]', change)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=problem) as err:
        load_spec(path)
    assert str(path) in str(err.value)


def test_futures_need_sobol_and_a_group_holds_one_kind(tmp_path):
    base = load_spec("ishigami_futures").path.read_text()
    morris = tmp_path / "morris.toml"
    morris.write_text(base.replace('method = "sobol"', 'method = "morris"'))
    with pytest.raises(SpecError, match="needs method = 'sobol'"):
        load_spec(morris)
    grouped = tmp_path / "grouped.toml"
    grouped.write_text(base.replace('kind = "measure"', 'kind = "measure"\ngroup = "g"', 1).replace(
        'kind = "uncertainty"', 'kind = "uncertainty"\ngroup = "g"'
    ))  # fmt: skip
    with pytest.raises(SpecError, match="group 'g' holds both measures and uncertainties"):
        load_spec(grouped)
