"""Subsidy designs side by side: paired runs against a baseline, and what each adds.

A comparison runs a baseline scenario (by default the city strategy) and one or more
designs on common random numbers: replicate r of every design has the seed and the
posterior draw of the behavioural parameters of replicate r of the baseline, and every
decision draws from a stream of its own for each month (:data:`abm.population.STREAMS`),
so that two paired runs differ only where the design makes agents decide otherwise.
A design's effect is then the paired difference, run by run, and a design identical to
its baseline differs by exactly zero.

It goes design -> evaluate -> analyse, as a sensitivity analysis does:

- :class:`Comparison` declares the experiment as data and :meth:`Comparison.specs`
  lists its runs (one per design and replicate, the baseline's included);
- :class:`PairedRun` evaluates one of them through :mod:`abm.execution` (stored as it
  finishes, resumed after an interruption): a design's run and, in the same worker,
  its paired baseline run, both keeping an adoption log
  (:func:`abm.population.adoption_log`), from which it counts the design's free
  riders;
- :func:`analyse` turns the stored runs into indicators with their bands and paired
  differences; :mod:`abm.compare_report` writes them for people to read.

**Free riders.** Of the agents who received a city grant in the design run, a free
rider is one who, in the paired baseline run, adopted the same technology no later
than ``window_months`` after the month in which it adopted with the grant (earlier
included). A ZEH carries PV, so a ZEH in the baseline counts as PV adopted. The share
is counted on agents, by their first adoption with a city grant.

**Cost-effectiveness.** Extra city money over FY2026-2050 (design less baseline) per
additional kW of the agents' PV in FY2050, and per additional tonne of CO2 avoided over
FY2026-2050: ratios of the means over the paired runs, with a 90% band from resampling
the runs (bootstrap), defined only where the design adds kW (or avoids CO2) on average.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from abm.accounting import agent_pv_kw
from abm.compare_report import render
from abm.execution import RunSpec, RunStore, executor, run_model_experiment
from abm.kernels import ADOPTED, GRANTED
from abm.output import atomic_file, model_code_sha256, provenance, write_csv, write_json
from abm.population import LOGGED_TECHNOLOGIES
from abm.report import band, budget_run_out
from abm.runner import RunResult, run_scenario
from abm.scenario import LEVELS, NAME_PATTERN, Scenario

FIRST_EVALUATED_YEAR, LAST_EVALUATED_YEAR = 2026, 2050  # the strategy's years: sums and costs over them
MILESTONE_YEARS = (2030, 2050)
DEFAULT_WINDOW_MONTHS = 24
BOOTSTRAP_SAMPLES = 2000
BAND = "5-95%"

# (indicator, agent type, technology): stocks in FY2050 whose paired difference is "additional"
ADOPTERS = (
    ("residential_pv_systems", "households", "pv"),
    ("household_ppa_contracts", "households", "ppa"),
    ("zeh_houses", "households", "zeh"),
    ("evs", "households", "ev"),
    ("business_pv_systems", "businesses", "pv"),
    ("business_ppa_contracts", "businesses", "ppa"),
    ("solar_sharing_farms", "farmers", "solar_sharing"),
)
CAPACITY = (
    ("residential_pv_kw", "households", "pv"),
    ("household_ppa_kw", "households", "ppa"),
    ("business_pv_kw", "businesses", "pv"),
    ("business_ppa_kw", "businesses", "ppa"),
    ("solar_sharing_kw", "farmers", "solar_sharing"),
)


class ComparisonError(ValueError):
    """A comparison cannot be set up as asked (names, files)."""


@dataclass(frozen=True)
class Design:
    """A scenario taking part in a comparison, under the name it is reported by."""

    name: str
    scenario: Scenario


@dataclass(frozen=True)
class Comparison:
    """A comparison as data: the baseline, the designs, and the paired replicates.

    ``behaviours`` holds each replicate's behavioural parameters (a posterior draw,
    or None for the scenarios' own values), shared by the baseline and every design.
    """

    baseline: Design
    designs: tuple[Design, ...]
    seeds: tuple[int, ...]
    behaviours: tuple[dict[str, float] | None, ...]
    scale: float = 1.0
    window_months: int = DEFAULT_WINDOW_MONTHS

    def __post_init__(self) -> None:
        if not self.designs:
            raise ComparisonError("a comparison needs at least one design")
        if len(self.behaviours) != len(self.seeds):
            raise ComparisonError("one behaviour (or None) per replicate seed")
        if self.window_months < 0:
            raise ComparisonError(f"the free-rider window must be 0 months or more, got {self.window_months}")
        names = [self.baseline.name, *(d.name for d in self.designs)]
        for design in (self.baseline, *self.designs):
            if not NAME_PATTERN.fullmatch(design.name):
                raise ComparisonError(
                    f"{design.scenario.files[-1]}: key 'scenario.name': expected letters, digits, '-', '_' or '.' "
                    f"(a name that is safe in a file name), got {design.name!r}"
                )
        for name in set(names):
            if names.count(name) > 1:
                files = [d.scenario.files[-1] for d in (self.baseline, *self.designs) if d.name == name]
                raise ComparisonError(
                    f"{', '.join(files)}: key 'scenario.name': every design needs a name of its own, "
                    f"and {name!r} is used {names.count(name)} times"
                )

    @property
    def replicates(self) -> int:
        return len(self.seeds)

    @property
    def everyone(self) -> tuple[Design, ...]:
        return (self.baseline, *self.designs)

    def design(self, name: str) -> Design:
        return next(d for d in self.everyone if d.name == name)

    def specs(self) -> list[RunSpec]:
        """One run per design (the baseline first) and replicate."""
        return [
            RunSpec(key=f"{d.name}/{r}", seed=seed, scale=self.scale, values={"design": d.name, "replicate": r})
            for d in self.everyone
            for r, seed in enumerate(self.seeds)
        ]

    def manifest(self) -> dict[str, Any]:
        """What the comparison is, for its run store: a store made for other designs,
        seeds, draws, scale or window is not resumed."""
        return {
            "experiment": "comparison",
            "baseline": {"name": self.baseline.name, "scenario_sha256": self.baseline.scenario.sha256()},
            "designs": [{"name": d.name, "scenario_sha256": d.scenario.sha256()} for d in self.designs],
            "seeds": list(self.seeds),
            "behaviours": list(self.behaviours),
            "scale": self.scale,
            "window_months": self.window_months,
            # runs made by other model code are not mixed with this one's
            "model_code_sha256": model_code_sha256(),
        }


def free_riders(
    design: dict[str, np.ndarray], baseline: dict[str, np.ndarray], window_months: int
) -> dict[str, dict[str, dict[str, int]]]:
    """Per agent type and technology, of the agents granted a city grant in the
    ``design`` run: how many, and how many of them adopted the same technology in the
    ``baseline`` run no later than ``window_months`` after their granted adoption.
    Both are adoption logs by agent type (:attr:`RunResult.adoptions`) of paired runs
    of one city; only technologies with grants appear."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for agents, log in design.items():
        adopted = baseline[agents][ADOPTED].astype(np.int32)
        for t, technology in enumerate(LOGGED_TECHNOLOGIES):
            granted_at = log[GRANTED, t].astype(np.int32)
            paid = granted_at >= 0
            n_paid = int(np.count_nonzero(paid))
            if n_paid == 0:
                continue
            before = adopted[t]
            free = paid & (before >= 0) & (before <= granted_at + window_months)
            out.setdefault(agents, {})[technology] = {"granted": n_paid, "free_riders": int(np.count_nonzero(free))}
    return out


