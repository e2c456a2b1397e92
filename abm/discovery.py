"""Scenario discovery: in which futures does the strategy miss its target?

The sensitivity analyses rank what matters; scenario discovery asks the robust-decision
question the other way round. Run the strategy as it is, with its measures at the
scenario's values, across many futures of the uncertainties, mark the futures where an
outcome misses (the renewable energy of FY2050 below the target, say), and find the
few conditions that describe the missing futures: boxes, i.e. ranges of a handful of
uncertainties, found by PRIM (the patient rule induction method of Friedman and Fisher,
1999, in the form of Bryant and Lempert, 2010). PRIM is the EMA Workbench's
(``ema_workbench.analysis.prim``); this module declares the experiment, runs it on
the executor layer and reports.

* **Design.** ``[discovery] futures`` points over the spec's uncertainties, a Latin
  hypercube (SALib) under each input's law, ``replicates`` runs each on common random
  numbers. Where an input picks the calibrated posterior's parameter set, the
  conditions are stated over the picked set's parameters (the econ weight, a base
  rate, ...), which a reader can interpret, rather than over the pick itself.
* **Outcomes.** Each ``[[discovery.outcomes]]`` names a model output and the value it
  must reach (``below``: a future misses where the replicates' mean is below it).
* **Boxes.** PRIM peels the space of futures; along its peeling trajectory this
  module selects the box with the largest coverage (the share of the missing futures
  inside the box) among those with a density (the share of the futures inside the box
  that miss) of at least ``min_density``, the denser one on a tie. After a box, the
  futures in it are set aside and PRIM looks for the next, while at least a tenth of
  the missing futures remain outside every box and the next box is dense enough, up
  to ``max_boxes``. Each restricted uncertainty is reported with its range and the
  quasi-p value of the restriction (a one-sided binomial test, Bryant and Lempert).

``abm discover SPEC`` runs it; the results go to ``<out>/`` with the run store, so an
interrupted discovery resumes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from SALib.sample import latin

from abm.execution import Model, RunSpec, RunStore, executor, run_model_experiment
from abm.output import provenance
from abm.posterior import Draw, Posterior
from abm.posterior import provenance as posterior_provenance
from abm.runner import replicate_seeds
from abm.sensitivity import (
    MODELS,
    RESULTS_DIR,
    CityOutputs,
    Input,
    Spec,
    SpecError,
    behaviour_draws,
    behaviour_values,
    load_spec,
    model_identity,
    nan_to_none,
    save_figure,
    spec_posterior,
    with_progress,
    write_rows,
    write_text,
)

DISCOVERY_STREAM = 0xD15C
FIELDS = ("futures", "min_density", "max_boxes", "outcomes")
OUTCOME_FIELDS = ("name", "output", "below", "description")
MIN_FUTURES = 16
REMAINING_SHARE = 0.1  # look for another box while this share of the missing futures is left


@dataclass(frozen=True)
class Outcome:
    """A future misses where the mean of ``output`` over its replicates is below ``below``."""

    name: str
    output: str
    below: float
    description: str = ""


@dataclass(frozen=True)
class Discovery:
    """The ``[discovery]`` table of a spec, validated."""

    futures: int
    outcomes: tuple[Outcome, ...]
    min_density: float = 0.8
    max_boxes: int = 3


def load(spec: Spec) -> Discovery:
    """The spec's ``[discovery]`` table; a :class:`SpecError` names the file and the field."""
    table, file = spec.discovery_table, spec.path
    if table is None:
        raise SpecError(file, "no [discovery] table: scenario discovery needs its futures and outcomes")
    for key in table:
        if key not in FIELDS:
            raise SpecError(file, f"discovery.{key}: unknown field (expected one of {', '.join(FIELDS)})")
    futures = table.get("futures")
    if not isinstance(futures, int) or isinstance(futures, bool) or futures < MIN_FUTURES:
        raise SpecError(file, f"discovery.futures: expected a whole number >= {MIN_FUTURES}, got {futures!r}")
    density = table.get("min_density", 0.8)
    if not isinstance(density, int | float) or isinstance(density, bool) or not 0 < density <= 1:
        raise SpecError(file, f"discovery.min_density: expected a share in (0, 1], got {density!r}")
    boxes = table.get("max_boxes", 3)
    if not isinstance(boxes, int) or isinstance(boxes, bool) or boxes < 1:
        raise SpecError(file, f"discovery.max_boxes: expected a whole number >= 1, got {boxes!r}")
    raw = table.get("outcomes")
    if not isinstance(raw, list) or not raw or not all(isinstance(o, dict) for o in raw):
        raise SpecError(file, "discovery.outcomes: expected one or more [[discovery.outcomes]] tables")
    outcomes = []
    for k, o in enumerate(raw):
        where = f"discovery.outcomes[{k}]"
        for key in o:
            if key not in OUTCOME_FIELDS:
                raise SpecError(file, f"{where}.{key}: unknown field (expected one of {', '.join(OUTCOME_FIELDS)})")
        if not isinstance(o.get("name"), str) or not o["name"].isidentifier():
            raise SpecError(file, f"{where}.name: expected a name of letters, digits and '_', got {o.get('name')!r}")
        if o.get("output") not in MODELS[spec.model]:
            raise SpecError(
                file,
                f"{where}.output: unknown output {o.get('output')!r} (the {spec.model} model gives: "
                f"{', '.join(MODELS[spec.model])})",
            )
        below = o.get("below")
        if not isinstance(below, int | float) or isinstance(below, bool) or not math.isfinite(below):
            raise SpecError(file, f"{where}.below: expected a number (a future misses below it), got {below!r}")
        outcomes.append(Outcome(o["name"], o["output"], float(below), str(o.get("description", ""))))
    if len({o.name for o in outcomes}) != len(outcomes):
        raise SpecError(file, "discovery.outcomes: a name is used twice")
    if not spec.of_kind("uncertainty"):
        raise SpecError(file, "inputs: scenario discovery needs inputs of kind 'uncertainty'")
    return Discovery(futures, tuple(outcomes), float(density), boxes)


