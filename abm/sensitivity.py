"""Global sensitivity analysis: which measures, and which uncertainties, drive 2050.

An experiment is data: a TOML file in ``experiments/sensitivity/`` names the base
scenario, the inputs (each one scenario key, with bounds and a distribution), the 2050
outputs, the method, the base sample size N, the replicates and the seed. The analysis
then runs in separate steps, as SALib lays them out:

1. **Design** (:func:`sample_design`). *Sobol* (variance-based): Saltelli's scheme on a
   scrambled Sobol' sequence, N base points each giving a block of D + 2 rows (2D + 2
   with second-order indices), where D counts the inputs, or their groups when groups
   are declared. *Morris* (elementary effects, for screening): N one-at-a-time
   trajectories of D + 1 rows each. Integer inputs such as fiscal years are sampled on
   ``[low, high + 1)`` and rounded down (the top edge kept at ``high``), so every
   whole value in the bounds is equally likely.
2. **Evaluate** (:func:`evaluate`). Every row runs ``replicates`` times, with the same
   replicate seeds at every row (common random numbers: the model's chance is the
   same at every point, so differences between points come from the inputs). The
   model is any picklable function from a :class:`~abm.execution.RunSpec` to its
   outputs: the city model (:class:`CityOutputs`: one run, its 2050 indicators) or a
   test function whose indices are known (:func:`ishigami`). Runs go through
   :mod:`abm.execution`: a process pool or a Dask cluster, each run stored the moment
   it finishes, so an interrupted analysis started again computes only what is
   missing and ends with the same indices.
3. **Analyse** (:func:`analyse`). The mean over replicates of each output is analysed
   with SALib: first-order (S1: the share of output variance due to the input alone)
   and total (ST: with all its interactions) indices, S2 for pairs when asked, each
   with a bootstrap 95% confidence interval; for Morris mu* (mean absolute elementary
   effect: the output's change per whole range of the input), its interval and sigma
   (spread: interactions or non-linearity). The *noise share* says how much of the variance
   is the model's own chance: the mean over rows of the variance between replicates,
   as a share of the variance of single runs and (divided by the replicates) of the
   variance of the replicate means that are analysed. *Convergence*: the Saltelli
   blocks come base point by base point, and the first N/2 points of a scrambled
   Sobol' sequence are a balanced Sobol' sample of their own (with the same seed, the
   N/2 design *is* that prefix), so the first half of the rows is the design at N/2;
   likewise the first N/2 Morris trajectories. Indices at N/2 and N are reported side
   by side.
4. **Report** (:func:`write_report`). Tables of indices (CSV and markdown), a ranked
   bar chart per output, a convergence figure, ``summary.json`` with the noise shares
   and run timings; ``runs.jsonl`` is the run log, one line per run with its seconds.
   Each report file is written whole (temporary file, then renamed);
   ``summary.json`` is written last and marks a finished analysis.

``abm sensitivity SPEC`` (:func:`cmd_sensitivity`) runs all four; see
``docs/sensitivity.md``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import hashlib
import json
import math
import re
import sys
import time
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from SALib.test_functions import Ishigami

from abm.execution import Model, RunSpec, RunStore, executor, run_model_experiment, unfinished_directory
from abm.output import atomic_file, fmt, model_code_sha256, provenance
from abm.posterior import Draw, Posterior
from abm.posterior import load as load_posterior
from abm.posterior import provenance as posterior_provenance
from abm.report import indicators
from abm.runner import replicate_seeds, run_scenario
from abm.scenario import (
    NAME_PATTERN,
    NAMED_SECTIONS,
    SECTION_SCHEMAS,
    Scenario,
    ScenarioError,
    load_scenario,
    read_toml_text,
)

SPEC_DIR = Path(__file__).resolve().parent.parent / "experiments" / "sensitivity"
RESULTS_DIR = Path("results")

METHODS = ("sobol", "morris")
# distribution name in a spec -> SALib's name; all are bounded by the input's bounds
DISTRIBUTIONS = {"uniform": "unif", "triangular": "triang", "truncated_normal": "truncnorm"}
# outputs of the city model: means of abm.report.indicators over the one run
CITY_OUTPUTS = (
    "renewable_energy_tj_2050",
    "agent_pv_generation_tj_2030",
    "agent_pv_generation_tj_2050",
    "co2_kt_2050",
    "co2_kt_total",
    "co2_kt_2026_2050",
    "co2_change_vs_fy2013_pct_2050",
    "residential_pv_kw_2050",
    "business_pv_kw_2050",
    "ppa_kw_2050",
    "solar_sharing_kw_2050",
    "zeh_houses_2050",
    "evs_2050",
    "detached_owner_pv_share_2050",
    "ev_share_of_cars_2050",
    "subsidy_spent_yen_total",
    "city_subsidy_spent_yen_total",
    "co2_avoided_by_adoption_t_total",
    "pv_panels_removed_t_total",
    "home_batteries_2050",
    "home_battery_kwh_2050",
    "v2h_units_2050",
    "household_pv_self_consumption_share_2050",
    "yen_per_t_co2_avoided",
    "city_yen_per_t_co2_avoided",
)
ISHIGAMI_INPUTS = ("x1", "x2", "x3")
MODELS = {"city": CITY_OUTPUTS, "ishigami": ("y",)}
CONF_LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 100
MIN_N = 4
ERROR_BARS = {"elinewidth": 0.8, "capsize": 2}

EXPERIMENT_FIELDS = (
    "name",
    "description",
    "method",
    "model",
    "base_scenario",
    "outputs",
    "n",
    "replicates",
    "seed",
    "scale",
    "calc_second_order",
    "num_levels",
    "noise_sd",
    "noise_threshold",
    "futures",
    "future_n",
)
INPUT_FIELDS = ("name", "key", "kind", "bounds", "distribution", "group", "integer", "mode", "mean", "sd")
# what the city sets, and what it does not (abm.futures analyses the one within the other)
KINDS = ("measure", "uncertainty")
# the key of the input that picks a parameter set of the calibrated posterior, by its
# weight: the behavioural uncertainty as a factor (then replicates carry only chance)
POSTERIOR_KEY = "posterior"
# an output whose replicates' noise is more than this share of the variance analysed is
# not ranked: its indices would rank chance
NOISE_THRESHOLD = 0.5


class SpecError(ScenarioError):
    """A sensitivity spec is wrong: which file, and what the problem is."""

    def __init__(self, file: str | Path, problem: str):
        self.file, self.problem = str(file), problem
        ValueError.__init__(self, f"{file}: {problem}")


# --- the spec --------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """One input: the scenario key it sets and the law it is sampled from."""

    name: str
    key: str
    low: float
    high: float
    distribution: str = "uniform"
    group: str | None = None
    integer: bool = False
    mode: float | None = None  # triangular: the peak, low <= mode < high
    mean: float | None = None  # truncated normal, before truncation to the bounds
    sd: float | None = None
    kind: str = "uncertainty"  # KINDS

    def salib_bounds(self) -> list[float]:
        high = self.high + 1 if self.integer else self.high
        match self.distribution:
            case "triangular":
                return [self.low, high, (self.mode - self.low) / (high - self.low)]
            case "truncated_normal":
                return [self.low, high, self.mean, self.sd]
        return [self.low, high]

    @property
    def picks_posterior(self) -> bool:
        return self.key == POSTERIOR_KEY

    def value(self, x: float) -> float | int:
        """The scenario value for a sampled ``x``."""
        if self.integer:
            return min(math.floor(x), int(self.high))
        return float(x)


@dataclass(frozen=True)
class Spec:
    """A validated sensitivity experiment."""

    path: Path
    name: str
    description: str
    method: str
    model: str
    base_scenario: Path | None  # the city model's base scenario file
    inputs: tuple[Input, ...]
    outputs: tuple[str, ...]
    n: int
    replicates: int
    seed: int
    scale: float
    calc_second_order: bool
    num_levels: int
    noise_sd: float
    noise_threshold: float = NOISE_THRESHOLD
    futures: int = 0  # futures for the measures-within-futures analysis (abm.futures); 0: none
    future_n: int = 0  # Sobol base points over the measures in each future
    discovery_table: dict[str, Any] | None = None  # [discovery], read by abm.discovery

    @property
    def groups(self) -> list[str]:
        """The factors SALib reports on: the groups, or the inputs where none is declared."""
        return list(dict.fromkeys(i.group or i.name for i in self.inputs))

    @property
    def rows_per_base(self) -> int:
        """Rows per Sobol base point, or per Morris trajectory."""
        d = len(self.groups)
        if self.method == "morris":
            return d + 1
        return 2 * d + 2 if self.calc_second_order else d + 2

    @property
    def analysis_seed(self) -> int:
        # SALib's Sobol analysis draws its bootstrap unseeded when the seed is 0
        return self.seed + 1

    def of_kind(self, kind: str) -> tuple[Input, ...]:
        return tuple(i for i in self.inputs if i.kind == kind)

    @property
    def posterior_input(self) -> Input | None:
        return next((i for i in self.inputs if i.picks_posterior), None)

    def problem(self, inputs: Sequence[Input] | None = None) -> dict[str, Any]:
        """SALib's problem over ``inputs`` (all of them by default)."""
        inputs = self.inputs if inputs is None else tuple(inputs)
        problem: dict[str, Any] = {
            "num_vars": len(inputs),
            "names": [i.name for i in inputs],
            "bounds": [i.salib_bounds() for i in inputs],
            "dists": [DISTRIBUTIONS[i.distribution] for i in inputs],
        }
        if any(i.group for i in inputs):
            problem["groups"] = [i.group or i.name for i in inputs]
        return problem

    def with_options(
        self,
        n: int | None = None,
        replicates: int | None = None,
        scale: float | None = None,
        futures: int | None = None,
        future_n: int | None = None,
    ) -> Spec:
        """The spec with sizes given on the command line, checked like the file's."""
        if n is not None:
            _check_n(self.path, self.method, n, "--n")
        futures = self.futures if futures is None else futures
        if futures and self.method != "sobol":
            raise SpecError(self.path, "--futures: the measures-within-futures analysis needs method = 'sobol'")
        if futures == 1:
            raise SpecError(self.path, "--futures: 0 or a whole number >= 2")
        if future_n is not None:
            if not futures:
                raise SpecError(self.path, "--future-n: base points in each future need futures")
            _check_n(self.path, self.method, future_n, "--future-n")
        if futures and not self.futures and future_n is None:
            future_n = self.n if n is None else n
        spec = replace(
            self,
            n=self.n if n is None else n,
            replicates=self.replicates if replicates is None else replicates,
            scale=self.scale if scale is None else scale,
            futures=futures,
            future_n=0 if not futures else (self.future_n if future_n is None else future_n),
        )
        _check_kinds_for_futures(self.path, spec, "--futures")
        return spec

    def base(self) -> Scenario:
        assert self.base_scenario is not None
        return load_scenario(self.base_scenario)