def _record(result: RunResult) -> dict[str, Any]:
    """A run's outputs as the run store keeps them (plain JSON)."""
    return {
        "table": result.table,
        "budget_exhausted": {
            p: {str(fy): d for fy, d in years.items()} for p, years in result.budget_exhausted.items()
        },
        "programme_spending": result.programme_spending,
    }


# the last paired baseline run of this process, by what it depends on
_held_baseline: dict[tuple[str, int, float, str, int], RunResult] = {}


def _baseline_run(
    baseline: Scenario, seed: int, scale: float, behaviour: dict[str, float] | None, replicate: int
) -> RunResult:
    """The paired baseline run with its adoption log, kept for the worker's next
    design on the same replicate (runs are sorted by seed, so they often follow)."""
    key = (baseline.sha256(), seed, scale, json.dumps(behaviour, sort_keys=True), replicate)
    if key not in _held_baseline:
        _held_baseline.clear()  # one run's logs at a time: about 15 MB at full scale
        _held_baseline[key] = run_scenario(
            baseline, seed, scale, behaviour, replicate, adoption_log_from=FIRST_EVALUATED_YEAR
        )
    return _held_baseline[key]


@dataclass(frozen=True)
class PairedRun:
    """The model of a comparison for :func:`abm.execution.run_model_experiment`:
    a spec of :meth:`Comparison.specs` to its outputs (and, for a design, its free
    riders against its paired baseline run)."""

    comparison: Comparison

    def __call__(self, spec: RunSpec) -> dict[str, Any]:
        c = self.comparison
        name, r = spec.values["design"], spec.values["replicate"]
        behaviour = c.behaviours[r]
        scenario = c.design(name).scenario
        if name == c.baseline.name:
            return _record(run_scenario(scenario, spec.seed, spec.scale, behaviour, r))
        base = _baseline_run(c.baseline.scenario, spec.seed, spec.scale, behaviour, r)
        run = run_scenario(scenario, spec.seed, spec.scale, behaviour, r, adoption_log_from=FIRST_EVALUATED_YEAR)
        return _record(run) | {"free_riders": free_riders(run.adoptions, base.adoptions, c.window_months)}


