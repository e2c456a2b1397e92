"""Measures within futures: which of the city's measures matter, whatever the future.

A Sobol analysis over measures and uncertainties together (:mod:`abm.sensitivity`)
shares out the variance of an outcome over everything that varies. What the city does
not control (how fast PV gets cheaper, where electricity prices go, how much of the
planned non-agent renewables arrive, how people decide) then takes almost all of it,
and every measure reads "under 1%". That answers "what is the outcome most uncertain
about", not the policy officer's question: *given the future we get, which of our
measures move the outcome, and does that hold in every future?*

This analysis answers that question directly, and SALib computes every index:

1. **Futures.** ``futures`` points over the inputs of kind ``uncertainty`` (the
   posterior pick among them, :data:`abm.sensitivity.POSTERIOR_KEY`), a Latin hypercube
   by SALib's sampler under each input's own law: space-filling, so that the futures
   cover the ranges with few points.
2. **Measures in each future.** A Saltelli design over the inputs of kind ``measure``
   alone (``future_n`` base points; the same points in every future, so that what
   differs between futures is the future), with the uncertainties held at the
   future's values and ``replicates`` runs per point on common random numbers.
3. **Indices.** In each future, a measure's S1 and ST are the shares of the outcome's
   variance *in that future* that are due to the measure (alone, and with its
   interactions with the other measures). Over the futures, each measure gets its
   median ST and 10-90% range, the share of futures in which it ranks first and in the
   top three, and its median rank. "In which futures": the uncertainty whose value
   its ST follows most closely over the futures (Spearman's rank correlation).

These conditional indices, S(measure | future), are what a decision maker facing that
future would see; their spread over a sample of futures says how robust the ranking
of measures is, and the correlations say where it changes. The joint indices are
reported beside them, by :mod:`abm.sensitivity`.

Noise is judged per future (:func:`abm.sensitivity.noise_shares`): the futures where
the replicates' noise is more than ``noise_threshold`` of the variance analysed are
not ranked, and an outcome resolved in fewer than half the futures is not ranked at
all, with the replicates that would resolve it.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import latin
from SALib.sample import sobol as sobol_sample
from scipy import stats

from abm.execution import Model, RunSpec, RunStore, executor, run_model_experiment
from abm.output import provenance
from abm.posterior import Draw, Posterior
from abm.posterior import provenance as posterior_provenance
from abm.runner import replicate_seeds
from abm.sensitivity import (
    BOOTSTRAP_RESAMPLES,
    CONF_LEVEL,
    Input,
    Spec,
    behaviour_draws,
    behaviour_values,
    fmt_index,
    model_for,
    model_identity,
    nan_to_none,
    noise_shares,
    resolution,
    save_figure,
    write_rows,
    write_text,
)

# seeds of the futures' and the measures' designs, apart from the joint design's
FUTURES_STREAM, MEASURES_STREAM = 0xF07, 0x3EA5
TOP = 3  # "in the top three"


@dataclass(frozen=True)
class FuturesDesign:
    """The futures (rows over the uncertainties), the measures' Saltelli design shared
    by every future, the replicate seeds and the behavioural parameter sets: each
    future's where an input picks them, each replicate's otherwise."""

    futures: np.ndarray  # (futures, uncertainties)
    measures: np.ndarray  # (rows, measures)
    seeds: tuple[int, ...]
    future_draws: tuple[Draw, ...] = ()
    replicate_draws: tuple[Draw, ...] = ()

    def draw(self, future: int, replicate: int) -> Draw | None:
        if self.future_draws:
            return self.future_draws[future]
        return self.replicate_draws[replicate] if self.replicate_draws else None

    def sha256(self) -> str:
        h = hashlib.sha256()
        for a in (self.futures, self.measures):
            h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
        return h.hexdigest()


def uncertainties(spec: Spec) -> tuple[Input, ...]:
    return spec.of_kind("uncertainty")


def measures(spec: Spec) -> tuple[Input, ...]:
    return spec.of_kind("measure")


def measure_factors(spec: Spec) -> list[str]:
    """The factors the indices are reported on: the measures' groups, or the measures."""
    return list(dict.fromkeys(i.group or i.name for i in measures(spec)))


def rows_per_future(spec: Spec) -> int:
    return spec.future_n * (len(measure_factors(spec)) + 2)