_REQUIRED = object()


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _field(
    file: Path,
    table: Mapping[str, Any],
    key: str,
    where: str,
    check: Callable[[Any], bool],
    expected: str,
    default: Any = _REQUIRED,
) -> Any:
    if key not in table:
        if default is _REQUIRED:
            raise SpecError(file, f"{where}: missing '{key}' ({expected})")
        return default
    value = table[key]
    if not check(value):
        raise SpecError(file, f"{where}.{key}: expected {expected}, got {value!r}")
    return value


def _check_kinds_for_futures(file: Path, spec: Spec, where: str) -> None:
    for kind in KINDS if spec.futures else ():
        if not spec.of_kind(kind):
            raise SpecError(file, f"{where}: the analysis within futures needs an input of kind '{kind}'")


def _check_n(file: Path, method: str, n: int, where: str) -> None:
    if n < MIN_N:
        raise SpecError(file, f"{where}: N = {n} is too small; at least {MIN_N} (the convergence check uses N/2)")
    if method == "sobol" and n & (n - 1):
        raise SpecError(file, f"{where}: N = {n} is not a power of two, as a Sobol' sample needs (e.g. {_pow2(n)})")


def _pow2(n: int) -> int:
    return 1 << max(0, round(math.log2(n)))


def resolve_spec_path(name_or_path: str | Path) -> Path:
    """A path as given, or the name of a file in ``experiments/sensitivity/``."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    candidate = SPEC_DIR / (path.name if path.suffix else f"{path.name}.toml")
    return candidate if candidate.is_file() else path


def load_spec(name_or_path: str | Path) -> Spec:
    """Read and validate a spec; a :class:`SpecError` names the file and the problem.

    Everything is checked before any run starts: the fields and their types, the
    method, the distributions, bounds the right way round, N (a power of two for
    Sobol), the outputs, and each input's key against the base scenario, at both
    bounds (an unknown key, or a value the key cannot hold, is refused).
    """
    path = resolve_spec_path(name_or_path)
    if not path.is_file():
        raise SpecError(path, "no such sensitivity spec (a path, or a name in experiments/sensitivity/)")
    try:
        content = tomllib.loads(read_toml_text(path))
    except ScenarioError as err:  # not UTF-8
        raise SpecError(path, f"not a UTF-8 text file ({err.got})") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(path, f"not valid TOML ({err})") from err
    for section in content:
        if section not in ("experiment", "inputs", "discovery"):
            raise SpecError(
                path, f"unknown section '{section}' (expected [experiment], [[inputs]] and optionally [discovery])"
            )
    discovery = content.get("discovery")
    if discovery is not None and not isinstance(discovery, dict):
        raise SpecError(path, "discovery: expected a [discovery] table (abm.discovery)")
    exp = _field(path, content, "experiment", "file", lambda v: isinstance(v, dict), "an [experiment] table")
    for key in exp:
        if key not in EXPERIMENT_FIELDS:
            raise SpecError(path, f"experiment.{key}: unknown field (expected one of {', '.join(EXPERIMENT_FIELDS)})")
    w = "experiment"
    method = _field(
        path, exp, "method", w, lambda v: isinstance(v, str) and v in METHODS, f"one of {', '.join(METHODS)}"
    )
    model = _field(
        path, exp, "model", w, lambda v: isinstance(v, str) and v in MODELS, f"one of {', '.join(MODELS)}", "city"
    )
    n = _field(path, exp, "n", w, _is_int, "a whole number (the base sample size N)")
    _check_n(path, method, n, "experiment.n")
    second = _field(path, exp, "calc_second_order", w, lambda v: isinstance(v, bool), "true or false", False)
    if second and method != "sobol":
        raise SpecError(path, "experiment.calc_second_order: second-order indices need method = 'sobol'")
    num_levels = _field(
        path, exp, "num_levels", w, lambda v: _is_int(v) and v >= 2 and v % 2 == 0, "an even number >= 2", 4
    )
    if "num_levels" in exp and method != "morris":
        raise SpecError(path, "experiment.num_levels: grid levels are for method = 'morris'")
    noise_sd = _field(path, exp, "noise_sd", w, lambda v: _is_number(v) and v >= 0, "a number >= 0", 0.0)
    noise_threshold = _field(
        path, exp, "noise_threshold", w, lambda v: _is_number(v) and 0 < v < 1, "a share in (0, 1)", NOISE_THRESHOLD
    )
    futures = _field(
        path, exp, "futures", w, lambda v: _is_int(v) and (v == 0 or v >= 2), "0 or a whole number >= 2", 0
    )
    if futures and method != "sobol":
        raise SpecError(path, "experiment.futures: the measures-within-futures analysis needs method = 'sobol'")
    future_n = _field(path, exp, "future_n", w, _is_int, "a whole number (base points in each future)", n)
    if "future_n" in exp and not futures:
        raise SpecError(path, "experiment.future_n: base points in each future need experiment.futures")
    if futures:
        _check_n(path, method, future_n, "experiment.future_n")
    if "noise_sd" in exp and model == "city":
        raise SpecError(path, "experiment.noise_sd: added noise is for test functions; the city model has its own")
    outputs = _field(
        path,
        exp,
        "outputs",
        w,
        lambda v: isinstance(v, list) and v and all(isinstance(o, str) for o in v),
        "a list of output names",
    )
    for o in outputs:
        if o not in MODELS[model]:
            raise SpecError(
                path, f"experiment.outputs: unknown output '{o}' (the {model} model gives: {', '.join(MODELS[model])})"
            )
    if len(set(outputs)) != len(outputs):
        raise SpecError(path, "experiment.outputs: an output is listed twice")
    base_name = None
    if model == "city":
        base_name = _field(path, exp, "base_scenario", w, lambda v: isinstance(v, str), "a scenario name or file")
    elif "base_scenario" in exp:
        raise SpecError(path, f"experiment.base_scenario: the {model} test function has no scenario")
    raw_inputs = _field(
        path,
        content,
        "inputs",
        "file",
        lambda v: isinstance(v, list) and v and all(isinstance(t, dict) for t in v),
        "one or more [[inputs]] tables",
    )
    spec = Spec(
        path=path,
        name=_field(
            path,
            exp,
            "name",
            w,
            lambda v: isinstance(v, str) and NAME_PATTERN.fullmatch(v),
            "a name of up to 100 letters, digits, '-', '_' or '.', starting with a letter or digit (it names a directory)",
            path.stem,
        ),
        description=_field(path, exp, "description", w, lambda v: isinstance(v, str), "a string", ""),
        method=method,
        model=model,
        base_scenario=_base_path(path, base_name) if base_name else None,
        inputs=tuple(_parse_input(path, t, k) for k, t in enumerate(raw_inputs)),
        outputs=tuple(outputs),
        n=n,
        replicates=_field(path, exp, "replicates", w, lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
        seed=_field(path, exp, "seed", w, lambda v: _is_int(v) and v >= 0, "a whole number >= 0"),
        scale=float(_field(path, exp, "scale", w, lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]", 1.0)),
        calc_second_order=second,
        num_levels=num_levels,
        noise_sd=float(noise_sd),
        noise_threshold=float(noise_threshold),
        futures=futures,
        future_n=future_n if futures else 0,
        discovery_table=discovery,
    )
    _check_inputs(spec)
    if discovery is not None:
        from abm import discovery as scenario_discovery  # reads the table it defines

        scenario_discovery.load(spec)
    return spec


def _base_path(spec_path: Path, name: str) -> Path:
    beside = spec_path.parent / name
    return beside if beside.is_file() else Path(name)


# input and group names head columns of the design and the indices, and lines of the report
IDENTIFIER = "a name of letters, digits and '_', starting with a letter"


def _is_identifier(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", v) is not None


def _parse_input(file: Path, table: dict[str, Any], index: int) -> Input:
    name = table.get("name")
    w = f"input '{name}'" if _is_identifier(name) else f"inputs[{index}]"
    for key in table:
        if key not in INPUT_FIELDS:
            raise SpecError(file, f"{w}.{key}: unknown field (expected one of {', '.join(INPUT_FIELDS)})")
    name = _field(file, table, "name", w, _is_identifier, IDENTIFIER)
    key = _field(file, table, "key", w, lambda v: isinstance(v, str) and v, "the scenario key it sets")
    bounds = _field(
        file,
        table,
        "bounds",
        w,
        lambda v: isinstance(v, list) and len(v) == 2 and all(_is_number(b) for b in v),
        "[low, high]",
    )
    low, high = float(bounds[0]), float(bounds[1])
    if low > high:
        raise SpecError(file, f"{w}.bounds: the wrong way round: low {bounds[0]} is above high {bounds[1]}")
    if low == high:
        raise SpecError(file, f"{w}.bounds: low and high are equal ({bounds[0]}): the input would not vary")
    dist = _field(
        file,
        table,
        "distribution",
        w,
        lambda v: isinstance(v, str) and v in DISTRIBUTIONS,
        f"one of {', '.join(DISTRIBUTIONS)}",
        "uniform",
    )
    integer = _field(file, table, "integer", w, lambda v: isinstance(v, bool), "true or false", False)
    if integer and not (low.is_integer() and high.is_integer()):
        raise SpecError(file, f"{w}.bounds: an integer input needs whole-number bounds, got {bounds}")
    if integer and dist != "uniform":
        raise SpecError(file, f"{w}.distribution: an integer input is sampled uniformly over its whole values")
    parameters: dict[str, float | None] = {"mode": None, "mean": None, "sd": None}
    needed = {"triangular": ("mode",), "truncated_normal": ("mean", "sd")}.get(dist, ())
    for p in ("mode", "mean", "sd"):
        if p in needed:
            parameters[p] = float(_field(file, table, p, w, _is_number, f"a number (needed by a {dist} law)"))
        elif p in table:
            raise SpecError(file, f"{w}.{p}: not a parameter of a {dist} law")
    if dist == "triangular" and not low <= parameters["mode"] < high:
        raise SpecError(file, f"{w}.mode: expected low <= mode < high, got {parameters['mode']}")
    if dist == "truncated_normal" and parameters["sd"] <= 0:
        raise SpecError(file, f"{w}.sd: expected a number > 0, got {parameters['sd']}")
    group = _field(file, table, "group", w, _is_identifier, IDENTIFIER, None)
    kind = _field(file, table, "kind", w, lambda v: v in KINDS, f"one of {', '.join(KINDS)}", "uncertainty")
    if key == POSTERIOR_KEY and (low, high, dist, integer, kind) != (0.0, 1.0, "uniform", False, "uncertainty"):
        raise SpecError(
            file,
            f"{w}: the input of key '{POSTERIOR_KEY}' picks a calibrated parameter set by its weight: it needs "
            "bounds = [0, 1], a uniform law and kind = 'uncertainty'",
        )
    return Input(name, key, low, high, dist, group, integer, kind=kind, **parameters)


def _check_inputs(spec: Spec) -> None:
    file = spec.path
    for what in ("name", "key"):
        seen = [getattr(i, what) for i in spec.inputs]
        twice = sorted({s for s in seen if seen.count(s) > 1})
        if twice:
            raise SpecError(file, f"inputs: {what} {twice[0]!r} is used by more than one input")
    grouped = {i.name for i in spec.inputs if i.group}
    for i in spec.inputs:
        if i.group and i.group in {j.name for j in spec.inputs if j.name not in grouped}:
            raise SpecError(file, f"input '{i.name}'.group: '{i.group}' is also the name of an ungrouped input")
    picking = [i.name for i in spec.inputs if i.picks_posterior]
    if len(picking) > 1:
        raise SpecError(file, f"inputs: {picking[0]!r} and {picking[1]!r} both pick the posterior draw")
    if picking and spec.model != "city":
        raise SpecError(file, f"input '{picking[0]}'.key: a posterior draw is for the city model")
    kinds_of: dict[str, set[str]] = {}
    for i in spec.inputs:
        if i.group:
            kinds_of.setdefault(i.group, set()).add(i.kind)
    mixed = sorted(g for g, kinds in kinds_of.items() if len(kinds) > 1)
    if mixed:
        raise SpecError(file, f"inputs: group '{mixed[0]}' holds both measures and uncertainties")
    _check_kinds_for_futures(file, spec, "experiment.futures")
    if spec.model == "ishigami":
        keys = sorted(i.key for i in spec.inputs)
        if keys != list(ISHIGAMI_INPUTS):
            raise SpecError(file, f"inputs: the Ishigami function takes keys {', '.join(ISHIGAMI_INPUTS)}, got {keys}")
        return
    try:
        base = spec.base()
    except ScenarioError as err:
        raise SpecError(file, f"experiment.base_scenario: {err}") from err
    scenario_inputs = [i for i in spec.inputs if not i.picks_posterior]
    for i in scenario_inputs:
        problem = _unknown_key(i.key, base)
        if problem:
            raise SpecError(file, f"input '{i.name}'.key: unknown scenario key '{i.key}': {problem}")
        for x in (i.low, i.high):
            _try_values(spec, base, {i.key: i.value(x)}, f"input '{i.name}'")
    for x in ("low", "high"):
        values = {i.key: i.value(getattr(i, x)) for i in scenario_inputs}
        _try_values(spec, base, values, f"inputs all at their {x} bounds")


def _unknown_key(key: str, base: Scenario) -> str | None:
    """Why ``key`` names nothing in the scenario schema, or None if it does."""
    parts = key.split(".")
    section = parts[0]
    if section in NAMED_SECTIONS:
        if len(parts) != 3:
            return f"expected {section}.NAME.FIELD"
        entries = base.section(section)
        if parts[1] not in entries:
            return f"the base scenario '{base.name}' has no {section} entry '{parts[1]}' (it has {', '.join(sorted(entries))})"
        schema = NAMED_SECTIONS[section]
    elif section in SECTION_SCHEMAS:
        if len(parts) != 2:
            return f"expected {section}.FIELD"
        schema = SECTION_SCHEMAS[section]
    else:
        return f"no section '{section}' (sections: {', '.join([*SECTION_SCHEMAS, *NAMED_SECTIONS])})"
    if parts[-1] not in schema:
        return f"'{parts[-1]}' is not a field of {'.'.join(parts[:-1])} (fields: {', '.join(schema)})"
    return None


def _try_values(spec: Spec, base: Scenario, values: dict[str, Any], where: str) -> None:
    try:
        base.with_values(values, source=where)
    except ScenarioError as err:
        got = f", got {err.got!r}" if err.got is not None else ""
        whole = any(w in err.expected for w in ("fiscal year", "integer"))
        hint = " (a whole-number key: set integer = true)" if whole and isinstance(err.got, float) else ""
        raise SpecError(
            spec.path, f"{where}: base scenario '{base.name}' refuses {err.key}: expected {err.expected}{got}{hint}"
        ) from err


# --- models ------------------------------------------------------------------------


@dataclass(frozen=True)
class CityOutputs:
    """The city model as a function of a run: one run of the base scenario with the
    run's values, seed and scale, and its 2050 indicators."""

    base: Scenario
    outputs: tuple[str, ...]

    def __call__(self, run: RunSpec) -> dict[str, float]:
        scenario = self.base.with_values(run.values, source=f"run {run.key}")
        result = run_scenario(scenario, run.seed, run.scale)
        found = indicators([result], scenario)
        return {o: found[o]["mean"] for o in self.outputs}


