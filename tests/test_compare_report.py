"""The comparison report in a real browser (abm/compare_report.py, abm/labels.py).

The report of a small comparison, in Japanese and in English, opened in headless
Debian chromium: it loads with no request leaving the file and no error, every figure
is drawn and every design has its column in the summary and its paragraph; the
Japanese page shows none of the English labels and the English page no Japanese.
Number formats are checked against hand-written expectations.
"""

from __future__ import annotations

import re

import pytest

from abm.compare import Comparison, Design, run_comparison
from abm.compare_report import SUMMARY_ROWS, _grant_label, render
from abm.labels import TEXT, band_text, number
from abm.scenario import DESIGN_DIR, SCENARIO_DIR, load_scenario

pytestmark = pytest.mark.browser

DESIGNS = ("pv-budget-doubled", "no-city-grants")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    base = load_scenario(SCENARIO_DIR / "strategy.toml")
    c = Comparison(
        baseline=Design(base.name, base),
        designs=tuple(Design(n, load_scenario(DESIGN_DIR / f"{n}.toml")) for n in DESIGNS),
        seeds=(3, 4),
        behaviours=(None, None),
        scale=0.02,
    )
    return run_comparison(c, tmp_path_factory.mktemp("comparison"))


@pytest.fixture(scope="module", params=("ja", "en"))
def page(request, analysis, browser, tmp_path_factory):
    from abm.browser import open_page

    lang = request.param
    path = tmp_path_factory.mktemp(lang) / "report.html"
    descriptions = {n: load_scenario(DESIGN_DIR / f"{n}.toml")["scenario.description"] for n in DESIGNS}
    if lang == "ja":
        descriptions = {n: load_scenario(DESIGN_DIR / f"{n}.toml")["scenario.description_ja"] for n in DESIGNS}
    path.write_text(render(analysis, lang, descriptions), encoding="utf-8")
    with open_page(browser, path.as_uri(), height_px=1000) as opened:
        yield lang, opened


def test_loads_alone_without_errors(page):
    _, opened = page
    assert opened.blocked_requests == []
    assert opened.console_errors == [] and opened.page_errors == []


def test_every_figure_is_drawn_and_every_design_shown(page):
    _, opened = page
    images = opened.page.eval_on_selector_all(
        "img", "els => els.map(e => [e.complete, e.naturalWidth, e.getBoundingClientRect().height])"
    )
    assert len(images) >= 4
    assert all(complete and width > 500 and height > 100 for complete, width, height in images)
    header = opened.page.inner_text("#summary table tr:first-child")
    assert all(name in header for name in ("strategy", *DESIGNS))
    rows = opened.page.eval_on_selector_all("#summary table tr", "rows => rows.length")
    assert rows == len(SUMMARY_ROWS) + 1
    paragraphs = opened.page.inner_text("#reading")
    assert all(name in paragraphs for name in DESIGNS)


def _fragments(label: str) -> list[str]:
    """The fixed parts of a label's text, placeholders left out."""
    return [part.strip(" .,()") for part in re.split(r"\{[^}]*\}", label) if len(part.strip(" .,()")) > 3]


def test_each_language_is_its_own(page):
    lang, opened = page
    shown = opened.page.inner_text("body") + " ".join(
        opened.page.eval_on_selector_all("img", "els => els.map(e => e.alt)")
    )
    if lang == "ja":
        english = {f for entry in TEXT.values() if entry["en"] != entry["ja"] for f in _fragments(entry["en"])}
        untranslated = sorted(f for f in english if f in shown)
        assert untranslated == []
        assert "万kW" in shown and "億円" in shown
    else:
        assert not JAPANESE.search(shown)
        assert " MW" in shown and "million yen" in shown


@pytest.mark.parametrize(
    ("value", "unit", "lang", "signed", "expected"),
    [
        (123_456.0, "kw", "ja", False, "12.3万kW"),
        (8_500.0, "kw", "ja", False, "8,500 kW"),
        (123_456.0, "kw", "en", True, "+123 MW"),
        (1.234e9, "yen", "ja", False, "12.3億円"),
        (-5.6e7, "yen", "ja", False, "-5,600万円"),
        (1.234e9, "yen", "en", False, "1.23 billion yen"),
        (0.62, "share", "ja", False, "62%"),
        (0.05, "share", "en", False, "5.0%"),
        (613.2, "kt", "ja", False, "613千t-CO₂"),
        (-12_345.0, "t", "en", False, "-12.3 kt CO₂"),
        (0.0, "kw", "en", True, "0 kW"),
        (None, "kw", "ja", False, "—"),
    ],
)
def test_numbers_read_as_the_language_writes_them(value, unit, lang, signed, expected):
    assert number(value, unit, lang, signed) == expected


def test_a_band_keeps_the_means_scale():
    b = {"mean": 36_989.0, "p5": 36_400.0, "p95": 37_600.0}
    assert band_text(b, "tj", "ja") == "36,989 TJ（36,400～37,600）"
    assert band_text({"mean": 12_000.0, "p5": -300.0, "p95": 25_000.0}, "kw", "en", True) == "+12.0 MW (-0.3 to +25.0)"


@pytest.mark.parametrize(
    ("grant", "lang", "label"),
    [
        ("households.pv", "ja", "世帯の太陽光（自己所有）"),
        ("farmers.solar_sharing", "ja", "農家のソーラーシェアリング"),
        ("households.pv", "en", "households' PV (owned)"),
        ("farmers.solar_sharing", "en", "farmers' solar sharing"),
    ],
)
def test_a_changed_grant_is_named_as_a_reader_says_it(grant, lang, label):
    assert _grant_label(grant, lang) == label
