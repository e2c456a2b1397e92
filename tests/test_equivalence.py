"""Optimisations that reorder random draws leave the model's outputs' distribution as it was.

``benchmarks/equivalence_reference.json`` holds the mean and standard deviation of
key outputs over 64 seeds, made by ``python -m benchmarks.equivalence --write`` with
the code before the draws were reordered (the commit is recorded in the file). The
current code, run over other seeds, must agree with each mean within sampling error;
a model with one rule changed must not.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from abm.bench import load_benchmark
from abm.runner import replicate_seeds
from abm.scenario import load_scenario

equivalence = load_benchmark("equivalence")
SEEDS = 24
TOLERANCE_SE = 4.0  # |difference of means| allowed, in standard errors of that difference


def _differences_in_se(samples: dict[str, list[float]]) -> dict[str, float]:
    reference = json.loads(equivalence.REFERENCE.read_text())["outputs"]
    out = {}
    for name, values in samples.items():
        ref = reference[name]
        se = np.sqrt(ref["sd"] ** 2 / ref["n"] + np.var(values, ddof=1) / len(values))
        out[name] = float(abs(np.mean(values) - ref["mean"]) / se)
    return out


@pytest.fixture(scope="module")
def samples() -> dict[str, list[float]]:
    return equivalence.output_samples(replicate_seeds(777, SEEDS))


@pytest.mark.slow
def test_outputs_agree_with_the_reference_within_sampling_error(samples):
    gaps = _differences_in_se(samples)
    assert set(gaps) == {f"{c}@{fy}" for c, fy in equivalence.OUTPUTS}
    assert max(gaps.values()) < TOLERANCE_SE, gaps


@pytest.mark.slow
def test_the_comparison_tells_a_changed_rule_apart():
    # households' peer rate up by a quarter: the same comparison must see it
    q = load_scenario("strategy")["behaviour.household_pv_q"]
    changed = equivalence.output_samples(replicate_seeds(777, SEEDS), behaviour={"household_pv_q": 1.25 * q})
    assert max(_differences_in_se(changed).values()) > 2 * TOLERANCE_SE
