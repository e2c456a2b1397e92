"""Trajectories (abm/trajectory.py): values given at a few fiscal years are interpolated
linearly between points, held before the first point, and held or grown by a constant
yearly rate after the last, checked against hand-computed values."""

from __future__ import annotations

import pytest

from abm.clock import FISCAL_YEARS
from abm.trajectory import Trajectory


def test_linear_between_points_held_before_and_grown_after():
    t = Trajectory({2030: 20.0, 2020: 10.0, 2025: 30.0}, growth_after=0.05)
    for fy in range(2014, 2021):
        assert t(fy) == 10.0
    assert t(2022) == pytest.approx(10.0 + 20.0 * 2 / 5)
    assert t(2025) == 30.0
    assert t(2027) == pytest.approx(30.0 - 10.0 * 2 / 5)
    assert t(2030) == 20.0
    for fy in range(2031, 2051):
        assert t(fy) == pytest.approx(20.0 * 1.05 ** (fy - 2030), rel=1e-12)


def test_held_after_last_point_without_growth_and_single_point():
    t = Trajectory.from_table({"2014": 28.0, "2023": 28.1})
    assert t(2050) == 28.1
    assert t(2018) == pytest.approx(28.0 + 0.1 * 4 / 9)
    flat = Trajectory({2021: 5.0}, growth_after=-0.02)
    assert flat(2014) == 5.0 and flat(2021) == 5.0
    assert flat(2031) == pytest.approx(5.0 * 0.98**10)


def test_as_array_in_fiscal_year_order():
    t = Trajectory({2014: 0.0, 2050: 36.0})
    values = t.as_array()
    assert values.shape == (len(FISCAL_YEARS),)
    assert values.tolist() == pytest.approx([fy - 2014.0 for fy in FISCAL_YEARS])


def test_empty_trajectory_rejected():
    with pytest.raises(ValueError):
        Trajectory({})


def test_adaptive_expectation_moves_part_of_the_way_each_year():
    t = Trajectory({2014: 10.0, 2015: 20.0}, growth_after=0.0)
    e = t.adaptive_expectation(0.5)
    assert e(2014) == 10.0  # starts from the first year's value
    assert e(2015) == pytest.approx(15.0)
    assert e(2016) == pytest.approx(17.5)
    # a constant series is expected exactly, and weight 1 is the series itself
    assert e(2050) == pytest.approx(20.0, abs=1e-6)
    assert t.adaptive_expectation(1.0).as_array().tolist() == t.as_array().tolist()
    with pytest.raises(ValueError):
        t.adaptive_expectation(0.0)