def ishigami(run: RunSpec, noise_sd: float = 0.0) -> dict[str, float]:
    """SALib's Ishigami function (a = 7, b = 0.1) of x1, x2, x3, plus ``noise_sd`` times
    a standard normal drawn from the run's seed: the same draw at every point of a
    replicate, as common random numbers make the model's own chance."""
    x = np.array([[run.values[k] for k in ISHIGAMI_INPUTS]])
    noise = noise_sd * float(np.random.default_rng(run.seed).standard_normal()) if noise_sd else 0.0
    return {"y": float(Ishigami.evaluate(x)[0]) + noise}


def model_for(spec: Spec) -> Model:
    if spec.model == "city":
        return CityOutputs(spec.base(), spec.outputs)
    return functools.partial(ishigami, noise_sd=spec.noise_sd)


# --- design ------------------------------------------------------------------------


@dataclass(frozen=True)
class Design:
    """SALib's sample (rows x inputs, before integer inputs are rounded down), the
    replicate seeds that every row shares and, for the city model, the calibrated
    posterior's parameter sets: each replicate's draw (the same at every row), or,
    where an input picks the draw (:data:`POSTERIOR_KEY`), each row's."""

    x: np.ndarray
    seeds: tuple[int, ...]
    draws: tuple[Draw, ...] = ()
    row_draws: tuple[Draw, ...] = ()

    def values(self, spec: Spec, row: int) -> dict[str, float | int]:
        """The scenario values of ``row`` (the posterior's pick is not one)."""
        return {i.key: i.value(x) for i, x in zip(spec.inputs, self.x[row], strict=True) if not i.picks_posterior}

    def behaviour(self, replicate: int, row: int = 0) -> dict[str, float]:
        return behaviour_values(
            self.row_draws[row] if self.row_draws else self.draws[replicate] if self.draws else None
        )

    def runs(self, spec: Spec) -> list[RunSpec]:
        # a replicate's posterior draw is the same at every row, like its seed (or the
        # row's, picked by an input); an input that is a calibrated parameter overrides it
        return [
            RunSpec(run_key(row, r), seed, spec.scale, {**self.behaviour(r, row), **self.values(spec, row)})
            for row in range(self.x.shape[0])
            for r, seed in enumerate(self.seeds)
        ]

    def sha256(self) -> str:
        return hashlib.sha256(np.ascontiguousarray(self.x, dtype="<f8").tobytes()).hexdigest()


