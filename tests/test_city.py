"""What a city keeps for its runs: :class:`abm.city.Derived`."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from abm import city as city_module
from abm.city import Derived, build_city
from abm.runner import replicate_seeds, run_replicates
from abm.scenario import load_scenario


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


def test_attributes_made_from_others_start_without_derived_values(strategy):
    """A population's attributes replaced in part (a new network, say) must not find
    what was derived from the old ones."""
    city = build_city(strategy, seed=1, scale=0.001)
    calls = []

    def compute(attributes):
        calls.append(attributes.network.nnz)
        return attributes.network.nnz

    city.households.derive(compute)
    lonely = dataclasses.replace(city.households, network=city.households.network[:, :0].tocsr())
    lonely.derive(compute)
    assert calls == [city.households.network.nnz, 0]


def test_a_derived_value_is_keyed_by_its_numbers_as_they_were():
    """Numbers given as an object are compared as they were when the value was made:
    changing the object afterwards must not make an old value look current."""

    class Numbers:
        def __init__(self, k):
            self.k = k

        def __eq__(self, other):
            return self.k == other.k

    def scaled(a, n):
        return a * n.k

    derived = Derived()
    numbers = Numbers(1)
    derived(scaled, np.ones(2), numbers)
    numbers.k = 2
    np.testing.assert_array_equal(derived(scaled, np.ones(2), numbers), 2.0)


def test_a_city_not_kept_is_the_same_city_and_leaves_the_cache_alone():
    scenario = load_scenario("baseline")
    seed = 987_654_321  # a seed no other test builds
    cached_before = city_module._build_city.cache_info().currsize
    once = build_city(scenario, seed, 0.01, keep=False)
    assert city_module._build_city.cache_info().currsize == cached_before
    kept = build_city(scenario, seed, 0.01)
    assert np.array_equal(once.households.roof_kw, kept.households.roof_kw)
    assert (once.households.network != kept.households.network).nnz == 0


def test_replicates_do_not_keep_their_cities():
    """Each replicate has a seed of its own, so keeping its city only made memory grow."""
    scenario = load_scenario("baseline")
    city_module._build_city.cache_clear()
    run_replicates(scenario, replicate_seeds(4321, 3), 0.005)
    assert city_module._build_city.cache_info().currsize == 0
