"""The run report: 2050 indicators with uncertainty, yearly bands, budget run-out
dates, figures.

Indicators and yearly figures are given as the mean and the 5-95% range over replicates. Figures show
adoption by technology, renewable energy by source against the 37,954 TJ target, the
CO2 path against the FY2013 baseline and a straight path to net zero, and grant
spending by level of government.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from abm.accounting import EXOGENOUS_SOURCES
from abm.clock import LAST_FISCAL_YEAR
from abm.runner import RunResult
from abm.scenario import Scenario


def band(values: np.ndarray) -> dict[str, float]:
    """Mean and 5-95% range over replicates (axis 0)."""
    return {
        "mean": float(np.mean(values)),
        "p5": float(np.percentile(values, 5)),
        "p95": float(np.percentile(values, 95)),
    }


def stack(results: Sequence[RunResult], column: str) -> np.ndarray:
    """(replicates x fiscal years) array of one column."""
    return np.array([r.table[column] for r in results], dtype=float)


# (column of yearly.csv, the table columns it sums): flows and stocks a reader follows year by year
YEARLY = (
    # PV added on houses, owned or under a PPA: what the city's < 10 kW statistics count
    ("residential_pv_with_ppa_added_kw", ("residential_pv_added_kw", "household_ppa_added_kw")),
    ("residential_pv_added_kw", ("residential_pv_added_kw",)),
    ("household_ppa_added_kw", ("household_ppa_added_kw",)),
    ("business_pv_added_kw", ("business_pv_added_kw",)),
    ("solar_sharing_added_kw", ("solar_sharing_added_kw",)),
    ("zeh_built", ("zeh_built",)),
    ("ev_sales", ("ev_sales",)),
    # the ageing stock (abm/pv_life.py): systems at the end of their life, and the panels' waste
    ("rooftop_pv_repowered_kw", ("residential_pv_repowered_kw", "business_pv_repowered_kw")),
    ("rooftop_pv_removed_kw", ("residential_pv_removed_kw", "business_pv_removed_kw")),
    ("pv_panels_removed_t", ("pv_panels_removed_t",)),
    # home storage (abm/storage.py): what is installed, what stands, what it moves to own use
    ("batteries_installed", ("batteries_installed",)),
    ("home_batteries", ("home_batteries",)),
    ("home_battery_kwh", ("home_battery_kwh",)),
    ("v2h_installed", ("v2h_installed",)),
    ("v2h_units", ("v2h_units",)),
    ("household_pv_self_consumption_share", ("household_pv_self_consumption_share",)),
    ("renewable_energy_tj", ("renewable_energy_tj",)),
    ("co2_kt", ("co2_kt",)),
    ("subsidy_spent_yen", ("subsidy_spent_yen",)),
    ("city_subsidy_spent_yen", ("city_subsidy_spent_yen",)),
)


def yearly(results: Sequence[RunResult]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per fiscal year: mean and 5-95% range over replicates of each
    quantity of :data:`YEARLY` (columns ``<name>_mean``, ``_p5``, ``_p95``)."""
    years = [int(y) for y in results[0].table["fiscal_year"]]
    rows: list[dict[str, Any]] = [{"fiscal_year": y} for y in years]
    for name, parts in YEARLY:
        values = sum(stack(results, c) for c in parts)
        for i, row in enumerate(rows):
            row.update({f"{name}_{k}": v for k, v in band(values[:, i]).items()})
    return rows, ["fiscal_year", *(f"{name}_{k}" for name, _ in YEARLY for k in ("mean", "p5", "p95"))]


