"""The workshop dashboard in process (abm/dashboard.py, abm/app.py).

* Every control of the page changes the scenario the model is built from: each measure's
  slider (checked on the resolved scenario's key, in the scenario's units, whatever the
  slider shows), the PV obligation's switch, the scenario picker, the seed and the scale;
  the year buttons and the language change only what is shown.
* The page runs the same run as ``abm run``: a figure on the page equals the same figure
  from the command line with the same seed.
* The measures are the sensitivity spec's, with its ranges.
"""

from __future__ import annotations

import json

import ipyvuetify as v
import pytest
import solara

from abm import app, dashboard
from abm.cli import main
from abm.labels import number, text
from abm.scenario import DESIGN_DIR, SCENARIO_DIR
from abm.sensitivity import load_spec
from abm.widgets.vega_chart import VegaChart

SCALE = 0.02


@pytest.fixture
def page(monkeypatch):
    """The page at a small scale, with every run it asks for recorded."""
    monkeypatch.setenv(dashboard.SCALE_VARIABLE, str(SCALE))
    asked: list[dashboard.Controls] = []
    real = dashboard.run

    def recording(controls):
        asked.append(controls)
        return real(controls)

    monkeypatch.setattr(dashboard, "run", recording)
    _box, rc = solara.render(_InLayout(), handle_error=False)
    return rc, asked


@solara.component
def _InLayout():
    """The page inside Solara's app layout, as the server shows it (its sidebar included)."""
    with solara.AppLayout():
        app.Page()


def _slider(rc, name: str):
    label = text(name, "ja")
    sliders = [w for w in rc.find(v.Slider).widgets if str(w.label).startswith(label)]
    assert len(sliders) == 1, f"one slider for {name}"
    return sliders[0]


def _toggle(rc, label: str):
    """The toggle buttons that offer ``label``, and the labels of its buttons in order."""
    for toggle in rc.find(v.BtnToggle).widgets:
        labels = [b.children[0] for b in toggle.children]
        if label in labels:
            return toggle, labels
    raise AssertionError(f"no toggle offers {label!r}")


def _button(rc, label: str):
    return rc.find(v.Btn, children=[label]).widget


def test_measures_are_the_sensitivity_specs_with_its_ranges():
    spec = {i.name: i for i in load_spec("strategy_sobol").inputs}
    for m in dashboard.measures():
        assert (m.key, m.low, m.high, m.integer) == (
            spec[m.name].key,
            spec[m.name].low,
            spec[m.name].high,
            spec[m.name].integer,
        )
    assert {m.name for m in dashboard.measures()} == set(app.DISPLAY)


@pytest.mark.parametrize("name", [m.name for m in dashboard.measures() if m.name != dashboard.PV_OBLIGATION])
def test_each_slider_sets_its_key_in_the_scenario(page, name):
    rc, asked = page
    m = dashboard.measure(name)
    divisor, _ = app.DISPLAY[name]["ja"]
    target = m.low + 0.75 * (m.high - m.low)  # in the scenario's units
    _slider(rc, name).v_model = target / divisor  # the slider shows the language's units
    scenario = dashboard.resolve(asked[-1])
    assert scenario[m.key] == pytest.approx(target)
    # and nothing else moved
    others = {n: x for n, x in dashboard.settings(scenario).items() if n != name}
    assert others == {n: x for n, x in dashboard.settings(dashboard.resolve(asked[0])).items() if n != name}


def test_pv_obligation_switch_and_year(page):
    rc, asked = page
    key = dashboard.measure(dashboard.PV_OBLIGATION).key
    assert dashboard.resolve(asked[-1]).get(key) is None  # the strategy sets none
    rc.find(v.Checkbox, label=text("dash_obligation_on", "ja")).widget.v_model = True
    assert dashboard.resolve(asked[-1])[key] == 2030  # on: from the example design's year
    _slider(rc, dashboard.PV_OBLIGATION).v_model = 2031
    assert dashboard.resolve(asked[-1])[key] == 2031
    rc.find(v.Checkbox, label=text("dash_obligation_on", "ja")).widget.v_model = False
    assert dashboard.resolve(asked[-1]).get(key) is None


def test_scenario_picker_seed_and_scale(page):
    rc, asked = page
    picker = rc.find(v.Select, label=text("dash_scenario", "ja")).widget
    design = DESIGN_DIR / "pv-budget-doubled.toml"
    picker.v_model = dashboard.scenario_label(design, "ja")
    assert asked[-1].scenario == design
    assert dashboard.resolve(asked[-1])["subsidies.city_pv_strategy.annual_budget_yen"] == 200_000_000
    seed = rc.find(v.TextField, label=text("dash_seed", "ja")).widget
    seed.v_model = "7"
    seed.fire_event("focusout", None)  # the field takes a seed when it is left (or on Enter)
    assert asked[-1].seed == 7 and asked[-1].scenario == design
    toggle, labels = _toggle(rc, text("dash_scale_workshop", "ja"))
    toggle.v_model = labels.index(text("dash_scale_workshop", "ja"))
    assert asked[-1].scale == dashboard.WORKSHOP_SCALE


