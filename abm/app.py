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


def _x(lang: str) -> alt.X:
    return alt.X(
        "year:Q",
        title=text("fiscal_year", lang),
        scale=alt.Scale(domain=[FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR]),
        axis=alt.Axis(format="d"),
    )


def _lines(data: pd.DataFrame, title: str, lang: str, y_title: str = "", colours: dict[str, str] | None = None):
    colour = alt.Color("series:N", title=None, legend=alt.Legend(orient="top-left", labelLimit=260))
    if colours:
        colour = alt.Color(
            "series:N",
            title=None,
            scale=alt.Scale(domain=list(colours), range=list(colours.values())),
            legend=alt.Legend(orient="top-left", labelLimit=260),
        )
    return (
        alt.Chart(data, title=title)
        .mark_line()
        .encode(_x(lang), alt.Y("value:Q", title=y_title), colour)
        .properties(width=CHART_WIDTH, height=CHART_HEIGHT)
    )


def _pinned(pinned: dashboard.DashboardRun | None, columns: dict[str, str], year: int, lang: str, scale: float = 1.0):
    """The pinned run's lines, dotted and grey, to lay over a chart (None without one)."""
    if pinned is None:
        return None
    data = _frame(pinned, columns, year, scale)
    return alt.Chart(data).mark_line(strokeDash=[3, 3], color="grey").encode(_x(lang), y="value:Q", detail="series:N")


def _layered(*charts):
    return alt.layer(*(c for c in charts if c is not None))


def _show(chart) -> None:
    """A chart on the page. Its Vega-Lite spec is made without Altair's schema check, which
    took a third of a page's update, as solara.FigureAltair would make it otherwise."""
    spec = chart.configure(font=FONT_STACK).configure_title(fontSize=13, anchor="start").to_dict(validate=False)
    solara.widgets.VegaLite.element(spec=spec, listen_to_click=False, listen_to_hover=False)


@solara.component
def AdoptionFigure(run, pinned, year: int, lang: str):
    added = {"residential_pv_added_kw": text("dash_simulated", lang)}
    simulated = _frame(run, added, year)
    simulated["value"] += _frame(run, {"household_ppa_added_kw": ""}, year)["value"]
    observed = pd.DataFrame(
        [
            {"year": y, "value": v, "series": text("dash_observed", lang)}
            for y, v in dashboard.observed_residential_pv_added_kw().items()
        ]
    )
    chart_added = _layered(
        _lines(simulated, text("dash_fig_added", lang), lang, "kW"),
        alt.Chart(observed).mark_point(filled=True, size=40).encode(_x(lang), y="value:Q", color="series:N"),
        _pinned(pinned, {"residential_pv_added_kw": ""}, year, lang),
    )
    stock_columns = {
        "residential_pv_kw": text("residential_pv_kw_2050", lang),
        "household_ppa_kw": text("household_ppa_kw_2050", lang),
        "business_pv_kw": text("business_pv_kw_2050", lang),
        "solar_sharing_kw": text("solar_sharing_kw_2050", lang),
    }
    kw = axis_scale("kw", lang)
    chart_stock = _layered(
        _lines(_frame(run, stock_columns, year, kw), text("dash_fig_stock", lang), lang),
        _pinned(pinned, stock_columns, year, lang, kw),
    )
    count_columns = {"zeh_houses": text("zeh_houses_2050", lang), "evs": text("evs_2050", lang)}
    chart_counts = _layered(
        _lines(_frame(run, count_columns, year, 1e-3), text("dash_fig_zeh_ev", lang), lang),
        _pinned(pinned, count_columns, year, lang, 1e-3),
    )
    row = [c.properties(width=ROW_CHART_WIDTH) for c in (chart_added, chart_stock, chart_counts)]
    _show(alt.hconcat(*row).resolve_scale(color="independent"))


@solara.component
def RenewablesFigure(run, pinned, year: int, lang: str):
    sources = ("agent_pv_generation_tj", *EXOGENOUS_SOURCES)
    data = _frame(run, {s: text(s, lang) for s in sources}, year)
    target = run.result.table["renewable_target_tj"][-1]
    area = (
        alt.Chart(data, title=text("dash_fig_renewable", lang))
        .mark_area(opacity=0.85)
        .encode(
            _x(lang),
            alt.Y("value:Q", stack=True, title="TJ", scale=alt.Scale(domain=[0, target * 1.1])),
            alt.Color("series:N", title=None, sort=[text(s, lang) for s in sources], legend=alt.Legend(orient="left")),
            order=alt.Order("order:Q"),
        )
        .transform_calculate(order=f"indexof({[text(s, lang) for s in sources]!r}, datum.series)")
        .properties(width=CHART_WIDTH, height=CHART_HEIGHT + 40)
    )
    rule = (
        alt.Chart(pd.DataFrame({"target": [target]})).mark_rule(color="#b03030", strokeDash=[6, 4]).encode(y="target:Q")
    )
    _show(_layered(area, rule, _pinned(pinned, {"renewable_energy_tj": ""}, year, lang)))