# ---------------------------------------------------------------- analysis


def run_result(record: dict[str, Any], replicate: int, seed: int) -> RunResult:
    """A stored run as a :class:`RunResult` (no adoption log)."""
    out = record["outputs"]
    exhausted = {p: {int(fy): d for fy, d in years.items()} for p, years in out["budget_exhausted"].items()}
    return RunResult(replicate, seed, out["table"], exhausted, out["programme_spending"])


def _year_index(result: RunResult, fiscal_year: int) -> int:
    return result.table["fiscal_year"].index(fiscal_year)


def _evaluated(result: RunResult) -> slice:
    years = result.table["fiscal_year"]
    return slice(years.index(FIRST_EVALUATED_YEAR), years.index(LAST_EVALUATED_YEAR) + 1)


def programme_grants(results: Sequence[RunResult]) -> dict[str, float]:
    """Each programme's grants over FY2026-2050 (yen), the mean over runs."""
    total: dict[str, float] = {}
    for r in results:
        for row in r.programme_spending:
            if FIRST_EVALUATED_YEAR <= row["fiscal_year"] <= LAST_EVALUATED_YEAR:
                total[row["programme"]] = total.get(row["programme"], 0.0) + row["granted_yen"] / len(results)
    return total


def spending_by_level(result: RunResult) -> dict[str, np.ndarray]:
    """Grants paid per fiscal year (yen), by level of government."""
    years = result.table["fiscal_year"]
    out = {level: np.zeros(len(years)) for level in LEVELS}
    for row in result.programme_spending:
        out[row["level"]][years.index(row["fiscal_year"])] += row["granted_yen"]
    return out