def run_key(row: int, replicate: int) -> str:
    return f"row{row:06d}-rep{replicate:03d}"


def behaviour_draws(
    spec: Spec,
    x: np.ndarray,
    seeds: Sequence[int],
    posterior: Posterior | None,
    columns: Sequence[Input] | None = None,
) -> tuple[tuple[Draw, ...], tuple[Draw, ...]]:
    """(each replicate's draw, each row's draw) from ``posterior`` for design rows ``x``
    over ``columns`` (the spec's inputs by default): the rows' when an input picks the
    draw, the replicates' otherwise."""
    picker = spec.posterior_input
    if spec.model != "city" or (posterior is None and picker is None):
        return (), ()
    if posterior is None:
        raise SpecError(
            spec.path, f"input '{picker.name}' picks a parameter set of the calibrated posterior: it needs one"
        )
    if picker is None:
        return tuple(posterior.draws(seeds)), ()
    column = tuple(spec.inputs if columns is None else columns).index(picker)
    return (), tuple(posterior.at(float(u)) for u in x[:, column])


def behaviour_values(draw: Draw | None) -> dict[str, float]:
    """A draw's parameters as the scenario keys they set."""
    return {} if draw is None else {f"behaviour.{k}": v for k, v in draw.values.items()}


def model_identity(spec: Spec) -> dict[str, Any]:
    """What a manifest records of the city model: its base scenario and its code."""
    if spec.model != "city":
        return {}
    base = spec.base()
    return {"base_scenario": {"name": base.name, "sha256": base.sha256()}, "model_code_sha256": model_code_sha256()}