@solara.component
def CO2Figure(run, pinned, year: int, lang: str):
    data = _frame(run, {"co2_kt": text("dash_simulated", lang)}, year)
    fy2013, fy2017 = run.scenario["emissions.fy2013_kt"], run.scenario["emissions.fy2017_kt"]
    marks = pd.DataFrame(
        [
            {"year": 2013, "value": fy2013, "series": text("dash_estimated_2013", lang)},
            {"year": 2017, "value": fy2017, "series": text("dash_observed_ghg", lang)},
        ]
    )
    path = pd.DataFrame([{"year": 2017, "value": fy2017}, {"year": 2050, "value": 0.0}])
    x = alt.X(
        "year:Q",
        title=text("fiscal_year", lang),
        scale=alt.Scale(domain=[2012, LAST_FISCAL_YEAR]),
        axis=alt.Axis(format="d"),
    )
    chart = _layered(
        alt.Chart(data, title=text("dash_fig_co2", lang))
        .mark_line(color="#333", strokeWidth=2.5)
        .encode(x, alt.Y("value:Q", title=text("kt_unit", lang)))
        .properties(width=CHART_WIDTH, height=CHART_HEIGHT + 40),
        alt.Chart(marks)
        .mark_point(filled=True, size=60)
        .encode(x, alt.Y("value:Q"), alt.Color("series:N", title=None)),
        alt.Chart(path).mark_line(color="#b03030", strokeDash=[6, 4]).encode(x, y="value:Q"),
        None
        if pinned is None
        else alt.Chart(_frame(pinned, {"co2_kt": ""}, year))
        .mark_line(strokeDash=[3, 3], color="grey")
        .encode(x, y="value:Q"),
    )
    _show(chart)


@solara.component
def SpendingFigure(run, pinned, year: int, lang: str):
    yen = axis_scale("yen", lang)
    rows = [
        {"year": r["fiscal_year"], "series": text(r["level"], lang), "value": r["granted_yen"] * yen}
        for r in run.result.programme_spending
        if r["fiscal_year"] <= year
    ]
    data = pd.DataFrame(rows).groupby(["year", "series"], as_index=False)["value"].sum() if rows else pd.DataFrame(rows)
    spending = (
        alt.Chart(data, title=text("dash_fig_spending", lang))
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
    days = pd.DataFrame(
        [
            {"year": fy, "series": programme, "value": (dt.date.fromisoformat(d) - dt.date(fy, 4, 1)).days}
            for programme, dates in sorted(run.result.budget_exhausted.items())
            for fy, d in dates.items()
            if fy <= year
        ]
    )
    months = text("quarter_months", lang).split()
    tick_labels = " : ".join(f"datum.value == {d} ? '{m}'" for d, m in zip((0, 91, 183, 275), months, strict=True))
    runout = (
        alt.Chart(
            days if not days.empty else pd.DataFrame({"year": [], "series": [], "value": []}),
            title=text("dash_fig_runout", lang),
        )
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
    _show(alt.hconcat(spending, runout).resolve_scale(color="independent"))


@solara.component
def NetworkFigure(run, year: int, lang: str):
    hood = dashboard.neighbourhood(run)
    has = dashboard.adopted_by(run, hood.households, year)
    technology = np.full(hood.households.size, "none", dtype=object)
    for t in ("ev", "pv", "ppa", "zeh"):  # later ones win: a ZEH is also PV
        technology[has[t]] = t
    names = {t: text("dash_none" if t == "none" else t, lang) for t in TECHNOLOGY_COLOURS}
    xy = hood.positions
    nodes = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "series": [names[t] for t in technology]})
    a, b = hood.ties[:, 0], hood.ties[:, 1]
    ties = pd.DataFrame({"x": xy[a, 0], "y": xy[a, 1], "x2": xy[b, 0], "y2": xy[b, 1]})
    bare = alt.Axis(grid=False, labels=False, ticks=False, domain=False, title=None)
    chart = (
        alt.layer(
            alt.Chart(ties)
            .mark_rule(color="#d5dae0", strokeWidth=0.6)
            .encode(alt.X("x:Q", axis=bare), alt.Y("y:Q", axis=bare), x2="x2", y2="y2"),
            alt.Chart(nodes)
            .mark_circle(size=42, opacity=1, stroke="white", strokeWidth=0.5)
            .encode(
                alt.X("x:Q", axis=bare),
                alt.Y("y:Q", axis=bare),
                alt.Color(
                    "series:N",
                    title=None,
                    scale=alt.Scale(domain=list(names.values()), range=list(TECHNOLOGY_COLOURS.values())),
                    legend=alt.Legend(orient="bottom", columns=5),
                ),
            ),
            title=text("dash_fig_network", lang, n=hood.households.size, year=year),
        )
        .properties(width=CHART_WIDTH + 120, height=CHART_HEIGHT + 120)
        .configure_view(strokeWidth=0)
    )
    _show(chart)


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
        controls.set(controls.value.with_value(m.name, float(m.high) if on else None))

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
    AdoptionFigure(run, pinned.value, year.value, language)
    with solara.Row(style={"flex-wrap": "wrap"}):
        RenewablesFigure(run, pinned.value, year.value, language)
        CO2Figure(run, pinned.value, year.value, language)
    SpendingFigure(run, pinned.value, year.value, language)
    NetworkFigure(run, year.value, language)
