"""The workshop dashboard's page (``abm dashboard``): the city's measures as sliders and the
whole city's 2050 in the browser, in Japanese or English.

It only shows. The controls make an :class:`abm.dashboard.Controls`; :func:`abm.dashboard.run`
runs it (the same run as ``abm run``) and the page draws the result: the 2050 figures as large
numbers with the distance to the target, adoption by technology with the observed history,
renewable energy by source against the target, CO2 against the path to net zero, grant
spending and the day each budget ran out, and a neighbourhood of the social network coloured
by who has what. "Pin" keeps a run so that the next change is drawn against it.

The measures' sliders are Mesa's (:class:`mesa.visualization.Slider` shown by Mesa's
``UserInputs``); the page around them is Solara's, because SolaraViz's own page has its
labels in English only. A run replaces the whole FY2014-FY2050 result at once (a full-city
run takes about half a second), and "one year on" / "back to FY2014" move the year that the
figures and the network show.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import solara
from mesa.visualization import Slider
from mesa.visualization.solara_viz import UserInputs

from abm import dashboard
from abm.accounting import EXOGENOUS_SOURCES
from abm.clock import FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR
from abm.fonts import japanese_font_path
from abm.labels import LANGUAGES, TEXT, axis_scale, number, text
from abm.scenario import ScenarioError
from abm.widgets.vega_chart import VegaChart

# how a measure's slider shows its value, by language: (divide the scenario value by, step)
DISPLAY = {
    "pv_grant_yen_per_kw": {"ja": (1, 1000), "en": (1, 1000)},
    "pv_grant_budget_yen": {"ja": (1e8, 0.1), "en": (1e6, 10)},
    "zeh_grant_yen": {"ja": (1e4, 1), "en": (1e3, 10)},
    "ev_grant_yen": {"ja": (1e4, 1), "en": (1e3, 10)},
    "ppa_promotion_maturity_boost": {"ja": (0.01, 5), "en": (0.01, 5)},
    "joint_purchase_cost_reduction": {"ja": (0.01, 1), "en": (0.01, 1)},
    "education_base_rate_multiplier": {"ja": (1, 0.1), "en": (1, 0.1)},
    "pv_obligation_fiscal_year": {"ja": (1, 1), "en": (1, 1)},
    "solar_sharing_grant_yen_per_kw": {"ja": (1, 1000), "en": (1, 1000)},
    "solar_sharing_base_rate_multiplier": {"ja": (1, 0.1), "en": (1, 0.1)},
    "business_target_setting_multiplier": {"ja": (1, 0.1), "en": (1, 0.1)},
}
# charts are drawn in the browser (Vega-Lite through Altair), so a change costs Python
# only their data; text in them uses the page's fonts, the embedded Japanese one included
CHART_WIDTH, CHART_HEIGHT = 290, 210
ROW_CHART_WIDTH = 240  # three side by side
FONT_STACK = "Roboto, 'ABM Japanese', sans-serif"
TECHNOLOGY_COLOURS = {"none": "#c9ced6", "pv": "#f2a900", "ppa": "#e86f2c", "zeh": "#2a9d55", "ev": "#2f6fb5"}
LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}


@functools.cache
def _font_css() -> str:
    """A web font of the Japanese glyphs the page uses, subset from the bundled
    IPAexGothic and embedded, so that a laptop without Japanese fonts shows them."""
    from fontTools import subset

    characters = "".join(sorted({c for entry in TEXT.values() for c in entry["ja"]}))
    characters += "".join(chr(c) for c in range(0x20, 0x7F)) + "年度万億円千%（）～・、。"
    characters += "".join(dashboard.scenario_label(path, "ja") for path in dashboard.scenario_files())
    font = subset.Subsetter(subset.Options())
    ttfont = subset.load_font(str(japanese_font_path()), subset.Options())
    font.populate(text=characters)
    font.subset(ttfont)
    buffer = io.BytesIO()
    ttfont.flavor = None
    ttfont.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f"@font-face {{ font-family: 'ABM Japanese'; src: url(data:font/ttf;base64,{data}) format('truetype'); }}\n"
        ".v-application, .v-application * { font-family: Roboto, 'ABM Japanese', sans-serif !important; }\n"
        ".v-btn { text-transform: none !important; }\n"
        ".headline-value { font-size: 1.9em; font-weight: 600; line-height: 1.2; }\n"
        ".headline-note { color: #555; font-size: 0.9em; }\n"
    )


@solara.component
def Headline(label: str, value: str, note: str = "", pinned_note: str = ""):
    with solara.Card(margin=1, elevation=2, style={"min-width": "13em"}):
        solara.Text(label, classes=["headline-note"])
        solara.HTML(tag="div", unsafe_innerHTML=value, classes=["headline-value"])
        if note:
            solara.Text(note, classes=["headline-note"])
        if pinned_note:
            solara.Text(pinned_note, classes=["headline-note"])


@solara.component
def Headlines(run: dashboard.DashboardRun, pinned: dashboard.DashboardRun | None, year: int, lang: str):
    now = dashboard.headline(run.result, year)
    then = dashboard.headline(pinned.result, year) if pinned else None

    def versus(key: str, unit: str) -> str:
        if then is None:
            return ""
        return text("dash_vs_pinned", lang, value=number(now[key] - then[key], unit, lang, signed=True))

    gap = now["renewable_target_tj"] - now["renewable_energy_tj"]
    to_target = (
        text("dash_to_target", lang, value=number(gap, "tj", lang))
        if gap > 0
        else text("dash_target_met", lang, value=number(-gap, "tj", lang))
    )
    with solara.Row(style={"flex-wrap": "wrap"}):
        Headline(
            text("dash_headline_renewable", lang, year=year),
            number(now["renewable_energy_tj"], "tj", lang),
            to_target,
            versus("renewable_energy_tj", "tj"),
        )
        Headline(
            text("dash_headline_agents", lang),
            number(now["agent_pv_generation_tj"], "tj", lang),
            "",
            versus("agent_pv_generation_tj", "tj"),
        )
        Headline(
            text("dash_headline_co2", lang, year=year),
            number(now["co2_kt"], "kt", lang),
            text("dash_vs_2013", lang, value=f"{now['co2_change_vs_fy2013_pct']:+.0f}%"),
            versus("co2_kt", "kt"),
        )
        Headline(
            text("dash_headline_pv", lang), number(now["agent_pv_kw"], "kw", lang), "", versus("agent_pv_kw", "kw")
        )
        Headline(text("dash_headline_evs", lang), number(now["evs"], "count", lang), "", versus("evs", "count"))
        Headline(
            text("dash_headline_city_yen", lang),
            number(now["city_subsidy_spent_yen"], "yen", lang),
            "",
            versus("city_subsidy_spent_yen", "yen"),
        )


def _frame(run: dashboard.DashboardRun, columns: dict[str, str], up_to: int, scale: float = 1.0) -> pd.DataFrame:
    """Long-form yearly data of ``columns`` (table column -> series label) up to a year."""
    t = run.result.table
    years = np.asarray(t["fiscal_year"])
    keep = years <= up_to
    return pd.DataFrame(
        {
            "year": np.tile(years[keep], len(columns)),
            "series": np.repeat(list(columns.values()), keep.sum()),
            "value": np.concatenate([np.asarray(t[c], dtype=float)[keep] * scale for c in columns]),
        }
    )


# A chart is a layout and its data. The layout (marks, axes, titles, in one language) is made
# by Altair once and kept; an update only fills in the data under the names the layout uses.
# Remaking the charts through Altair took a third of an update at 1/20.


def _named(name: str) -> alt.Data:
    return alt.Data(name=name)


def _filled(layout: dict, data: dict[str, pd.DataFrame]) -> dict:
    """The Vega-Lite spec of ``layout`` with its named data sets."""
    return {**layout, "datasets": {name: frame.to_dict("records") for name, frame in data.items()}}


def _spec(chart) -> dict:
    """A layout's Vega-Lite spec in the page's fonts, made without Altair's schema check (as
    solara.FigureAltair would make it otherwise), which took a third of a chart's time."""
    return chart.configure(font=FONT_STACK).configure_title(fontSize=13, anchor="start").to_dict(validate=False)


