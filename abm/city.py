"""The synthetic city: who the agents are and who knows whom.

Built from the statistics in ``abm/data/defaults.toml`` (or a scenario's overrides):
about 640,000 households, of which 39% live in detached or row houses, laid out in
neighbourhoods whose detached share varies; about 40,000 businesses by sector; about
3,500 farm households sharing 1,290 ha of paddy and 1,840 ha of upland. Only the
attributes that do not change during a run live here, so a city is built once per
seed and scale and reused by every run of a sweep (:func:`build_city` caches it).
What runs derive from those attributes and a few scenario numbers (the owners'
present-value factors, ...) is kept with them too (:class:`Derived`).

At ``scale`` F each population keeps a fraction F of its agents, each standing for
``weight`` = 1/F real agents (exactly N / n).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp

from abm.network import small_world
from abm.scenario import Scenario

DETACHED_OWNER, DETACHED_RENTER, APARTMENT = 0, 1, 2
BUSINESS_SECTORS = ("retail", "office", "manufacturing", "services", "other")
# assumption: shares of establishments by sector (no breakdown found), each range +-0.1
BUSINESS_SECTOR_SHARES = (0.3, 0.2, 0.1, 0.3, 0.1)
CITY_SECTIONS = ("population", "households", "businesses", "farmers", "network")


T = TypeVar("T")


class Derived:
    """What runs derive from a population's attributes and a few scenario numbers,
    kept for the next run on the same city: a city built once per worker then saves
    its runs this work too, as long as the numbers stay the same (a workshop's
    re-runs, a comparison of subsidy designs, ``abm bench``).

    ``derived(compute, attributes, *numbers)`` is ``compute(attributes, *numbers)``,
    computed again only when ``numbers`` differ from the last call's (compared with
    ``==``, so 1 and 1.0 are the same number: scalars, tuples, or objects equal by
    value, of which a copy is kept, so that a caller changing its object later
    cannot change the key). ``compute`` must depend on nothing else: a module-level
    function, not a closure. One value is held per function, replaced when its
    numbers change (at full scale about 40 MB for a city's populations, on top of
    their attributes). Its arrays are made read-only, so that no run can change what
    the next one gets. A copy (pickled) starts empty, as do attributes made with
    :func:`dataclasses.replace`.
    """

    def __init__(self) -> None:
        self._held: dict[Callable[..., Any], tuple[tuple[Any, ...], Any]] = {}

    def __call__(self, compute: Callable[..., T], attributes: Any, *numbers: Any) -> T:
        held = self._held.get(compute)
        if held is not None and held[0] == numbers:
            return held[1]
        value = compute(attributes, *numbers)
        for array in _arrays(value):
            array.flags.writeable = False
        self._held[compute] = (tuple(copy.copy(x) for x in numbers), value)
        return value

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return Derived, ()


def _arrays(value: Any) -> list[np.ndarray]:
    """The numpy arrays in ``value``: itself, or the items or fields of a tuple."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, tuple):
        return [a for item in value for a in _arrays(item)]
    return []


class _Population:
    derived: Derived

    def derive(self, compute: Callable[..., T], *numbers: Any) -> T:
        """``compute(self, *numbers)``, kept for the next run (:class:`Derived`)."""
        return self.derived(compute, self, *numbers)


@dataclass(frozen=True)
class HouseholdAttributes(_Population):
    weight: float
    dwelling: np.ndarray  # int8: DETACHED_OWNER, DETACHED_RENTER, APARTMENT
    roof_kw: np.ndarray  # float32, 0 where no roof of one's own
    discount_rate: np.ndarray
    attitude: np.ndarray  # environmental concern in [0, 1]
    has_car: np.ndarray
    network: sp.csr_matrix
    derived: Derived = field(default_factory=Derived, init=False, compare=False, repr=False)

    @property
    def n(self) -> int:
        return self.dwelling.size

    @property
    def roof_owners(self) -> np.ndarray:
        """The households with a roof of their own (detached owners), in order."""
        return np.flatnonzero(self.dwelling == DETACHED_OWNER)

    @property
    def car_owners(self) -> np.ndarray:
        return np.flatnonzero(self.has_car)


@dataclass(frozen=True)
class BusinessAttributes(_Population):
    weight: float
    sector: np.ndarray  # int8 index into BUSINESS_SECTORS
    owns_roof: np.ndarray
    roof_kw: np.ndarray
    discount_rate: np.ndarray  # 1 / required payback
    large_emitter: np.ndarray
    network: sp.csr_matrix
    derived: Derived = field(default_factory=Derived, init=False, compare=False, repr=False)

    @property
    def n(self) -> int:
        return self.sector.size

    @property
    def roof_owners(self) -> np.ndarray:
        """The establishments that own their building's roof, in order."""
        return np.flatnonzero(self.owns_roof)


@dataclass(frozen=True)
class FarmerAttributes(_Population):
    weight: float
    farmland_ha: np.ndarray
    paddy: np.ndarray  # main crop is rice
    has_successor: np.ndarray
    network: sp.csr_matrix
    derived: Derived = field(default_factory=Derived, init=False, compare=False, repr=False)

    @property
    def n(self) -> int:
        return self.farmland_ha.size


Attributes = HouseholdAttributes | BusinessAttributes | FarmerAttributes


