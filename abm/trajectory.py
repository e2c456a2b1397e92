"""Trajectories: a quantity given at a few fiscal years, known at every year.

Scenario files write a trajectory as a table from fiscal year to value, for example
``electricity_price_yen_per_kwh = { 2014 = 28.0, 2023 = 28.1 }``. Between points the
value is interpolated linearly; after the last point it is held, or changes by a
constant yearly rate where the scenario gives one; before the first point it is held.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from abm.clock import FISCAL_YEARS


class Trajectory:
    """A yearly series defined by points and an optional growth rate after them."""

    def __init__(self, points: Mapping[int, float], growth_after: float = 0.0):
        if not points:
            raise ValueError("a trajectory needs at least one point")
        years = np.array(sorted(int(y) for y in points), dtype=float)
        values = np.array([float(points[int(y)]) for y in years])
        self.points = dict(zip(years.astype(int).tolist(), values.tolist(), strict=True))
        self.growth_after = growth_after
        fy = np.array(FISCAL_YEARS, dtype=float)
        by_year = np.interp(fy, years, values)
        after = fy > years[-1]
        by_year[after] = values[-1] * (1.0 + growth_after) ** (fy[after] - years[-1])
        self._by_year = dict(zip(FISCAL_YEARS, by_year.tolist(), strict=True))

    @classmethod
    def from_table(cls, table: Mapping[str, float], growth_after: float = 0.0) -> Trajectory:
        return cls({int(k): v for k, v in table.items()}, growth_after)

    def __call__(self, fiscal_year: int) -> float:
        return self._by_year[fiscal_year]

    def adaptive_expectation(self, weight: float) -> Trajectory:
        """What agents with adaptive expectations expect each year: last year's
        expectation moved by ``weight`` (in (0, 1]) towards this year's value,
        starting from the first year's value; ``weight = 1`` is the value itself."""
        if not 0 < weight <= 1:
            raise ValueError(f"an expectation weight must be in (0, 1], got {weight}")
        expected, out = None, {}
        for fy, value in zip(FISCAL_YEARS, self.as_array().tolist(), strict=True):
            expected = value if expected is None else expected + weight * (value - expected)
            out[fy] = expected
        return Trajectory(out)

    def at(self, fiscal_years: np.ndarray) -> np.ndarray:
        """Values at each of ``fiscal_years``."""
        return np.array([self._by_year[int(fy)] for fy in fiscal_years])

    def as_array(self) -> np.ndarray:
        """Values for every fiscal year of the horizon, in order."""
        return self.at(FISCAL_YEARS)