def _x(lang: str) -> alt.X:
    return alt.X(
        "year:Q",
        title=text("fiscal_year", lang),
        scale=alt.Scale(domain=[FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR]),
        axis=alt.Axis(format="d"),
    )


def _lines(name: str, title: str, lang: str, y_title: str = ""):
    return (
        alt.Chart(_named(name), title=title)
        .mark_line()
        .encode(
            _x(lang),
            alt.Y("value:Q", title=y_title),
            alt.Color("series:N", title=None, legend=alt.Legend(orient="top-left", labelLimit=260)),
        )
        .properties(width=CHART_WIDTH, height=CHART_HEIGHT)
    )


def _pinned_lines(name: str, lang: str):
    """A pinned run's lines, dotted and grey, to lay over a chart."""
    return (
        alt.Chart(_named(name))
        .mark_line(strokeDash=[3, 3], color="grey")
        .encode(_x(lang), y="value:Q", detail="series:N")
    )


def _layered(*charts):
    return alt.layer(*(c for c in charts if c is not None))


class _Spec:
    """A chart's Vega-Lite spec kept out of Reacton's sight. Reacton walks every list and dict in
    an element's arguments looking for elements, at each render, which for the charts' data
    took most of a page's update; the spec is given to the widget by an effect instead."""

    __slots__ = ("value",)

    def __init__(self, value: dict):
        self.value = value