def run_indicators(result: RunResult) -> dict[str, float]:
    """One run's indicators (:data:`INDICATORS`), as numbers."""
    t = result.table
    at_2050 = _year_index(result, LAST_EVALUATED_YEAR)
    span = _evaluated(result)
    v: dict[str, float] = {}
    for fy in MILESTONE_YEARS:
        i = _year_index(result, fy)
        v[f"renewable_energy_tj_{fy}"] = t["renewable_energy_tj"][i]
        v[f"agent_pv_generation_tj_{fy}"] = t["agent_pv_generation_tj"][i]
        v[f"co2_kt_{fy}"] = t["co2_kt"][i]
    v["co2_kt_2026_2050"] = float(np.sum(t["co2_kt"][span]))
    for column, _, _ in (*ADOPTERS, *CAPACITY):
        v[f"{column}_2050"] = t[column][at_2050]
    v["agent_pv_kw_2050"] = float(agent_pv_kw(t)[at_2050])
    for level, yen in spending_by_level(result).items():
        v[f"{level}_grants_yen_2026_2050"] = float(yen[span].sum())
    v["city_grants_2026_2050"] = float(
        sum(
            row["grants"]
            for row in result.programme_spending
            if row["level"] == "city" and FIRST_EVALUATED_YEAR <= row["fiscal_year"] <= LAST_EVALUATED_YEAR
        )
    )
    return v


@dataclass(frozen=True)
class Indicator:
    """A reported quantity: its key, unit, and whether more of it is better."""

    key: str
    unit: str  # tj, kt, t, kw, count, yen, share, yen_per_kw, yen_per_t
    higher_is_better: bool | None = True


INDICATORS = (
    *(Indicator(f"renewable_energy_tj_{fy}", "tj") for fy in MILESTONE_YEARS),
    *(Indicator(f"agent_pv_generation_tj_{fy}", "tj") for fy in MILESTONE_YEARS),
    *(Indicator(f"co2_kt_{fy}", "kt", False) for fy in MILESTONE_YEARS),
    Indicator("co2_kt_2026_2050", "kt", False),
    Indicator("agent_pv_kw_2050", "kw"),
    *(Indicator(f"{c}_2050", "kw") for c, _, _ in CAPACITY),
    *(Indicator(f"{c}_2050", "count") for c, _, _ in ADOPTERS),
    *(Indicator(f"{level}_grants_yen_2026_2050", "yen", None) for level in LEVELS),
    Indicator("city_grants_2026_2050", "count", None),
)


def _ratio_band(numerator: np.ndarray, denominator: np.ndarray, rng: np.random.Generator) -> dict[str, Any] | None:
    """Ratio of the means with a bootstrap 5-95% band over the paired runs; None
    where the mean denominator is not positive (the design adds nothing to divide by)."""
    if denominator.mean() <= 0:
        return None
    picks = rng.integers(0, numerator.size, size=(BOOTSTRAP_SAMPLES, numerator.size))
    num, den = numerator[picks].mean(axis=1), denominator[picks].mean(axis=1)
    ratios = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    finite = ratios[np.isfinite(ratios)]
    return {
        "mean": float(numerator.mean() / denominator.mean()),
        "p5": float(np.percentile(finite, 5)) if finite.size else None,
        "p95": float(np.percentile(finite, 95)) if finite.size else None,
        # resamples in which the design added nothing on average, where no ratio exists
        "undefined_share": float(1 - finite.size / BOOTSTRAP_SAMPLES),
    }


def changed_grants(design: Scenario, baseline: Scenario) -> list[str]:
    """The grants (``agents.technology``) of the city programmes that ``design`` adds,
    removes or changes against ``baseline``: those whose free riders tell about the
    design. A household PV design changes ``households.pv``, not the businesses' PV grant."""
    ours, theirs = design.section("subsidies"), baseline.section("subsidies")
    changed = set()
    for name in set(ours) | set(theirs):
        programme = ours.get(name) or theirs[name]
        if ours.get(name) != theirs.get(name) and programme["level"] == "city":
            changed.update(f"{agents}.{programme['technology']}" for agents in programme["agents"])
    return sorted(changed)


