"""The project's pages in a real browser: headless Debian chromium driven by Playwright.

Tests of the HTML report and the dashboard, and the README's screenshots, look at pages the way a
person would: in Chromium. Playwright's wheel carries its own driver but not a browser, and this
machine cannot download one (``playwright install`` fails), so :func:`launch` starts Debian's
``chromium`` package instead (``make test`` installs it when missing). The browser finds the bundled
Japanese font through a fontconfig file of :mod:`abm.fonts`, so Japanese text renders on a machine
with no Japanese system font.

:func:`open_page` keeps a page to this machine: every request that leaves it (anything but
``file:``, ``data:``, ``blob:``, ``about:`` and http(s) to an allowed host) is aborted and recorded,
so a test can assert that a page needs no network; console errors and uncaught exceptions are
recorded too. WebSockets are not routed (Playwright routes them apart), so a page's own socket to
its local server works as is.

Screenshot of a page (a URL or an HTML file's path), e.g. for the README::

    python -m abm.browser URL OUT.png [--width W] [--height H] [--full-page] [--selector CSS]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, Route, sync_playwright

from abm.fonts import fontconfig_file

# Headless without a GPU or a sandbox (CI runs as root), and none of the browser's own traffic
# (updates, sync, field trials) that would reach for the network this machine does not have.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})
LOCAL_HOSTS = ("127.0.0.1", "localhost")


@contextmanager
def launch() -> Iterator[Browser]:
    """A headless Debian chromium under Playwright, closed on leaving the block.

    Playwright's sync API runs one instance per thread: inside this block, pass ``browser`` on to
    :func:`screenshot` rather than launching another.
    """
    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("Debian package chromium is needed: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="abm-browser-") as directory, sync_playwright() as playwright:
        env = {**os.environ, "FONTCONFIG_FILE": str(fontconfig_file(directory))}
        browser = playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS), env=env, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class OpenedPage:
    """A page opened by :func:`open_page`, with what it tried and what went wrong on it.

    Closing it (or leaving a ``with`` block on it) closes its browser context.
    """

    page: Page
    context: BrowserContext
    blocked_requests: list[str] = field(default_factory=list)
    # console messages of type "error", including Chromium's own "Failed to load resource" lines
    console_errors: list[str] = field(default_factory=list)
    # uncaught exceptions in the page's scripts
    page_errors: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.context.close()

    def __enter__(self) -> OpenedPage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# Page errors that are not the page's: Solara's VegaLite widget (solara 1.64.1) can compile
# a chart before its spec has arrived from the kernel; Vega-Lite then throws on the missing
# spec once, and the chart is drawn when the spec comes (seen now and then in CI).
KNOWN_PAGE_ERRORS = ("Cannot read properties of undefined (reading 'usermeta')",)


def unexpected_page_errors(opened: OpenedPage) -> list[str]:
    """The page's uncaught errors but the known ones of :data:`KNOWN_PAGE_ERRORS`."""
    return [e for e in opened.page_errors if e not in KNOWN_PAGE_ERRORS]


# Vega draws each chart of a page (the dashboard's) on a canvas of its own, and the dashboard's
# chart widget (abm/widgets/vega_chart.vue) counts the times it has drawn in ``data-draws``.
# These read them, to tell that charts were drawn, and drawn anew.
_CANVASES = "document.querySelectorAll('.vega-embed .chart-wrapper canvas')"
_CHARTS = "document.querySelectorAll('.abm-vega-chart')"
_PAINTED = f"""Array.from({_CANVASES}).map(c => {{
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let painted = 0, sum = 0;
  for (let i = 0; i < px.length; i += 4) {{
    if (px[i + 3] > 0 && (px[i] < 250 || px[i + 1] < 250 || px[i + 2] < 250)) painted++;
    sum = (sum * 31 + px[i] + 7 * px[i + 1] + 13 * px[i + 2]) % 1000000007;
  }}
  return [painted / Math.max(1, px.length / 4), sum];
}})"""


def chart_count(page: Page) -> int:
    """How many Vega charts the page has drawn."""
    return page.evaluate(f"{_CANVASES}.length")


def chart_pixels(page: Page) -> list[tuple[float, int]]:
    """Per chart, in page order: the share of its pixels that are painted (not blank or white)
    and a checksum of its pixels, which changes when what it shows changes."""
    return [(share, checksum) for share, checksum in page.evaluate(_PAINTED)]


