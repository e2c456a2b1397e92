"""The run store (abm/execution.py): what a damaged store holds is never a traceback.

A line that is not JSON, not UTF-8, or no run record is left out on loading (its run, if
any, is computed again) while the runs around it are kept; a damaged ``experiment.json``
is named in the error, so the user knows which file to remove. A second process on the
same store is refused at once (a lock), and a run whose output directory another run
made meanwhile says so and leaves the other's output as it was.
"""

from __future__ import annotations

import json

import pytest

from abm.execution import ExperimentBusy, RunSpec, RunStore, holding, run_model_experiment
from abm.output import atomic_directory


def test_damaged_lines_are_left_out_and_the_others_kept(tmp_path):
    store = RunStore(tmp_path)
    store.append({"key": "a", "outputs": {"y": 1}})
    with open(store.path, "ab") as f:
        f.write(b"\xff\xfe not utf-8\n")
        f.write(b'{"no_key": 1}\n')
        f.write(b"[1, 2, 3]\n")
        f.write(b'{"key": 7}\n')
    store.append({"key": "b", "outputs": {"y": 2}})
    assert sorted(store.load()) == ["a", "b"]


def test_damaged_manifest_is_named(tmp_path):
    store = RunStore(tmp_path)
    (tmp_path / "experiment.json").write_bytes(b"\x00\xff garbage")
    with pytest.raises(ValueError, match=r"experiment\.json: damaged"):
        store.write_manifest({"experiment": "x"})
    (tmp_path / "experiment.json").write_text(json.dumps({"experiment": "x"}))
    store.write_manifest({"experiment": "x"})  # the same experiment: resumed


def test_a_second_process_on_the_same_store_is_refused(tmp_path):
    store = RunStore(tmp_path)
    specs = [RunSpec(key="a", seed=1)]
    with holding(store):  # as another process would hold it
        with pytest.raises(ExperimentBusy, match="another abm process"):
            run_model_experiment(_model, specs, RunStore(tmp_path))
    assert run_model_experiment(_model, specs, store)["a"]["outputs"] == {"seed": 1}


def _model(spec: RunSpec) -> dict:
    return {"seed": spec.seed}


def test_output_made_meanwhile_by_another_run_is_a_clear_error(tmp_path):
    final = tmp_path / "run"
    with pytest.raises(FileExistsError, match="written by another run meanwhile"):
        with atomic_directory(final) as tmp:
            (tmp / "mine.csv").write_text("mine")
            final.mkdir()  # the other run's output, finished first
            (final / "theirs.csv").write_text("theirs")
    assert sorted(p.name for p in final.iterdir()) == ["theirs.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no partial directory left