def sample_design(spec: Spec, posterior: Posterior | None = None) -> Design:
    """The design; with ``posterior`` (city model only), the behavioural parameters
    come from it: each replicate's by its seed, as ``abm run`` draws them, or each
    row's where an input picks them."""
    problem = spec.problem()
    if spec.method == "sobol":
        x = sobol_sample.sample(problem, spec.n, calc_second_order=spec.calc_second_order, seed=spec.seed)
    else:
        x = morris_sample.sample(problem, spec.n, num_levels=spec.num_levels, seed=spec.seed)
    assert x.shape == (spec.n * spec.rows_per_base, len(spec.inputs))
    seeds = replicate_seeds(spec.seed, spec.replicates)
    draws, row_draws = behaviour_draws(spec, x, seeds, posterior)
    return Design(x, tuple(seeds), draws, row_draws)


def manifest(spec: Spec, design: Design) -> dict[str, Any]:
    """What the experiment is, for refusing to resume a different one."""
    out: dict[str, Any] = {
        "experiment": spec.name,
        "method": spec.method,
        "model": spec.model,
        "inputs": [asdict(i) for i in spec.inputs],
        "outputs": list(spec.outputs),
        "n": spec.n,
        "replicates": spec.replicates,
        "seed": spec.seed,
        "scale": spec.scale,
        "calc_second_order": spec.calc_second_order,
        "num_levels": spec.num_levels,
        "noise_sd": spec.noise_sd,
        "runs": design.x.shape[0] * spec.replicates,
        "replicate_seeds": list(design.seeds),
        "design_sha256": design.sha256(),
        "behaviour_draws": [design.behaviour(r) for r in range(len(design.draws))],
    }
    if design.row_draws:
        particles = "\n".join(d.particle for d in design.row_draws)
        out["row_particles_sha256"] = hashlib.sha256(particles.encode()).hexdigest()
    return out | model_identity(spec)


# --- evaluate ----------------------------------------------------------------------


def evaluate(
    spec: Spec,
    design: Design,
    store: RunStore,
    pool: Executor | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    model: Model | None = None,
) -> np.ndarray:
    """Run what the store does not hold yet; outputs as (rows, replicates, outputs).

    ``model`` defaults to the spec's model; ``pool`` is an executor or None (serial).
    """
    records = run_model_experiment(model or model_for(spec), design.runs(spec), store, pool, on_done)
    return np.array(
        [
            [[records[run_key(row, r)]["outputs"][o] for o in spec.outputs] for r in range(spec.replicates)]
            for row in range(design.x.shape[0])
        ],
        dtype=float,
    )


# --- analyse -----------------------------------------------------------------------


def noise_shares(y: np.ndarray) -> dict[str, float | None]:
    """Noise in one output, ``y`` as (rows, replicates), by variance components.

    The noise variance is the mean variance between the replicates of a row (unbiased,
    whatever the inputs). The inputs' part is what the replicate means vary beyond the
    noise they carry: var(means) - noise / replicates, at least 0. Reported: the noise
    as a share of the variance of a single run (noise + inputs' part), and noise /
    replicates as a share of the variance of the replicate means that SALib analyses
    (at most 1). Both count the noise as independent between rows; common random
    numbers usually make the noise in the differences between rows smaller, so they
    are upper bounds. None with one replicate, or when the output does not vary.
    """
    replicates = y.shape[1]
    if replicates < 2 or np.ptp(y) == 0:
        return {"noise_variance": None, "share_of_run_variance": None, "share_of_mean_variance": None}
    noise = float(y.var(axis=1, ddof=1).mean())
    means = float(y.mean(axis=1).var(ddof=1))
    inputs = max(means - noise / replicates, 0.0)
    return {
        "noise_variance": noise,
        "share_of_run_variance": noise / (noise + inputs),
        "share_of_mean_variance": min(noise / replicates / means, 1.0) if means > 0 else 1.0,
    }