def mark_charts(page: Page) -> None:
    """Mark the charts' draws so far, so that :func:`charts_redrawn` can tell new ones."""
    page.evaluate(f"{_CHARTS}.forEach(e => e.dataset.before = e.dataset.draws || '0')")


def charts_redrawn(page: Page) -> bool:
    """Whether every chart on the page was drawn again since :func:`mark_charts`."""
    return page.evaluate(
        f"Array.from({_CHARTS}).every(e => Number(e.dataset.draws || 0) > Number(e.dataset.before || 0))"
    )


def is_local(url: str, allow_hosts: Sequence[str] = LOCAL_HOSTS) -> bool:
    """Whether a request for ``url`` stays on this machine (or on one of ``allow_hosts``)."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in ("http", "https") and parts.hostname in allow_hosts


def open_page(
    browser: Browser,
    url: str,
    *,
    allow_hosts: Sequence[str] = LOCAL_HOSTS,
    width_px: int = 1280,
    height_px: int = 800,
    wait_until: str = "load",
) -> OpenedPage:
    """Open ``url`` in a new context of ``browser``, aborting every request that is not local.

    The routes and listeners are set before the page loads, so they see its first request. Returns
    once the page has reached ``wait_until`` (Playwright's ``goto`` states: "load",
    "domcontentloaded", "networkidle", "commit").
    """
    context = browser.new_context(viewport={"width": width_px, "height": height_px})
    opened = OpenedPage(page=context.new_page(), context=context)

    def route(route: Route) -> None:
        if is_local(route.request.url, allow_hosts):
            route.continue_()
        else:
            opened.blocked_requests.append(route.request.url)
            route.abort("blockedbyclient")

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            opened.console_errors.append(message.text)

    def page_error(error: Error) -> None:
        opened.page_errors.append(error.message)

    context.route("**/*", route)
    opened.page.on("console", console)
    opened.page.on("pageerror", page_error)
    try:
        opened.page.goto(url, wait_until=wait_until)
    except BaseException:
        context.close()
        raise
    return opened


def as_url(target: str | Path) -> str:
    """A URL for ``target``: a path to an existing file becomes a file: URL, anything else is kept."""
    path = Path(target)
    return path.resolve().as_uri() if path.is_file() else str(target)


def screenshot(
    url: str | Path,
    out_png: str | Path,
    *,
    width: int = 1280,
    height: int = 800,
    full_page: bool = False,
    selector: str | None = None,
    browser: Browser | None = None,
) -> OpenedPage:
    """Save a PNG of the page at ``url`` (a URL or a file's path), or of its first ``selector`` element.

    ``width`` and ``height`` are the viewport's, in CSS pixels. Launches a browser unless given one.
    Returns the page's record (its blocked requests and errors); the page itself is closed by then.
    """
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    with (
        launch() if browser is None else nullcontext(browser) as browser,
        open_page(browser, as_url(url), width_px=width, height_px=height) as opened,
    ):
        # web fonts may still be loading at the load event
        opened.page.evaluate("document.fonts.ready.then(() => true)")
        if selector is None:
            opened.page.screenshot(path=out_png, full_page=full_page)
        else:
            opened.page.locator(selector).first.screenshot(path=out_png)
    return opened


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m abm.browser", description="Screenshot of a page in headless chromium."
    )
    parser.add_argument("url", help="a URL, or the path of an HTML file")
    parser.add_argument("out_png", type=Path, help="the PNG to write")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in CSS pixels (default 1280)")
    parser.add_argument("--height", type=int, default=800, help="viewport height in CSS pixels (default 800)")
    parser.add_argument("--full-page", action="store_true", help="the whole scrollable page, not only the viewport")
    parser.add_argument("--selector", help="CSS selector: a screenshot of the first matching element only")
    args = parser.parse_args(argv)
    opened = screenshot(
        args.url, args.out_png, width=args.width, height=args.height, full_page=args.full_page, selector=args.selector
    )
    for url in opened.blocked_requests:
        print(f"blocked request: {url}", file=sys.stderr)
    for text in opened.console_errors + opened.page_errors:
        print(f"page error: {text}", file=sys.stderr)
    print(args.out_png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
