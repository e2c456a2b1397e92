"""The ``abm`` command.

``abm run [SCENARIO]`` runs a scenario (by default the city strategy) to FY2050 with
its replicates and writes the time series, the summary, the figures and the
provenance into ``results/<scenario>-<timestamp>/``.

``abm sensitivity SPEC`` runs a Morris or Sobol analysis declared in
``experiments/sensitivity/`` (see :mod:`abm.sensitivity`).

``abm discover SPEC`` finds, by PRIM, the futures in which the strategy misses an
outcome (see :mod:`abm.discovery`).

``abm compare DESIGN [DESIGN ...]`` runs subsidy designs against a baseline (the
strategy by default) on paired replicates and writes a report that city staff can
read (see :mod:`abm.compare`).

``abm dashboard`` serves the workshop dashboard (:mod:`abm.app`) on this machine.

``abm calibrate`` fits the behavioural parameters to the city's observed history
(see :mod:`calibration.procedure`); ``abm run`` then draws each replicate's
parameters from that posterior (:mod:`abm.posterior`) unless ``--no-posterior``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from abm.arguments import fraction, non_negative_int, positive_int
from abm.clock import FISCAL_YEARS
from abm.execution import ExperimentMismatch, process_pool
from abm.output import (
    OutputBusy,
    atomic_directory,
    claimed,
    provenance,
    write_csv,
    write_json,
    write_programme_spending,
    write_timeseries,
)
from abm.posterior import Draw, Posterior
from abm.posterior import load as load_posterior
from abm.posterior import provenance as posterior_provenance
from abm.report import budget_run_out, figures, indicators, yearly
from abm.runner import replicate_seeds, run_replicates
from abm.scenario import DEFAULTS, Scenario, ScenarioError, load_scenario

RESULTS_DIR = Path("results")


class UsageError(ValueError):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="abm", description="Saitama City zero-carbon adoption simulator")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario to FY2050 and write its report")
    run.add_argument("scenario", nargs="?", default="strategy", help="scenario file or name (default: strategy)")
    run.add_argument("--seed", type=non_negative_int, default=20500, help="master seed (default 20500)")
    run.add_argument("--replicates", type=positive_int, default=1, help="runs with independent seeds")
    run.add_argument("--scale", type=fraction, default=1.0, help="fraction of agents to simulate (0, 1]")
    run.add_argument("--workers", type=positive_int, default=1, help="processes for replicates")
    run.add_argument("--out", type=Path, help="output directory (default results/<scenario>-<time>)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--no-posterior",
        action="store_true",
        help="use the scenario's [behaviour] values instead of drawing them from calibration/posterior.csv",
    )
    cmp = sub.add_parser("compare", help="subsidy designs against a baseline on paired runs, with a report")
    cmp.add_argument("designs", nargs="+", metavar="DESIGN", help="design files or names in experiments/designs/")
    cmp.add_argument("--against", default="strategy", metavar="BASELINE", help="baseline scenario (default: strategy)")
    cmp.add_argument("--replicates", type=positive_int, default=8, help="paired runs per design (default 8)")
    cmp.add_argument("--scale", type=fraction, default=1.0, help="fraction of agents to simulate (0, 1]")
    cmp.add_argument("--seed", type=non_negative_int, default=20500, help="master seed (default 20500)")
    cmp.add_argument("--workers", type=positive_int, default=1, help="processes (Dask workers with --scheduler local)")
    cmp.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786), or 'local' for a LocalCluster")
    cmp.add_argument(
        "--window-months",
        type=non_negative_int,
        default=24,
        help="a granted agent is a free rider if it adopts in the baseline no later than this many months after "
        "(default 24)",
    )
    cmp.add_argument("--lang", choices=("ja", "en"), default="ja", help="language of the report (default ja)")
    cmp.add_argument("--out", type=Path, help="output directory (resumed if it holds this comparison)")
    cmp.add_argument("--no-progress", action="store_true", help="no progress bar")
    cmp.add_argument(
        "--no-posterior", action="store_true", help="use the scenarios' [behaviour] values, not posterior draws"
    )
    dash = sub.add_parser("dashboard", help="the workshop dashboard in the browser: measures as sliders, offline")
    dash.add_argument(
        "--scenario", default="strategy", help="scenario or design the page starts with (default strategy)"
    )
    dash.add_argument(
        "--scale",
        type=fraction,
        help="scale the page starts at (default: the full city if it runs within 1 s here, else 0.05)",
    )
    dash.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    dash.add_argument("--port", type=positive_int, default=8765, help="port (default 8765)")
    cal = sub.add_parser("calibrate", help="fit the behavioural parameters to observed history (ABC-SMC)")
    cal.add_argument("--budget", type=positive_int, help="model runs in all (default 32768; --quick 1536)")
    cal.add_argument("--generations", type=positive_int, help="ABC-SMC generations (default 8; --quick 4)")
    cal.add_argument("--scale", type=fraction, help="fraction of agents to simulate (default 0.25; --quick 0.05)")
    cal.add_argument("--seed", type=non_negative_int, help="master seed of the calibration (default 2014)")
    cal.add_argument("--quick", action="store_true", help="a small calibration that exercises the whole path")
    cal.add_argument("--holdout-after", type=int, metavar="YEAR", help="fit only outcomes up to YEAR")
    cal.add_argument("--workers", type=positive_int, default=1, help="processes (Dask workers with --scheduler)")
    cal.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786), or 'local' for a LocalCluster")
    cal.add_argument(
        "--out",
        type=Path,
        help="where the posterior, settings, report and run store go (default calibration/; "
        "results/calibration-quick or -holdout-YEAR otherwise); resumed if unfinished",
    )
    cal.add_argument("--no-progress", action="store_true", help="no progress bar")
    sa = sub.add_parser("sensitivity", help="Morris or Sobol analysis of a spec in experiments/sensitivity/")
    sa.add_argument("spec", help="spec file or name (e.g. strategy_sobol)")
    sa.add_argument("--n", type=positive_int, help="base sample size N (Sobol: a power of two)")
    sa.add_argument("--replicates", type=positive_int, help="runs per sample point, on common seeds")
    sa.add_argument("--scale", type=fraction, help="fraction of agents to simulate (0, 1]")
    sa.add_argument(
        "--futures", type=non_negative_int, help="futures for the measures-within-futures analysis (0: none)"
    )
    sa.add_argument("--future-n", type=positive_int, help="Sobol base points over the measures in each future")
    sa.add_argument("--workers", type=positive_int, default=1, help="processes (Dask workers with --scheduler local)")
    sa.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786), or 'local' for a LocalCluster")
    sa.add_argument("--out", type=Path, help="output directory (resumed if it holds this experiment)")
    sa.add_argument(
        "--no-posterior",
        action="store_true",
        help="use the base scenario's [behaviour] values instead of a posterior draw per replicate",
    )
    dc = sub.add_parser("discover", help="scenario discovery (PRIM) over the uncertainties of a sensitivity spec")
    dc.add_argument("spec", help="spec file or name with a [discovery] table (e.g. strategy_sobol)")
    dc.add_argument("--futures", type=positive_int, help="futures to sample (default: the spec's)")
    dc.add_argument("--replicates", type=positive_int, help="runs per future, on common seeds")
    dc.add_argument("--scale", type=fraction, help="fraction of agents to simulate (0, 1]")
    dc.add_argument("--workers", type=positive_int, default=1, help="processes (Dask workers with --scheduler local)")
    dc.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786), or 'local' for a LocalCluster")
    dc.add_argument("--out", type=Path, help="output directory (resumed if it holds this experiment)")
    dc.add_argument("--no-posterior", action="store_true", help="the base scenario's [behaviour] values")
    from abm.bench import add_bench_parser

    add_bench_parser(sub)
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
    _check_parents(out)
    seeds = replicate_seeds(args.seed, args.replicates)
    posterior, draws = _posterior_draws(args.no_posterior, scenario, seeds)
    show = not args.no_progress and sys.stderr.isatty()
    started = dt.datetime.now(dt.UTC)
    with claimed(out):
        if out.exists():  # made while this run loaded its inputs
            raise UsageError(f"--out {out}: directory exists already; choose a new one")
        try:
            results = _run_replicates(args, scenario, seeds, draws, show)
        except KeyboardInterrupt:
            print("\ninterrupted: nothing written", file=sys.stderr)
            return 130
        try:
            summary = _write_run(out, args, scenario, seeds, posterior, draws, started, results)
        except FileExistsError as err:
            raise UsageError(f"--out {err}") from None
    ind = summary["indicators"]
    print(f"wrote {out}")
    print(
        f"FY2050 renewable energy {ind['renewable_energy_tj_2050']['mean']:,.0f} TJ "
        f"(target {ind['renewable_target_tj']['value']:,.0f}); "
        f"CO2 {ind['co2_kt_2050']['mean']:,.0f} kt "
        f"({ind['co2_change_vs_fy2013_pct_2050']['mean']:+.0f}% vs FY2013)"
    )
    return 0


def _write_run(out, args, scenario, seeds, posterior, draws, started, results) -> dict:
    """``abm run``'s output directory, whole or not at all; its summary."""
    with atomic_directory(out) as tmp:
        write_timeseries(tmp / "timeseries.csv", results)
        write_csv(tmp / "yearly.csv", *yearly(results))
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
                behaviour=posterior_provenance(posterior, draws),
                started_utc=started.isoformat(),
                finished_utc=dt.datetime.now(dt.UTC).isoformat(),
            ),
        )
        figures(results, scenario, tmp)
    return summary