# --- design and runs ---------------------------------------------------------------


@dataclass(frozen=True)
class DiscoveryDesign:
    """The futures over the uncertainties, the replicate seeds and the behavioural
    parameter sets (each future's where an input picks them, each replicate's otherwise)."""

    futures: np.ndarray  # (futures, uncertainties)
    seeds: tuple[int, ...]
    future_draws: tuple[Draw, ...] = ()
    replicate_draws: tuple[Draw, ...] = ()

    def draw(self, future: int, replicate: int) -> Draw | None:
        if self.future_draws:
            return self.future_draws[future]
        return self.replicate_draws[replicate] if self.replicate_draws else None

    def sha256(self) -> str:
        return hashlib.sha256(np.ascontiguousarray(self.futures, dtype="<f8").tobytes()).hexdigest()


def uncertainties(spec: Spec) -> tuple[Input, ...]:
    return spec.of_kind("uncertainty")


def sample(spec: Spec, discovery: Discovery, posterior: Posterior | None = None) -> DiscoveryDesign:
    unc = uncertainties(spec)
    futures = latin.sample(spec.problem(unc), discovery.futures, seed=spec.seed + DISCOVERY_STREAM)
    seeds = tuple(replicate_seeds(spec.seed, spec.replicates))
    replicate_draws, future_draws = behaviour_draws(spec, futures, seeds, posterior, unc)
    return DiscoveryDesign(futures, seeds, future_draws, replicate_draws)


def run_key(future: int, replicate: int) -> str:
    return f"future{future:04d}-rep{replicate:03d}"


def runs(spec: Spec, design: DiscoveryDesign) -> list[RunSpec]:
    out = []
    for f, row in enumerate(design.futures):
        values = {i.key: i.value(u) for i, u in zip(uncertainties(spec), row, strict=True) if not i.picks_posterior}
        for r, seed in enumerate(design.seeds):
            behaviour = behaviour_values(design.draw(f, r))
            out.append(RunSpec(run_key(f, r), seed, spec.scale, {**behaviour, **values}))
    return out


def conditions(spec: Spec, design: DiscoveryDesign) -> dict[str, np.ndarray]:
    """The columns PRIM describes the futures by: each uncertainty's value and, where an
    input picks the posterior's set, the picked set's parameters instead of the pick."""
    columns: dict[str, np.ndarray] = {}
    for k, i in enumerate(uncertainties(spec)):
        if not i.picks_posterior:
            columns[i.name] = np.array([i.value(u) for u in design.futures[:, k]], dtype=float)
    for name in design.future_draws[0].values if design.future_draws else ():
        columns[name] = np.array([d.values[name] for d in design.future_draws])
    return columns