def _share_band(runs: Sequence[dict[str, Any]], grants: Sequence[str] | None) -> tuple[dict[str, Any], int] | None:
    """The runs' free-rider shares over ``grants`` (``agents.technology``; all where
    None), as a band, and the number of runs that paid such grants; None where none did."""
    shares = []
    for fr in runs:
        counts = [
            x for agents, techs in fr.items() for t, x in techs.items() if grants is None or f"{agents}.{t}" in grants
        ]
        granted = sum(x["granted"] for x in counts)
        if granted:
            shares.append(sum(x["free_riders"] for x in counts) / granted)
    return (band(np.array(shares)), len(shares)) if shares else None


def _free_rider_summary(runs: Sequence[dict[str, Any]], changed: Sequence[str]) -> dict[str, Any] | None:
    """Free-rider share over the runs (a band of the runs' shares), over the grants of
    the ``changed`` grants (:func:`changed_grants`), and by agent type and
    technology (pooled); None where no run paid a city grant."""
    overall = _share_band(runs, None)
    if overall is None:
        return None
    pooled: dict[str, dict[str, int]] = {}
    for fr in runs:
        for agents, techs in fr.items():
            for tech, x in techs.items():
                p = pooled.setdefault(f"{agents}.{tech}", {"granted": 0, "free_riders": 0})
                p["granted"] += x["granted"]
                p["free_riders"] += x["free_riders"]
    targeted = _share_band(runs, changed) if changed else None
    return {
        **overall[0],
        "runs_with_grants": overall[1],
        "changed_grants": list(changed),
        "of_changed_grants": targeted[0] if targeted else None,
        "by_technology": {k: {**p, "share": p["free_riders"] / p["granted"]} for k, p in sorted(pooled.items())},
    }


def _yearly_band(values: np.ndarray) -> dict[str, list[float]]:
    """Mean and 5-95% band per fiscal year of (runs x years) values."""
    return {
        "mean": values.mean(axis=0).tolist(),
        "p5": np.percentile(values, 5, axis=0).tolist(),
        "p95": np.percentile(values, 95, axis=0).tolist(),
    }


# (name, what a yearly figure follows): trajectories drawn for every design
TRAJECTORIES: tuple[tuple[str, Callable[[RunResult], np.ndarray]], ...] = (
    ("renewable_energy_tj", lambda r: np.asarray(r.table["renewable_energy_tj"])),
    ("agent_pv_generation_tj", lambda r: np.asarray(r.table["agent_pv_generation_tj"])),
    ("co2_kt", lambda r: np.asarray(r.table["co2_kt"])),
    ("agent_pv_kw", lambda r: agent_pv_kw(r.table)),
    ("city_grants_yen", lambda r: spending_by_level(r)["city"]),
)


