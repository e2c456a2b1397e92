"""``abm bench``: how fast the simulator is, against idiomatic Mesa and against the floor.

Every figure is the median of ``--repeats`` runs with their minimum and maximum, on
``experiments/scenarios/strategy.toml`` with one replicate (the first seed that
``abm run`` derives from its default master seed):

*Full-city run* (``full_city_run_s``): :func:`abm.runner.run_scenario` at scale 1,
FY2014 to FY2050 (444 monthly steps), all technologies, with the city (population
and network) already built, as every run of a sweep after a worker's first finds
it (the process is settled after a warm-up run as a sweep's worker is after its
first, :func:`abm.runner.settle_worker`), but as its first run on that city: the
city was just built, so the run also computes what runs derive from a city
(:class:`abm.city.Derived`), which a city's later runs with the same economics find
made. ``full_city_total_s`` is the same run right after the city cache was cleared,
so it includes building; ``build_s`` is the building alone.

*ns per agent-step*: full-city run time / (agents x 444), agents = households +
businesses + farmers.

*Peak memory* (``peak_rss_mb``, MiB): the peak resident memory (``VmHWM`` on Linux,
else ``ru_maxrss``) of a fresh Python process that builds the city and runs it once
(one measurement; ``peak_rss_baseline_mb`` is the same for a process that only
imports the simulator).

*Workshop scale*: the same at scale 1/20 (``workshop_run_s`` without building, as
the dashboard keeps its city; like the full-city run, the first run on that city).

*Mesa reference* (``mesa_reference_ratio``): the household rooftop-PV rules as
idiomatic Mesa (``benchmarks/mesa_reference.py``: one ``mesa.Agent`` per deciding
household, ``shuffle_do``) against the array model on the same rules (scenario
``benchmarks/household_pv.toml``), on the same city, 444 monthly steps, timed
without building either. Agents are the deciding households (detached owners) in
both, so the ratio of ns per agent-step is the ratio of run times. Measured at
10,000 and 50,000 households; the key holds the largest size measured.

*The floor* (``floor_ratio``): the work that no implementation of the model can
avoid in the full-city run: each month, one random number for each agent that
decides on something (it was drawn to consider adopting, or a life event — a new
house, a car replacement — put the choice before it), and, for each change of
state that peers see (an adoption, or an EV owner going back to petrol), an update
of its neighbours' peer counts along its row of the sparse network. Both are counted
in the run itself: the run is repeated month by month, reading after each month the
populations' counts of deciding agents and who adopts in each peer group (the
model pays nothing for it; the benchmark checks that the counted run gives the
same outputs as the timed one, and the tests that replaying the updates gives the
model's peer counts). The
floor time is a replay of exactly that work with minimal numpy: per month one
``rng.random(n)`` for all the month's deciding agents, and per peer group (PV among
households, EVs, business PV, solar sharing) one gather of the month's adopters'
CSR rows and one ``np.add.at`` into a float32 count array. The initial stock of
adopters (before April 2014) is replayed as one more update. ``floor_ratio`` =
full-city run time / floor time: how far the model is from doing nothing but that.
Each timed full-city run is followed by two replays, of which the second is timed
(the first warms memory and caches for it, as back-to-back replays would be), so
that run and floor times are taken in alternation and both medians see the machine
in the same state (its speed drifts by the minute); the ratio of each run to the
replay after it is reported too, with its median, minimum and maximum.

*Where the time goes* (``decisions``): full-city runs (city built) with every call of
each decision's kernel timed: per decision (``households:ev``, ...) its seconds, its
deciding agents (as the floor counts them) and the time per deciding agent; besides
them ``setup_s``, setting up the model on the built city, which has been set up on
once before the timed runs and so keeps what runs derive from it (the owners' value
factors, ...: :class:`abm.city.Derived`; the full-city run above, the first on its
city, computes them), and ``outside_s``, the rest of the run (stream positioning,
gathering the kernels' arguments, Mesa's event loop, records, accounts); numba's
dispatch of a call counts as the kernel's. The runs of the breakdown are timed with
the wrappers on (``run_s``). ``kernels_s`` is the decisions' kernels together, and
``floor["decision_kernels_over_floor"]`` their median over the floor's: how far the
decisions' own work is from the floor, with no set-up, Python or Mesa around it (the
two are timed minutes apart, not in alternation).

Timings on a shared machine are noisy; the medians with min and max show how much.
Speed is printed, never asserted by the tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import abm
import abm.city
from abm import kernels
from abm.arguments import fraction, positive_int
from abm.city import DETACHED_OWNER, build_city
from abm.clock import N_STEPS
from abm.model import CityModel
from abm.runner import replicate_seeds, run_scenario, settle_worker
from abm.scenario import Scenario, load_scenario

REPO_ROOT = Path(abm.__file__).resolve().parent.parent
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"
WORKSHOP_FRACTION = 1 / 20
MESA_HOUSEHOLDS = (10_000, 50_000)
DEFAULT_MASTER_SEED = 20500  # as abm run


# ---------------------------------------------------------------- statistics


@dataclass
class Timing:
    """Several measurements of one quantity."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "min": min(self.values), "max": max(self.values), "runs": len(self.values)}

    def text(self, unit: str = "s", digits: int = 3) -> str:
        if len(self.values) == 1:
            return f"{self.median:.{digits}f} {unit}"
        return f"{self.median:.{digits}f} {unit} [{min(self.values):.{digits}f}-{max(self.values):.{digits}f}]"