def manifest(spec: Spec, discovery: Discovery, design: DiscoveryDesign) -> dict[str, Any]:
    out: dict[str, Any] = {
        "experiment": spec.name,
        "analysis": "scenario discovery",
        "model": spec.model,
        "inputs": [asdict(i) for i in uncertainties(spec)],
        "outputs": sorted({o.output for o in discovery.outcomes}),
        "futures": discovery.futures,
        "replicates": spec.replicates,
        "seed": spec.seed,
        "scale": spec.scale,
        "runs": discovery.futures * spec.replicates,
        "replicate_seeds": list(design.seeds),
        "design_sha256": design.sha256(),
        "future_particles": [d.particle for d in design.future_draws],
        "replicate_particles": [d.particle for d in design.replicate_draws],
    }
    return out | model_identity(spec)


def evaluate(
    spec: Spec,
    discovery: Discovery,
    design: DiscoveryDesign,
    store: RunStore,
    pool: Executor | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    model: Model | None = None,
) -> dict[str, np.ndarray]:
    """Run what the store does not hold yet; each outcome's output as (futures, replicates)."""
    outputs = tuple(sorted({o.output for o in discovery.outcomes}))
    model = model or CityOutputs(spec.base(), outputs)
    records = run_model_experiment(model, runs(spec, design), store, pool, on_done)
    return {
        o: np.array(
            [
                [records[run_key(f, r)]["outputs"][o] for r in range(spec.replicates)]
                for f in range(design.futures.shape[0])
            ]
        )
        for o in outputs
    }


# --- PRIM ----------------------------------------------------------------------------


def _prim():
    with warnings.catch_warnings():  # the Workbench warns of optional parts we do not use
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim
    return prim


def find_boxes(columns: Mapping[str, np.ndarray], misses: np.ndarray, discovery: Discovery) -> list[dict[str, Any]]:
    """PRIM's boxes around the futures where ``misses``, selected on each peeling
    trajectory as the module docstring says; each with its coverage and density (of all
    the futures), mass, and the restricted conditions with their ranges and quasi-p values."""
    import pandas as pd

    prim = _prim()
    x = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in columns.items()})
    y = np.asarray(misses, dtype=bool)
    if not y.any():
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finder = prim.Prim(x, y, peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05)
        boxes: list[dict[str, Any]] = []
        outside = np.ones(y.size, dtype=bool)
        while len(boxes) < discovery.max_boxes and y[outside].sum() >= max(1, REMAINING_SHARE * y.sum()):
            box = finder.find_box()
            if box is None:
                break
            trajectory = box.peeling_trajectory
            dense = trajectory[trajectory["density"] >= discovery.min_density]
            if dense.empty:
                break
            i = int(dense.sort_values(["coverage", "density"], ascending=False).index[0])
            box.select(i)
            _stats, limits = box.inspect(i, style="data")[0]
            inside = _inside(x, box.box_lim)
            boxes.append(
                {
                    "box": len(boxes) + 1,
                    "peeling_step": i,
                    # of all the futures, not only those left when the box was found
                    "coverage": float(y[inside].sum() / y.sum()),
                    "density": float(y[inside].mean()),
                    "mass": float(inside.mean()),
                    "futures_inside": int(inside.sum()),
                    "conditions": [
                        {
                            "condition": name,
                            "min": float(limits.loc[name].iloc[0]),
                            "max": float(limits.loc[name].iloc[1]),
                            "restricted": _restricted_side(name, box.box_lim, x),
                            "quasi_p": _quasi_p(limits.loc[name]),
                        }
                        for name in limits.index
                    ],
                    "trajectory": [
                        {"coverage": float(r.coverage), "density": float(r.density), "res_dim": int(r.res_dim)}
                        for r in trajectory.itertuples()
                    ],
                }
            )
            outside &= ~inside
    return boxes


def _inside(x, box_lim) -> np.ndarray:
    inside = np.ones(len(x), dtype=bool)
    for name in box_lim.columns:
        inside &= (x[name].to_numpy() >= box_lim[name].iloc[0]) & (x[name].to_numpy() <= box_lim[name].iloc[1])
    return inside


def _restricted_side(name: str, box_lim, x) -> str:
    """Which end PRIM cut: 'low' (the box starts above the smallest value), 'high' or 'both'."""
    low = box_lim[name].iloc[0] > x[name].min()
    high = box_lim[name].iloc[1] < x[name].max()
    return "both" if low and high else "low" if low else "high"


def _quasi_p(row) -> float | None:
    values = [float(v) for v in row.iloc[2:] if np.isfinite(v)]
    return min(values) if values else None