def indicators(results: Sequence[RunResult], scenario: Scenario) -> dict[str, dict[str, float]]:
    last = -1
    years = results[0].table["fiscal_year"]
    assert years[last] == LAST_FISCAL_YEAR
    at_end = {
        f"{c}_{LAST_FISCAL_YEAR}": stack(results, c)[:, last]
        for c in (
            "renewable_energy_tj",
            "agent_pv_generation_tj",
            "co2_kt",
            "co2_change_vs_fy2013_pct",
            "residential_pv_kw",
            "business_pv_kw",
            "ppa_kw",
            "solar_sharing_kw",
            "zeh_houses",
            "evs",
            "home_batteries",
            "home_battery_kwh",
            "v2h_units",
            "household_pv_self_consumption_share",
        )
    }
    with_pv = stack(results, "residential_pv_systems") + stack(results, "household_ppa_contracts")
    at_end["detached_owner_pv_share_2050"] = (with_pv / stack(results, "detached_owner_households"))[:, last]
    # the agents' part in FY2030, the strategy's interim year
    at_end["agent_pv_generation_tj_2030"] = stack(results, "agent_pv_generation_tj")[:, list(years).index(2030)]
    at_end["ev_share_of_cars_2050"] = (stack(results, "evs") / stack(results, "cars"))[:, last]
    spent = stack(results, "subsidy_spent_yen").sum(axis=1)
    city_spent = stack(results, "city_subsidy_spent_yen").sum(axis=1)
    avoided_t = stack(results, "co2_avoided_by_adoption_kt").sum(axis=1) * 1e3
    at_end["subsidy_spent_yen_total"] = spent
    # the climate cares about the sum of emissions, not only the last year's
    at_end["co2_kt_total"] = stack(results, "co2_kt").sum(axis=1)
    at_end["co2_kt_2026_2050"] = stack(results, "co2_kt")[:, np.asarray(years) >= 2026].sum(axis=1)
    at_end["city_subsidy_spent_yen_total"] = city_spent
    at_end["co2_avoided_by_adoption_t_total"] = avoided_t
    at_end["pv_panels_removed_t_total"] = stack(results, "pv_panels_removed_t").sum(axis=1)
    at_end["yen_per_t_co2_avoided"] = spent / np.maximum(avoided_t, 1e-9)
    at_end["city_yen_per_t_co2_avoided"] = city_spent / np.maximum(avoided_t, 1e-9)
    out = {k: band(v) for k, v in at_end.items()}
    out["renewable_target_tj"] = {"value": scenario["renewables.target_tj"]}
    return out


