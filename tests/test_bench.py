"""``abm bench``: the floor is counted from the run itself without changing it, the
breakdown of a run's time covers every decision, and the command reports every figure
the issue asks for.

Nothing here asserts a speed (timings are printed by the benchmark, not tested):
these tests check what the figures are made of.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import abm.decision
from abm import kernels
from abm.bench import DECISION_KERNELS, WorkRecorder, record_work, replay_floor, time_decisions, timed_decisions
from abm.cli import main
from abm.clock import N_STEPS
from abm.model import CityModel

SCALE = 0.01


@pytest.fixture(scope="module")
def counted(strategy):
    recorder, model = record_work(strategy, seed=11, scale=SCALE)
    return recorder, model


def test_counting_leaves_the_run_unchanged(strategy, counted):
    _recorder, counted_model = counted
    plain = CityModel(strategy, seed=11, scale=SCALE)
    plain.run()
    assert plain.records == counted_model.records


def test_recorder_counts_every_month_and_every_adoption(counted):
    recorder, model = counted
    totals = recorder.totals()
    assert totals["months"] == N_STEPS
    assert totals["deciding_agents"] >= totals["choices_of_an_option"] > 0
    # every agent drawn to consider adopting makes a choice; life events add more
    assert totals["deciding_agents"] > totals["considering_agents"] > 0
    assert {"households:pv/ppa", "households:pv/zeh", "households:ev", "businesses:pv/ppa"} <= set(
        totals["deciding_by_decision"]
    )
    # initial stock + monthly adoptions - systems removed at the end of their life = owners with PV or a PPA
    pv_group = id(model.households.pv_peers)
    adopted = sum(
        a.size * sign for m in [recorder.initial, *recorder.months] for a, sign in m.updates.get(pv_group, [])
    )
    hh = model.households
    assert adopted == np.count_nonzero((hh.pv_kw > 0) | (hh.ppa_kw > 0))


def test_floor_replay_does_the_models_peer_updates(counted):
    """The replayed sparse updates leave every peer group's counts where the model's are."""
    recorder, model = counted
    replay = replay_floor(recorder, seed=0)
    assert replay.seconds > 0
    groups = {
        id(value): value
        for population in model.populations
        for value in vars(population).values()
        if isinstance(value, abm.decision.PeerExposure) and value.adjacency is not None
    }
    assert len(groups) == 4  # household PV, EVs, business PV, solar sharing
    assert set(replay.counts) <= set(groups)
    assert id(model.households.pv_peers) in replay.counts
    for g, counts in replay.counts.items():
        np.testing.assert_array_equal(counts, groups[g].count)


def test_decision_timing_covers_every_decision_and_leaves_the_kernels_as_they_were(strategy, counted):
    """The breakdown times each decision's kernel calls within the run and counts the
    decision's deciding agents as the run does; afterwards the kernels are the
    package's own again."""
    originals = {name: getattr(kernels, name) for name in DECISION_KERNELS}
    out = time_decisions(strategy, 11, SCALE, repeats=2)
    assert {name: getattr(kernels, name) for name in DECISION_KERNELS} == originals
    _recorder, model = counted  # the same seed and scale
    decisions = out["decisions"]
    assert set(decisions) == {d for p in model.populations for d in p.tallies.year}
    for population in model.populations:
        for decision in population.tallies.year:
            assert decisions[decision]["deciding_agents"] == population.tallies.so_far(decision)[kernels.DECIDING]
            assert decisions[decision]["seconds"]["median"] > 0
    kernel_s = sum(d["seconds"]["median"] for d in decisions.values())
    assert 0 < kernel_s < out["run_s"]["max"]
    assert out["setup_s"]["median"] > 0 and out["outside_s"]["min"] > 0
    assert out["kernels_s"]["min"] <= kernel_s <= out["kernels_s"]["max"]
    # with two runs a median is a mean: set-up, kernels and the rest add up to the run
    parts = out["setup_s"]["median"] + out["kernels_s"]["median"] + out["outside_s"]["median"]
    assert parts == pytest.approx(out["run_s"]["median"], rel=1e-12)


def test_decision_timing_restores_the_kernels_after_an_error():
    originals = {name: getattr(kernels, name) for name in DECISION_KERNELS}
    with pytest.raises(RuntimeError, match="stop"), timed_decisions():
        assert all(getattr(kernels, name) is not originals[name] for name in DECISION_KERNELS)
        raise RuntimeError("stop")
    assert {name: getattr(kernels, name) for name in DECISION_KERNELS} == originals


def test_recorder_with_no_run_counts_nothing():
    recorder = WorkRecorder()
    assert recorder.totals()["deciding_agents"] == 0
    assert replay_floor(recorder).counts == {}


@pytest.mark.slow
def test_abm_bench_json_reports_every_figure(capsys):
    code = main(["bench", "--json", "--repeats", "1", "--scale", "0.01", "--mesa-households", "1500"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in (
        "full_city_run_s",
        "full_city_total_s",
        "ns_per_agent_step",
        "peak_rss_mb",
        "build_s",
        "workshop_run_s",
        "mesa_reference_ratio",
        "floor_ratio",
    ):
        assert isinstance(out[key], float) and out[key] > 0, key
    assert out["full_city_total_s"] >= out["build_s"]
    assert out["peak_rss_mb"] >= out["peak_rss_baseline_mb"] * 0.9
    assert out["floor"]["counted_run_equals_timed_run"] is True
    pairs = out["floor"]["ratio_of_each_run_to_the_replay_after_it"]
    assert pairs["runs"] == 1 and pairs["median"] == pytest.approx(out["floor_ratio"])
    assert list(out["mesa_reference"]) == ["1500"]
    assert out["mesa_reference_ratio"] == out["mesa_reference"]["1500"]["ratio"]
    assert out["detail"]["full_city_run_s"]["runs"] == 1
    assert "households:ev" in out["decisions"]["decisions"]
    assert out["floor"]["decision_kernels_over_floor"] == pytest.approx(
        out["decisions"]["kernels_s"]["median"] / out["floor_s"]
    )
