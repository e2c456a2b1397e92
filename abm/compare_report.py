"""The comparison report: one self-contained HTML file that city staff can take into a
meeting, in Japanese or English.

It reads the plain data of :func:`abm.compare.analyse` and shows it: a one-page
summary table first (each design's FY2050 renewable energy against the target, its
CO2, what it adds against the baseline, what the city pays, its free-rider share and
its cost per additional kW and tonne), a short paragraph per design saying what the
numbers mean and how sure they are, then the trajectories with each design's band,
the paired differences with theirs, spending and budget run-out per year, adoption by
technology and agent type, and the method. Figures are PNG embedded in the page and
the styles are inline, so the file opens anywhere with no network. Every label comes
from :mod:`abm.labels`.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from abm.fonts import use_japanese_font
from abm.labels import axis_scale, band_text, number, range_text, text
from abm.scenario import LEVELS

STYLE = """
body { font-family: "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", "Meiryo", "IPAexGothic", sans-serif;
       margin: 2em auto; max-width: 1400px; color: #1d2733; line-height: 1.6; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0; } h2 { border-bottom: 2px solid #2f6f9f; margin-top: 2em; }
.subtitle { color: #555; margin-top: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #c8d2dc; padding: 0.3em 0.6em; vertical-align: top; }
th { background: #eef3f8; text-align: left; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.band { color: #667; font-size: 0.85em; }
table.summary tr > th:first-child { min-width: 13em; }
tr.baseline td { background: #f7f7f7; }
.meta td, .meta th { border: none; padding: 0.1em 0.8em 0.1em 0; }
.note { color: #555; font-size: 0.9em; }
.design-name { font-weight: bold; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
section.design { border-left: 4px solid #2f6f9f; padding-left: 1em; margin: 1em 0; }
@media print { h2 { page-break-before: always; } #summary h2 { page-break-before: avoid; } }
"""

# the summary table's rows: (label key, where in a design's analysis, unit, signed)
SUMMARY_ROWS = (
    ("renewable_energy_tj_2050", ("levels", "renewable_energy_tj_2050"), "tj", False),
    ("agent_pv_generation_tj_2050", ("levels", "agent_pv_generation_tj_2050"), "tj", False),
    ("co2_kt_2050", ("levels", "co2_kt_2050"), "kt", False),
    ("co2_kt_2026_2050", ("levels", "co2_kt_2026_2050"), "kt", False),
    ("agent_pv_kw_2050", ("differences", "agent_pv_kw_2050"), "kw", True),
    ("co2_avoided_t_2026_2050", ("co2_avoided_t_2026_2050",), "t", True),
    ("city_grants_yen_2026_2050", ("levels", "city_grants_yen_2026_2050"), "yen", False),
    ("free_rider_share_changed", ("free_riders", "of_changed_grants"), "share", False),
    ("free_rider_share", ("free_riders",), "share", False),
    ("city_yen_per_additional_kw", ("city_yen_per_additional_kw",), "yen_per_kw", False),
    ("city_yen_per_additional_t_co2", ("city_yen_per_additional_t_co2",), "yen_per_t", False),
)
DIFFERENCE_ROWS = {"agent_pv_kw_2050", "co2_avoided_t_2026_2050"}


def _lookup(entry: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = entry
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _figure_html(fig: plt.Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _band(ax: plt.Axes, years: np.ndarray, b: dict[str, list[float]], label: str, scale: float, **style: Any) -> None:
    mean, low, high = (np.asarray(b[k]) * scale for k in ("mean", "p5", "p95"))
    (line,) = ax.plot(years, mean, label=label, **style)
    ax.fill_between(years, low, high, color=line.get_color(), alpha=0.18, linewidth=0)


def _trajectory_figures(analysis: dict[str, Any], lang: str) -> str:
    years = np.asarray(analysis["fiscal_years"])
    names = [analysis["baseline"], *analysis["designs"]]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), layout="constrained")
    panels = (
        ("renewable_energy_tj", "fig_renewable", "tj"),
        ("agent_pv_generation_tj", "fig_agent_pv", "tj"),
        ("co2_kt", "fig_co2", "kt"),
        ("agent_pv_kw", "fig_pv_capacity", "kw"),
    )
    for ax, (series, title, unit) in zip(axes.flat, panels, strict=True):
        for name in names:
            b = analysis["by_design"][name]["trajectories"][series]
            style = {"color": "k", "lw": 2.2} if name == analysis["baseline"] else {"lw": 1.6}
            _band(ax, years, b, name, axis_scale(unit, lang), **style)
        ax.set_title(text(title, lang))
        ax.set_xlabel(text("fiscal_year", lang))
        ax.grid(alpha=0.3)
    axes[0, 0].axhline(analysis["target_tj"], color="#b03030", ls="--", lw=1.2, label=text("target_line", lang))
    co2 = analysis["by_design"][analysis["baseline"]]["trajectories"]["co2_kt"]["mean"]
    anchor = list(years).index(2017)
    axes[1, 0].plot([2017, 2050], [co2[anchor], 0], color="#b03030", ls="--", lw=1.2, label=text("net_zero_path", lang))
    axes[1, 0].set_ylim(0, None)
    for ax in axes.flat:
        ax.legend(fontsize=8)
    fig.suptitle(text("band_label", lang), fontsize=10)
    return _figure_html(fig, text("trajectories_heading", lang))


def _difference_figures(analysis: dict[str, Any], lang: str) -> str:
    years = np.asarray(analysis["fiscal_years"])
    shown = years >= analysis["evaluated_years"][0] - 2
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained")
    panels = (
        ("agent_pv_kw", "fig_diff_pv", "kw"),
        ("co2_kt", "fig_diff_co2", "kt"),
        ("city_grants_yen", "fig_diff_city", "yen"),
    )
    for ax, (series, title, unit) in zip(axes, panels, strict=True):
        for name in analysis["designs"]:
            b = analysis["by_design"][name]["trajectory_differences"][series]
            _band(ax, years[shown], {k: np.asarray(v)[shown] for k, v in b.items()}, name, axis_scale(unit, lang))
        ax.axhline(0, color="k", lw=0.8)
        ax.set_title(text(title, lang), fontsize=10)
        ax.set_xlabel(text("fiscal_year", lang))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _figure_html(fig, text("differences_heading", lang))


def _spending_figure(analysis: dict[str, Any], lang: str) -> str:
    years = np.asarray(analysis["fiscal_years"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained")
    for ax, level in zip(axes, ("city", "prefecture", "national"), strict=True):
        for name in [analysis["baseline"], *analysis["designs"]]:
            b = analysis["by_design"][name]["spending_by_level"][level]
            style = {"color": "k", "lw": 2.2} if name == analysis["baseline"] else {"lw": 1.6}
            _band(ax, years, b, name, axis_scale("yen", lang), **style)
        ax.set_title(text(f"fig_{level}_grants", lang), fontsize=10)
        ax.set_xlabel(text("fiscal_year", lang))
        ax.set_ylim(0, None)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _figure_html(fig, text("spending_heading", lang))


def _runout_years(entry: dict[str, Any], programme: str) -> set[int]:
    """Fiscal years in which the programme's budget ran out in at least half the runs."""
    years = entry["budget_run_out"].get(programme, {})
    return {int(fy) for fy, x in years.items() if x["share_of_replicates"] >= 0.5}


def _year_ranges(years: set[int], lang: str) -> str:
    """``{2026, 2027, 2028, 2031}`` -> ``2026-2028, 2031`` (``2026～2028、2031`` in Japanese)."""
    out, run = [], []
    for y in sorted(years):
        if run and y != run[-1] + 1:
            out.append(run)
            run = []
        run.append(y)
    if run:
        out.append(run)
    dash, comma = ("～", "、") if lang == "ja" else ("-", ", ")
    return comma.join(str(r[0]) if len(r) == 1 else f"{r[0]}{dash}{r[-1]}" for r in out)


def _evaluated(analysis: dict[str, Any], years: set[int]) -> set[int]:
    first, last = analysis["evaluated_years"]
    return {y for y in years if first <= y <= last}


def _runout_table(analysis: dict[str, Any], lang: str) -> str:
    base = analysis["by_design"][analysis["baseline"]]
    programmes = sorted({p for e in analysis["by_design"].values() for p in e["budget_run_out"]})
    rows = []
    for p in programmes:
        base_years = _evaluated(analysis, _runout_years(base, p))
        for name in [analysis["baseline"], *analysis["designs"]]:
            entry = analysis["by_design"][name]
            years = _evaluated(analysis, _runout_years(entry, p))
            if not years and not base_years:
                continue
            dates = entry["budget_run_out"].get(p, {})
            first = min(years, default=None)
            date = dates[str(first)]["median_date"] if first is not None else ""
            stops = _year_ranges(base_years - years, lang) if name != analysis["baseline"] else ""
            starts = _year_ranges(years - base_years, lang) if name != analysis["baseline"] else ""
            cls = ' class="baseline"' if name == analysis["baseline"] else ""
            rows.append(
                f"<tr{cls}><td>{html.escape(p)}</td><td>{html.escape(name)}</td>"
                f"<td>{_year_ranges(years, lang) or text('none_ran_out', lang)}</td>"
                f"<td>{date}</td><td>{stops}</td><td>{starts}</td></tr>"
            )
    head = "".join(
        f"<th>{text(k, lang)}</th>"
        for k in ("programme", "design", "runs_out_years", "median_date", "stops_running_out", "starts_running_out")
    )
    return f'<table><tr>{head}</tr>{"".join(rows)}</table><p class="note">{text("runout_note", lang)}</p>'


def _runout_figure(analysis: dict[str, Any], lang: str) -> str:
    """Day of the fiscal year on which each city budget ran out, per year and design."""
    programmes = sorted(
        {
            p
            for e in analysis["by_design"].values()
            for p, years in e["budget_run_out"].items()
            if _evaluated(analysis, {int(y) for y in years})
        }
    )
    if not programmes:
        return ""
    fig, axes = plt.subplots(1, len(programmes), figsize=(4.3 * len(programmes), 3.8), layout="constrained")
    axes = np.atleast_1d(axes)
    years = np.arange(analysis["evaluated_years"][0], analysis["evaluated_years"][1] + 1)
    for ax, p in zip(axes, programmes, strict=True):
        for name in [analysis["baseline"], *analysis["designs"]]:
            dates = analysis["by_design"][name]["budget_run_out"].get(p, {})
            day = []
            for fy in years:
                x = dates.get(str(fy))
                if x and x["share_of_replicates"] >= 0.5:
                    d = dt.date.fromisoformat(x["median_date"])
                    day.append((d - dt.date(int(fy), 4, 1)).days)
                else:
                    day.append(365)
            style = {"color": "k", "lw": 2.2} if name == analysis["baseline"] else {"lw": 1.4}
            ax.plot(years, day, marker=".", label=name, **style)
        ax.set_yticks([0, 91, 183, 275, 365])
        ax.set_yticklabels([*text("quarter_months", lang).split(), text("did_not_run_out", lang)])
        ax.set_ylim(-10, 380)
        ax.set_title(text("fig_runout", lang, programme=p), fontsize=10)
        ax.set_xlabel(text("fiscal_year", lang))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _figure_html(fig, text("median_date", lang))


def _cell(b: dict[str, Any] | None, unit: str, lang: str, signed: bool) -> str:
    """A mean over its 90% band, on two lines."""
    if b is None or b.get("mean") is None:
        return text("not_applicable", lang)
    main = number(b["mean"], unit, lang, signed, max(abs(b["mean"]), abs(b.get("p5") or 0), abs(b.get("p95") or 0)))
    if b.get("p5") is None or b.get("p95") is None:
        return main
    return f"{main}<br><span class='band'>{range_text(b, unit, lang)}</span>"


def _summary_table(analysis: dict[str, Any], lang: str) -> str:
    """Indicators by row, designs by column (the baseline first)."""
    names = [analysis["baseline"], *analysis["designs"]]
    head = "".join(
        f"<th>{html.escape(n)}<br><span class='note'>{text('baseline' if n == analysis['baseline'] else 'design', lang)}"
        "</span></th>"
        for n in names
    )
    rows = []
    for key, path, unit, signed in SUMMARY_ROWS:
        label = text(key, lang)
        if key in DIFFERENCE_ROWS:
            label += f"<br><span class='note'>{text('additional', lang)}</span>"
        cells = []
        for n in names:
            entry = analysis["by_design"][n]
            value = _lookup(entry, path)
            if n == analysis["baseline"] and path[0] != "levels":
                cell = text("not_applicable", lang)
            elif key.startswith("free_rider_share") and entry["free_riders"] is None:
                cell = text("no_grants", lang)
            elif value is None and key == "free_rider_share_changed":
                cell = text("no_grant_changed", lang)
            elif value is None and key.startswith("city_yen_per"):
                cell = text("nothing_added", lang)
            elif key.startswith("city_yen_per") and value["mean"] < 0:
                cell = text("dominant", lang)  # gains for less money: a negative cost would mislead
            else:
                cell = _cell(value, unit, lang, signed)
            cells.append(f'<td class="num">{cell}</td>')
        rows.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
    return f'<table class="summary"><tr><th>{text("indicator", lang)}</th>{head}</tr>{"".join(rows)}</table>'


def _negated(b: dict[str, float]) -> dict[str, float]:
    """The band of minus a quantity."""
    return {"mean": -b["mean"], "p5": -b["p95"], "p95": -b["p5"]}


def _grant_label(grant: str, lang: str) -> str:
    """``households.pv`` as the reader says it: 世帯の太陽光（自己所有）, households' PV (owned)."""
    agents, technology = grant.split(".")
    if lang == "ja":
        return f"{text(agents, lang)}の{text(technology, lang)}"
    name = text(technology, lang)
    name = name if name[:2].isupper() else name[0].lower() + name[1:]  # PV, PPA and EV keep their capitals
    return f"{text(agents, lang).lower()}' {name}"


def _paragraph(analysis: dict[str, Any], name: str, lang: str, descriptions: dict[str, str]) -> str:
    entry = analysis["by_design"][name]
    base = analysis["baseline"]
    d = entry["differences"]
    runs = analysis["replicates"]
    kw = d["agent_pv_kw_2050"]
    parts = []
    if descriptions.get(name):
        parts.append(f"<p class='note'>{html.escape(descriptions[name])}</p>")
    if all(d[k]["mean"] == d[k]["p5"] == d[k]["p95"] == 0 for k in d):
        parts.append(f"<p>{text('para_identical', lang)}</p>")
    avoided = entry["co2_avoided_t_2026_2050"]
    pv_way = "more" if kw["mean"] > 0 else "less" if kw["mean"] < 0 else "same"
    co2_way = "less" if avoided["mean"] > 0 else "more" if avoided["mean"] < 0 else "same"
    sentences = [
        text(
            f"para_pv_{pv_way}",
            lang,
            baseline=html.escape(base),
            kw=number(abs(kw["mean"]), "kw", lang),
            band=range_text(kw if pv_way == "more" else _negated(kw), "kw", lang),
        )
        + text(
            f"para_co2_{co2_way}",
            lang,
            t=number(abs(avoided["mean"]), "t", lang),
            band=range_text(avoided if co2_way == "less" else _negated(avoided), "t", lang),
        )
    ]
    renewable = entry["levels"]["renewable_energy_tj_2050"]
    sentences.append(
        text(
            "para_renewable",
            lang,
            tj=band_text(renewable, "tj", lang),
            share=number(renewable["mean"] / analysis["target_tj"], "share", lang),
        )
    )
    if kw["p5"] > 0:
        sentences.append(text("para_sure_more", lang, runs=runs))
    elif kw["p95"] < 0:
        sentences.append(text("para_sure_less", lang, runs=runs))
    elif not (kw["p5"] == kw["p95"] == 0):
        sentences.append(text("para_unsure", lang, runs=runs))
    city, extra = entry["levels"]["city_grants_yen_2026_2050"], d["city_grants_yen_2026_2050"]
    spend_way = "more" if extra["mean"] > 0 else "less" if extra["mean"] < 0 else "same"
    sentences.append(
        text(
            f"para_spending_{spend_way}",
            lang,
            yen=band_text(city, "yen", lang),
            extra=number(abs(extra["mean"]), "yen", lang),
        )
    )
    per_kw, per_t = entry["city_yen_per_additional_kw"], entry["city_yen_per_additional_t_co2"]
    if per_kw is None:
        if kw["mean"] != 0:
            sentences.append(text("para_no_gain", lang))
    elif per_kw["mean"] < 0:
        sentences.append(text("para_cost_saving", lang))
    else:
        sentences.append(
            text(
                "para_cost",
                lang,
                per_kw=band_text(per_kw, "yen_per_kw", lang),
                per_t=band_text(per_t, "yen_per_t", lang) if per_t else text("not_applicable", lang),
            )
        )
    fr = entry["free_riders"]
    if fr is None:
        sentences.append(text("para_no_grants", lang))
    elif fr["of_changed_grants"]:
        techs = "、".join if lang == "ja" else ", ".join
        sentences.append(
            text(
                "para_free_riders_changed",
                lang,
                technologies=techs(_grant_label(g, lang) for g in fr["changed_grants"]),
                share=band_text(fr["of_changed_grants"], "share", lang),
                window=analysis["window_months"],
            )
        )
    else:
        sentences.append(
            text("para_free_riders", lang, share=band_text(fr, "share", lang), window=analysis["window_months"])
        )
    base_entry = analysis["by_design"][base]
    for p in sorted(base_entry["budget_run_out"]):
        stopped = _evaluated(analysis, _runout_years(base_entry, p)) - _evaluated(analysis, _runout_years(entry, p))
        still_paying = entry["programme_grants_yen"].get(p, 0) > 0  # a programme ended does not "stop running out"
        if stopped and still_paying:
            sentences.append(
                text("para_runout_stops", lang, programme=html.escape(p), years=_year_ranges(stopped, lang))
            )
    joiner = "" if lang == "ja" else " "
    parts.append(f"<p>{joiner.join(sentences)}</p>")
    return f'<section class="design"><h3>{html.escape(name)}</h3>{"".join(parts)}</section>'


def _adoption_table(analysis: dict[str, Any], lang: str) -> str:
    names = [analysis["baseline"], *analysis["designs"]]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for kind, unit in (("capacity", "kw"), ("adopters", "count")):
        for key, agents, _technology in analysis["adoption_indicators"][kind]:
            cells = []
            for n in names:
                entry = analysis["by_design"][n]
                cell = band_text(entry["levels"][key], unit, lang)
                if "differences" in entry:
                    cell += f"<br><span class='note'>{text('additional', lang)} "
                    cell += band_text(entry["differences"][key], unit, lang, signed=True) + "</span>"
                cells.append(f'<td class="num">{cell}</td>')
            rows.append(
                f"<tr><td>{text(kind, lang)}</td><td>{text(agents, lang)}</td><td>{text(key, lang)}</td>"
                f"{''.join(cells)}</tr>"
            )
    header = f"<tr><th></th><th>{text('agents', lang)}</th><th>{text('technology', lang)}</th>{head}</tr>"
    return f"<table>{header}{''.join(rows)}</table>"


def _spending_table(analysis: dict[str, Any], lang: str) -> str:
    names = [analysis["baseline"], *analysis["designs"]]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for level in LEVELS:
        key = f"{level}_grants_yen_2026_2050"
        cells = []
        for n in names:
            entry = analysis["by_design"][n]
            cell = band_text(entry["levels"][key], "yen", lang)
            if "differences" in entry:
                cell += f"<br><span class='note'>{text('additional', lang)} "
                cell += band_text(entry["differences"][key], "yen", lang, signed=True) + "</span>"
            cells.append(f'<td class="num">{cell}</td>')
        rows.append(f"<tr><td>{text(key, lang)}</td>{''.join(cells)}</tr>")
    return f"<table><tr><th>{text('indicator', lang)}</th>{head}</tr>{''.join(rows)}</table>"


def _free_rider_table(analysis: dict[str, Any], lang: str) -> str:
    rows = []
    for name in analysis["designs"]:
        fr = analysis["by_design"][name]["free_riders"]
        if fr is None:
            rows.append(f"<tr><td>{html.escape(name)}</td><td colspan='4'>{text('no_grants', lang)}</td></tr>")
            continue
        for key, x in fr["by_technology"].items():
            agents, technology = key.split(".")
            rows.append(
                f"<tr><td>{html.escape(name)}</td><td>{text(agents, lang)}</td><td>{text(technology, lang)}</td>"
                f'<td class="num">{number(float(x["granted"]), "count", lang)}</td>'
                f'<td class="num">{number(float(x["free_riders"]), "count", lang)} '
                f"({number(x['share'], 'share', lang)})</td></tr>"
            )
    head = "".join(
        f"<th>{text(k, lang)}</th>" for k in ("design", "agents", "technology", "granted_agents", "free_riders")
    )
    note = text("free_rider_count_note", lang)
    return f'<table><tr>{head}</tr>{"".join(rows)}</table><p class="note">{note}</p>'


def render(
    analysis: dict[str, Any],
    lang: str,
    descriptions: dict[str, str] | None = None,
    command: str = "",
    made_utc: str = "",
) -> str:
    """The report as one HTML document in ``lang``."""
    if lang == "ja":
        use_japanese_font()
    descriptions = descriptions or {}
    runs = analysis["replicates"]
    scale = analysis["scale"]
    scale_text = (
        text("full_city", lang)
        if scale == 1
        else text("scale_share", lang, percent=number(scale, "share", lang), weight=f"{1 / scale:,.4g}")
    )
    meta = [
        ("baseline", html.escape(analysis["baseline"])),
        ("design", ", ".join(html.escape(n) for n in analysis["designs"])),
        ("replicates", str(runs)),
        ("scale", scale_text),
        ("made_on", html.escape(made_utc)),
    ]
    if command:
        meta.append(("command", f"<code>{html.escape(command)}</code>"))
    meta_html = "".join(f"<tr><th>{text(k, lang)}</th><td>{v}</td></tr>" for k, v in meta)
    window = analysis["window_months"]
    method = "".join(
        f"<li>{text(k, lang, window=window)}</li>"
        for k in ("method_pairing", "method_band", "method_free_riders", "method_cost", "method_cannot")
    )
    body = f"""
<header><h1>{text("report_title", lang)}</h1><p class="subtitle">{text("report_subtitle", lang)}</p>
<table class="meta">{meta_html}</table></header>
<section id="summary"><h2>{text("summary_heading", lang)}</h2>
<p class="note">{text("summary_note", lang, runs=runs)}</p>
{_summary_table(analysis, lang)}</section>
<section id="reading"><h2>{text("reading_heading", lang)}</h2>
{"".join(_paragraph(analysis, n, lang, descriptions) for n in analysis["designs"])}</section>
<section id="trajectories"><h2>{text("trajectories_heading", lang)}</h2>{_trajectory_figures(analysis, lang)}</section>
<section id="differences"><h2>{text("differences_heading", lang)}</h2>{_difference_figures(analysis, lang)}</section>
<section id="spending"><h2>{text("spending_heading", lang)}</h2>
{_spending_table(analysis, lang)}{_spending_figure(analysis, lang)}
{_runout_table(analysis, lang)}{_runout_figure(analysis, lang)}
<h3>{text("free_riders_by_technology", lang)}</h3>{_free_rider_table(analysis, lang)}</section>
<section id="adoption"><h2>{text("adoption_heading", lang)}</h2>{_adoption_table(analysis, lang)}</section>
<section id="method"><h2>{text("method_heading", lang)}</h2><ul>{method}</ul></section>
"""
    title = f"{text('report_title', lang)}: {html.escape(', '.join(analysis['designs']))}"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
    )