def resolution(noise: dict[str, float | None], replicates: int, threshold: float) -> dict[str, Any]:
    """Whether the inputs' effects stand out of the noise in the variance analysed: its
    noise share (:func:`noise_shares`) at most ``threshold``. If not, the replicates
    that would bring it there: the noise over R replicates is noise / R, so R must be
    at least noise x (1 - threshold) / (threshold x the inputs' part); None where the
    inputs' part is nil (no number of replicates shows an effect) or the noise is not
    estimated (one replicate)."""
    share = noise["share_of_mean_variance"]
    if share is None:
        return {"resolved": None, "replicates_needed": None}
    if share <= threshold:
        return {"resolved": True, "replicates_needed": None}
    per_run = noise["noise_variance"]
    inputs = per_run / replicates * (1.0 / share - 1.0)  # var(means) - noise / R
    needed = math.ceil(per_run * (1 - threshold) / (threshold * inputs)) if inputs > 0 else None
    return {"resolved": False, "replicates_needed": needed}


def _indices(spec: Spec, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """SALib's indices of one output for the design rows ``x``, by factor."""
    names = spec.groups
    n_base = x.shape[0] // spec.rows_per_base
    if np.ptp(y) == 0:  # a constant output has no variance to share out
        return {
            "n_base": n_base,
            "constant": True,
            "factors": [{"input": g} | dict.fromkeys(_index_columns(spec), math.nan) for g in names],
            "S2": [],
        }
    problem = spec.problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if spec.method == "sobol":
            si = sobol_analyze.analyze(
                problem,
                y,
                calc_second_order=spec.calc_second_order,
                num_resamples=BOOTSTRAP_RESAMPLES,
                conf_level=CONF_LEVEL,
                seed=spec.analysis_seed,
            )
            factors = [{"input": g, **{k: float(si[k][j]) for k in _index_columns(spec)}} for j, g in enumerate(names)]
            pairs = []
            if spec.calc_second_order:
                pairs = [
                    {"input_a": a, "input_b": b, "S2": float(si["S2"][j, k]), "S2_conf": float(si["S2_conf"][j, k])}
                    for j, a in enumerate(names)
                    for k, b in enumerate(names)
                    if k > j
                ]
            return {"n_base": n_base, "constant": False, "factors": factors, "S2": pairs}
        si = morris_analyze.analyze(
            problem,
            x,
            y,
            num_resamples=BOOTSTRAP_RESAMPLES,
            conf_level=CONF_LEVEL,
            num_levels=spec.num_levels,
            seed=spec.analysis_seed,
        )
    assert list(si["names"]) == names
    factors = [{"input": g, **{k: float(si[k][j]) for k in _index_columns(spec)}} for j, g in enumerate(names)]
    return {"n_base": n_base, "constant": False, "factors": factors, "S2": []}


def analyse(spec: Spec, design: Design, y: np.ndarray) -> dict[str, Any]:
    """Indices at N and N/2, and the noise shares, per output; ``y`` as from :func:`evaluate`."""
    means = y.mean(axis=1)
    half = (spec.n // 2) * spec.rows_per_base
    out: dict[str, Any] = {}
    for j, name in enumerate(spec.outputs):
        noise = noise_shares(y[:, :, j])
        out[name] = {
            "mean": float(means[:, j].mean()),
            "sd": float(means[:, j].std(ddof=1)),
            "noise": noise,
            **resolution(noise, spec.replicates, spec.noise_threshold),
            "indices": [
                _indices(spec, design.x, means[:, j]),
                _indices(spec, design.x[:half], means[:half, j]),
            ],
        }
    return out


# --- report ------------------------------------------------------------------------


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write ``path`` whole or not at all (:func:`abm.output.atomic_file`)."""
    with atomic_file(path) as tmp:
        write(tmp)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda p: p.write_text(text))


def write_rows(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Path:
    def write(p: Path) -> None:
        with open(p, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow([fmt(row[c]) for c in columns])

    return write_atomic(path, write)


def _index_columns(spec: Spec) -> tuple[str, ...]:
    return ("S1", "S1_conf", "ST", "ST_conf") if spec.method == "sobol" else ("mu", "mu_star", "mu_star_conf", "sigma")


def _main_index(spec: Spec) -> tuple[str, str]:
    """The index that ranks inputs, and its confidence half-width."""
    return ("ST", "ST_conf") if spec.method == "sobol" else ("mu_star", "mu_star_conf")


def _ranked(spec: Spec, factors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    key, _ = _main_index(spec)
    return sorted(factors, key=lambda f: -f[key] if math.isfinite(f[key]) else math.inf)


def write_design(path: Path, spec: Spec, design: Design) -> Path:
    """The values every row sets (after integer inputs are rounded down)."""
    rows = [
        {"row": r, **{i.name: i.value(x) for i, x in zip(spec.inputs, design.x[r], strict=True)}}
        | ({"particle": design.row_draws[r].particle} if design.row_draws else {})
        for r in range(design.x.shape[0])
    ]
    columns = ["row", *(i.name for i in spec.inputs), *(["particle"] if design.row_draws else [])]
    return write_rows(path, rows, columns)


def run_timing(records: Mapping[str, dict[str, Any]]) -> dict[str, float]:
    seconds = np.array([r["seconds"] for r in records.values()], dtype=float)
    return {
        "runs": int(seconds.size),
        "run_seconds_total": float(seconds.sum()),
        "run_seconds_mean": float(seconds.mean()),
        "run_seconds_min": float(seconds.min()),
        "run_seconds_max": float(seconds.max()),
    }


def nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nan_to_none(v) for v in value]
    return value


def _noise_text(noise: dict[str, float | None], replicates: int) -> str:
    run, mean = noise["share_of_run_variance"], noise["share_of_mean_variance"]
    if run is None or mean is None:
        return "noise not estimated: " + ("one replicate." if replicates == 1 else "the output does not vary.")
    return f"noise {100 * run:.1f}% of the variance of single runs, {100 * mean:.1f}% of the variance analysed."


def _unresolved_text(spec: Spec, result: dict[str, Any]) -> str:
    needed = result["replicates_needed"]
    return (
        f"**Not resolved at this sample size**: the noise is more than {100 * spec.noise_threshold:.0f}% of the "
        "variance analysed, so the inputs are not ranked. "
        + (
            f"About {needed:,} replicates per point would resolve it."
            if needed
            else "The inputs' effect does not stand out of the noise at all: more replicates would not resolve it."
        )
    )


def ranked_outputs(analysis: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The outputs whose inputs can be ranked: varying, and resolved from the noise."""
    return {
        name: result
        for name, result in analysis.items()
        if result["resolved"] is not False and not result["indices"][0]["constant"]
    }


def fmt_index(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"


def markdown(spec: Spec, analysis: dict[str, Any], timing: dict[str, float]) -> str:
    key, conf = _main_index(spec)
    lines = [
        f"# {spec.method.capitalize()} analysis: {spec.name}",
        "",
        spec.description,
        "",
        f"N = {spec.n} {'base points' if spec.method == 'sobol' else 'trajectories'} "
        f"({spec.n // 2} for the convergence column), {spec.replicates} replicate(s) per point on common "
        f"random numbers, seed {spec.seed}"
        + (f", scale {spec.scale:g}" if spec.model == "city" else f", model {spec.model}")
        + f"; {len(spec.inputs)} inputs in {len(spec.groups)} factors; {timing['runs']:,} runs, "
        f"{timing['run_seconds_mean']:.3g} s per run on average ({timing['run_seconds_total'] / 3600:.2f} h of run time).",
        "",
        "Indices of the mean over replicates; ± is the half-width of the bootstrap "
        f"{100 * CONF_LEVEL:.0f}% confidence interval. Noise: the variance between replicates at a point, as a "
        "share of the variance of single runs and of the replicate means that are analysed.",
    ]
    for name, result in analysis.items():
        at_n, at_half = result["indices"]
        lines += [
            "",
            f"## {name}",
            "",
            f"Mean {fmt_index(result['mean'])}, sd {fmt_index(result['sd'])} over the sample points; "
            + _noise_text(result["noise"], spec.replicates)
            + (" The output is constant over the sample: no indices." if at_n["constant"] else ""),
            "",
        ]
        if result["resolved"] is False:
            lines.append(_unresolved_text(spec, result))
            continue
        half = {f["input"]: f for f in at_half["factors"]}
        if spec.method == "sobol":
            lines += [f"| rank | input | S1 | ST | ST at N/2 = {spec.n // 2} |", "|---|---|---|---|---|"]
            for rank, f in enumerate(_ranked(spec, at_n["factors"]), 1):
                lines.append(
                    f"| {rank} | {f['input']} | {fmt_index(f['S1'])} ± {fmt_index(f['S1_conf'])} | "
                    f"{fmt_index(f['ST'])} ± {fmt_index(f['ST_conf'])} | {fmt_index(half[f['input']]['ST'])} |"
                )
            if at_n["S2"]:
                lines += ["", "| input | input | S2 |", "|---|---|---|"]
                lines += [
                    f"| {p['input_a']} | {p['input_b']} | {fmt_index(p['S2'])} ± {fmt_index(p['S2_conf'])} |"
                    for p in sorted(at_n["S2"], key=lambda p: -abs(p["S2"]))
                ]
        else:
            lines += [
                f"| rank | input | mu* | mu | sigma | mu* at N/2 = {spec.n // 2} |",
                "|---|---|---|---|---|---|",
            ]
            for rank, f in enumerate(_ranked(spec, at_n["factors"]), 1):
                lines.append(
                    f"| {rank} | {f['input']} | {fmt_index(f[key])} ± {fmt_index(f[conf])} | {fmt_index(f['mu'])} | "
                    f"{fmt_index(f['sigma'])} | {fmt_index(half[f['input']][key])} |"
                )
    return "\n".join(lines) + "\n"


def save_figure(fig: plt.Figure, path: Path) -> Path:
    write_atomic(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)
    return path


def ranking_figure(spec: Spec, name: str, result: dict[str, Any], path: Path) -> Path:
    """The inputs of one output ranked by ST (Sobol, with S1) or mu* (Morris, with sigma)."""
    factors = list(reversed(_ranked(spec, result["indices"][0]["factors"])))
    y = np.arange(len(factors))
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.35 * len(factors)), layout="constrained")
    if spec.method == "sobol":
        ax.barh(
            y + 0.2,
            [f["ST"] for f in factors],
            0.4,
            xerr=[f["ST_conf"] for f in factors],
            error_kw=ERROR_BARS,
            label="ST (total)",
        )
        ax.barh(
            y - 0.2,
            [f["S1"] for f in factors],
            0.4,
            xerr=[f["S1_conf"] for f in factors],
            error_kw=ERROR_BARS,
            label="S1 (first order)",
        )
        ax.set_xlabel("share of output variance")
    else:
        ax.barh(
            y,
            [f["mu_star"] for f in factors],
            0.6,
            xerr=[f["mu_star_conf"] for f in factors],
            error_kw=ERROR_BARS,
            label="mu*",
        )
        ax.plot([f["sigma"] for f in factors], y, "kd", label="sigma")
        ax.set_xlabel(f"change of {name} per whole range of the input")
    ax.set_yticks(y, [f["input"] for f in factors])
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(
        f"{name}: {spec.method} indices, N = {spec.n}, {spec.replicates} replicate(s)"
        + (f", scale {spec.scale:g}" if spec.model == "city" else ""),
        fontsize=10,
    )
    return save_figure(fig, path)


def convergence_figure(spec: Spec, analysis: dict[str, Any], path: Path) -> Path:
    """Per output, the ranking index at N/2 and at N side by side, with their intervals."""
    key, conf = _main_index(spec)
    n_out = len(analysis)
    cols = min(3, n_out)
    rows = -(-n_out // cols)
    height = 1.0 + 0.3 * len(spec.groups)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, height * rows), layout="constrained", squeeze=False)
    for ax, (name, result) in zip(axes.flat, analysis.items(), strict=False):
        at_n, at_half = result["indices"]
        order = [f["input"] for f in reversed(_ranked(spec, at_n["factors"]))]
        y = np.arange(len(order))
        for offset, res, label in ((0.2, at_n, f"N = {spec.n}"), (-0.2, at_half, f"N/2 = {spec.n // 2}")):
            by = {f["input"]: f for f in res["factors"]}
            ax.barh(
                y + offset,
                [by[g][key] for g in order],
                0.4,
                xerr=[by[g][conf] for g in order],
                error_kw=ERROR_BARS,
                label=label,
            )
        ax.set_yticks(y, order, fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(key)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[n_out:]:
        ax.set_visible(False)
    fig.suptitle(f"{spec.name}: {key} at N/2 and N ({spec.replicates} replicate(s))")
    return save_figure(fig, path)


def write_report(
    out: Path, spec: Spec, analysis: dict[str, Any], timing: dict[str, float], facts: dict[str, Any]
) -> list[Path]:
    """Tables, figures and ``summary.json`` (last: it marks a finished analysis)."""
    columns = _index_columns(spec)
    rows = [
        {"output": name, "n_base": res["n_base"], **f}
        for name, result in analysis.items()
        for res in result["indices"]
        for f in _ranked(spec, res["factors"])
    ]
    paths = [write_rows(out / "indices.csv", rows, ["output", "input", "n_base", *columns])]
    if spec.calc_second_order:
        pairs = [
            {"output": name, "n_base": res["n_base"], **p}
            for name, result in analysis.items()
            for res in result["indices"]
            for p in res["S2"]
        ]
        paths.append(
            write_rows(out / "indices_s2.csv", pairs, ["output", "input_a", "input_b", "n_base", "S2", "S2_conf"])
        )
    paths.append(write_text(out / "indices.md", markdown(spec, analysis, timing)))
    for name, result in ranked_outputs(analysis).items():
        paths.append(ranking_figure(spec, name, result, out / f"ranking_{name}.png"))
    if ranked_outputs(analysis):
        paths.append(convergence_figure(spec, ranked_outputs(analysis), out / "convergence.png"))
    summary = {**facts, "timing": timing, "outputs": analysis}
    text = json.dumps(nan_to_none(summary), indent=2, ensure_ascii=False, default=str) + "\n"
    paths.append(write_text(out / "summary.json", text))
    return paths


# --- the whole analysis ------------------------------------------------------------


def run_analysis(
    spec: Spec,
    out: Path,
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    model: Model | None = None,
    posterior: Posterior | None = None,
) -> dict[str, Any]:
    """Design, evaluate (resuming what ``out`` holds), analyse and report; the summary.

    ``model`` replaces the spec's model (the city, or its test function): any picklable
    function from a run spec to the spec's outputs. With ``posterior``, the city
    model's replicates draw their behavioural parameters from it."""
    started = dt.datetime.now(dt.UTC)
    design = sample_design(spec, posterior)
    store = RunStore(out)
    store.write_manifest(manifest(spec, design))  # ExperimentMismatch names experiment.json, not the spec
    if not (out / "design.csv").exists():
        write_design(out / "design.csv", spec, design)
    with executor(workers, scheduler) as pool:
        y = evaluate(spec, design, store, pool, on_done, model)
    analysis = analyse(spec, design, y)
    facts = provenance(
        experiment=spec.name,
        spec_file=str(spec.path),
        method=spec.method,
        model=spec.model,
        base_scenario=str(spec.base_scenario) if spec.base_scenario else None,
        n=spec.n,
        replicates=spec.replicates,
        replicate_seeds=list(design.seeds),
        seed=spec.seed,
        scale=spec.scale,
        inputs=[asdict(i) for i in spec.inputs],
        factors=spec.groups,
        workers=workers,
        scheduler=scheduler,
        started_utc=started.isoformat(),
        finished_utc=dt.datetime.now(dt.UTC).isoformat(),
        behaviour=_behaviour_provenance(spec, posterior, design),
    )
    write_report(out, spec, analysis, run_timing(store.load()), facts)
    return json.loads((out / "summary.json").read_text())


def _behaviour_provenance(spec: Spec, posterior: Posterior | None, design: Design) -> dict[str, Any] | None:
    if spec.model != "city":
        return None
    out = posterior_provenance(posterior, design.draws)
    if design.row_draws:
        out["picked_by_input"] = spec.posterior_input.name
        out["particles_picked"] = len({d.particle for d in design.row_draws})
    return out


def spec_posterior(spec: Spec, no_posterior: bool) -> Posterior | None:
    """The calibrated posterior a city spec's runs draw from, unless ``no_posterior``
    (refused where an input picks from it)."""
    if spec.model != "city":
        return None
    picker = spec.posterior_input
    if no_posterior:
        if picker is not None:
            raise SpecError(
                spec.path, f"input '{picker.name}' picks a parameter set of the posterior: drop --no-posterior"
            )
        return None
    try:
        return load_posterior()
    except (OSError, ValueError) as err:
        raise SpecError(spec.path, f"{err}; or use --no-posterior") from err


def cmd_sensitivity(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec).with_options(args.n, args.replicates, args.scale, args.futures, args.future_n)
    posterior = spec_posterior(spec, args.no_posterior)
    # with the posterior's draws, as run_analysis records it: without them no city analysis would match
    expected = manifest(spec, sample_design(spec, posterior))
    out = args.out
    if out is None:
        out = unfinished_directory(RESULTS_DIR, f"sensitivity-{spec.name}", expected)
        if out is None:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = RESULTS_DIR / f"sensitivity-{spec.name}-{stamp}"
    total = spec.n * spec.rows_per_base * spec.replicates
    done = RunStore(out).resumed(expected)
    print(
        f"{spec.method} {spec.name}: N = {spec.n}, {spec.replicates} replicate(s), {total:,} runs"
        + (f" at scale {spec.scale:g}" if spec.model == "city" else "")
        + (f"; resuming {out} with {done:,} done" if done else f"; writing {out}"),
        file=sys.stderr,
    )
    started = time.perf_counter()
    summary = with_progress(
        out, total, done, lambda tick: run_analysis(spec, out, args.workers, args.scheduler, tick, posterior=posterior)
    )
    if summary is None:
        return 130
    print(f"wrote {out} in {time.perf_counter() - started:,.0f} s")
    key, _ = _main_index(spec)
    for name, result in summary["outputs"].items():
        if result["resolved"] is False:
            print(f"  {name}: not resolved at this sample size (noise)")
            continue
        factors = [f for f in result["indices"][0]["factors"] if f[key] is not None]
        top = sorted(factors, key=lambda f: -f[key])[:3]
        print(f"  {name}: " + ", ".join(f"{f['input']} {key} {f[key]:.3g}" for f in top))
    if spec.futures:
        from abm import futures  # builds on this module

        within = out / "futures"
        design = futures.sample_futures(spec, posterior)
        total = design.futures.shape[0] * design.measures.shape[0] * spec.replicates
        done = RunStore(within).resumed(futures.manifest(spec, design))
        print(f"measures within {spec.futures} futures: {total:,} runs in {within}", file=sys.stderr)
        summary = with_progress(
            within,
            total,
            done,
            lambda tick: futures.run_analysis(spec, within, args.workers, args.scheduler, tick, posterior=posterior),
        )
        if summary is None:
            return 130
        for name, result in summary["outputs"].items():
            if not result["resolved"]:
                print(f"  {name} within futures: not resolved at this sample size (noise)")
                continue
            top = result["measures"][0]
            print(f"  {name} within futures: {top['measure']} first in {100 * top['share_first']:.0f}% of futures")
    return 0


def with_progress(
    out: Path, total: int, done: int, run: Callable[[Callable[[dict[str, Any]], None] | None], dict[str, Any]]
) -> dict[str, Any] | None:
    """``run(on_done)`` with a progress bar on a terminal; None if interrupted (the runs
    stored so far are kept, and said)."""
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, initial=done, unit="run", file=sys.stderr, dynamic_ncols=True)
    try:
        return run((lambda _r: bar.update()) if bar else None)
    except KeyboardInterrupt:
        stored = len(RunStore(out).load())
        print(f"\ninterrupted: {stored:,} of {total:,} runs stored in {out}; the same command resumes", file=sys.stderr)
        return None
    finally:
        if bar:
            bar.close()
