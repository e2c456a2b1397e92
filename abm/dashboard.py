"""The workshop dashboard's logic: the city's measures as controls, the scenario they make,
and one run of it, the same run as ``abm run``.

A workshop changes the city's measures and sees the city's 2050 at once. This module holds
no model code and draws nothing: :class:`Controls` is what the page's controls say (a
scenario file, the measures' values, the seed, the scale), :func:`resolve` turns them into
the scenario the model is built from (the chosen file with the measures' keys set, validated
like a scenario file), and :func:`run` runs it through :func:`abm.runner.run_scenario` with
the seed and posterior draw that ``abm run --seed S`` gives its first replicate, so that a
figure on the page equals the same figure from the command line. :mod:`abm.app` shows it.

The measures, their scenario keys and their ranges are those of the sensitivity analysis of
the strategy (``experiments/sensitivity/strategy_sobol.toml``), read from it so that the
sliders cannot drift from the analysis.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from abm.accounting import agent_pv_kw
from abm.city import DETACHED_OWNER, build_city, city_key
from abm.clock import FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR, MONTHS_PER_YEAR
from abm.kernels import ADOPTED
from abm.population import LOGGED_TECHNOLOGIES
from abm.posterior import Draw
from abm.posterior import load as load_posterior
from abm.runner import RunResult, replicate_seeds, run_scenario
from abm.scenario import DESIGN_DIR, SCENARIO_DIR, Scenario, load_scenario
from abm.sensitivity import load_spec

MEASURES_SPEC = "strategy_sobol"
NEIGHBOURHOOD_SIZE = 300  # households drawn in the network picture
FULL_CITY, WORKSHOP_SCALE = 1.0, 0.05


@dataclass(frozen=True)
class Measure:
    """A slider: a measure of the city, the scenario key it sets and its range."""

    name: str
    key: str
    low: float
    high: float
    unit: str  # abm.labels unit: yen_per_kw, yen, share, multiplier, year
    step: float
    integer: bool = False


# the sensitivity inputs that are the city's measures, with the unit and step of their slider
_MEASURE_UNITS = {
    "pv_grant_yen_per_kw": ("yen_per_kw", 1000.0),
    "pv_grant_budget_yen": ("yen", 10_000_000.0),
    "zeh_grant_yen": ("yen", 10_000.0),
    "ev_grant_yen": ("yen", 10_000.0),
    "ppa_promotion_maturity_boost": ("share", 0.05),
    "joint_purchase_cost_reduction": ("share", 0.01),
    "education_base_rate_multiplier": ("multiplier", 0.1),
    "pv_obligation_fiscal_year": ("year", 1.0),
    "solar_sharing_grant_yen_per_kw": ("yen_per_kw", 1000.0),
    "solar_sharing_base_rate_multiplier": ("multiplier", 0.1),
    "business_target_setting_multiplier": ("multiplier", 0.1),
}
PV_OBLIGATION = "pv_obligation_fiscal_year"
# the year an obligation starts when it is switched on: that of the example design
# pv-obligation-2030 (the range's last year, 2050, would be next to no obligation)
PV_OBLIGATION_FIRST_SHOWN = 2030


@functools.cache
def measures() -> tuple[Measure, ...]:
    """The city's measures, in the order of the sensitivity spec."""
    spec = load_spec(MEASURES_SPEC)
    found = {i.name: i for i in spec.inputs}
    missing = sorted(set(_MEASURE_UNITS) - set(found))
    if missing:
        raise ValueError(f"{spec.path}: the dashboard's measures {', '.join(missing)} are not inputs of the spec")
    return tuple(
        Measure(i.name, i.key, i.low, i.high, *_MEASURE_UNITS[i.name], integer=i.integer)
        for i in spec.inputs
        if i.name in _MEASURE_UNITS
    )


def measure(name: str) -> Measure:
    return next(m for m in measures() if m.name == name)


def scenario_files() -> list[Path]:
    """What the scenario picker offers: the scenarios, then the example designs."""
    return [*sorted(SCENARIO_DIR.glob("*.toml")), *sorted(DESIGN_DIR.glob("*.toml"))]