@solara.component
def Figure(draw, args: tuple):
    """The chart ``draw(*args)`` (a Vega-Lite spec) on the page, remade only when ``args`` change.
    The widget compiles a layout once and is then given only the new data."""
    made = solara.use_memo(lambda: _Spec(draw(*args)), [draw, *args])
    # nothing given here: Reacton sets every argument given again at each render
    element = VegaChart.element()

    def give() -> None:
        spec = made.value
        widget = solara.get_widget(element)
        with widget.hold_sync():  # layout and data in one message, drawn once
            widget.chart_layout = {key: value for key, value in spec.items() if key != "datasets"}
            widget.chart_data = spec["datasets"]

    solara.use_effect(give, [made])
    return element


STOCK_COLUMNS = ("residential_pv_kw", "household_ppa_kw", "business_pv_kw", "solar_sharing_kw")
COUNT_COLUMNS = ("zeh_houses", "evs")


@functools.cache
def _adoption_layout(lang: str, pinned: bool) -> dict:
    def over(chart, name: str):
        return _layered(chart, _pinned_lines(name, lang) if pinned else None)

    added = _layered(
        _lines("added", text("dash_fig_added", lang), lang, "kW"),
        alt.Chart(_named("observed")).mark_point(filled=True, size=40).encode(_x(lang), y="value:Q", color="series:N"),
        _pinned_lines("pinned_added", lang) if pinned else None,
    )
    row = (
        added,
        over(_lines("stock", text("dash_fig_stock", lang), lang), "pinned_stock"),
        over(_lines("counts", text("dash_fig_zeh_ev", lang), lang), "pinned_counts"),
    )
    return _spec(alt.hconcat(*(c.properties(width=ROW_CHART_WIDTH) for c in row)).resolve_scale(color="independent"))