def test_year_buttons_and_language_change_only_what_is_shown(page):
    rc, asked = page
    runs = len(asked)
    _button(rc, text("dash_reset", "ja")).click()
    assert _shown(rc, text("dash_showing", "ja", year=2014))
    _button(rc, text("dash_step", "ja")).click()
    assert _shown(rc, text("dash_showing", "ja", year=2015))
    _button(rc, text("dash_run", "ja")).click()
    assert _shown(rc, text("dash_showing", "ja", year=2050))
    toggle, labels = _toggle(rc, "English")
    toggle.v_model = labels.index("English")
    assert any(str(w.label).startswith(text("pv_grant_yen_per_kw", "en")) for w in rc.find(v.Slider).widgets)
    assert _shown(rc, text("dash_showing", "en", year=2050))
    assert set(asked[runs:]) <= {asked[runs - 1]}  # the same run, not another


def test_a_figure_on_the_page_equals_abm_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "strategy", "--seed", "31", "--scale", str(SCALE), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    run = dashboard.run(dashboard.Controls(SCENARIO_DIR / "strategy.toml", {}, 31, SCALE))
    shown = dashboard.headline(run.result)
    assert shown["renewable_energy_tj"] == summary["indicators"]["renewable_energy_tj_2050"]["mean"]
    assert shown["co2_kt"] == summary["indicators"]["co2_kt_2050"]["mean"]
    assert number(shown["renewable_energy_tj"], "tj", "ja") in _page_text(run)


def _shown(rc, label: str) -> bool:
    """Whether some widget of the page shows ``label``."""
    return any(
        label in str(getattr(w, "children", "")) or label in str(getattr(w, "value", "")) for w in rc.find().widgets
    )


def _page_text(run) -> str:
    _box, rc = solara.render(app.Headlines(run, None, 2050, "ja"), handle_error=False)
    return " ".join(f"{getattr(w, 'children', '')} {getattr(w, 'value', '')}" for w in rc.find().widgets)


def _charts(rc) -> list[dict]:
    """The Vega-Lite specs the page's chart widgets hold (as the browser receives them: a layout
    and its data sets)."""
    return [{**w.chart_layout, "datasets": w.chart_data} for w in rc.find(VegaChart).widgets]


def _renewable_tj(spec: dict, name: str, year: int) -> float:
    return sum(row["value"] for row in spec["datasets"][name] if row["year"] == year)


def test_charts_carry_the_shown_run_and_follow_it(page):
    rc, asked = page
    charts = _charts(rc)
    assert len(charts) == 5 and all("datasets" in c for c in charts)
    # every data set a chart's layout names is filled in, and none is left over
    for spec in charts:
        named = {m["name"] for m in _data_refs(spec)}
        assert named == set(spec["datasets"])
    renewables = next(c for c in charts if "sources" in c["datasets"])
    first = dashboard.run(asked[-1]).result.table["renewable_energy_tj"][-1]
    assert _renewable_tj(renewables, "sources", 2050) == pytest.approx(first, rel=1e-12)
    _slider(rc, "pv_grant_yen_per_kw").v_model = 0  # another run, and the charts follow it
    renewables = next(c for c in _charts(rc) if "sources" in c["datasets"])
    second = dashboard.run(asked[-1]).result.table["renewable_energy_tj"][-1]
    assert second != first
    assert _renewable_tj(renewables, "sources", 2050) == pytest.approx(second, rel=1e-12)
    _button(rc, text("dash_pin", "ja")).click()
    _slider(rc, "pv_grant_yen_per_kw").v_model = 40_000
    renewables = next(c for c in _charts(rc) if "sources" in c["datasets"])
    assert _renewable_tj(renewables, "pinned", 2050) == pytest.approx(second, rel=1e-12)
    assert _renewable_tj(renewables, "sources", 2050) != pytest.approx(second, rel=1e-12)


def _data_refs(spec) -> list[dict]:
    """Every ``{"name": ...}`` data reference in a Vega-Lite spec."""
    found = []
    if isinstance(spec, dict):
        data = spec.get("data")
        if isinstance(data, dict) and "name" in data:
            found.append(data)
        for key, value in spec.items():
            if key != "datasets":
                found += _data_refs(value)
    elif isinstance(spec, list):
        for value in spec:
            found += _data_refs(value)
    return found
