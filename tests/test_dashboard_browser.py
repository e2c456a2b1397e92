"""The workshop dashboard end to end: ``abm dashboard`` served on the loopback, opened in
headless Debian chromium with every other address unreachable (abm/browser.py).

Every chart is drawn with its marks (the network picture with a dot per household), and
moving the PV grant slider changes the FY2050 renewable figure and draws the charts again; the page switches to
English and back to Japanese; a typed seed leaves the page working; a pinned run is
compared with the next. No request leaves 127.0.0.1, and nothing of the server is left
running afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from abm.browser import chart_count, chart_pixels, charts_redrawn, mark_charts, open_page, unexpected_page_errors
from abm.dashboard_server import running
from abm.labels import text

pytestmark = [pytest.mark.browser, pytest.mark.slow]
RENEWABLE = ".headline-value >> nth=0"
CHARTS = 5


def _slider_thumb(page, label: str):
    return page.locator(".v-input", has_text=label).locator(".v-slider__thumb-container")


def _wait_for_change(page, selector: str, before: str, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = page.inner_text(selector)
        if now != before:
            return now
        time.sleep(0.05)
    raise AssertionError(f"{selector} stayed {before!r}")


@pytest.fixture(scope="module")
def dashboard_page(browser):
    with running(scale=0.05) as url, open_page(browser, url, width_px=1500, height_px=1400) as opened:
        opened.page.wait_for_selector(f"text={text('dash_headline_renewable', 'ja', year=2050)}", timeout=90_000)
        yield opened


def _wait_until(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{condition} never held"
        time.sleep(0.05)


def test_every_chart_is_drawn(dashboard_page):
    page = dashboard_page.page
    _wait_until(lambda: chart_count(page) == CHARTS)
    # axes and titles alone paint about 1% of a chart; lines, areas, bars and dots more
    assert all(share > 0.03 for share, _ in chart_pixels(page))


def test_slider_changes_the_2050_figure_and_the_charts(dashboard_page):
    page = dashboard_page.page
    before = page.inner_text(RENEWABLE)
    before_charts = chart_pixels(page)
    mark_charts(page)
    thumb = _slider_thumb(page, text("pv_grant_yen_per_kw", "ja"))
    thumb.focus()
    page.keyboard.press("Home")  # no household PV grant
    after = _wait_for_change(page, RENEWABLE, before)
    assert after.endswith("TJ") and after != before
    _wait_until(lambda: charts_redrawn(page))
    time.sleep(0.5)  # drawn in the next frames
    after_charts = chart_pixels(page)
    # the renewable chart shows the new run (its sources' areas moved)
    assert after_charts[1][1] != before_charts[1][1]


def test_language_switches_both_ways(dashboard_page):
    page = dashboard_page.page
    # the headline and the panel of measures are redrawn one after the other: wait for each
    page.get_by_role("button", name="English").click()
    page.wait_for_selector(f"text={text('dash_headline_renewable', 'en', year=2050)}", timeout=30_000)
    page.wait_for_selector(f"text={text('pv_grant_yen_per_kw', 'en')}", timeout=30_000)
    assert page.locator(f"text={text('pv_grant_yen_per_kw', 'en')}").count() >= 1
    page.get_by_role("button", name="日本語").click()
    page.wait_for_selector(f"text={text('dash_headline_renewable', 'ja', year=2050)}", timeout=30_000)
    page.wait_for_selector(f"text={text('dash_measures', 'ja')}", timeout=30_000)
    assert page.locator(f"text={text('dash_measures', 'ja')}").count() >= 1


def test_typed_seed_keeps_the_page_working(dashboard_page):
    page = dashboard_page.page
    before = page.inner_text(RENEWABLE)
    field = page.get_by_label(text("dash_seed", "ja"))
    field.fill("12345")
    field.press("Enter")
    after = _wait_for_change(page, RENEWABLE, before)
    assert after.endswith("TJ")
    assert unexpected_page_errors(dashboard_page) == []


def test_pinned_run_is_compared(dashboard_page):
    page = dashboard_page.page
    page.get_by_role("button", name=text("dash_pin", "ja")).click()
    page.wait_for_selector(f"text={text('dash_unpin', 'ja')}", timeout=30_000)
    before = page.inner_text(RENEWABLE)
    thumb = _slider_thumb(page, text("education_base_rate_multiplier", "ja"))
    thumb.focus()
    page.keyboard.press("End")  # the strongest campaign the analysis considers
    _wait_for_change(page, RENEWABLE, before)
    page.wait_for_selector("text=ピン留め比", timeout=30_000)
    assert page.locator(f"text={text('dash_pinned_note', 'ja')}").count() == 1


def test_nothing_left_the_machine(dashboard_page):
    assert dashboard_page.blocked_requests == []
    assert unexpected_page_errors(dashboard_page) == []


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_server_and_leaves_nothing(stop):
    port = "8791"
    process = subprocess.Popen(
        [sys.executable, "-m", "abm.cli", "dashboard", "--port", port, "--scale", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    for line in process.stdout:
        if line.startswith(f"Open http://127.0.0.1:{port}/"):
            break
    os.kill(process.pid, stop)
    # uvicorn shuts down; after SIGINT the command exits as an interrupted one does
    assert process.wait(timeout=30) in (0, 130, -stop)
    assert "Traceback" not in process.stdout.read()
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no process of its group is alive