def _run_replicates(args: argparse.Namespace, scenario: Scenario, seeds: list[int], draws: list[Draw], show: bool):
    """The replicates of ``abm run``, serially or on a process pool, with a progress bar."""
    if args.workers > 1 and args.replicates > 1:
        bar = _progress(show, args.replicates, "run")
        with process_pool(args.workers) as pool:
            results = run_replicates(
                scenario,
                seeds,
                args.scale,
                behaviours=[d.values for d in draws] or None,
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
                    behaviour=draws[r].values if draws else None,
                    replicate=r,
                    on_year=(lambda _fy: bar.update()) if bar else None,
                    keep_city=False,  # a seed of its own: memory does not grow with the replicates
                )
            )
    if bar:
        bar.close()
    return results


def _check_parents(out: Path) -> None:
    """Refuse an output directory that cannot be made because a parent is a file."""
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--out {out}: {parent} is a file, not a directory")
            return


def _posterior_draws(no_posterior: bool, scenario: Scenario, seeds: list[int]) -> tuple[Posterior | None, list[Draw]]:
    """The calibrated posterior and each replicate's draw from it (none with
    ``--no-posterior``); says which of the scenario's own values the draws replace."""
    if no_posterior:
        return None, []
    try:
        posterior = load_posterior()
    except (OSError, ValueError) as err:
        raise UsageError(str(err)) from err
    replaced = [k for k in posterior.names if scenario[f"behaviour.{k}"] != DEFAULTS["behaviour"][k]]
    if replaced:
        print(
            f"abm: note: posterior draws replace the scenario's behaviour.{', behaviour.'.join(replaced)}; "
            "--no-posterior keeps them",
            file=sys.stderr,
        )
    return posterior, posterior.draws(seeds)