def adoption_chart(run, pinned, year: int, lang: str) -> dict:
    """Residential PV added per year against the observed, the PV stock by kind, ZEH and EVs."""
    stock = {c: text(f"{c}_2050", lang) for c in STOCK_COLUMNS}
    counts = {c: text(f"{c}_2050", lang) for c in COUNT_COLUMNS}
    kw, thousands = axis_scale("kw", lang), 1e-3

    def added(r) -> pd.DataFrame:
        frame = _frame(r, {"residential_pv_added_kw": text("dash_simulated", lang)}, year)
        frame["value"] += _frame(r, {"household_ppa_added_kw": ""}, year)["value"]
        return frame

    observed = dashboard.observed_residential_pv_added_kw()
    data = {
        "added": added(run),
        "observed": pd.DataFrame(
            {"year": list(observed), "value": list(observed.values()), "series": text("dash_observed", lang)}
        ),
        "stock": _frame(run, stock, year, kw),
        "counts": _frame(run, counts, year, thousands),
    }
    if pinned is not None:
        data |= {
            "pinned_added": added(pinned),
            "pinned_stock": _frame(pinned, stock, year, kw),
            "pinned_counts": _frame(pinned, counts, year, thousands),
        }
    return _filled(_adoption_layout(lang, pinned is not None), data)


RENEWABLE_SOURCES = ("agent_pv_generation_tj", *EXOGENOUS_SOURCES)


@functools.cache
def _renewables_layout(lang: str, pinned: bool, target_tj: float) -> dict:
    names = [text(s, lang) for s in RENEWABLE_SOURCES]
    area = (
        alt.Chart(_named("sources"), title=text("dash_fig_renewable", lang))
        .mark_area(opacity=0.85)
        .encode(
            _x(lang),
            alt.Y("value:Q", stack=True, title="TJ", scale=alt.Scale(domain=[0, target_tj * 1.1])),
            alt.Color("series:N", title=None, sort=names, legend=alt.Legend(orient="left")),
            order=alt.Order("order:Q"),
        )
        .transform_calculate(order=f"indexof({names!r}, datum.series)")
        .properties(width=CHART_WIDTH, height=CHART_HEIGHT + 40)
    )
    rule = alt.Chart(alt.Data(values=[{"target": target_tj}])).mark_rule(color="#b03030", strokeDash=[6, 4])
    return _spec(_layered(area, rule.encode(y="target:Q"), _pinned_lines("pinned", lang) if pinned else None))


def renewables_chart(run, pinned, year: int, lang: str) -> dict:
    """Renewable energy by source, stacked, against the FY2050 target."""
    data = {"sources": _frame(run, {s: text(s, lang) for s in RENEWABLE_SOURCES}, year)}
    if pinned is not None:
        data["pinned"] = _frame(pinned, {"renewable_energy_tj": ""}, year)
    target_tj = float(run.result.table["renewable_target_tj"][-1])
    return _filled(_renewables_layout(lang, pinned is not None, target_tj), data)


@functools.cache
def _co2_layout(lang: str, pinned: bool) -> dict:
    x = alt.X(
        "year:Q",
        title=text("fiscal_year", lang),
        scale=alt.Scale(domain=[2012, LAST_FISCAL_YEAR]),
        axis=alt.Axis(format="d"),
    )
    return _spec(
        _layered(
            alt.Chart(_named("simulated"), title=text("dash_fig_co2", lang))
            .mark_line(color="#333", strokeWidth=2.5)
            .encode(x, alt.Y("value:Q", title=text("kt_unit", lang)))
            .properties(width=CHART_WIDTH, height=CHART_HEIGHT + 40),
            alt.Chart(_named("marks"))
            .mark_point(filled=True, size=60)
            .encode(x, alt.Y("value:Q"), alt.Color("series:N", title=None)),
            alt.Chart(_named("path")).mark_line(color="#b03030", strokeDash=[6, 4]).encode(x, y="value:Q"),
            alt.Chart(_named("pinned")).mark_line(strokeDash=[3, 3], color="grey").encode(x, y="value:Q")
            if pinned
            else None,
        )
    )


