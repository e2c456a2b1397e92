"""Comparing one design's indices at two scales (abm/scales.py)."""

from __future__ import annotations

import copy
import json

import pytest

from abm import scales


def _summary(scale: float, st: dict[str, float], conf: float = 0.01, resolved: bool = True) -> dict:
    return {
        "experiment": "x",
        "method": "sobol",
        "n": 64,
        "replicates": 2,
        "seed": 1,
        "inputs": [{"name": f} for f in st],
        "factors": list(st),
        "scale": scale,
        "outputs": {
            "y": {
                "mean": 10.0,
                "resolved": resolved,
                "indices": [
                    {"n_base": 64, "factors": [{"input": f, "ST": v, "ST_conf": conf} for f, v in st.items()]},
                    {"n_base": 32, "factors": [{"input": f, "ST": 0.0, "ST_conf": conf} for f in st]},
                ],
            }
        },
    }


ST = {"a": 0.6, "b": 0.3, "c": 0.1, "d": 0.02}


def test_equal_indices_stand_in():
    (row,) = scales.compare(_summary(1.0, ST), _summary(0.05, ST))
    assert row.rho == pytest.approx(1.0)
    assert row.largest_difference == 0.0
    assert row.top_city == row.top_small == ("a", "b", "c")
    assert row.stands_in


def test_a_difference_beyond_both_intervals_is_named():
    moved = {**ST, "c": 0.2}  # 0.1 more than 0.01 and 0.01 combined; ranks unchanged
    (row,) = scales.compare(_summary(1.0, ST), _summary(0.05, moved))
    assert row.outside_intervals == ("c",)
    assert row.largest_difference == pytest.approx(0.1)
    assert not row.stands_in
    # within wide intervals the same difference is no evidence of a difference
    (row,) = scales.compare(_summary(1.0, ST, conf=0.1), _summary(0.05, moved, conf=0.1))
    assert row.outside_intervals == ()
    assert row.stands_in


def test_a_difference_that_explains_under_one_per_cent_of_the_variance_is_not_one():
    tiny = {**ST, "e": 0.0001}
    (row,) = scales.compare(_summary(1.0, tiny, conf=0.00001), _summary(0.05, {**tiny, "e": 0.005}, conf=0.00001))
    assert row.outside_intervals == ()
    (row,) = scales.compare(_summary(1.0, tiny, conf=0.00001), _summary(0.05, {**tiny, "e": 0.05}, conf=0.00001))
    assert row.outside_intervals == ("e",)


def test_another_first_input_or_an_unresolved_output_does_not_stand_in():
    swapped = {**ST, "a": 0.3, "b": 0.6}
    (row,) = scales.compare(_summary(1.0, ST, conf=1.0), _summary(0.05, swapped, conf=1.0))
    assert row.top_small[0] == "b" and not row.stands_in
    (row,) = scales.compare(_summary(1.0, ST), _summary(0.05, ST, resolved=False))
    assert row.resolved == (True, False) and not row.stands_in


def test_only_the_same_design_at_two_scales_is_compared():
    other = _summary(0.05, ST)
    other["n"] = 128
    with pytest.raises(ValueError, match="'n' differs"):
        scales.compare(_summary(1.0, ST), other)
    with pytest.raises(ValueError, match="the first analysis should be the larger scale"):
        scales.compare(_summary(0.05, ST), _summary(1.0, ST))


def test_the_command_writes_the_table(tmp_path, capsys):
    for name, summary in (("city", _summary(1.0, ST)), ("small", _summary(0.05, ST))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "check.md"
    assert scales.main([str(tmp_path / "city"), str(tmp_path / "small"), "--out", str(out)]) == 0
    assert "**1 of 1 outputs** stand in" in out.read_text()
    assert scales.main([str(tmp_path / "city"), str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "no summary" in capsys.readouterr().err


def test_the_summaries_are_not_changed():
    city, small = _summary(1.0, ST), _summary(0.05, ST)
    before = copy.deepcopy((city, small))
    scales.compare(city, small)
    assert (city, small) == before
