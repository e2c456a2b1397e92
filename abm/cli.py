"""The ``abm`` command.

``abm run [SCENARIO]`` runs a scenario (by default the city strategy) to FY2050 with
its replicates and writes the time series, the summary, the figures and the
provenance into ``results/<scenario>-<timestamp>/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from abm.clock import FISCAL_YEARS
from abm.output import (
    atomic_directory,
    provenance,
    write_json,
    write_programme_spending,
    write_timeseries,
)
from abm.report import budget_run_out, figures, indicators
from abm.runner import replicate_seeds, run_replicates
from abm.scenario import ScenarioError, load_scenario

RESULTS_DIR = Path("results")


class UsageError(ValueError):
    pass


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not (0 < value <= 1) or math.isnan(value):
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="abm", description="Saitama City zero-carbon adoption simulator")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario to FY2050 and write its report")
    run.add_argument("scenario", nargs="?", default="strategy", help="scenario file or name (default: strategy)")
    run.add_argument("--seed", type=_seed, default=20500, help="master seed (default 20500)")
    run.add_argument("--replicates", type=_positive_int, default=1, help="runs with independent seeds")
    run.add_argument("--scale", type=_fraction, default=1.0, help="fraction of agents to simulate (0, 1]")
    run.add_argument("--workers", type=_positive_int, default=1, help="processes for replicates")
    run.add_argument("--out", type=Path, help="output directory (default results/<scenario>-<time>)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _progress(enabled: bool, total: int, unit: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True)


def cmd_run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or RESULTS_DIR / f"{scenario.name}-{stamp}"
    if out.exists():
        raise UsageError(f"--out {out}: directory exists already; choose a new one")
    seeds = replicate_seeds(args.seed, args.replicates)
    show = not args.no_progress and sys.stderr.isatty()
    started = dt.datetime.now(dt.UTC)
    with atomic_directory(out) as tmp:
        if args.workers > 1 and args.replicates > 1:
            bar = _progress(show, args.replicates, "run")
            with ProcessPoolExecutor(max_workers=args.workers) as pool:
                results = run_replicates(
                    scenario,
                    seeds,
                    args.scale,
                    executor=pool,
                    on_done=(lambda _r: bar.update()) if bar else None,
                )
        else:
            bar = _progress(show, args.replicates * len(FISCAL_YEARS), "FY")
            results = []
            from abm.runner import run_scenario

            for r, seed in enumerate(seeds):
                results.append(
                    run_scenario(
                        scenario,
                        seed,
                        args.scale,
                        replicate=r,
                        on_year=(lambda _fy: bar.update()) if bar else None,
                    )
                )
        if bar:
            bar.close()
        write_timeseries(tmp / "timeseries.csv", results)
        write_programme_spending(tmp / "subsidies.csv", results)
        summary = {
            "scenario": scenario.name,
            "replicates": len(results),
            "scale": args.scale,
            "indicators": indicators(results, scenario),
            "budget_run_out": budget_run_out(results),
        }
        write_json(tmp / "summary.json", summary)
        write_json(tmp / "scenario.json", {"name": scenario.name, "files": scenario.files, "resolved": scenario.data})
        write_json(
            tmp / "provenance.json",
            provenance(
                scenario=scenario.name,
                scenario_files=scenario.files,
                master_seed=args.seed,
                seeds=seeds,
                replicates=args.replicates,
                scale=args.scale,
                started_utc=started.isoformat(),
                finished_utc=dt.datetime.now(dt.UTC).isoformat(),
            ),
        )
        figures(results, scenario, tmp)
    ind = summary["indicators"]
    print(f"wrote {out}")
    print(
        f"FY2050 renewable energy {ind['renewable_energy_tj_2050']['mean']:,.0f} TJ "
        f"(target {ind['renewable_target_tj']['value']:,.0f}); "
        f"CO2 {ind['co2_kt_2050']['mean']:,.0f} kt "
        f"({ind['co2_change_vs_fy2013_pct_2050']['mean']:+.0f}% vs FY2013)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
    except (ScenarioError, UsageError) as err:
        print(f"abm: error: {err}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