def analyse(comparison: Comparison, records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Indicators of each design with their bands, the paired differences against
    the baseline, free riders, cost-effectiveness, yearly trajectories and budget
    run-out dates; plain data for :mod:`abm.compare_report` and ``summary.json``."""
    c = comparison
    results = {
        d.name: [run_result(records[f"{d.name}/{r}"], r, seed) for r, seed in enumerate(c.seeds)] for d in c.everyone
    }
    values = {name: [run_indicators(r) for r in runs] for name, runs in results.items()}
    base_values = values[c.baseline.name]
    rng = np.random.default_rng(0)  # the bootstrap's resamples, the same for every design
    years = results[c.baseline.name][0].table["fiscal_year"]
    out: dict[str, Any] = {
        "baseline": c.baseline.name,
        "designs": [d.name for d in c.designs],
        "replicates": c.replicates,
        "scale": c.scale,
        "window_months": c.window_months,
        "evaluated_years": [FIRST_EVALUATED_YEAR, LAST_EVALUATED_YEAR],
        "target_tj": c.baseline.scenario["renewables.target_tj"],
        "fiscal_years": years,
        # the adoption table's rows: (indicator, agent type, technology)
        "adoption_indicators": {
            "capacity": [(f"{c}_{LAST_EVALUATED_YEAR}", a, t) for c, a, t in CAPACITY],
            "adopters": [(f"{c}_{LAST_EVALUATED_YEAR}", a, t) for c, a, t in ADOPTERS],
        },
        "by_design": {},
    }
    base_trajectories = {name: np.array([f(r) for r in results[c.baseline.name]]) for name, f in TRAJECTORIES}
    for d in c.everyone:
        v = values[d.name]
        entry: dict[str, Any] = {
            "levels": {i.key: band(np.array([x[i.key] for x in v])) for i in INDICATORS},
            "programme_grants_yen": programme_grants(results[d.name]),
            "trajectories": {},
            "budget_run_out": budget_run_out(results[d.name]),
            "spending_by_level": {
                level: _yearly_band(np.array([spending_by_level(r)[level] for r in results[d.name]]))
                for level in LEVELS
            },
        }
        for name, f in TRAJECTORIES:
            series = np.array([f(r) for r in results[d.name]])
            entry["trajectories"][name] = _yearly_band(series)
            if d is not c.baseline:
                entry.setdefault("trajectory_differences", {})[name] = _yearly_band(series - base_trajectories[name])
        if d is not c.baseline:
            diff = {
                i.key: np.array([x[i.key] - b[i.key] for x, b in zip(v, base_values, strict=True)]) for i in INDICATORS
            }
            entry["differences"] = {k: band(x) for k, x in diff.items()}
            extra_city_yen = diff["city_grants_yen_2026_2050"]
            avoided_t = -diff["co2_kt_2026_2050"] * 1e3
            entry["co2_avoided_t_2026_2050"] = band(avoided_t)
            entry["city_yen_per_additional_kw"] = _ratio_band(extra_city_yen, diff["agent_pv_kw_2050"], rng)
            entry["city_yen_per_additional_t_co2"] = _ratio_band(extra_city_yen, avoided_t, rng)
            entry["free_riders"] = _free_rider_summary(
                [records[f"{d.name}/{r}"]["outputs"]["free_riders"] for r in range(c.replicates)],
                changed_grants(d.scenario, c.baseline.scenario),
            )
            entry["runs_with_fewer_city_grants"] = int(np.count_nonzero(diff["city_grants_2026_2050"] < 0))
        out["by_design"][d.name] = entry
    return out


def comparison_rows(analysis: dict[str, Any]) -> list[dict[str, Any]]:
    """``comparison.csv``: one row per design and indicator, levels and paired
    differences (``additional_...``), with mean, p5 and p95; a quantity that does
    not exist for a design (no grants paid, nothing added) has empty values and a
    note saying why."""
    rows = []
    units = {i.key: i.unit for i in INDICATORS}
    for name, entry in analysis["by_design"].items():
        for key, b in entry["levels"].items():
            rows.append({"design": name, "indicator": key, "unit": units[key], **b, "note": ""})
        for key, b in entry.get("differences", {}).items():
            rows.append({"design": name, "indicator": f"additional_{key}", "unit": units[key], **b, "note": ""})
        if name == analysis["baseline"]:
            continue
        rows.append(
            {
                "design": name,
                "indicator": "co2_avoided_t_2026_2050",
                "unit": "t",
                **entry["co2_avoided_t_2026_2050"],
                "note": "",
            }
        )
        fr = entry["free_riders"]
        targeted = fr["of_changed_grants"] if fr else None
        for indicator, b, note in (
            ("free_rider_share", fr, "" if fr else "no city grants paid"),
            (
                "free_rider_share_of_changed_grants",
                targeted,
                f"grants for {', '.join(fr['changed_grants'])}"
                if targeted
                else "no city grants paid"
                if not fr
                else "the design changes no city grant",
            ),
        ):
            rows.append(
                {
                    "design": name,
                    "indicator": f"{indicator}_{analysis['window_months']}m",
                    "unit": "share",
                    **({k: b[k] for k in ("mean", "p5", "p95")} if b else {"mean": None, "p5": None, "p95": None}),
                    "note": note,
                }
            )
        for key, unit, reason in (
            ("city_yen_per_additional_kw", "yen_per_kw", "no additional kW on average"),
            ("city_yen_per_additional_t_co2", "yen_per_t", "no CO2 avoided on average"),
        ):
            r = entry[key]
            rows.append(
                {
                    "design": name,
                    "indicator": key,
                    "unit": unit,
                    **({k: r[k] for k in ("mean", "p5", "p95")} if r else {"mean": None, "p5": None, "p95": None}),
                    "note": "ratio of means; band by bootstrap over the paired runs" if r else reason,
                }
            )
    return rows


COMPARISON_COLUMNS = ("design", "indicator", "unit", "mean", "p5", "p95", "note")


def describe(scenario: Scenario, lang: str) -> str:
    """What a design tests, from its ``[scenario]`` description (``description_ja``
    for Japanese, where the file has one)."""
    if lang == "ja" and scenario.get("scenario.description_ja"):
        return scenario["scenario.description_ja"]
    return scenario.get("scenario.description", "")


def run_comparison(
    comparison: Comparison,
    out: Path,
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    lang: str = "ja",
    behaviour: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate the comparison's runs into ``out`` (resuming what it holds), analyse
    them, and write ``comparison.csv``, ``summary.json``, ``provenance.json`` and
    ``report.html`` (each whole or not at all); the analysis. ``behaviour`` is what
    the provenance says of the behavioural parameters
    (:func:`abm.posterior.provenance`)."""
    started = dt.datetime.now(dt.UTC)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ComparisonError(f"--out {out}: is a file, not a directory")
    store = RunStore(out)
    try:
        store.write_manifest(comparison.manifest())
    except ValueError as err:
        raise ComparisonError(str(err)) from err
    specs = comparison.specs()
    with executor(workers, scheduler) as pool:
        records = run_model_experiment(PairedRun(comparison), specs, store, pool, on_done)
    analysis = analyse(comparison, records)
    made = dt.datetime.now(dt.UTC)
    facts = provenance(
        experiment="comparison",
        baseline={"name": comparison.baseline.name, "files": comparison.baseline.scenario.files},
        designs=[
            {"name": d.name, "files": d.scenario.files, "scenario_sha256": d.scenario.sha256()}
            for d in comparison.designs
        ],
        seeds=list(comparison.seeds),
        replicates=comparison.replicates,
        scale=comparison.scale,
        window_months=comparison.window_months,
        behaviour=behaviour,
        workers=workers,
        scheduler=scheduler,
        model_code_sha256=model_code_sha256(),
        runs=[
            {"key": s.key, "seed": s.seed, "seconds": records[s.key]["seconds"], "pid": records[s.key]["pid"]}
            for s in specs
        ],
        started_utc=started.isoformat(),
        finished_utc=made.isoformat(),
    )
    with atomic_file(out / "comparison.csv") as tmp:
        write_csv(tmp, comparison_rows(analysis), COMPARISON_COLUMNS)
    with atomic_file(out / "provenance.json") as tmp:
        write_json(tmp, facts)
    descriptions = {d.name: describe(d.scenario, lang) for d in comparison.everyone}
    page = render(analysis, lang, descriptions, command=" ".join(["abm", *sys.argv[1:]]), made_utc=made.isoformat())
    with atomic_file(out / "report.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    with atomic_file(out / "summary.json") as tmp:  # last: its presence marks the comparison finished
        write_json(tmp, analysis)
    return analysis