def cmd_compare(args: argparse.Namespace) -> int:
    from abm.compare import Comparison, ComparisonError, Design, run_comparison
    from abm.execution import RunStore, unfinished_directory

    baseline = load_scenario(args.against)
    designs = [load_scenario(d) for d in args.designs]  # every file checked before any run
    seeds = replicate_seeds(args.seed, args.replicates)
    posterior, draws = _posterior_draws(args.no_posterior, baseline, seeds)
    try:
        comparison = Comparison(
            baseline=Design(baseline.name, baseline),
            designs=tuple(Design(d.name, d) for d in designs),
            seeds=tuple(seeds),
            behaviours=tuple(d.values for d in draws) if draws else (None,) * len(seeds),
            scale=args.scale,
            window_months=args.window_months,
        )
    except ComparisonError as err:
        raise UsageError(str(err)) from err
    out = args.out
    if out is not None:
        _check_parents(out)
    if out is None:
        prefix = "compare-" + "+".join(d.name for d in comparison.designs)[:80]
        out = unfinished_directory(RESULTS_DIR, prefix, comparison.manifest())
        if out is None:
            out = RESULTS_DIR / f"{prefix}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    total = len(comparison.specs())
    done = RunStore(out).resumed(comparison.manifest())
    print(
        f"compare {', '.join(d.name for d in comparison.designs)} against {baseline.name}: "
        f"{comparison.replicates} paired replicate(s) at scale {args.scale:g}, {total} runs"
        + (f"; resuming {out} with {done} done" if done else f"; writing {out}"),
        file=sys.stderr,
    )
    bar = _progress(not args.no_progress and sys.stderr.isatty(), total, "run")
    if bar:
        bar.update(done)
    try:
        analysis = run_comparison(
            comparison,
            out,
            workers=args.workers,
            scheduler=args.scheduler,
            on_done=(lambda _r: bar.update()) if bar else None,
            lang=args.lang,
            behaviour=posterior_provenance(posterior, draws),
        )
    except KeyboardInterrupt:
        stored = len(RunStore(out).load())
        print(f"\ninterrupted: {stored} of {total} runs stored in {out}; the same command resumes", file=sys.stderr)
        return 130
    except ComparisonError as err:
        raise UsageError(str(err)) from err
    finally:
        if bar:
            bar.close()
    print(f"wrote {out}")
    for name in analysis["designs"]:
        entry = analysis["by_design"][name]
        kw, co2 = entry["differences"]["agent_pv_kw_2050"], entry["co2_avoided_t_2026_2050"]
        extra = entry["differences"]["city_grants_yen_2026_2050"]
        fr = entry["free_riders"] and (entry["free_riders"]["of_changed_grants"] or entry["free_riders"])
        print(
            f"  {name}: PV in FY2050 {kw['mean']:+,.0f} kW ({kw['p5']:+,.0f} to {kw['p95']:+,.0f}), "
            f"CO2 avoided FY2026-2050 {co2['mean']:+,.0f} t, extra city grants {extra['mean'] / 1e6:+,.1f} million yen, "
            + (f"free riders {fr['mean']:.0%}" if fr else "no city grants paid")
        )
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from abm.execution import executor
    from calibration.procedure import QUICK, Settings, calibrate, default_out, describe, run_store

    chosen = {
        "budget": args.budget,
        "generations": args.generations,
        "scale": args.scale,
        "seed": args.seed,
        "holdout_after": args.holdout_after,
    }
    try:
        settings = dataclasses.replace(
            QUICK if args.quick else Settings(), **{k: v for k, v in chosen.items() if v is not None}
        )
    except ValueError as err:
        raise UsageError(str(err)) from err
    out = args.out or default_out(settings, args.quick)
    bar = _progress(not args.no_progress and sys.stderr.isatty(), settings.budget, "run")
    if bar:
        bar.update(len(run_store(out).load()))
    try:
        with executor(args.workers, args.scheduler) as pool:
            result = calibrate(settings, out, pool, on_done=(lambda _r: bar.update()) if bar else None)
    except ValueError as err:  # e.g. --out holds a different calibration
        raise UsageError(str(err)) from err
    finally:
        if bar:
            bar.close()
    print(f"wrote {out}")
    print(describe(result))
    return 0


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def _sigterm_as_sigint() -> Iterator[None]:
    """SIGTERM (a scheduler's or ``kill``'s stop) handled as Ctrl-C: runs stop, what is
    finished is kept, nothing half written is left, and the pool's workers end too."""
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread (a caller of main() of its own): leave it alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with _sigterm_as_sigint():
        return _command(args)


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "compare":
            return cmd_compare(args)
        if args.command == "dashboard":
            from abm.dashboard_server import serve

            scenario = load_scenario(args.scenario)  # a bad file stops here, before the warm-up
            return serve(Path(scenario.files[-1]), args.scale, args.host, args.port)
        if args.command == "calibrate":
            return cmd_calibrate(args)
        if args.command == "bench":
            from abm.bench import cmd_bench

            return cmd_bench(args)
        if args.command == "sensitivity":
            from abm.sensitivity import cmd_sensitivity  # imports SALib: only when asked

            return cmd_sensitivity(args)
        if args.command == "discover":
            from abm.discovery import cmd_discover  # imports the EMA Workbench: only when asked

            return cmd_discover(args)
    except (ScenarioError, UsageError, OutputBusy, ExperimentMismatch) as err:
        # one line, whatever a file's keys or values hold
        print("abm: error: " + str(err).replace("\r", "\\r").replace("\n", "\\n"), file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