def analyse(
    discovery: Discovery, columns: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    """Per outcome: which futures miss (the replicates' mean below its value), their share,
    and PRIM's boxes."""
    out = {}
    for outcome in discovery.outcomes:
        values = outputs[outcome.output].mean(axis=1)
        misses = values < outcome.below
        out[outcome.name] = {
            **asdict(outcome),
            "futures": int(values.size),
            "missing_futures": int(misses.sum()),
            "share_missing": float(misses.mean()),
            "output_mean": float(values.mean()),
            "output_p05": float(np.percentile(values, 5)),
            "output_p95": float(np.percentile(values, 95)),
            "boxes": find_boxes(columns, misses, discovery),
        }
    return out


# --- report -------------------------------------------------------------------------


def _fmt(v: float) -> str:
    return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def markdown(spec: Spec, discovery: Discovery, analysis: dict[str, Any]) -> str:
    lines = [
        f"# Scenario discovery: {spec.name}",
        "",
        f"The base scenario with its measures as they are, in {discovery.futures} futures over "
        f"{len(uncertainties(spec))} uncertainties (a Latin hypercube), {spec.replicates} replicate(s) each"
        + (f", scale {spec.scale:g}" if spec.model == "city" else "")
        + ". Boxes by PRIM (EMA Workbench): coverage is the share of the missing futures inside the box, density "
        f"the share of the futures inside it that miss (at least {discovery.min_density:.0%} here); quasi-p is "
        "the one-sided binomial test of each restriction.",
    ]
    for name, result in analysis.items():
        lines += [
            "",
            f"## {name}",
            "",
            (result["description"].rstrip(". ") + ". " if result["description"] else "")
            + f"A future misses where {result['output']} is below {_fmt(result['below'])}: "
            f"{result['missing_futures']} of {result['futures']} futures ({result['share_missing']:.0%}); "
            f"{result['output']} {_fmt(result['output_mean'])} on average, 5-95% {_fmt(result['output_p05'])}-"
            f"{_fmt(result['output_p95'])}.",
        ]
        if not result["boxes"]:
            lines += ["", "No box of that density: the missing futures share no simple conditions."]
        for box in result["boxes"]:
            lines += [
                "",
                f"**Box {box['box']}**: coverage {box['coverage']:.0%}, density {box['density']:.0%}, "
                f"{box['futures_inside']} futures ({box['mass']:.0%} of them).",
            ]
            if not box["conditions"]:
                lines += ["", NO_CONDITION.format(share=result["share_missing"])]
                continue
            lines += [
                "",
                "| condition | from | to | quasi-p |",
                "|---|---|---|---|",
            ]
            for c in box["conditions"]:
                qp = "-" if c["quasi_p"] is None else f"{c['quasi_p']:.2g}"
                lines.append(f"| {c['condition']} | {_fmt(c['min'])} | {_fmt(c['max'])} | {qp} |")
    return "\n".join(lines) + "\n"


# a box that restricts nothing: the whole space already has the density asked for
NO_CONDITION = (
    "No condition narrows it: the futures miss in {share:.0%} of the whole space, so missing is the rule "
    "here, not the outcome of a combination of conditions."
)


def boxes_figure(name: str, result: dict[str, Any], columns: Mapping[str, np.ndarray], path: Path) -> Path:
    """The first box's peeling trajectory (coverage against density, the selected box
    marked) and each box's restricted conditions as a share of their range."""
    boxes = result["boxes"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 1.8 + 0.45 * max(3, sum(len(b["conditions"]) for b in boxes))),
                                      layout="constrained")  # fmt: skip
    if boxes:
        t = boxes[0]["trajectory"]
        points = left.scatter([p["coverage"] for p in t], [p["density"] for p in t], c=[p["res_dim"] for p in t],
                              cmap="viridis", s=14)  # fmt: skip
        fig.colorbar(points, ax=left, label="restricted conditions")
        chosen = t[boxes[0]["peeling_step"]]
        left.plot(chosen["coverage"], chosen["density"], "r*", ms=14, label="box 1")
        left.legend(fontsize=8)
    left.set(xlabel="coverage", ylabel="density", xlim=(0, 1.02), ylim=(0, 1.02), title="PRIM peeling trajectory")
    left.grid(alpha=0.3)
    labels, y = [], 0
    for b, box in enumerate(boxes):
        for c in box["conditions"]:
            lo, hi = float(np.min(columns[c["condition"]])), float(np.max(columns[c["condition"]]))
            span = (hi - lo) or 1.0
            right.plot(
                [(c["min"] - lo) / span, (c["max"] - lo) / span], [y, y], lw=6, color=f"C{b}", solid_capstyle="butt"
            )
            right.text(1.02, y, f"{_fmt(c['min'])} - {_fmt(c['max'])}", va="center", fontsize=7)
            labels.append(f"box {box['box']}: {c['condition']}")
            y += 1
    right.set_yticks(range(len(labels)), labels, fontsize=8)
    right.set(xlim=(0, 1.35), xlabel="share of the sampled range", title="conditions of the boxes")
    right.invert_yaxis()
    right.grid(alpha=0.3, axis="x")
    fig.suptitle(f"{name}: {result['missing_futures']} of {result['futures']} futures miss", fontsize=10)
    return save_figure(fig, path)