def _clear_city_cache() -> None:
    """Forget every built city, whatever caches :mod:`abm.city` keeps."""
    for value in vars(abm.city).values():
        clear = getattr(value, "cache_clear", None)
        if callable(clear):
            clear()


def _progress(message: str) -> None:
    print(f"abm bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- full city


def time_full_runs(
    scenario: Scenario, seed: int, scale: float, repeats: int, after_each: Callable[[int], None] | None = None
) -> dict[str, Timing]:
    """Build (from a cleared cache) then run, ``repeats`` times: build, run and total;
    ``after_each(i)`` is called after the i-th run, untimed."""
    build, run, total = [], [], []
    for i in range(repeats):
        cached = weakref.ref(build_city(scenario, seed, scale))
        _clear_city_cache()
        t0 = time.perf_counter()
        city = build_city(scenario, seed, scale)
        t1 = time.perf_counter()
        if city is cached():
            raise RuntimeError("abm bench could not clear the city cache: the build would not be timed")
        del city
        run_scenario(scenario, seed, scale)  # finds the city just built
        t2 = time.perf_counter()
        build.append(t1 - t0)
        run.append(t2 - t1)
        total.append(t2 - t0)
        if after_each is not None:
            after_each(i)
    return {"build_s": Timing(build), "run_s": Timing(run), "total_s": Timing(total)}


_RSS_SCRIPT = """
import resource, sys
from abm.runner import run_scenario
from abm.scenario import load_scenario
if sys.argv[1] != "-":
    run_scenario(load_scenario(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
try:  # the peak of this program's own memory (ru_maxrss would count the parent's at fork)
    with open("/proc/self/status") as f:
        print(next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")), "KiB")
except OSError:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(rss, "B" if sys.platform == "darwin" else "KiB")
"""


def peak_rss_mb(scenario_file: str, seed: int, scale: float) -> float:
    """Peak resident memory (MiB) of a fresh process that runs the scenario once;
    ``scenario_file="-"`` only imports the simulator.

    On Linux this is the process's VmHWM: ``ru_maxrss`` of a child includes the
    memory of the parent it was forked from, which here holds a built city.
    """
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, scenario_file, str(seed), str(scale)],
        check=True,
        capture_output=True,
        text=True,
    )
    value, unit = out.stdout.split()[-2:]
    return int(value) / (2**20 if unit == "B" else 1024)


# ---------------------------------------------------------------- where the time goes

# the compiled decisions, as the populations call them (abm.kernels.<name>)
DECISION_KERNELS = ("build_houses", "rooftop_pv", "replace_cars", "solar_sharing")


