"""Running scenarios: one function runs one scenario with one seed.

:func:`run_scenario` is the unit of every experiment: it builds (or reuses) the city,
runs the model to March 2051 (or to the end of an earlier ``last_fiscal_year``) and returns a :class:`RunResult` of plain data, which
pickles cheaply to and from worker processes. :func:`run_replicates` maps it over
seeds derived from one master seed, on any ``concurrent.futures.Executor``.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.city import build_city
from abm.clock import LAST_FISCAL_YEAR
from abm.model import CityModel
from abm.scenario import Scenario


@dataclass
class RunResult:
    """Outputs of one run: the yearly table and the grant ledger, and with
    ``adoption_log_from`` each population's adoption log (by agent type,
    :func:`abm.population.adoption_log`) and the households that had PV and an EV in
    April 2014, before any decision."""

    replicate: int
    seed: int
    table: dict[str, list[float]]
    budget_exhausted: dict[str, dict[int, str]]  # programme -> fiscal year -> ISO date
    programme_spending: list[dict[str, Any]]  # one row per programme and fiscal year
    adoptions: dict[str, np.ndarray] | None = None
    opening_households: dict[str, np.ndarray] | None = None  # "pv", "ev" -> one bool per household


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """Independent seeds for ``replicates`` runs, derived from one master seed."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(replicates, dtype=np.uint32)]


def run_scenario(
    scenario: Scenario,
    seed: int,
    scale: float = 1.0,
    behaviour: dict[str, Any] | None = None,
    replicate: int = 0,
    on_year: Callable[[int], None] | None = None,
    last_fiscal_year: int = LAST_FISCAL_YEAR,
    adoption_log_from: int | None = None,
    keep_city: bool = True,
) -> RunResult:
    """Run ``scenario`` once with ``seed`` from April 2014 to the end of
    ``last_fiscal_year`` (March 2051 by default). A shorter run is the same run cut
    short: its years are identical to the first years of the full run. With
    ``adoption_log_from`` (a fiscal year) the result holds who adopted what and when,
    and who did so with a city grant from that year on; logging changes nothing else
    in the run. ``keep_city=False`` for a seed that no later run in the process shares
    (:func:`abm.city.build_city`)."""
    model = CityModel(
        scenario,
        seed=seed,
        scale=scale,
        city=build_city(scenario, seed, scale, keep=keep_city),
        behaviour=behaviour,
        last_fiscal_year=last_fiscal_year,
        adoption_log_from=adoption_log_from,
    )
    n_records = 0
    while model.running:
        model.step()
        if on_year and len(model.records) > n_records:
            n_records = len(model.records)
            on_year(model.records[-1]["fiscal_year"])
    table = {k: v.tolist() for k, v in model.table().items()}
    ledger = model.policy.ledger
    exhausted: dict[str, dict[int, str]] = {}
    for (name, fy), date in sorted(ledger.exhausted_on.items()):
        exhausted.setdefault(name, {})[fy] = date.isoformat()
    spending = [
        {
            "fiscal_year": int(fy),
            "programme": p.name,
            "level": p.level,
            "technology": p.technology,
            "granted_yen": float(ledger.spent_yen[row, i]),
            "grants": float(ledger.grants[row, i]),
            "budget": p.budget,  # a shared budget's name; empty for a budget of its own
            "annual_budget_yen": ledger.budget_yen(i),
        }
        for row, fy in enumerate(table["fiscal_year"])
        for i, p in enumerate(ledger.programmes)
        if p.is_active(int(fy))
    ]
    adoptions = model.adoption_logs() if adoption_log_from is not None else None
    model.close()
    return RunResult(replicate, seed, table, exhausted, spending, adoptions, model.opening_households)


@functools.cache
def settle_worker() -> None:
    """Once in a process that runs a sweep, after its first run: collect, then move
    every object alive (modules, compiled kernels, built cities: about 200,000) out of
    the garbage collector's sight. Python runs a full collection every few runs of a
    sweep, which would otherwise scan them all each time (about 60 ms, as long as a
    run at scale 0.05); the objects of later runs are still collected. The price: an
    object alive at that moment that later becomes cyclic garbage is never freed, so
    the sweep runners call this (after a run has returned, its model gone), not
    :func:`run_scenario`."""
    gc.collect()
    gc.freeze()


def _run_task(task: tuple[Scenario, int, float, dict[str, Any] | None, int]) -> RunResult:
    scenario, seed, scale, behaviour, replicate = task
    result = run_scenario(scenario, seed, scale, behaviour, replicate, keep_city=False)
    settle_worker()
    return result


def run_replicates(
    scenario: Scenario,
    seeds: Sequence[int],
    scale: float = 1.0,
    behaviours: Sequence[dict[str, Any] | None] | None = None,
    executor: Executor | None = None,
    on_done: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run one replicate per seed, serially or on ``executor``; results in seed order. Each
    seed's city is built for its replicate alone, so memory does not grow with the replicates."""
    behaviours = behaviours or [None] * len(seeds)
    tasks = [(scenario, s, scale, b, r) for r, (s, b) in enumerate(zip(seeds, behaviours, strict=True))]
    results: list[RunResult] = []
    runs = executor.map(_run_task, tasks) if executor else map(_run_task, tasks)
    for result in runs:
        results.append(result)
        if on_done:
            on_done(result)
    return results