def co2_chart(run, pinned, year: int, lang: str) -> dict:
    """CO2 per year against FY2013, FY2017 and the straight path from FY2017 to zero in FY2050."""
    fy2013, fy2017 = run.scenario["emissions.fy2013_kt"], run.scenario["emissions.fy2017_kt"]
    data = {
        "simulated": _frame(run, {"co2_kt": text("dash_simulated", lang)}, year),
        "marks": pd.DataFrame(
            {
                "year": [2013, 2017],
                "value": [fy2013, fy2017],
                "series": [text("dash_estimated_2013", lang), text("dash_observed_ghg", lang)],
            }
        ),
        "path": pd.DataFrame({"year": [2017, 2050], "value": [fy2017, 0.0]}),
    }
    if pinned is not None:
        data["pinned"] = _frame(pinned, {"co2_kt": ""}, year)
    return _filled(_co2_layout(lang, pinned is not None), data)


@functools.cache
def _spending_layout(lang: str) -> dict:
    spending = (
        alt.Chart(_named("spending"), title=text("dash_fig_spending", lang))
        .mark_bar()
        .encode(
            alt.X(
                "year:O",
                title=text("fiscal_year", lang),
                axis=alt.Axis(values=list(range(2015, 2051, 5)), labelAngle=0),
            ),
            alt.Y("value:Q", stack=True, title=text("dash_yen_unit", lang)),
            alt.Color("series:N", title=None, legend=alt.Legend(orient="top-left")),
        )
        .properties(width=CHART_WIDTH, height=CHART_HEIGHT)
    )
    months = text("quarter_months", lang).split()
    tick_labels = " : ".join(f"datum.value == {d} ? '{m}'" for d, m in zip((0, 91, 183, 275), months, strict=True))
    runout = (
        alt.Chart(_named("runout"), title=text("dash_fig_runout", lang))
        .mark_line(point=True)
        .encode(
            _x(lang),
            alt.Y(
                "value:Q",
                title=None,
                scale=alt.Scale(domain=[0, 365]),
                axis=alt.Axis(values=[0, 91, 183, 275], labelExpr=f"{tick_labels} : ''"),
            ),
            alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom", columns=3)),
        )
        .properties(width=CHART_WIDTH, height=CHART_HEIGHT)
    )
    return _spec(alt.hconcat(spending, runout).resolve_scale(color="independent"))


def spending_chart(run, pinned, year: int, lang: str) -> dict:
    """Grants paid per year by level, and the day of the fiscal year each budget ran out."""
    yen = axis_scale("yen", lang)
    spending = pd.DataFrame(
        [
            {"year": r["fiscal_year"], "series": text(r["level"], lang), "value": r["granted_yen"] * yen}
            for r in run.result.programme_spending
            if r["fiscal_year"] <= year
        ],
        columns=["year", "series", "value"],
    )
    runout = pd.DataFrame(
        [
            {"year": fy, "series": programme, "value": (dt.date.fromisoformat(d) - dt.date(fy, 4, 1)).days}
            for programme, dates in sorted(run.result.budget_exhausted.items())
            for fy, d in dates.items()
            if fy <= year
        ],
        columns=["year", "series", "value"],
    )
    data = {"spending": spending.groupby(["year", "series"], as_index=False)["value"].sum(), "runout": runout}
    return _filled(_spending_layout(lang), data)


@functools.cache
def _network_layout(lang: str, households: int, year: int) -> dict:
    names = [text("dash_none" if t == "none" else t, lang) for t in TECHNOLOGY_COLOURS]
    bare = alt.Axis(grid=False, labels=False, ticks=False, domain=False, title=None)
    chart = (
        alt.layer(
            alt.Chart(_named("ties"))
            .mark_rule(color="#d5dae0", strokeWidth=0.6)
            .encode(alt.X("x:Q", axis=bare), alt.Y("y:Q", axis=bare), x2="x2", y2="y2"),
            alt.Chart(_named("households"))
            .mark_circle(size=42, opacity=1, stroke="white", strokeWidth=0.5)
            .encode(
                alt.X("x:Q", axis=bare),
                alt.Y("y:Q", axis=bare),
                alt.Color(
                    "series:N",
                    title=None,
                    scale=alt.Scale(domain=names, range=list(TECHNOLOGY_COLOURS.values())),
                    legend=alt.Legend(orient="bottom", columns=5),
                ),
            ),
            title=text("dash_fig_network", lang, n=households, year=year),
        )
        .properties(width=CHART_WIDTH + 120, height=CHART_HEIGHT + 120)
        .configure_view(strokeWidth=0)
    )
    return _spec(chart)