def budget_run_out(results: Sequence[RunResult]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per programme and fiscal year: in how many replicates the budget ran out, and when."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    names = sorted({name for r in results for name in r.budget_exhausted})
    for name in names:
        years = sorted({fy for r in results for fy in r.budget_exhausted.get(name, {})})
        for fy in years:
            dates = sorted(
                dt.date.fromisoformat(r.budget_exhausted[name][fy])
                for r in results
                if fy in r.budget_exhausted.get(name, {})
            )
            ordinals = np.array([d.toordinal() for d in dates])
            out.setdefault(name, {})[str(fy)] = {
                "share_of_replicates": len(dates) / len(results),
                "median_date": dt.date.fromordinal(int(np.median(ordinals))).isoformat(),
                "earliest": dates[0].isoformat(),
                "latest": dates[-1].isoformat(),
            }
    return out


def _band_plot(ax: plt.Axes, years: np.ndarray, values: np.ndarray, label: str, scale: float = 1.0) -> None:
    v = values * scale
    (line,) = ax.plot(years, v.mean(axis=0), label=label)
    if v.shape[0] > 1:
        ax.fill_between(years, *np.percentile(v, [5, 95], axis=0), color=line.get_color(), alpha=0.2)


def _by_fiscal_year(axes: np.ndarray) -> None:
    for ax in axes.flat:
        ax.set_xlabel("fiscal year")
        ax.grid(alpha=0.3)


def figures(results: Sequence[RunResult], scenario: Scenario, out: Path) -> list[Path]:
    years = np.array(results[0].table["fiscal_year"])
    paths = []
    title = f"{scenario.name}: {len(results)} replicate(s), mean and 5-95% band"

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), layout="constrained")
    for col, label in (
        ("residential_pv_kw", "residential PV (owned)"),
        ("business_pv_kw", "business PV (owned)"),
        ("ppa_kw", "PPA"),
        ("solar_sharing_kw", "solar sharing"),
    ):
        _band_plot(axes[0, 0], years, stack(results, col), label, 1e-3)
    axes[0, 0].set(title="PV capacity", ylabel="MW")
    axes[0, 0].legend(fontsize=8)
    _band_plot(axes[0, 1], years, stack(results, "zeh_houses"), "ZEH houses")
    axes[0, 1].set(title="ZEH houses", ylabel="houses")
    _band_plot(axes[1, 0], years, stack(results, "evs"), "household EVs")
    axes[1, 0].set(title="Household EVs", ylabel="vehicles")
    with_pv = stack(results, "residential_pv_systems") + stack(results, "household_ppa_contracts")
    _band_plot(axes[1, 1], years, with_pv / stack(results, "detached_owner_households"), "PV share", 100)
    axes[1, 1].set(title="Owner-occupied detached houses with PV or PPA", ylabel="%")
    _by_fiscal_year(axes)
    fig.suptitle(f"Adoption by technology ({title})")
    paths.append(_save(fig, out / "adoption.png"))

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), layout="constrained")
    _band_plot(axes[0, 0], years, stack(results, "home_batteries"), "home batteries")
    _band_plot(axes[0, 0], years, stack(results, "v2h_units"), "V2H units")
    axes[0, 0].set(title="Home storage in place", ylabel="units")
    axes[0, 0].legend(fontsize=8)
    _band_plot(axes[0, 1], years, stack(results, "home_battery_kwh"), "battery capacity", 1e-3)
    axes[0, 1].set(title="Home battery capacity", ylabel="MWh")
    _band_plot(axes[1, 0], years, stack(results, "household_pv_self_consumption_share"), "self-consumed", 100)
    axes[1, 0].set(title="Households' PV output used at home", ylabel="%")
    for col, label in (
        ("residential_pv_repowered_kw", "households: repowered"),
        ("residential_pv_removed_kw", "households: removed"),
        ("business_pv_repowered_kw", "businesses: repowered"),
        ("business_pv_removed_kw", "businesses: removed"),
    ):
        _band_plot(axes[1, 1], years, stack(results, col), label, 1e-3)
    axes[1, 1].set(title="PV at the end of its life", ylabel="MW a year")
    axes[1, 1].legend(fontsize=8)
    _by_fiscal_year(axes)
    fig.suptitle(f"Storage and the ageing PV stock ({title})")
    paths.append(_save(fig, out / "storage.png"))

    fig, ax = plt.subplots(figsize=(10, 6), layout="constrained")
    sources = ("agent_pv_generation_tj", *EXOGENOUS_SOURCES)
    means = [stack(results, s).mean(axis=0) for s in sources]
    labels = [s.removesuffix("_tj").replace("_", " ") for s in sources]
    ax.stackplot(years, means, labels=labels, alpha=0.85)
    ax.axhline(scenario["renewables.target_tj"], color="k", ls="--", label="2050 target (37,954 TJ)")
    ax.set(
        xlabel="fiscal year",
        ylabel="TJ per year",
        title=f"Renewable energy by source (mean of {len(results)})",
    )
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "renewables.png"))

    fig, ax = plt.subplots(figsize=(10, 6), layout="constrained")
    _band_plot(ax, years, stack(results, "co2_kt"), "simulated CO2")
    base13, base17 = scenario["emissions.fy2013_kt"], scenario["emissions.fy2017_kt"]
    ax.axhline(base13, color="grey", ls=":", label=f"FY2013 baseline ({base13:,.0f} kt, estimated)")
    ax.plot([2017, 2050], [base17, 0], color="k", ls="--", label="straight path to net zero from FY2017")
    ax.scatter([2017], [base17], color="k", zorder=3, label=f"observed FY2017 ({base17:,.0f} kt)")
    ax.set(xlabel="fiscal year", ylabel="kt CO2", title=f"CO2 emissions ({title})", ylim=(0, None))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "co2.png"))

    fig, ax = plt.subplots(figsize=(10, 6), layout="constrained")
    by_level: dict[str, np.ndarray] = {}
    for r in results:
        for row in r.programme_spending:
            arr = by_level.setdefault(row["level"], np.zeros(years.size))
            arr[row["fiscal_year"] - years[0]] += row["granted_yen"] / len(results)
    bottom = np.zeros(years.size)
    for level in ("national", "prefecture", "city"):
        if level in by_level:
            ax.bar(years, by_level[level] / 1e6, bottom=bottom, label=level)
            bottom += by_level[level] / 1e6
    ax.set(
        xlabel="fiscal year",
        ylabel="million yen",
        title=f"Grants paid to city residents by level (mean of {len(results)})",
    )
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    paths.append(_save(fig, out / "subsidies.png"))
    return paths


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
