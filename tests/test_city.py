"""What a city keeps for its runs: :class:`abm.city.Derived`."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from abm.city import Derived, build_city


def test_derived_values_are_computed_again_only_when_their_numbers_change():
    calls = []

    def compute(attributes, scale, offset):
        calls.append((scale, offset))
        return attributes * scale + offset, (attributes.copy(), float(offset))

    base = np.arange(4.0)
    derived = Derived()
    first = derived(compute, base, 2.0, 1)
    assert derived(compute, base, 2.0, 1) is first
    assert derived(compute, base, 2.0, 1.0) is first  # equal numbers
    changed = derived(compute, base, 3.0, 1)
    np.testing.assert_array_equal(changed[0], base * 3.0 + 1)
    assert derived(compute, base, 2.0, 1) is not first  # one value held per function
    assert calls == [(2.0, 1), (3.0, 1), (2.0, 1)]


def test_derived_arrays_are_read_only():
    derived = Derived()
    value = derived(lambda a, k: (a * k, (a + k,), "label"), np.ones(3), 2.0)
    for array in (value[0], value[1][0]):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0.0


def test_a_pickled_city_starts_without_derived_values(strategy):
    city = build_city(strategy, seed=1, scale=0.001)
    calls = []

    def compute(attributes):
        calls.append(attributes.n)
        return np.zeros(attributes.n)

    city.households.derive(compute)
    copy = pickle.loads(pickle.dumps(city))
    copy.households.derive(compute)
    city.households.derive(compute)
    assert calls == [city.households.n] * 2
    np.testing.assert_array_equal(copy.households.roof_kw, city.households.roof_kw)
