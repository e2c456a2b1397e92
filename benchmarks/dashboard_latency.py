"""How long the workshop dashboard takes to answer a slider, measured in a real browser.

Starts ``abm dashboard`` at the full city and at 1/20 (abm.dashboard_server.running), opens
it in headless Debian chromium, and moves measures' sliders one step at a time with the
keyboard, timing each from the key press to the moment the FY2050 renewable figure on the
page shows the new run (a change that moves no figure is not counted), and to the moment
every chart has been drawn again (each chart's canvas replaced). Prints the medians and the
ranges per scale; with ``--screenshot PATH`` also saves the page (Japanese, full city) for
the README.

    python benchmarks/dashboard_latency.py [--changes 8] [--screenshot docs/images/dashboard.png]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from abm.browser import charts_redrawn, launch, mark_charts, open_page
from abm.dashboard_server import running
from abm.labels import text

RENEWABLE = ".headline-value >> nth=0"
# sliders moved in turn, one keyboard step each way
SLIDERS = ("pv_grant_yen_per_kw", "education_base_rate_multiplier", "ev_grant_yen", "pv_grant_budget_yen")


def _wait(condition, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def measure(scale: float, changes: int, screenshot: Path | None = None) -> tuple[list[float], list[float]]:
    """Seconds from each slider change to new numbers, and to every chart drawn again."""
    numbers, charts = [], []
    with (
        running(scale=scale) as url,
        launch() as browser,
        open_page(browser, url, width_px=1500, height_px=1500) as opened,
    ):
        page = opened.page
        page.wait_for_selector(f"text={text('dash_headline_renewable', 'ja', year=2050)}", timeout=90_000)
        if screenshot is not None:
            time.sleep(1.0)  # the charts draw after the numbers
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        attempt = 0
        while len(numbers) < changes and attempt < 4 * changes:
            name = SLIDERS[attempt % len(SLIDERS)]
            key = "ArrowRight" if (attempt // len(SLIDERS)) % 2 == 0 else "ArrowLeft"
            attempt += 1
            thumb = page.locator(".v-input", has_text=text(name, "ja")).locator(".v-slider__thumb-container")
            thumb.focus()
            before = page.inner_text(RENEWABLE)
            mark_charts(page)
            started = time.perf_counter()
            page.keyboard.press(key)
            if not _wait(lambda shown=before: page.inner_text(RENEWABLE) != shown):
                continue
            numbers.append(time.perf_counter() - started)
            if not _wait(lambda: charts_redrawn(page)):
                raise RuntimeError("the charts were not drawn again within 30 s of a change")
            charts.append(time.perf_counter() - started)
            time.sleep(0.3)  # the next change after this one is drawn, as a person would
        if opened.blocked_requests:
            raise RuntimeError(f"the page asked for addresses off this machine: {opened.blocked_requests}")
    return numbers, charts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=8, help="slider changes timed per scale")
    parser.add_argument("--screenshot", type=Path, help="save the full-city page (Japanese) here")
    args = parser.parse_args()
    for scale, label in ((1.0, "full city"), (0.05, "1/20")):
        numbers, charts = measure(scale, args.changes, args.screenshot if scale == 1.0 else None)
        print(
            f"{label}: slider change to new numbers {statistics.median(numbers):.2f} s median "
            f"[{min(numbers):.2f}-{max(numbers):.2f}], to every chart redrawn {statistics.median(charts):.2f} s "
            f"[{min(charts):.2f}-{max(charts):.2f}], over {len(numbers)} changes"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