def scenario_label(path: Path, lang: str) -> str:
    """A scenario file as the picker names it: its name and what it is, in ``lang``
    (``description_ja`` in Japanese where the file has one)."""
    from abm.compare import describe

    scenario = _load(Path(path))
    description = describe(scenario, lang)
    return f"{scenario.name}: {description}" if description else scenario.name


# what ``abm dashboard`` tells the page to start with: the scenario, and the scale it chose
# by timing the full city's run on this machine
SCENARIO_VARIABLE, SCALE_VARIABLE = "ABM_DASHBOARD_SCENARIO", "ABM_DASHBOARD_SCALE"


def initial_controls() -> Controls:
    """The controls a new page starts from: the scenario and scale ``abm dashboard``
    chose, else the strategy for the full city."""
    scenario = os.environ.get(SCENARIO_VARIABLE)
    return Controls(
        scenario=Path(scenario) if scenario else SCENARIO_DIR / "strategy.toml",
        scale=float(os.environ.get(SCALE_VARIABLE, FULL_CITY)),
    )


@functools.cache
def observed_residential_pv_added_kw() -> dict[int, float]:
    """The city's residential PV (< 10 kW) added per calendar year, kW: the series the
    calibration fits (:mod:`calibration.targets`)."""
    from calibration.targets import load_patterns

    pattern = next(p for p in load_patterns() if p.name == "residential_pv_added_kw")
    return dict(zip(pattern.years, pattern.observed, strict=True))


@dataclass(frozen=True)
class Controls:
    """What the dashboard's controls say. ``values`` holds the measures moved away
    from the chosen scenario's own values (by measure name); the PV obligation is off
    where ``values`` sets its year to None."""

    scenario: Path = SCENARIO_DIR / "strategy.toml"
    values: Mapping[str, float | None] = field(default_factory=dict)
    seed: int = 20500
    scale: float = FULL_CITY
    posterior: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", dict(sorted(self.values.items())))

    def __hash__(self) -> int:  # controls key the page's memo of the run
        return hash((str(self.scenario), tuple(self.values.items()), self.seed, self.scale, self.posterior))

    def with_value(self, name: str, value: float | None) -> Controls:
        return dataclasses.replace(self, values={**self.values, name: value})

    def with_seed(self, seed: int) -> Controls:
        return dataclasses.replace(self, seed=int(seed))

    def with_scale(self, scale: float) -> Controls:
        return dataclasses.replace(self, scale=float(scale))


@functools.lru_cache(maxsize=16)
def _load(path: Path) -> Scenario:
    return load_scenario(path)


def resolve(controls: Controls) -> Scenario:
    """The scenario the model is built from: the chosen file with the moved measures
    set (a PV obligation turned off removes the obligation)."""
    base = _load(Path(controls.scenario))
    values = {
        measure(n).key: (int(v) if measure(n).integer else float(v))
        for n, v in controls.values.items()
        if v is not None
    }
    scenario = base.with_values(values, source="dashboard") if values else base
    if controls.values.get(PV_OBLIGATION, 0) is None and scenario.section("mandate"):
        data = {k: v for k, v in scenario.data.items() if k != "mandate"}
        scenario = Scenario(scenario.name, data, (*scenario.files, "dashboard"))
    return scenario


def settings(scenario: Scenario) -> dict[str, float | None]:
    """Each measure's value in ``scenario``: what its slider shows; None where the
    scenario has no such key (the slider is then off, e.g. the strategy's grants in
    the history scenario, or a PV obligation the scenario does not set)."""
    return {m.name: scenario.get(m.key) for m in measures()}


@functools.lru_cache(maxsize=1)
def _posterior():
    return load_posterior()


def draw(controls: Controls) -> Draw | None:
    """The behavioural parameters of ``abm run --seed S``'s first replicate."""
    return _posterior().draw(replicate_seeds(controls.seed, 1)[0]) if controls.posterior else None


@dataclass(frozen=True)
class DashboardRun:
    """One run for the page: its result (with adoption logs) and the draw it used."""

    controls: Controls
    scenario: Scenario
    result: RunResult
    draw: Draw | None