def write_report(
    out: Path,
    spec: Spec,
    discovery: Discovery,
    columns: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    analysis: dict[str, Any],
    facts: dict[str, Any],
) -> list[Path]:
    names = list(columns)
    rows = [
        {"future": f, **{k: columns[k][f] for k in names}, **{o: outputs[o][f].mean() for o in outputs}}
        for f in range(len(next(iter(columns.values()))))
    ]
    paths = [write_rows(out / "futures.csv", rows, ["future", *names, *outputs])]
    paths.append(write_text(out / "discovery.md", markdown(spec, discovery, analysis)))
    for name, result in analysis.items():
        paths.append(boxes_figure(name, result, columns, out / f"boxes_{name}.png"))
    text = json.dumps(nan_to_none({**facts, "outcomes": analysis}), indent=2, ensure_ascii=False, default=str) + "\n"
    paths.append(write_text(out / "summary.json", text))
    return paths


def run_discovery(
    spec: Spec,
    out: Path,
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    model: Model | None = None,
    posterior: Posterior | None = None,
) -> dict[str, Any]:
    """Design, evaluate (resuming what ``out`` holds), find the boxes and report; the summary."""
    discovery = load(spec)
    design = sample(spec, discovery, posterior)
    store = RunStore(out)
    store.write_manifest(manifest(spec, discovery, design))
    with executor(workers, scheduler) as pool:
        outputs = evaluate(spec, discovery, design, store, pool, on_done, model)
    columns = conditions(spec, design)
    analysis = analyse(discovery, columns, outputs)
    facts = provenance(
        experiment=spec.name,
        analysis="scenario discovery",
        spec_file=str(spec.path),
        futures=discovery.futures,
        replicates=spec.replicates,
        seed=spec.seed,
        scale=spec.scale,
        conditions=list(columns),
        min_density=discovery.min_density,
        behaviour=posterior_provenance(posterior, design.replicate_draws) if spec.model == "city" else None,
    )
    write_report(out, spec, discovery, columns, outputs, analysis, facts)
    return json.loads((out / "summary.json").read_text())


def cmd_discover(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec).with_options(None, args.replicates, args.scale)
    discovery = load(spec)
    if args.futures is not None:
        spec = replace(spec, discovery_table={**spec.discovery_table, "futures": args.futures})
        discovery = load(spec)
    posterior = spec_posterior(spec, args.no_posterior)
    out = args.out or RESULTS_DIR / f"discovery-{spec.name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    total = discovery.futures * spec.replicates
    done = RunStore(out).resumed(manifest(spec, discovery, sample(spec, discovery, posterior)))
    print(
        f"scenario discovery {spec.name}: {discovery.futures} futures x {spec.replicates} replicate(s) = {total:,} runs"
        + (f" at scale {spec.scale:g}" if spec.model == "city" else "")
        + (f"; resuming {out} with {done:,} done" if done else f"; writing {out}"),
        file=sys.stderr,
    )
    started = time.perf_counter()
    summary = with_progress(
        out, total, done, lambda tick: run_discovery(spec, out, args.workers, args.scheduler, tick, posterior=posterior)
    )
    if summary is None:
        return 130
    print(f"wrote {out} in {time.perf_counter() - started:,.0f} s")
    for name, result in summary["outcomes"].items():
        print(
            f"  {name}: {result['missing_futures']} of {result['futures']} futures miss, {len(result['boxes'])} box(es)"
        )
        for box in result["boxes"]:
            where = "; ".join(f"{c['condition']} {c['min']:.3g}-{c['max']:.3g}" for c in box["conditions"])
            where = where or "no condition (the whole space)"
            print(f"    box {box['box']}: coverage {box['coverage']:.0%}, density {box['density']:.0%}: {where}")
    return 0
