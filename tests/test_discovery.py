"""Scenario discovery (abm/discovery.py): PRIM finds a box that is known, and the whole
path (design, runs, outcomes, boxes, report) on a function whose missing futures are
known, with the checks of the [discovery] table.

The known box: futures uniform on the unit cube, missing exactly where a < 0.3 and
b > 0.6 (c plays no part). The box that holds all of them and nothing else has
coverage 1 and density 1 and restricts a and b only, at 0.3 and 0.6.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm import discovery
from abm.execution import RunSpec
from abm.sensitivity import SPEC_DIR, SpecError, load_spec


def test_prim_finds_a_known_box():
    rng = np.random.default_rng(3)
    columns = {name: rng.random(2000) for name in ("a", "b", "c")}
    misses = (columns["a"] < 0.3) & (columns["b"] > 0.6)
    rules = discovery.Discovery(futures=2000, outcomes=(), min_density=0.8)
    (box, *more) = discovery.find_boxes(columns, misses, rules)
    assert not more  # nothing is left outside the first box
    # PRIM peels 5% of the box at a time (peel_alpha), so the last peel before the true
    # edges leaves up to about 5% of the box outside them
    assert box["coverage"] == pytest.approx(1.0, abs=0.02)
    assert box["density"] == pytest.approx(1.0, abs=0.06)
    # the futures inside: the missing ones it covers over its density
    assert box["mass"] == pytest.approx(misses.mean() * box["coverage"] / box["density"])
    by = {c["condition"]: c for c in box["conditions"]}
    assert set(by) == {"a", "b"}
    assert by["a"]["max"] == pytest.approx(0.3, abs=0.02) and by["a"]["restricted"] == "high"
    assert by["b"]["min"] == pytest.approx(0.6, abs=0.02) and by["b"]["restricted"] == "low"
    assert all(c["quasi_p"] < 1e-6 for c in box["conditions"])


def test_no_missing_future_no_box():
    columns = {"a": np.linspace(0, 1, 100)}
    rules = discovery.Discovery(futures=100, outcomes=())
    assert discovery.find_boxes(columns, np.zeros(100, dtype=bool), rules) == []


def test_futures_that_miss_almost_everywhere_give_a_box_without_conditions():
    """Where the whole space already has the density asked for, PRIM restricts nothing,
    and the report says that missing is the rule rather than showing an empty table."""
    rng = np.random.default_rng(5)
    columns = {name: rng.random(400) for name in ("a", "b")}
    misses = rng.random(400) < 0.93
    rules = discovery.Discovery(futures=400, outcomes=(), min_density=0.8)
    (box,) = discovery.find_boxes(columns, misses, rules)
    assert box["conditions"] == [] and box["coverage"] == 1.0
    assert box["density"] == pytest.approx(misses.mean())


SPEC = (
    (SPEC_DIR / "ishigami.toml").read_text()
    + """
[discovery]
futures = 400

[[discovery.outcomes]]
name = "low_y"
output = "y"
below = 0.0
description = "y below zero, which this test function gives where x1 < 0 and x2 in the middle"
"""
)


def two_boxes(run: RunSpec) -> dict[str, float]:
    """-1 where x1 < 0 and |x2| < 1.5, +1 elsewhere: one box of the futures."""
    x1, x2 = run.values["x1"], run.values["x2"]
    return {"y": -1.0 if x1 < 0 and abs(x2) < 1.5 else 1.0}


def test_the_whole_path_finds_the_missing_futures_and_writes_its_report(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    spec = load_spec(path)
    summary = discovery.run_discovery(spec, tmp_path / "out", model=two_boxes)
    result = summary["outcomes"]["low_y"]
    design = discovery.sample(spec, discovery.load(spec))
    x1, x2 = design.futures[:, 0], design.futures[:, 1]
    expected = (x1 < 0) & (np.abs(x2) < 1.5)
    assert result["missing_futures"] == int(expected.sum())
    box = result["boxes"][0]
    assert box["coverage"] >= 0.9 and box["density"] >= 0.8
    by = {c["condition"]: c for c in box["conditions"]}
    assert by["x1"]["max"] == pytest.approx(0.0, abs=0.2)
    assert by["x2"]["min"] == pytest.approx(-1.5, abs=0.25) and by["x2"]["max"] == pytest.approx(1.5, abs=0.25)
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"experiment.json", "runs.jsonl", "futures.csv", "discovery.md", "boxes_low_y.png", "summary.json"} <= names
    assert "**Box 1**" in (tmp_path / "out" / "discovery.md").read_text()


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("futures = 400", "futures = 4", "discovery.futures: expected a whole number >= 16, got 4"),
        ('output = "y"', 'output = "z"', "discovery.outcomes[0].output: unknown output 'z'"),
        ("below = 0.0", 'below = "zero"', "discovery.outcomes[0].below: expected a number"),
        ("futures = 400", "futures = 400\nboxes = 2", "discovery.boxes: unknown field"),
    ],
)
def test_a_bad_discovery_table_is_refused_when_the_spec_is_read(tmp_path, old, new, problem):
    path = tmp_path / "bad.toml"
    path.write_text(SPEC.replace(old, new))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value).startswith(f"{path}: {problem}")