def network_chart(run, year: int, lang: str) -> dict:
    """A neighbourhood of the social network, each household coloured by what it has in ``year``."""
    hood = dashboard.neighbourhood(run)
    has = dashboard.adopted_by(run, hood.households, year)
    technology = np.full(hood.households.size, "none", dtype=object)
    for t in ("ev", "pv", "ppa", "zeh"):  # later ones win: a ZEH is also PV
        technology[has[t]] = t
    names = {t: text("dash_none" if t == "none" else t, lang) for t in TECHNOLOGY_COLOURS}
    xy = hood.positions.round(3)  # spring layout in [-1, 1]: 3 decimals are finer than a pixel
    a, b = hood.ties[:, 0], hood.ties[:, 1]
    data = {
        "ties": pd.DataFrame({"x": xy[a, 0], "y": xy[a, 1], "x2": xy[b, 0], "y2": xy[b, 1]}),
        "households": pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "series": [names[t] for t in technology]}),
    }
    return _filled(_network_layout(lang, hood.households.size, year), data)


def _slider_text(shown: float, step: float) -> str:
    """A slider's value as its label shows it, to the slider's step."""
    return f"{shown:,.0f}" if float(step).is_integer() else f"{shown:,.{len(str(step).split('.')[1])}f}"


@solara.component
def MeasureInputs(controls: solara.Reactive, scenario, lang: str):
    """The measures as Mesa sliders, in the units of the language, from the scenario's own values."""
    values = dashboard.settings(scenario)
    params = {}
    for m in dashboard.measures():
        value = values[m.name]
        if value is None and m.name != dashboard.PV_OBLIGATION:
            continue
        divisor, step = DISPLAY[m.name][lang]
        shown = value if value is not None else m.high
        params[m.name] = Slider(
            f"{text(m.name, lang)}: {_slider_text(shown / divisor, step)}",
            value=shown / divisor,
            min=m.low / divisor,
            max=m.high / divisor,
            step=step,
            dtype=int if m.integer else float,
        )

    def on_change(name: str, shown: float) -> None:
        divisor, _ = DISPLAY[name][lang]
        controls.set(controls.value.with_value(name, shown * divisor))

    obligation = values[dashboard.PV_OBLIGATION] is not None

    def on_obligation(on: bool) -> None:
        m = dashboard.measure(dashboard.PV_OBLIGATION)
        controls.set(controls.value.with_value(m.name, float(dashboard.PV_OBLIGATION_FIRST_SHOWN) if on else None))

    solara.Checkbox(label=text("dash_obligation_on", lang), value=obligation, on_value=on_obligation)
    if not obligation:
        params.pop(dashboard.PV_OBLIGATION)
    UserInputs(params, on_change=on_change)
    missing = [m for m in dashboard.measures() if values[m.name] is None and m.name != dashboard.PV_OBLIGATION]
    for m in missing:
        solara.Text(f"{text(m.name, lang)} {text('dash_not_in_scenario', lang)}", style={"color": "#888"})


def warm_up(controls: dashboard.Controls) -> None:
    """What the first page needs, computed before the server takes requests: the run,
    the neighbourhood's layout and the page's font."""
    dashboard.neighbourhood(dashboard.run(controls))
    _font_css()