def sample_futures(spec: Spec, posterior: Posterior | None = None) -> FuturesDesign:
    """The design of the analysis within futures (the spec's ``futures`` > 0)."""
    unc = uncertainties(spec)
    futures = latin.sample(spec.problem(unc), spec.futures, seed=spec.seed + FUTURES_STREAM)
    x = sobol_sample.sample(
        spec.problem(measures(spec)), spec.future_n, calc_second_order=False, seed=spec.seed + MEASURES_STREAM
    )
    seeds = tuple(replicate_seeds(spec.seed, spec.replicates))
    replicate_draws, future_draws = behaviour_draws(spec, futures, seeds, posterior, unc)
    return FuturesDesign(futures, x, seeds, future_draws, replicate_draws)


def run_key(future: int, row: int, replicate: int) -> str:
    return f"future{future:03d}-row{row:05d}-rep{replicate:03d}"


def future_values(spec: Spec, design: FuturesDesign, future: int) -> dict[str, float | int]:
    """The scenario values of one future (the posterior's pick is not one)."""
    return {
        i.key: i.value(u)
        for i, u in zip(uncertainties(spec), design.futures[future], strict=True)
        if not i.picks_posterior
    }


def runs(spec: Spec, design: FuturesDesign) -> list[RunSpec]:
    out = []
    for f in range(design.futures.shape[0]):
        future = future_values(spec, design, f)
        for row, x in enumerate(design.measures):
            levers = {i.key: i.value(v) for i, v in zip(measures(spec), x, strict=True)}
            for r, seed in enumerate(design.seeds):
                behaviour = behaviour_values(design.draw(f, r))
                out.append(RunSpec(run_key(f, row, r), seed, spec.scale, {**behaviour, **future, **levers}))
    return out


def manifest(spec: Spec, design: FuturesDesign) -> dict[str, Any]:
    """What the analysis within futures is, for refusing to resume a different one."""
    out: dict[str, Any] = {
        "experiment": spec.name,
        "analysis": "measures within futures",
        "model": spec.model,
        "inputs": [asdict(i) for i in spec.inputs],
        "outputs": list(spec.outputs),
        "futures": spec.futures,
        "future_n": spec.future_n,
        "replicates": spec.replicates,
        "seed": spec.seed,
        "scale": spec.scale,
        "runs": design.futures.shape[0] * design.measures.shape[0] * spec.replicates,
        "replicate_seeds": list(design.seeds),
        "design_sha256": design.sha256(),
        "future_particles": [d.particle for d in design.future_draws],
        "replicate_particles": [d.particle for d in design.replicate_draws],
    }
    return out | model_identity(spec)


def evaluate(
    spec: Spec,
    design: FuturesDesign,
    store: RunStore,
    pool: Executor | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    model: Model | None = None,
) -> np.ndarray:
    """Run what the store does not hold yet; outputs as (futures, rows, replicates, outputs)."""
    records = run_model_experiment(model or model_for(spec), runs(spec, design), store, pool, on_done)
    n_f, n_rows = design.futures.shape[0], design.measures.shape[0]
    return np.array(
        [
            [
                [[records[run_key(f, row, r)]["outputs"][o] for o in spec.outputs] for r in range(spec.replicates)]
                for row in range(n_rows)
            ]
            for f in range(n_f)
        ],
        dtype=float,
    )


def future_indices(spec: Spec, y: np.ndarray) -> list[dict[str, Any]] | None:
    """Sobol S1 and ST (with bootstrap intervals) of the measures in one future, for the
    replicate means ``y`` (rows); None where the output does not vary in that future."""
    if np.ptp(y) == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        si = sobol_analyze.analyze(
            spec.problem(measures(spec)),
            y,
            calc_second_order=False,
            num_resamples=BOOTSTRAP_RESAMPLES,
            conf_level=CONF_LEVEL,
            seed=spec.analysis_seed,
        )
    return [
        {"measure": m, **{k: float(si[k][j]) for k in ("S1", "S1_conf", "ST", "ST_conf")}}
        for j, m in enumerate(measure_factors(spec))
    ]