@functools.lru_cache(maxsize=4)  # a pinned run and the last few; a run holds about 15 MB of logs at full scale
def run(controls: Controls) -> DashboardRun:
    """Run the scenario of ``controls`` to FY2050 as ``abm run`` runs its first
    replicate, keeping who adopted what and when (for the network picture)."""
    scenario = resolve(controls)
    d = draw(controls)
    seed = replicate_seeds(controls.seed, 1)[0]
    result = run_scenario(
        scenario, seed, controls.scale, d.values if d else None, 0, adoption_log_from=FIRST_FISCAL_YEAR
    )
    return DashboardRun(controls, scenario, result, d)


@dataclass(frozen=True)
class Neighbourhood:
    """Households of one neighbourhood for the network picture: their places in the
    city, the ties among them (pairs of places in ``households``) and where to draw them."""

    households: np.ndarray
    ties: np.ndarray
    positions: np.ndarray


def neighbourhood(run: DashboardRun, size: int = NEIGHBOURHOOD_SIZE) -> Neighbourhood:
    """About ``size`` households reached breadth-first over the city's network from a
    detached owner chosen by the seed, laid out once per city, so that the picture
    stays put while the measures change."""
    return _neighbourhood(city_key(run.scenario), run.scenario, run.controls.seed, run.controls.scale, size)


def _neighbourhood(key: str, scenario: Scenario, seed: int, scale: float, size: int) -> Neighbourhood:
    held = _held_neighbourhoods.get((key, seed, scale, size))
    if held is not None:
        return held
    import networkx as nx

    a = build_city(scenario, replicate_seeds(seed, 1)[0], scale).households
    owners = np.flatnonzero(a.dwelling == DETACHED_OWNER)
    start = int(np.random.default_rng([seed, 0xD45B]).choice(owners))
    order = sp.csgraph.breadth_first_order(a.network, start, directed=False, return_predecessors=False)
    nodes = np.sort(order[:size])
    ties = sp.triu(a.network[nodes][:, nodes], k=1).tocoo()
    graph = nx.Graph(zip(ties.row.tolist(), ties.col.tolist(), strict=True))
    graph.add_nodes_from(range(nodes.size))
    layout = nx.spring_layout(graph, seed=seed % 2**32, iterations=60)
    result = Neighbourhood(
        nodes, np.column_stack([ties.row, ties.col]), np.array([layout[i] for i in range(nodes.size)])
    )
    _held_neighbourhoods.clear()
    _held_neighbourhoods[(key, seed, scale, size)] = result
    return result


# the last neighbourhood laid out, by the city, seed, scale and size it was drawn from
_held_neighbourhoods: dict[tuple[str, int, float, int], Neighbourhood] = {}


def adopted_by(run: DashboardRun, nodes: np.ndarray, fiscal_year: int) -> dict[str, np.ndarray]:
    """Which households of ``nodes`` had each technology by the end of ``fiscal_year``:
    the opening stock and every adoption logged up to then (an EV given up for a petrol
    car still counts as adopted)."""
    end_step = (min(fiscal_year, LAST_FISCAL_YEAR) - FIRST_FISCAL_YEAR + 1) * MONTHS_PER_YEAR - 1
    months = run.result.adoptions["households"][ADOPTED][:, nodes]
    out = {t: (months[k] >= 0) & (months[k] <= end_step) for k, t in enumerate(LOGGED_TECHNOLOGIES)}
    for technology, had in run.result.opening_households.items():
        out[technology] |= had[nodes]
    return out


def headline(result: RunResult, fiscal_year: int = LAST_FISCAL_YEAR) -> dict[str, Any]:
    """The large numbers: renewable TJ (and the target), the agents' part, CO2 and its
    change from FY2013, the PV capacity, EVs, city grants over the run."""
    t = result.table
    i = t["fiscal_year"].index(fiscal_year)
    return {
        "renewable_energy_tj": t["renewable_energy_tj"][i],
        "renewable_target_tj": t["renewable_target_tj"][i],
        "agent_pv_generation_tj": t["agent_pv_generation_tj"][i],
        "co2_kt": t["co2_kt"][i],
        "co2_change_vs_fy2013_pct": t["co2_change_vs_fy2013_pct"][i],
        "agent_pv_kw": float(agent_pv_kw(t)[i]),
        "evs": t["evs"][i],
        "city_subsidy_spent_yen": float(sum(t["city_subsidy_spent_yen"][: i + 1])),
    }