@solara.component
def Page():
    lang = solara.use_reactive(LANGUAGES[0])
    controls = solara.use_reactive(dashboard.initial_controls())
    year = solara.use_reactive(LAST_FISCAL_YEAR)
    pinned = solara.use_reactive(None)
    error = solara.use_reactive("")

    def compute():
        try:
            return dashboard.run(controls.value), ""
        except ScenarioError as err:
            return None, str(err)

    run, problem = solara.use_memo(compute, [controls.value])
    last_good = solara.use_reactive(None)
    if run is not None and last_good.value is not run:
        last_good.set(run)
    run = run or last_good.value
    error.value = problem
    language = lang.value
    solara.Style(_font_css())
    solara.Title(text("dash_title", language))
    with solara.AppBar():
        solara.AppBarTitle(text("dash_title", language))
    with solara.Sidebar():
        names = {LANGUAGE_NAMES[code]: code for code in LANGUAGES}
        solara.ToggleButtonsSingle(
            value=LANGUAGE_NAMES[language], values=list(names), on_value=lambda name: lang.set(names[name])
        )
        with solara.Card(text("dash_scenario", language)):
            files = {dashboard.scenario_label(p, language): p for p in dashboard.scenario_files()}
            chosen = Path(controls.value.scenario).resolve()
            if chosen not in {p.resolve() for p in files.values()}:  # a file of the facilitator's own
                files[dashboard.scenario_label(chosen, language)] = chosen
            current = next(k for k, p in files.items() if p.resolve() == chosen)

            def pick(label: str) -> None:
                controls.set(dashboard.Controls(files[label], {}, controls.value.seed, controls.value.scale))

            solara.Select(text("dash_scenario", language), values=list(files), value=current, on_value=pick)
        if run is not None:
            with solara.Card(text("dash_measures", language)):
                MeasureInputs(controls, run.scenario, language)
        with solara.Card(text("dash_run_settings", language)):
            solara.InputInt(
                text("dash_seed", language),
                value=controls.value.seed,
                on_value=lambda s: controls.set(controls.value.with_seed(s)),
                continuous_update=False,
            )
            scales = {
                text("dash_scale_full", language): dashboard.FULL_CITY,
                text("dash_scale_workshop", language): dashboard.WORKSHOP_SCALE,
            }
            if controls.value.scale not in scales.values():  # abm dashboard --scale F
                scales[f"{controls.value.scale:g}"] = controls.value.scale
            solara.ToggleButtonsSingle(
                value=next(k for k, v in scales.items() if v == controls.value.scale),
                values=list(scales),
                on_value=lambda k: controls.set(controls.value.with_scale(scales[k])),
            )
            with solara.Row():
                solara.Button(text("dash_reset", language), on_click=lambda: year.set(FIRST_FISCAL_YEAR))
                solara.Button(
                    text("dash_step", language),
                    on_click=lambda: year.set(min(year.value + 1, LAST_FISCAL_YEAR)),
                    disabled=year.value >= LAST_FISCAL_YEAR,
                )
                solara.Button(text("dash_run", language), color="primary", on_click=lambda: year.set(LAST_FISCAL_YEAR))
            solara.HTML(
                tag="div", unsafe_innerHTML=text("dash_showing", language, year=year.value), style={"margin": "0.5em 0"}
            )
            if pinned.value is None:
                solara.Button(text("dash_pin", language), on_click=lambda: pinned.set(run), disabled=run is None)
            else:
                solara.Button(text("dash_unpin", language), on_click=lambda: pinned.set(None))
    if error.value:
        solara.Error(f"{text('dash_error', language)}: {error.value}")
    if run is None:
        return
    Headlines(run, pinned.value, year.value, language)
    if pinned.value is not None:
        solara.Text(text("dash_pinned_note", language))
    shown = (run, pinned.value, year.value, language)
    Figure(adoption_chart, shown)
    with solara.Row(style={"flex-wrap": "wrap"}):
        Figure(renewables_chart, shown)
        Figure(co2_chart, shown)
    Figure(spending_chart, shown)
    Figure(network_chart, (run, year.value, language))