def analyse(spec: Spec, design: FuturesDesign, y: np.ndarray) -> dict[str, Any]:
    """Per output: each future's indices and noise, and over the futures each
    measure's summary (:func:`summarise`); ``y`` as from :func:`evaluate`."""
    out: dict[str, Any] = {}
    for j, name in enumerate(spec.outputs):
        per_future = []
        for f in range(design.futures.shape[0]):
            noise = noise_shares(y[f, :, :, j])
            indices = future_indices(spec, y[f, :, :, j].mean(axis=1))
            resolved = resolution(noise, spec.replicates, spec.noise_threshold)
            per_future.append(
                {
                    "future": f,
                    "noise": noise,
                    **resolved,
                    "ranked": indices is not None and resolved["resolved"] is not False,
                    "indices": indices,
                }
            )
        out[name] = summarise(spec, design, per_future)
    return out


def summarise(spec: Spec, design: FuturesDesign, per_future: list[dict[str, Any]]) -> dict[str, Any]:
    """Over the ranked futures: each measure's median ST with its 10-90% range, the
    shares of futures in which it ranks first and in the top three, its median rank,
    and the uncertainty its ST follows most closely (Spearman)."""
    ranked = [f for f in per_future if f["ranked"]]
    factors = measure_factors(spec)
    result: dict[str, Any] = {
        "futures": len(per_future),
        "ranked_futures": len(ranked),
        "resolved": len(ranked) >= len(per_future) / 2,
        "replicates_needed": None,
        "per_future": per_future,
        "measures": [],
    }
    if not result["resolved"]:
        needed = [f["replicates_needed"] for f in per_future if f["replicates_needed"]]
        result["replicates_needed"] = int(np.median(needed)) if needed else None
        return result
    st = np.array([[m["ST"] for m in f["indices"]] for f in ranked])  # (futures, measures)
    s1 = np.array([[m["S1"] for m in f["indices"]] for f in ranked])
    # rank 1 = largest ST in that future
    ranks = (-st).argsort(axis=1).argsort(axis=1) + 1
    rows = [f["future"] for f in ranked]
    unc = uncertainties(spec)
    values = design.futures[rows]
    for k, measure in enumerate(factors):
        follows = None
        # the posterior's pick orders parameter sets arbitrarily: nothing to follow
        candidates = [u for u, i in enumerate(unc) if not i.picks_posterior and np.ptp(values[:, u]) > 0]
        if len(ranked) >= 4 and np.ptp(st[:, k]) > 0 and candidates:
            rho = {u: stats.spearmanr(values[:, u], st[:, k]).statistic for u in candidates}
            u = max(candidates, key=lambda c: abs(rho[c]) if np.isfinite(rho[c]) else -1.0)
            if np.isfinite(rho[u]):
                follows = {"uncertainty": unc[u].name, "spearman": float(rho[u])}
        result["measures"].append(
            {
                "measure": measure,
                "ST_median": float(np.median(st[:, k])),
                "ST_p10": float(np.percentile(st[:, k], 10)),
                "ST_p90": float(np.percentile(st[:, k], 90)),
                "S1_median": float(np.median(s1[:, k])),
                "share_first": float(np.mean(ranks[:, k] == 1)),
                "share_top": float(np.mean(ranks[:, k] <= TOP)),
                "median_rank": float(np.median(ranks[:, k])),
                "follows": follows,
            }
        )
    result["measures"].sort(key=lambda m: (m["median_rank"], -m["ST_median"]))
    return result


# --- report ------------------------------------------------------------------------


