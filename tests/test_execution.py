"""The run store (abm/execution.py): what a damaged store holds is never a traceback.

A line that is not JSON, not UTF-8, or no run record is left out on loading (its run, if
any, is computed again) while the runs around it are kept; a damaged ``experiment.json``
is named in the error, so the user knows which file to remove.
"""

from __future__ import annotations

import json

import pytest

from abm.execution import RunStore


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