@contextmanager
def timed_decisions() -> Iterator[dict[int, float]]:
    """Time every call of the decision kernels while the block runs: seconds by the
    identity of the call's tally (the argument before its adoption log), i.e. by decision. The kernels
    are wrapped where the populations look them up and restored afterwards."""
    seconds: dict[int, float] = {}
    originals = {name: getattr(kernels, name) for name in DECISION_KERNELS}

    def timed(kernel: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return kernel(*args)
            finally:
                key = id(args[-2])
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - t0

        return call

    for name, kernel in originals.items():
        setattr(kernels, name, timed(kernel))
    try:
        yield seconds
    finally:
        for name, kernel in originals.items():
            setattr(kernels, name, kernel)


def time_decisions(scenario: Scenario, seed: int, scale: float, repeats: int) -> dict[str, Any]:
    """Full-city runs (city built) with each decision's kernel time: per decision the
    median seconds, its deciding agents (drawn to consider, or by a life event) and
    time per deciding agent; ``setup_s``: setting up the model on the built city (the
    agents' state and the initial stock; the value factors are the city's from its
    earlier runs, :class:`abm.city.Derived`); ``outside_s``: the rest of
    the run (positioning the random streams, gathering the kernels' arguments, Mesa's
    event loop, the yearly records and the accounts); numba's dispatch of a call counts
    as the kernel's; ``kernels_s``: the decisions' kernels together."""
    build_city(scenario, seed, scale)
    CityModel(scenario, seed=seed, scale=scale).close()  # derives what the city keeps
    by_decision: dict[str, list[float]] = {}
    runs: list[float] = []
    setup: list[float] = []
    deciding: dict[str, int] = {}
    for _ in range(repeats):
        with timed_decisions() as seconds:
            t0 = time.perf_counter()
            model = CityModel(scenario, seed=seed, scale=scale)
            t1 = time.perf_counter()
            model.run()
            model.table()
            runs.append(time.perf_counter() - t0)
            setup.append(t1 - t0)
        for population in model.populations:
            for decision, tally in population.tallies.year.items():
                by_decision.setdefault(decision, []).append(seconds.get(id(tally), 0.0))
                deciding[decision] = int(population.tallies.so_far(decision)[kernels.DECIDING])
        model.close()  # as run_scenario does, so that each set-up finds memory to reuse
    kernel_s = [sum(v[i] for v in by_decision.values()) for i in range(repeats)]
    out: dict[str, Any] = {"run_s": Timing(runs).as_dict(), "setup_s": Timing(setup).as_dict(), "decisions": {}}
    for decision, values in by_decision.items():
        timing, n = Timing(values), deciding[decision]
        out["decisions"][decision] = {
            "seconds": timing.as_dict(),
            "deciding_agents": n,
            "ns_per_deciding_agent": timing.median / n * 1e9 if n else None,
        }
    out["kernels_s"] = Timing(kernel_s).as_dict()
    out["outside_s"] = Timing([r - k - s for r, k, s in zip(runs, kernel_s, setup, strict=True)]).as_dict()
    return out


# ---------------------------------------------------------------- the floor


@dataclass
class MonthWork:
    """What one month of a run had to do: decisions and peer-count updates."""

    deciding: int = 0  # agents choosing among options (considering, or by a life event)
    considering: int = 0  # of which drawn to consider adopting
    adopting: int = 0  # choices of an option other than "nothing"
    by_decision: dict[str, int] = field(default_factory=dict)
    # peer group -> list of (agents, sign) whose neighbours' counts change
    updates: dict[int, list[tuple[np.ndarray, float]]] = field(default_factory=dict)


def adoption_states(model: CityModel) -> list[tuple[Any, np.ndarray]]:
    """Each networked peer group of the model with who in it counts as adopting now."""
    hh, bz, fm = model.households, model.businesses, model.farmers
    groups = [
        (hh.pv_peers, (hh.pv_kw > 0) | (hh.ppa_kw > 0)),
        (hh.ev_peers, hh.ev.copy()),
        (bz.pv_peers, (bz.pv_kw > 0) | (bz.ppa_kw > 0)),
        (fm.peers, fm.kw > 0),
    ]
    return [(peers, adopting) for peers, adopting in groups if peers.adjacency is not None]


class WorkRecorder:
    """Counts, month by month, the deciding agents and the peer updates of a run.

    After each month it reads the populations' :class:`abm.population.Tallies` for
    the deciding, considering and adopting agents, and compares who adopts in each
    peer group with the month before: the agents who started adopting (or stopped)
    are the rows of the network whose neighbours' counts changed. The model is not
    touched.
    """

    def __init__(self) -> None:
        self.initial = MonthWork()
        self.months: list[MonthWork] = []
        self.current = self.initial
        self.groups: dict[int, Any] = {}  # id(PeerExposure) -> the PeerExposure
        self._seen: dict[str, int] = {}
        self._adopting: dict[int, np.ndarray] = {}

    def end_month(self, model: CityModel) -> None:
        self._take_counts(model)
        self._take_updates(model)
        if self.current is not self.initial:
            self.months.append(self.current)
        self.current = MonthWork()

    def _take_updates(self, model: CityModel) -> None:
        for peers, adopting in adoption_states(model):
            g = id(peers)
            self.groups[g] = peers
            before = self._adopting.get(g, np.zeros_like(adopting))
            for changed, sign in ((adopting & ~before, 1.0), (before & ~adopting, -1.0)):
                if changed.any():
                    self.current.updates.setdefault(g, []).append((np.flatnonzero(changed), sign))
            self._adopting[g] = adopting

    def _take_counts(self, model: CityModel) -> None:
        totals: dict[str, int] = {}
        for population in model.populations:
            for decision in population.tallies.year:
                tally = population.tallies.so_far(decision)
                for key, column in (("considering", kernels.CONSIDERING), ("adopting", kernels.ADOPTING)):
                    totals[key] = totals.get(key, 0) + int(tally[column])
                totals[f"deciding:{decision}"] = int(tally[kernels.DECIDING])
        month = self.current
        for key, total in totals.items():
            n = total - self._seen.get(key, 0)
            if key == "considering":
                month.considering = n
            elif key == "adopting":
                month.adopting = n
            elif n:
                month.by_decision[key.removeprefix("deciding:")] = n
                month.deciding += n
        self._seen = totals

    def totals(self) -> dict[str, Any]:
        by_decision: dict[str, int] = {}
        for m in self.months:
            for k, v in m.by_decision.items():
                by_decision[k] = by_decision.get(k, 0) + v

        def updates(months: list[MonthWork]) -> int:
            return sum(a.size for m in months for ups in m.updates.values() for a, _ in ups)

        return {
            "months": len(self.months),
            "deciding_agents": sum(m.deciding for m in self.months),
            "considering_agents": sum(m.considering for m in self.months),
            "choices_of_an_option": sum(m.adopting for m in self.months),
            "peer_updates": updates(self.months),
            "initial_peer_updates": updates([self.initial]),
            "neighbour_entries": sum(
                int((self.groups[g].adjacency.indptr[a + 1] - self.groups[g].adjacency.indptr[a]).sum())
                for m in [self.initial, *self.months]
                for g, ups in m.updates.items()
                for a, _ in ups
            ),
            "deciding_by_decision": by_decision,
        }


def record_work(scenario: Scenario, seed: int, scale: float) -> tuple[WorkRecorder, CityModel]:
    """Run the model once, month by month, counting its work."""
    recorder = WorkRecorder()
    model = CityModel(scenario, seed=seed, scale=scale)
    recorder.end_month(model)  # closes the initial stock
    while model.running:
        model.step()
        recorder.end_month(model)
    return recorder, model


@dataclass
class _Update:
    indptr: np.ndarray
    indices: np.ndarray
    count: np.ndarray
    agents: np.ndarray
    weights: np.ndarray | np.float32  # per agent, or one sign for all


def _floor_plan(recorder: WorkRecorder) -> tuple[list[tuple[int, list[_Update]]], dict[int, np.ndarray]]:
    """The recorded work as plain arrays, one entry per month (the initial stock first)."""
    counts = {g: np.zeros(p.adjacency.shape[0], dtype=np.float32) for g, p in recorder.groups.items()}
    plan = []
    for month in [recorder.initial, *recorder.months]:
        ups = []
        for g, parts in month.updates.items():
            adj = recorder.groups[g].adjacency
            agents = np.concatenate([a for a, _ in parts]).astype(np.int64)
            signs = {s for _, s in parts}
            if len(signs) == 1:
                weights: np.ndarray | np.float32 = np.float32(signs.pop())
            else:
                weights = np.concatenate([np.full(a.size, s, dtype=np.float32) for a, s in parts])
            ups.append(_Update(adj.indptr, adj.indices, counts[g], agents, weights))
        plan.append((month.deciding, ups))
    return plan, counts


@dataclass
class FloorReplay:
    seconds: float
    counts: dict[int, np.ndarray]  # peer group -> neighbour counts after the replay


def replay_floor(recorder: WorkRecorder, seed: int = 0) -> FloorReplay:
    """Do only the recorded floor work, with minimal numpy, and time it."""
    plan, counts = _floor_plan(recorder)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for deciding, updates in plan:
        if deciding:
            rng.random(deciding)
        for u in updates:
            starts = u.indptr[u.agents]
            lengths = u.indptr[u.agents + 1] - starts
            rows = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
            neighbours = u.indices[rows]
            if isinstance(u.weights, np.ndarray):
                np.add.at(u.count, neighbours, np.repeat(u.weights, lengths))
            else:
                # a float32 scalar on a float32 array takes numpy's fast path
                np.add.at(u.count, neighbours, u.weights)
    return FloorReplay(time.perf_counter() - t0, counts)


def same_outputs(a: dict[str, list[float]], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    return all(np.array_equal(np.asarray(a[k], dtype=float), np.asarray(b[k], dtype=float)) for k in a)


# ---------------------------------------------------------------- Mesa reference


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py``, imported by path from the source checkout (the
    benchmarks are not part of the installed package)."""
    module_name = f"abm_benchmarks_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = BENCHMARKS_DIR / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the benchmarks need a source checkout")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def load_mesa_reference() -> ModuleType:
    return load_benchmark("mesa_reference")


def adoption_share(model: CityModel) -> dict[int, float]:
    """Share of detached owners with PV or a PPA at the end of each fiscal year."""
    return {
        int(r["fiscal_year"]): (r["residential_pv_systems"] + r["household_ppa_contracts"])
        / r["detached_owner_households"]
        for r in model.records
    }


def time_mesa_reference(households: int, seed: int, repeats: int, mesa_repeats: int) -> dict[str, Any]:
    """Mesa reference against the array model on the household-PV rules, same city."""
    ref = load_mesa_reference()
    scenario = ref.household_pv_scenario(households)
    city = build_city(scenario, seed, 1.0)
    array, mesa = [], []
    for _ in range(repeats):
        model = CityModel(scenario, seed=seed, city=city)
        t0 = time.perf_counter()
        model.run()
        array.append(time.perf_counter() - t0)
    deciding = int(np.count_nonzero(city.households.dwelling == DETACHED_OWNER))
    array_share = adoption_share(model)
    for _ in range(mesa_repeats):
        reference = ref.HouseholdPVModel(scenario, city.households, seed)
        t0 = time.perf_counter()
        reference.run()
        mesa.append(time.perf_counter() - t0)
    if len(reference.agents) != deciding:
        raise RuntimeError("the Mesa reference does not decide for the same households as the array model")
    steps = deciding * N_STEPS
    a, m = Timing(array), Timing(mesa)
    return {
        "households": households,
        "deciding_households": deciding,
        "array_run_s": a.as_dict(),
        "mesa_run_s": m.as_dict(),
        "array_ns_per_agent_step": a.median / steps * 1e9,
        "mesa_ns_per_agent_step": m.median / steps * 1e9,
        "ratio": m.median / a.median,
        "adoption_share_last_year": {
            "array": array_share[max(array_share)],
            "mesa": reference.adoption_share[max(reference.adoption_share)],
        },
    }


# ---------------------------------------------------------------- the benchmark


def machine() -> dict[str, Any]:
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "load_average_1min_at_start": None if load is None else round(load, 2),
    }


def run_benchmark(
    scenario_name: str = "strategy",
    master_seed: int = DEFAULT_MASTER_SEED,
    repeats: int = 5,
    scale: float = 1.0,
    mesa_households: tuple[int, ...] = MESA_HOUSEHOLDS,
    mesa_repeats: int = 1,
    progress: Callable[[str], None] = _progress,
) -> dict[str, Any]:
    """Every measurement of ``abm bench``; :func:`json_ready` drops the raw timings."""
    scenario = load_scenario(scenario_name)
    seed = replicate_seeds(master_seed, 1)[0]
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "scenario_files": list(scenario.files),
        "seed": seed,
        "scale": scale,
        "repeats": repeats,
        "machine": machine(),
    }
    workshop_scale = scale * WORKSHOP_FRACTION

    progress(f"warm-up run at scale {workshop_scale:g}")
    run_scenario(scenario, seed, workshop_scale)
    settle_worker()  # as a sweep's worker does after its first run

    progress("floor: counting the run's decisions and peer updates")
    timed = run_scenario(scenario, seed, scale)
    recorder, model = record_work(scenario, seed, scale)
    same = same_outputs(timed.table, {k: v.tolist() for k, v in model.table().items()})
    model.close()  # as run_scenario does, so that the timed runs find its memory free

    progress(f"full city: build and run {repeats} times at scale {scale:g}, each run followed by a floor replay")
    floor_times: list[float] = []

    def replay(i: int) -> None:
        replay_floor(recorder, seed=i)  # untimed: the timed replay finds its memory and caches warm
        floor_times.append(replay_floor(recorder, seed=i).seconds)

    full = time_full_runs(scenario, seed, scale, repeats, replay)
    floor = Timing(floor_times)
    city = build_city(scenario, seed, scale)
    agents = city.households.n + city.businesses.n + city.farmers.n
    result["agents"] = {"households": city.households.n, "businesses": city.businesses.n, "farmers": city.farmers.n}
    result["full_city_run_s"] = full["run_s"].median
    result["full_city_total_s"] = full["total_s"].median
    result["build_s"] = full["build_s"].median
    result["ns_per_agent_step"] = full["run_s"].median / (agents * N_STEPS) * 1e9

    progress(f"workshop scale {workshop_scale:g}: build and run {repeats} times")
    workshop = time_full_runs(scenario, seed, workshop_scale, repeats)
    result["workshop_run_s"] = workshop["run_s"].median
    result["workshop_total_s"] = workshop["total_s"].median

    progress("peak memory of a fresh process running the full city once")
    scenario_file = scenario.files[-1] if scenario.files else scenario_name
    result["peak_rss_mb"] = peak_rss_mb(scenario_file, seed, scale)
    result["peak_rss_baseline_mb"] = peak_rss_mb("-", seed, scale)

    progress(f"where a full-city run's time goes: {repeats} runs with each decision timed")
    result["decisions"] = time_decisions(scenario, seed, scale, repeats)

    result["floor_s"] = floor.median
    result["floor_ratio"] = full["run_s"].median / floor.median
    pairs = Timing([r / f for r, f in zip(full["run_s"].values, floor.values, strict=True)])
    result["floor"] = {
        **recorder.totals(),
        "floor_s": floor.as_dict(),
        "ratio_of_each_run_to_the_replay_after_it": pairs.as_dict(),
        "counted_run_equals_timed_run": same,
        "floor_ns_per_agent_step": floor.median / (agents * N_STEPS) * 1e9,
        # the decisions' own work, with no set-up, Python or Mesa around it
        "decision_kernels_over_floor": result["decisions"]["kernels_s"]["median"] / floor.median,
    }

    mesa: dict[str, Any] = {}
    try:
        load_mesa_reference()
    except FileNotFoundError as err:
        progress(f"skipping the Mesa reference: {err}")
    else:
        for n in mesa_households:
            progress(f"Mesa reference against arrays, {n:,} households")
            mesa[str(n)] = time_mesa_reference(n, seed, repeats, mesa_repeats)
    result["mesa_reference"] = mesa
    result["mesa_reference_ratio"] = mesa[str(max(mesa_households))]["ratio"] if mesa else None

    result["detail"] = {
        "full_city_run_s": full["run_s"].as_dict(),
        "full_city_total_s": full["total_s"].as_dict(),
        "build_s": full["build_s"].as_dict(),
        "workshop_run_s": workshop["run_s"].as_dict(),
        "workshop_total_s": workshop["total_s"].as_dict(),
        "workshop_build_s": workshop["build_s"].as_dict(),
        "floor_s": floor.as_dict(),
    }
    result["_timings"] = {"full": full, "workshop": workshop, "floor": floor}
    return result


def report(result: dict[str, Any]) -> str:
    """The benchmark as readable text."""
    t = result["_timings"]
    full, workshop = t["full"], t["workshop"]
    m = result["machine"]
    a = result["agents"]
    agents = sum(a.values())
    fl = result["floor"]
    pairs = fl["ratio_of_each_run_to_the_replay_after_it"]
    lines = [
        f"abm bench: {result['scenario']} at scale {result['scale']:g}, seed {result['seed']}, "
        f"FY2014-FY2050 ({N_STEPS} monthly steps); median [min-max] of {result['repeats']} runs",
        f"  machine: {m['cpus']} CPUs, Python {m['python']}, numpy {m['numpy']}, "
        f"load average {m['load_average_1min_at_start']}",
        f"  agents: {a['households']:,} households, {a['businesses']:,} businesses, {a['farmers']:,} farmers",
        f"  build population and network    {full['build_s'].text()}",
        f"  full-city run, city built       {full['run_s'].text()}",
        f"  full-city run, including build  {full['total_s'].text()}",
        f"  ns per agent-step               {result['ns_per_agent_step']:.1f} ns ({agents:,} agents x {N_STEPS} steps)",
        f"  peak memory (fresh process)     {result['peak_rss_mb']:.0f} MiB "
        f"(imports alone {result['peak_rss_baseline_mb']:.0f} MiB)",
        f"  workshop scale 1/20 run         {workshop['run_s'].text()} (including build {workshop['total_s'].text()})",
        f"  floor                           {t['floor'].text()}: {fl['deciding_agents']:,} random draws, "
        f"{fl['peer_updates'] + fl['initial_peer_updates']:,} sparse row updates "
        f"({fl['neighbour_entries']:,} neighbour entries)",
        f"  run / floor                     {result['floor_ratio']:.1f}x (each run over the replay after it: "
        f"{pairs['min']:.1f}-{pairs['max']:.1f}x)"
        + ("" if fl["counted_run_equals_timed_run"] else "  (WARNING: the counted run differed from the timed run)"),
    ]
    if result["mesa_reference"]:
        lines.append("  Mesa reference, household PV rules (benchmarks/household_pv.toml), same city, run only:")
        for r in result["mesa_reference"].values():
            lines.append(
                f"    {r['households']:>7,} households ({r['deciding_households']:,} deciding): "
                f"Mesa {r['mesa_run_s']['median']:.2f} s ({r['mesa_ns_per_agent_step']:,.0f} ns/agent-step), "
                f"arrays {r['array_run_s']['median']:.3f} s ({r['array_ns_per_agent_step']:,.0f} ns/agent-step): "
                f"arrays {r['ratio']:.0f}x faster"
            )
    else:
        lines.append("  Mesa reference: not measured (benchmarks/ not found)")
    d = result["decisions"]
    lines.append(f"  where a full-city run's time goes (runs with each decision timed: {d['run_s']['median']:.3f} s):")
    lines.append(f"    {'set-up on a city run before':<30}{d['setup_s']['median']:.3f} s")
    lines.append(
        f"    {'the decisions (kernels) alone':<30}{d['kernels_s']['median']:.3f} s, "
        f"{fl['decision_kernels_over_floor']:.1f}x the floor"
    )
    for decision, r in sorted(d["decisions"].items(), key=lambda kv: -kv[1]["seconds"]["median"]):
        per = r["ns_per_deciding_agent"]
        lines.append(
            f"    {decision:<30}{r['seconds']['median']:.3f} s, {r['deciding_agents']:>10,} deciding agents"
            + (f", {per:,.0f} ns each" if per is not None else "")
        )
    lines.append(
        f"    {'outside the decisions':<30}{d['outside_s']['median']:.3f} s (streams, arguments, Mesa, records, accounts)"
    )
    return "\n".join(lines)


def json_ready(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not k.startswith("_")}


# ---------------------------------------------------------------- command line


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """The ``bench`` subcommand, added to ``abm``'s parser."""
    p = subparsers.add_parser(
        "bench",
        help="time full-city runs against idiomatic Mesa and the floor",
        description="Time full-city runs (medians of several runs) against idiomatic Mesa and against the floor.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--repeats", type=positive_int, default=5, help="runs per timing (default 5)")
    p.add_argument("--quick", action="store_true", help="Mesa reference at 10,000 households only")
    p.add_argument("--seed", type=int, default=DEFAULT_MASTER_SEED, help="master seed (default as abm run)")
    p.add_argument("--scale", type=fraction, default=1.0, help="city scale (default 1; smaller for a quick check)")
    p.add_argument(
        "--mesa-households",
        type=positive_int,
        nargs="+",
        default=None,
        help="sizes for the Mesa reference (default 10000 50000)",
    )
    p.add_argument("--mesa-repeats", type=positive_int, default=1, help="Mesa reference runs per size (default 1)")
    return p


def cmd_bench(args: argparse.Namespace) -> int:
    sizes = tuple(args.mesa_households) if args.mesa_households else MESA_HOUSEHOLDS
    if args.quick and not args.mesa_households:
        sizes = sizes[:1]
    result = run_benchmark(
        master_seed=args.seed,
        repeats=args.repeats,
        scale=args.scale,
        mesa_households=sizes,
        mesa_repeats=args.mesa_repeats,
    )
    if args.json:
        print(json.dumps(json_ready(result), indent=2))
    else:
        print(report(result))
    return 0