def markdown(spec: Spec, analysis: dict[str, Any]) -> str:
    lines = [
        f"# Measures within futures: {spec.name}",
        "",
        f"{spec.futures} futures over the {len(uncertainties(spec))} uncertainties (a Latin hypercube); in each, "
        f"Sobol indices of the {len(measure_factors(spec))} measures from N = {spec.future_n} base points, "
        f"{spec.replicates} replicate(s) per point on common random numbers"
        + (f", scale {spec.scale:g}" if spec.model == "city" else f", model {spec.model}")
        + ". ST in a future is the share of the outcome's variance in that future due to the measure, with its "
        "interactions with the other measures. A future is not ranked where the replicates' noise is more than "
        f"{100 * spec.noise_threshold:.0f}% of the variance analysed.",
    ]
    for name, result in analysis.items():
        lines += ["", f"## {name}", ""]
        if not result["resolved"]:
            needed = result["replicates_needed"]
            lines.append(
                f"**Not resolved at this sample size**: ranked in {result['ranked_futures']} of {result['futures']} "
                "futures only; "
                + (
                    f"about {needed:,} replicates per point would resolve it."
                    if needed
                    else "no number of replicates would."
                )
            )
            continue
        top = result["measures"][0]
        lines += [
            f"Ranked in {result['ranked_futures']} of {result['futures']} futures. {top['measure']} ranks first in "
            f"{100 * top['share_first']:.0f}% of them.",
            "",
            "| measure | ST median | ST 10-90% of futures | S1 median | first in | top 3 in | median rank | its ST follows |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for m in result["measures"]:
            follows = m["follows"]
            lines.append(
                f"| {m['measure']} | {fmt_index(m['ST_median'])} | {fmt_index(m['ST_p10'])}-{fmt_index(m['ST_p90'])} | "
                f"{fmt_index(m['S1_median'])} | {100 * m['share_first']:.0f}% | {100 * m['share_top']:.0f}% | "
                f"{m['median_rank']:g} | "
                + (f"{follows['uncertainty']} (rho {follows['spearman']:+.2f})" if follows else "-")
                + " |"
            )
    return "\n".join(lines) + "\n"


def spread_figure(spec: Spec, name: str, result: dict[str, Any], path: Path) -> Path:
    """Each measure's ST in every ranked future (dots) and their median (bar)."""
    order = [m["measure"] for m in reversed(result["measures"])]
    by_future = [f for f in result["per_future"] if f["ranked"]]
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.4 * len(order)), layout="constrained")
    for k, measure in enumerate(order):
        st = [next(m["ST"] for m in f["indices"] if m["measure"] == measure) for f in by_future]
        ax.barh(k, np.median(st), 0.6, color="C0", alpha=0.35)
        jitter = np.linspace(-0.2, 0.2, len(st)) if len(st) > 1 else [0.0]
        ax.plot(st, k + np.asarray(jitter), "o", ms=3, color="C0")
    ax.set_yticks(range(len(order)), order)
    ax.set_xlabel("ST within a future (share of that future's variance)")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(f"{name}: measures within {len(by_future)} futures (bar: median)", fontsize=10)
    return save_figure(fig, path)


def write_report(
    out: Path, spec: Spec, design: FuturesDesign, analysis: dict[str, Any], facts: dict[str, Any]
) -> list[Path]:
    """Per-future indices (CSV), the summary (markdown), a figure per ranked output,
    and ``summary.json`` last."""
    rows = [
        {"output": name, "future": f["future"], **m}
        for name, result in analysis.items()
        for f in result["per_future"]
        if f["ranked"]
        for m in f["indices"]
    ]
    paths = [write_rows(out / "indices.csv", rows, ["output", "future", "measure", "S1", "S1_conf", "ST", "ST_conf"])]
    futures = [
        {"future": f, **{i.name: i.value(u) for i, u in zip(uncertainties(spec), design_row, strict=True)}}
        for f, design_row in enumerate(design.futures)
    ]
    paths.append(write_rows(out / "futures.csv", futures, ["future", *(i.name for i in uncertainties(spec))]))
    paths.append(write_text(out / "indices.md", markdown(spec, analysis)))
    for name, result in analysis.items():
        if result["resolved"]:
            paths.append(spread_figure(spec, name, result, out / f"spread_{name}.png"))
    summary = {**facts, "outputs": analysis}
    text = json.dumps(nan_to_none(summary), indent=2, ensure_ascii=False, default=str) + "\n"
    paths.append(write_text(out / "summary.json", text))
    return paths


def run_analysis(
    spec: Spec,
    out: Path,
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    model: Model | None = None,
    posterior: Posterior | None = None,
) -> dict[str, Any]:
    """Design, evaluate (resuming what ``out`` holds), analyse and report; the summary."""
    design = sample_futures(spec, posterior)
    store = RunStore(out)
    store.write_manifest(manifest(spec, design))
    with executor(workers, scheduler) as pool:
        y = evaluate(spec, design, store, pool, on_done, model)
    analysis = analyse(spec, design, y)
    facts = provenance(
        experiment=spec.name,
        analysis="measures within futures",
        spec_file=str(spec.path),
        futures=spec.futures,
        future_n=spec.future_n,
        replicates=spec.replicates,
        seed=spec.seed,
        scale=spec.scale,
        measures=measure_factors(spec),
        uncertainties=[i.name for i in uncertainties(spec)],
        runs=int(math.prod(y.shape[:3])),
        behaviour=posterior_provenance(posterior, design.replicate_draws) if spec.model == "city" else None,
    )
    write_report(out, spec, design, analysis, facts)
    return json.loads((out / "summary.json").read_text())
