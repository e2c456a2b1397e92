"""The browser and font infrastructure: pages in Debian chromium stay on this machine, their errors are
recorded, and Japanese text renders with real glyphs in Chromium and in matplotlib."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import image
from playwright.sync_api import Browser

from abm.browser import is_local, open_page, screenshot
from abm.fonts import FONT_FAMILY, fontconfig_file, japanese_font_path, use_japanese_font

matplotlib.use("Agg")

# two Japanese strings of equal length: missing glyphs ("tofu") would draw both as the same boxes
SOLAR = "再生可能エネルギー 太陽光"
CITY = "脱炭素社会の実現へ 埼玉県"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output free of the server's access log."""


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[str]:
    """An http.server on 127.0.0.1 serving ``tmp_path``; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        thread.join()


def test_font_is_bundled_and_fontconfig_adds_its_directory(tmp_path: Path) -> None:
    font = japanese_font_path()
    assert font.name == "ipaexg.ttf" and font.stat().st_size > 1_000_000
    conf = fontconfig_file(tmp_path).read_text(encoding="utf-8")
    assert '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>' in conf
    assert f"<dir>{font.parent}</dir>" in conf


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("file:///tmp/report.html", True),
        ("data:text/html,hi", True),
        ("about:blank", True),
        ("blob:null/1234", True),
        ("http://127.0.0.1:8765/app.js", True),
        ("https://localhost/x", True),
        ("https://example.com/x.js", False),
        ("http://127.0.0.1.example.com/x", False),
        ("ftp://127.0.0.1/x", False),
    ],
)
def test_is_local(url: str, local: bool) -> None:
    assert is_local(url) is local


@pytest.mark.browser
def test_external_request_is_blocked_and_errors_recorded(browser: Browser, tmp_path: Path) -> None:
    page_html = tmp_path / "page.html"
    page_html.write_text(
        f"""<!doctype html><html lang="ja"><meta charset="utf-8">
        <body><h1>{SOLAR}</h1>
        <script src="https://example.com/x.js"></script>
        <script>console.error("report failed: no data"); throw new Error("uncaught in page");</script>
        </body></html>""",
        encoding="utf-8",
    )
    with open_page(browser, page_html.as_uri()) as opened:
        assert opened.page.locator("h1").inner_text() == SOLAR
        assert opened.blocked_requests == ["https://example.com/x.js"]
        assert "report failed: no data" in opened.console_errors
        assert any("uncaught in page" in message for message in opened.page_errors)


@pytest.mark.browser
def test_page_from_local_server_loads(browser: Browser, tmp_path: Path, local_server: str) -> None:
    (tmp_path / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><p id="out">waiting</p><script src="/app.js"></script>',
        encoding="utf-8",
    )
    (tmp_path / "app.js").write_text('document.getElementById("out").textContent = "loaded";', encoding="utf-8")
    with open_page(browser, f"{local_server}/index.html") as opened:
        assert opened.page.locator("#out").inner_text() == "loaded"
        assert opened.blocked_requests == []
        assert opened.page_errors == []


@pytest.mark.browser
def test_japanese_renders_with_real_glyphs(browser: Browser) -> None:
    html = '<!doctype html><meta charset="utf-8"><span id="t" style="font-size: 40px; display: inline-block"></span>'
    with open_page(browser, "data:text/html;charset=utf-8," + html) as opened:
        shots = []
        for text in (SOLAR, CITY):
            opened.page.eval_on_selector("#t", "(element, text) => { element.textContent = text; }", text)
            shots.append(image.imread(BytesIO(opened.page.locator("#t").screenshot())))
        # which fonts Chromium drew the element's glyphs with
        cdp = opened.context.new_cdp_session(opened.page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#t"})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    solar, city = shots
    assert solar.shape == city.shape, "equal-length strings in the same font should give the same box"
    assert not np.array_equal(solar, city), "different Japanese strings rendered alike: tofu, no Japanese font"
    assert solar.min() < 0.5, "the text should draw dark pixels"
    # the last string drawn, CITY: its 12 Japanese characters (all but the space) from the bundled font
    assert {font["familyName"]: font["glyphCount"] for font in fonts}.get(FONT_FAMILY) == 12


@pytest.mark.browser
def test_screenshot_of_one_element(browser: Browser, tmp_path: Path) -> None:
    page_html = tmp_path / "page.html"
    page_html.write_text(
        f'<!doctype html><meta charset="utf-8"><body><div id="title" style="width: 300px; height: 50px">{SOLAR}</div>',
        encoding="utf-8",
    )
    out_png = tmp_path / "shots" / "title.png"
    opened = screenshot(page_html, out_png, width=640, height=480, selector="#title", browser=browser)
    assert opened.blocked_requests == []
    assert image.imread(out_png).shape[:2] == (50, 300)


@pytest.mark.browser
def test_screenshot_command_reports_blocked_requests(tmp_path: Path) -> None:
    page_html = tmp_path / "page.html"
    page_html.write_text(
        f'<meta charset="utf-8"><h1>{SOLAR}</h1><img src="https://example.com/logo.png">', encoding="utf-8"
    )
    out_png = tmp_path / "page.png"
    command = [sys.executable, "-m", "abm.browser", str(page_html), str(out_png), "--width", "400", "--height", "200"]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    assert "blocked request: https://example.com/logo.png" in done.stderr
    assert image.imread(out_png).shape[:2] == (200, 400)


def _missing_glyph_warnings() -> list[str]:
    """The missing-glyph warnings of drawing a figure with Japanese labels in the current rcParams."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_title(f"{SOLAR} (MW)")
        ax.set_xlabel("年度 fiscal year")
        ax.plot([2020, 2050], [-1.0, 60.0])
        fig.savefig(BytesIO(), format="png")
        plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_matplotlib_renders_japanese_without_missing_glyphs() -> None:
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        assert _missing_glyph_warnings(), "a Latin font alone should miss the Japanese glyphs"
        use_japanese_font()
        assert _missing_glyph_warnings() == []