@dataclass(frozen=True)
class City:
    households: HouseholdAttributes
    businesses: BusinessAttributes
    farmers: FarmerAttributes


def _sample_size(real: int, scale: float) -> tuple[int, float]:
    n = max(1, round(real * scale))
    return n, real / n


def _households(s: Scenario, scale: float, rng: np.random.Generator) -> HouseholdAttributes:
    pop, hh, net = s.section("population"), s.section("households"), s.section("network")
    n, weight = _sample_size(pop["households"], scale)
    # neighbourhoods in space-filling order, each with its own detached share
    size = max(1, round(net["neighbourhood_households"] * scale))
    n_hoods = -(-n // size)
    mean, conc = pop["detached_share"], net["neighbourhood_concentration"]
    hood_share = rng.beta(mean * conc, (1 - mean) * conc, n_hoods)
    detached = rng.random(n) < np.repeat(hood_share, size)[:n]
    owner = rng.random(n) < pop["detached_owner_share"]
    dwelling = np.where(detached, np.where(owner, DETACHED_OWNER, DETACHED_RENTER), APARTMENT)
    roof = rng.normal(hh["roof_kw_mean"], hh["roof_kw_sd"], n).clip(hh["roof_kw_min"], hh["roof_kw_max"])
    roof = np.where(dwelling == DETACHED_OWNER, roof, 0.0).astype(np.float32)
    rate = rng.uniform(hh["discount_rate_low"], hh["discount_rate_high"], n)
    attitude = rng.beta(hh["attitude_beta_a"], hh["attitude_beta_b"], n)
    car_share = np.where(detached, pop["car_share_detached"], pop["car_share_apartment"])
    has_car = rng.random(n) < car_share
    network = small_world(n, net["household_degree"], net["household_rewiring"], rng)
    return HouseholdAttributes(
        weight,
        dwelling.astype(np.int8),
        roof,
        rate,
        attitude.astype(np.float32),
        has_car,
        network,
    )


def _businesses(s: Scenario, scale: float, rng: np.random.Generator) -> BusinessAttributes:
    b, net = s.section("businesses"), s.section("network")
    n, weight = _sample_size(s["population.businesses"], scale)
    # sorted by sector, so that the ring lattice links businesses of a sector
    sector = np.sort(rng.choice(len(BUSINESS_SECTORS), n, p=BUSINESS_SECTOR_SHARES))
    owns_roof = rng.random(n) < b["owner_roof_share"]
    roof = rng.lognormal(np.log(b["roof_kw_median"]), b["roof_kw_log_sd"], n).clip(10.0, b["roof_kw_max"])
    payback = rng.uniform(b["payback_years_low"], b["payback_years_high"], n)
    large = rng.random(n) < b["large_emitter_share"]
    network = small_world(n, net["business_degree"], net["business_rewiring"], rng)
    return BusinessAttributes(
        weight,
        sector.astype(np.int8),
        owns_roof,
        roof.astype(np.float32),
        (1.0 / payback).astype(np.float32),
        large,
        network,
    )


def _farmers(s: Scenario, scale: float, rng: np.random.Generator) -> FarmerAttributes:
    pop, f, net = s.section("population"), s.section("farmers"), s.section("network")
    n, weight = _sample_size(pop["farm_households"], scale)
    total_ha = pop["paddy_ha"] + pop["upland_ha"]
    raw = rng.lognormal(0.0, f["farmland_log_sd"], n)
    farmland = raw * (total_ha / weight) / raw.sum()  # the sample farms the city's area
    paddy = rng.random(n) < pop["paddy_ha"] / total_ha
    successor = rng.random(n) < f["successor_share"]
    network = small_world(n, net["farmer_degree"], net["farmer_rewiring"], rng)
    return FarmerAttributes(weight, farmland, paddy, successor, network)


def city_key(scenario: Scenario) -> str:
    """What a city depends on in a scenario (its :data:`CITY_SECTIONS`), as a key."""
    return json.dumps({k: scenario.section(k) for k in CITY_SECTIONS}, sort_keys=True)


def build_city(scenario: Scenario, seed: int, scale: float, keep: bool = True) -> City:
    """The city for this seed and scale, built once per process and then reused.

    The last :data:`CITIES_KEPT` are kept: a sweep's runs share a few seeds (its
    replicates'), and a full city takes about 110 MB with what its runs derive. With
    ``keep=False`` it is built and not kept: the replicates of
    ``abm run`` each have a seed of their own, and keeping theirs made a process's memory
    grow with the replicates to about 4 cities' worth."""
    key = city_key(scenario)
    if keep:
        return _build_city(key, seed, scale)
    return _build_city.__wrapped__(key, seed, scale)


CITIES_KEPT = 4


@lru_cache(maxsize=CITIES_KEPT)
def _build_city(key: str, seed: int, scale: float) -> City:
    sections = json.loads(key)
    s = Scenario("city", sections)
    streams = np.random.SeedSequence([seed, 0xC17]).spawn(3)
    return City(
        households=_households(s, scale, np.random.default_rng(streams[0])),
        businesses=_businesses(s, scale, np.random.default_rng(streams[1])),
        farmers=_farmers(s, scale, np.random.default_rng(streams[2])),
    )
