"""The calibration report: how well the posterior reproduces each observed pattern,
and what it says about each parameter.

Per pattern: the observations against the posterior predictive (the weighted mean
and 90% band of the runs of the posterior's parameter sets) and the prior predictive
band (every run of generation 0's space-filling sample); the error of the posterior mean (MAPE, R²) on the
fitted years and, separately, on the held-out years. Per parameter: prior, weighted
mean, standard deviation and 90% interval, and a histogram. Written as ``fit.json``,
``fit.md``, ``patterns.png``, ``posterior.png`` and ``correlation.png``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from calibration.abc import Generation, Parameter, weighted_quantile
from calibration.targets import Pattern

BAND = (0.05, 0.95)
RESIDENTIAL_ADDITIONS = ("residential_pv_added_kw", "household_ppa_added_kw")


def _pattern_summary(p: Pattern, prior: Generation, posterior: Generation, holdout_after: int | None) -> dict[str, Any]:
    obs = np.array(p.observed)
    fitted = p.fitted(holdout_after)
    sim = np.array([p.simulated(posterior.outputs[i]) for i in posterior.accepted])
    w = posterior.weight
    mean = w @ sim
    lo, hi = weighted_quantile(sim, w, BAND)
    prior_sim = np.array([p.simulated(o) for o in prior.outputs])
    prior_sim = prior_sim[np.isfinite(prior_sim).all(axis=1)]
    prior_lo, prior_hi = np.percentile(prior_sim, [100 * b for b in BAND], axis=0)

    def errors(mask: np.ndarray) -> dict[str, float | None]:
        if not mask.any():
            return {"mape_pct": None, "r2": None, "coverage_90": None}
        mape = float(np.mean(np.abs(mean[mask] - obs[mask]) / obs[mask]) * 100)
        ss_tot = float(np.sum((obs[mask] - obs[mask].mean()) ** 2))
        r2 = 1 - float(np.sum((obs[mask] - mean[mask]) ** 2)) / ss_tot if mask.sum() > 1 and ss_tot > 0 else None
        inside = (obs[mask] >= lo[mask]) & (obs[mask] <= hi[mask])
        return {"mape_pct": float(mape), "r2": r2, "coverage_90": float(inside.mean())}

    return {
        "name": p.name,
        "title": p.title,
        "unit": p.unit,
        "basis": p.basis,
        "weight": p.weight,
        "cumulative": p.cumulative,
        "years": list(p.years),
        "observed": obs.tolist(),
        "fitted": fitted.tolist(),
        "posterior_mean": mean.tolist(),
        "posterior_p5": lo.tolist(),
        "posterior_p95": hi.tolist(),
        "prior_p5": prior_lo.tolist(),
        "prior_p95": prior_hi.tolist(),
        "in_sample": errors(fitted),
        "out_of_sample": errors(~fitted),
        "posterior_mean_within_observed_range": bool(((mean[fitted] >= obs.min()) & (mean[fitted] <= obs.max())).all()),
        "notes": p.notes,
    }


def _weighted_correlation(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    cov = np.cov(x, rowvar=False, aweights=weight)
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


def summarise(
    generations: Sequence[Generation],
    patterns: Sequence[Pattern],
    parameters: Sequence[Parameter],
    holdout_after: int | None,
) -> dict[str, Any]:
    """Everything the report shows, as plain data."""
    post = generations[-1]
    w = post.weight
    unit = post.unit[post.accepted]
    params = []
    for j, p in enumerate(parameters):
        v = p.value(unit[:, j])
        mean = float(w @ v)
        p5, p50, p95 = weighted_quantile(v, w, [BAND[0], 0.5, BAND[1]])
        params.append(
            {
                "name": p.name,
                "prior": p.prior,
                "mean": mean,
                "sd": float(np.sqrt(w @ (v - mean) ** 2)),
                "p5": float(p5),
                "median": float(p50),
                "p95": float(p95),
            }
        )
    outputs = [post.outputs[i] for i in post.accepted]
    additions = np.array([np.sum([o[c] for c in RESIDENTIAL_ADDITIONS], axis=0) for o in outputs])
    add_lo, add_hi = weighted_quantile(additions, w, BAND)
    return {
        "holdout_after": holdout_after,
        "generations": [
            {
                "generation": g.index,
                "kind": g.kind,
                "runs": len(g.outputs),
                "accepted": int(g.accepted.size),
                "tolerance": g.tolerance,
                "effective_sample_size": g.effective_sample_size,
            }
            for g in generations
        ],
        "parameters": params,
        "patterns": [_pattern_summary(p, generations[0], post, holdout_after) for p in patterns],
        "residential_pv_added_kw_by_fiscal_year": {
            "fiscal_year": outputs[0]["fiscal_year"],
            "mean": (w @ additions).tolist(),
            "p5": add_lo.tolist(),
            "p95": add_hi.tolist(),
        },
        "posterior_correlation": _weighted_correlation(unit, w).tolist(),
    }


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _markdown(summary: dict[str, Any]) -> str:
    holdout = summary["holdout_after"]
    lines = [
        "# Calibration report",
        "",
        "Posterior predictive mean and 90% band (the runs of the posterior's parameter sets) against the observations."
        + (f" Outcomes after {holdout} were held out of the fit." if holdout else ""),
        "",
        "## Fit per series",
        "",
        "| series | unit | fitted years | MAPE in-sample % | R² in-sample | 90% band covers | "
        "MAPE held-out % | weight |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in summary["patterns"]:
        fitted = [y for y, f in zip(p["years"], p["fitted"], strict=True) if f]
        span = f"{fitted[0]}-{fitted[-1]}" if fitted else "none"
        ins, out = p["in_sample"], p["out_of_sample"]
        cover = "-" if ins["coverage_90"] is None else f"{ins['coverage_90']:.0%}"
        lines.append(
            f"| {p['title']} | {p['unit']} | {span} ({p['basis']}) | {_fmt(ins['mape_pct'])} | "
            f"{_fmt(ins['r2'], 2)} | {cover} | {_fmt(out['mape_pct'])} | {p['weight']:g} |"
        )
    lines += ["", "## Observed and simulated, per year", ""]
    for p in summary["patterns"]:
        lines += [
            f"### {p['title']} ({p['unit']})",
            "",
            "| year | observed | posterior mean | 90% band | fitted |",
            "|---|---|---|---|---|",
        ]
        for i, y in enumerate(p["years"]):
            lines.append(
                f"| {y} | {p['observed'][i]:,.2f} | {p['posterior_mean'][i]:,.2f} | "
                f"{p['posterior_p5'][i]:,.2f} - {p['posterior_p95'][i]:,.2f} | {'yes' if p['fitted'][i] else 'no'} |"
            )
        lines += ["", f"_{p['notes']}_", ""]
    lines += [
        "## Parameters",
        "",
        "| parameter | prior | mean | sd | 5% | median | 95% |",
        "|---|---|---|---|---|---|---|",
    ]
    for q in summary["parameters"]:
        lines.append(
            f"| {q['name']} | {q['prior']} | {q['mean']:.4g} | {q['sd']:.3g} | {q['p5']:.4g} | "
            f"{q['median']:.4g} | {q['p95']:.4g} |"
        )
    r = summary["residential_pv_added_kw_by_fiscal_year"]
    lines += [
        "",
        "## Residential PV added per fiscal year (simulated, kW)",
        "",
        "| fiscal year | mean | 90% band |",
        "|---|---|---|",
        *(
            f"| {y} | {m:,.0f} | {lo:,.0f} - {hi:,.0f} |"
            for y, m, lo, hi in zip(r["fiscal_year"], r["mean"], r["p5"], r["p95"], strict=True)
        ),
        "",
        "## Generations",
        "",
        "| generation | kind | runs | accepted | tolerance | effective sample size |",
        "|---|---|---|---|---|---|",
        *(
            f"| {g['generation']} | {g['kind']} | {g['runs']} | {g['accepted']} | {g['tolerance']:.4f} | "
            f"{g['effective_sample_size']:.1f} |"
            for g in summary["generations"]
        ),
        "",
    ]
    return "\n".join(lines)


def _patterns_figure(summary: dict[str, Any], path: Path) -> None:
    pats = summary["patterns"]
    cols = 3
    rows = -(-len(pats) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), layout="constrained", squeeze=False)
    for ax, p in zip(axes.flat, pats, strict=False):
        years = np.array(p["years"])
        ax.fill_between(years, p["prior_p5"], p["prior_p95"], color="0.85", label="prior 90%")
        ax.fill_between(years, p["posterior_p5"], p["posterior_p95"], color="C0", alpha=0.3, label="posterior 90%")
        ax.plot(years, p["posterior_mean"], color="C0", marker=".", label="posterior mean")
        fitted = np.array(p["fitted"])
        obs = np.array(p["observed"])
        ax.scatter(years[fitted], obs[fitted], color="k", zorder=3, label="observed (fitted)")
        if (~fitted).any():
            ax.scatter(years[~fitted], obs[~fitted], color="C3", marker="D", zorder=3, label="observed (held out)")
        top = max(max(p["posterior_p95"]), obs.max()) * 1.3
        ax.set(title=p["title"], ylabel=p["unit"], xlabel=f"{p['basis']} year", ylim=(0, top))
        ax.set_xticks(years)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(pats) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Observed patterns against the calibrated model (90% bands)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _posterior_figure(post: Generation, parameters: Sequence[Parameter], path: Path) -> None:
    cols = 4
    rows = -(-len(parameters) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), layout="constrained", squeeze=False)
    for j, (ax, p) in enumerate(zip(axes.flat, parameters, strict=False)):
        v = p.value(post.unit[post.accepted, j])
        edges = p.value(np.linspace(0, 1, 21))
        ax.hist(v, bins=edges, weights=post.weight, color="C0", alpha=0.8)
        ax.axhline(1 / 20, color="0.5", ls="--", lw=1)  # the prior's mass per bin
        if p.log:
            ax.set_xscale("log")
        ax.set(title=p.name, xlim=(p.low, p.high), yticks=[])
    for ax in axes.flat[len(parameters) :]:
        ax.axis("off")
    fig.suptitle("Posterior of each parameter (weighted histogram; dashed: prior)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _correlation_figure(summary: dict[str, Any], path: Path) -> None:
    names = [p["name"] for p in summary["parameters"]]
    corr = np.array(summary["posterior_correlation"])
    fig, ax = plt.subplots(figsize=(8, 7), layout="constrained")
    im = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    fig.colorbar(im, ax=ax, label="weighted correlation (prior scale)")
    ax.set_title("Posterior correlations: trade-offs the data cannot separate")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    summary: dict[str, Any], generations: Sequence[Generation], parameters: Sequence[Parameter], directory: Path
) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "fit.json", "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    (directory / "fit.md").write_text(_markdown(summary))
    _patterns_figure(summary, directory / "patterns.png")
    _posterior_figure(generations[-1], parameters, directory / "posterior.png")
    _correlation_figure(summary, directory / "correlation.png")
