"""Calibrating the behavioural parameters of the city model to Saitama's history.

The history scenario (``experiments/scenarios/history.toml``: the grants, tariffs
and prices in force from FY2014) is run over parameter sets of ABC-SMC
(:mod:`calibration.abc`) and each run is held against every observed pattern at once
(:mod:`calibration.targets`). Runs are declared as :class:`abm.execution.RunSpec` and
mapped over the project's executor layer (serial, process pool or Dask); each one is
appended to a :class:`abm.execution.RunStore` under ``<out>/runs/`` the moment it
finishes, so an interrupted calibration started again with the same settings only
computes the runs it lacks and ends with the same posterior.

Outputs, in ``<out>/`` (``calibration/`` for the default calibration, which the
scenarios then use): ``posterior.csv`` (the posterior's parameter sets and their
weights), ``settings.json`` (how they were produced) and ``report/``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from abm.execution import RunSpec, RunStore, run_experiment
from abm.output import model_code_sha256, provenance
from abm.runner import RunResult
from abm.scenario import DEFAULTS, load_scenario
from calibration.abc import Generation, Parameter, generation_sizes, smc
from calibration.report import summarise, write_report
from calibration.targets import SHARE_RATIO_CAP, Pattern, distance, last_fiscal_year_needed, load_patterns

CALIBRATION_DIR = Path(__file__).resolve().parent
# the years with observed outcomes (residential PV additions: calendar 2015-2020)
FIRST_OUTCOME_YEAR, LAST_OUTCOME_YEAR = 2015, 2022

# The calibrated [behaviour] keys and their priors: the ranges defaults.toml states
# (base rates 0.001-0.1 a year, log-uniform; peer rates 0-1; economic weight 0-10;
# peer weight 0-5), except the option constants: -8 to 8 rather than -5 to 5,
# because trial calibrations piled up against those bounds (the EV constant at -5,
# the business constant at +5). Beyond +-8 a choice is all but certain either way.
CONSTANT_RANGE = (-8.0, 8.0)
PARAMETERS: tuple[Parameter, ...] = (
    Parameter("household_pv_p", 0.001, 0.1, log=True, description="household PV base rate, per year"),
    Parameter("household_pv_q", 0.0, 1.0, description="household PV peer rate, per year"),
    Parameter("business_pv_p", 0.001, 0.1, log=True, description="business PV base rate, per year"),
    Parameter("business_pv_q", 0.0, 1.0, description="business PV peer rate, per year"),
    Parameter("farmer_solar_sharing_p", 0.001, 0.1, log=True, description="solar-sharing base rate, per year"),
    Parameter("farmer_solar_sharing_q", 0.0, 1.0, description="solar-sharing peer rate, per year"),
    Parameter("econ_weight", 0.0, 10.0, description="utility per unit of NPV / gross cost"),
    Parameter("peer_weight", 0.0, 5.0, description="utility per unit of adopting-neighbour share"),
    Parameter("household_buy_constant", *CONSTANT_RANGE, description="households: buy PV (retrofit)"),
    Parameter("new_build_pv_constant", *CONSTANT_RANGE, description="households: PV on a new house"),
    Parameter("zeh_constant", *CONSTANT_RANGE, description="households: build a ZEH"),
    Parameter("ev_constant", *CONSTANT_RANGE, description="households: an EV at car replacement"),
    Parameter("business_buy_constant", *CONSTANT_RANGE, description="businesses: buy PV"),
    Parameter("solar_sharing_constant", *CONSTANT_RANGE, description="farmers: solar sharing"),
    Parameter("price_expectation_weight", 0.2, 1.0, description="share of the way expectations move to a year's price"),
    Parameter("battery_constant", *CONSTANT_RANGE, description="households: a battery beside their PV"),
    Parameter("household_storage_p", 0.001, 0.1, log=True, description="households: storage considered, per year"),
    Parameter(
        "post_fit_storage_consideration",
        0.01,
        1.0,
        log=True,
        description="households: share weighing storage when their PV leaves its tariff",
    ),
)
# Kept at the scenario's values: no observed series constrains them in FY2014-FY2022
# (PPA maturity is at most 0.05 before FY2020; no split of EV sales by dwelling; the
# successor term is confounded with the solar-sharing constant; attitude spreads
# every option alike; no series of V2H units; nothing has yet reached the end of its
# life). The sensitivity analysis carries their uncertainty.
FIXED = (
    "attitude_weight",
    "v2h_constant",
    "pv_keep_constant",
    "household_ppa_constant",
    "business_ppa_constant",
    "ev_apartment_constant",
    "successor_weight",
    "peer_scope",
)

# Columns of a run's yearly table that the patterns use; PPA stocks are turned into
# yearly additions (the model starts in April 2014 without PPAs).
FLOW_COLUMNS = (
    "residential_pv_added_kw",
    "residential_pv_added_systems",
    "business_pv_added_kw",
    "zeh_built",
    "new_detached_houses",
    "ev_sales",
    "car_replacements",
    "solar_sharing_added_farms",
    "batteries_installed",
)
PPA_STOCKS = {
    "household_ppa_added_kw": "household_ppa_kw",
    "household_ppa_added_contracts": "household_ppa_contracts",
    "business_ppa_added_kw": "business_ppa_kw",
}


@dataclass(frozen=True)
class Settings:
    """How a calibration is made; two calibrations with equal settings are equal."""

    # about 40 minutes on two cores with the compiled kernels
    budget: int = 32768
    generations: int = 8
    accept_fraction: float = 0.1
    scale: float = 0.25
    seed: int = 2014
    holdout_after: int | None = None
    scenario: str = "history"

    def __post_init__(self) -> None:
        generation_sizes(self.budget, self.generations)  # raises if the budget is too small
        if not 0 < self.accept_fraction < 1:
            raise ValueError(f"accept_fraction must be in (0, 1), got {self.accept_fraction}")
        if not 0 < self.scale <= 1:
            raise ValueError(f"scale must be in (0, 1], got {self.scale}")
        if self.holdout_after is not None and not FIRST_OUTCOME_YEAR <= self.holdout_after < LAST_OUTCOME_YEAR:
            raise ValueError(
                f"--holdout-after must leave outcomes to fit and to hold out: a year from "
                f"{FIRST_OUTCOME_YEAR} to {LAST_OUTCOME_YEAR - 1}, got {self.holdout_after}"
            )


def default_out(settings: Settings, quick: bool) -> Path:
    """``calibration/`` for the calibration the scenarios use; a directory under
    ``results/`` for quick and hold-out calibrations, which must not replace it."""
    if not quick and settings.holdout_after is None:
        return CALIBRATION_DIR
    name = "calibration" + ("-quick" if quick else "")
    if settings.holdout_after is not None:
        name += f"-holdout-{settings.holdout_after}"
    return Path("results") / name


# Small enough for CI (about a minute on two cores), large enough to exercise and
# check the whole path, including the hold-out forecast.
QUICK = Settings(budget=1536, generations=4, accept_fraction=0.15, scale=0.05)


def extract(result: RunResult) -> dict[str, list[float]]:
    """What a calibration keeps of a run: the yearly flows the patterns use."""
    t = result.table
    out: dict[str, list[float]] = {"fiscal_year": [int(y) for y in t["fiscal_year"]]}
    for column in FLOW_COLUMNS:
        out[column] = [float(x) for x in t[column]]
    for flow, stock in PPA_STOCKS.items():
        out[flow] = [float(x) for x in np.diff(np.asarray(t[stock], dtype=float), prepend=0.0)]
    return out


def particle_name(generation: int, index: int) -> str:
    return f"g{generation}-{index:05d}"


def run_specs(settings: Settings, generation: int, values: np.ndarray, last_fiscal_year: int) -> list[RunSpec]:
    """One run per parameter set of a generation, each with its own seed. A run's
    key is its name (``g3-00042``, as in ``posterior.csv``) followed by a digest of
    everything the run depends on, so that a store never answers for a run with
    other inputs."""
    seeds = np.random.SeedSequence([settings.seed, generation, 0x5EED]).generate_state(len(values))
    specs = []
    for i, row in enumerate(values):
        changes = {f"behaviour.{p.name}": float(v) for p, v in zip(PARAMETERS, row, strict=True)}
        inputs = json.dumps(
            [settings.scenario, int(seeds[i]), settings.scale, last_fiscal_year, changes], sort_keys=True
        )
        digest = hashlib.sha256(inputs.encode()).hexdigest()[:12]
        specs.append(
            RunSpec(
                key=f"{particle_name(generation, i)}-{digest}",
                seed=int(seeds[i]),
                scale=settings.scale,
                values=changes,
                last_fiscal_year=last_fiscal_year,
            )
        )
    return specs


def run_store(out: Path) -> RunStore:
    return RunStore(Path(out) / "runs")


@dataclass
class Calibration:
    """A finished calibration: its generations and its report summary."""

    settings: Settings
    generations: list[Generation]
    patterns: tuple[Pattern, ...]
    summary: dict[str, Any]

    @property
    def posterior(self) -> Generation:
        return self.generations[-1]


def calibrate(
    settings: Settings,
    out: Path,
    pool: Executor | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> Calibration:
    """Run (or resume) a calibration and write its posterior, settings and report."""
    started = time.perf_counter()
    # before any output is written: in a checkout, the outputs would mark the commit dirty
    origin = {k: v for k, v in provenance().items() if k in ("git_commit", "packages", "command", "platform")}
    out = Path(out)
    base = load_scenario(settings.scenario)
    patterns = load_patterns()
    last_fy = last_fiscal_year_needed(patterns)
    store = run_store(out)
    store.write_manifest(
        {
            "experiment": "calibration",
            "settings": dataclasses.asdict(settings),
            "base_scenario": {"name": base.name, "sha256": base.sha256()},
            "model_code_sha256": model_code_sha256(),
            "parameters": [dataclasses.asdict(p) for p in PARAMETERS],
            "targets": [
                {k: v for k, v in dataclasses.asdict(p).items() if k not in ("source", "notes", "_obs")}
                for p in patterns
            ],
            "last_fiscal_year": last_fy,
        }
    )

    used: dict[str, dict[str, Any]] = {}

    def simulate(generation: int, values: np.ndarray) -> list[dict[str, Any]]:
        specs = run_specs(settings, generation, values, last_fy)
        used.update(run_experiment(base, specs, extract, store, pool, on_done))
        return [used[s.key]["outputs"] for s in specs]

    generations = smc(
        PARAMETERS,
        simulate,
        lambda outputs: distance(patterns, outputs, settings.holdout_after),
        budget=settings.budget,
        generations=settings.generations,
        accept_fraction=settings.accept_fraction,
        seed=settings.seed,
    )
    summary = summarise(generations, patterns, PARAMETERS, settings.holdout_after)
    calibration = Calibration(settings, generations, patterns, summary)
    write_posterior(out / "posterior.csv", calibration)
    _write_json(
        out / "settings.json",
        settings_record(calibration, base.files, last_fy, time.perf_counter() - started, used, origin),
    )
    write_report(summary, generations, PARAMETERS, out / "report")
    return calibration


def write_posterior(path: Path, calibration: Calibration) -> None:
    """The posterior's parameter sets, best first: the run's name (its key in
    ``runs/`` begins with it), its weight, its distance and its values."""
    g = calibration.posterior
    lines = [",".join(["particle", "weight", "distance", *(p.name for p in PARAMETERS)])]
    for row, i in enumerate(g.accepted):
        values = [float(p.value(g.unit[i, j])) for j, p in enumerate(PARAMETERS)]
        cells = [particle_name(g.index, int(i)), repr(float(g.weight[row])), repr(float(g.distance[i]))]
        lines.append(",".join(cells + [repr(v) for v in values]))
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)


def settings_record(
    calibration: Calibration,
    scenario_files: Sequence[str],
    last_fiscal_year: int,
    seconds: float,
    runs: dict[str, dict[str, Any]],
    origin: dict[str, Any],
) -> dict[str, Any]:
    """Everything needed to know how the posterior was produced, and to redo it."""
    s = calibration.settings
    return {
        "method": (
            "ABC-SMC (population Monte Carlo, batch form): generation 0 a Latin hypercube over the prior "
            "(scipy.stats.qmc); search generations drawn evenly from the previous accepted sets with optimal "
            "local covariance kernels (Filippi et al. 2013); a final generation (3/8 of the runs) drawn from a "
            "multivariate Student-t (4 degrees of freedom) with the mean and 2 x the covariance of the "
            "previous accepted sets; each generation accepts its best "
            f"{s.accept_fraction:.0%} by distance (this sets its tolerance), weighted by prior / proposal "
            "density (truncated at sqrt(n) x mean); the final generation's accepted sets are the posterior"
        ),
        "distance": (
            "weighted root mean square over fitted patterns of each pattern's normalised error: "
            "the root mean square over its fitted years of relative errors (kW and permit series) or of "
            f"log(simulated / observed), capped at a factor of {SHARE_RATIO_CAP:g} (shares)"
        ),
        **dataclasses.asdict(s),
        "scenario_files": [os.path.relpath(f, CALIBRATION_DIR.parent) for f in scenario_files],
        "last_fiscal_year_simulated": last_fiscal_year,
        "calendar_alignment": "calendar year t = 0.25 x FY(t-1) + 0.75 x FY(t)",
        "parameters": [{"name": p.name, "prior": p.prior, "description": p.description} for p in PARAMETERS],
        "fixed_parameters": {k: DEFAULTS["behaviour"][k] for k in FIXED},
        "targets": [
            {
                "name": p.name,
                "basis": p.basis,
                "years": list(p.years),
                "observed": list(p.observed),
                "fitted_years": [y for y, f in zip(p.years, p.fitted(s.holdout_after), strict=True) if f],
                "weight": p.weight,
                "cumulative": p.cumulative,
                "notes": p.notes,
                "source": p.source,
            }
            for p in calibration.patterns
        ],
        "generations": calibration.summary["generations"],
        "model_runs": len(runs),
        "model_run_seconds_total": round(sum(r["seconds"] for r in runs.values()), 1),
        "wall_seconds_this_invocation": round(seconds, 1),
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **origin,
    }


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")
    os.replace(tmp, path)


def describe(calibration: Calibration) -> str:
    """A few lines for the terminal: the fit per series and the parameters."""
    lines = ["series: MAPE in-sample % (held-out %)"]
    for p in calibration.summary["patterns"]:
        ins, out = p["in_sample"]["mape_pct"], p["out_of_sample"]["mape_pct"]
        held = f" ({out:.1f})" if out is not None else ""
        fitted = "" if p["weight"] else " [reported only]"
        lines.append(f"  {p['name']}: {ins:.1f}{held}{fitted}" if ins is not None else f"  {p['name']}: -{held}")
    lines.append("parameter: posterior mean [90% interval]")
    for q in calibration.summary["parameters"]:
        lines.append(f"  {q['name']}: {q['mean']:.4g} [{q['p5']:.4g}, {q['p95']:.4g}]")
    return "\n".join(lines)
