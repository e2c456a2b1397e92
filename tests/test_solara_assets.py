"""Solara's front-end served from the npm packages of abm/solara_assets.py, with no network.

The end-to-end test starts a tiny SolaraViz app with `solara run` and opens it in chromium, which
aborts every request off this machine: the page must render (sliders, a matplotlib and an Altair
plot, Markdown) and answer a click, with nothing blocked and no error. The others check the package
list against the installed Solara, and prepare()'s folder handling with a stand-in npm.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from abm import solara_assets
from abm.solara_assets import ASSETS, ASSETS_DIR, SOLARA_RUN_ARGS, Asset, AssetsError, environment, prepare

APP = textwrap.dedent(
    '''
    """A tiny Mesa model in SolaraViz: a scenario slider, a matplotlib and an Altair plot, Markdown."""

    import solara
    from mesa import Model
    from mesa.datacollection import DataCollector
    from mesa.experimental.scenarios import Scenario
    from mesa.visualization import Slider, SolaraViz, make_plot_component


    class CounterScenario(Scenario):
        rate: float = 1.0


    class Counter(Model):
        def __init__(self, scenario=None):
            super().__init__(scenario=scenario if scenario is not None else CounterScenario())
            self.value = 0.0
            self.datacollector = DataCollector(model_reporters={"value": "value"})
            self.datacollector.collect(self)

        def step(self):
            self.value += self.scenario.rate
            self.datacollector.collect(self)


    def Note(model):
        # a plain function: SolaraViz wraps it in a component that renders again after each step
        # (a @solara.component would have to read mesa.visualization.utils.update_counter itself)
        solara.Markdown(f"**value** = {model.value:.1f}")


    page = SolaraViz(
        Counter(),
        components=[make_plot_component("value"), make_plot_component("value", backend="altair"), Note],
        model_params={"rate": Slider("Rate", value=1.0, min=0.0, max=5.0, step=0.5)},
        name="Counter",
    )
    '''
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
            return
        except OSError:
            if process.poll() is not None:
                raise AssertionError(f"solara run exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"solara run did not answer at {url} in {timeout_s:.0f} s") from None
            time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """End the server's whole process group (uvicorn and whatever it started)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.mark.browser
@pytest.mark.slow
def test_solaraviz_page_renders_without_network(tmp_path: Path, browser) -> None:
    from abm.browser import open_page, unexpected_page_errors

    if not solara_assets.is_prepared(ASSETS_DIR):
        # `make test` has done it already (make dashboard-assets)
        prepare(ASSETS_DIR)
    app = tmp_path / "app.py"
    app.write_text(APP)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    # pytest's own variable would switch off Solara's solara.dev check, which the page must do without
    env = {name: value for name, value in os.environ.items() if name != "PYTEST_CURRENT_TEST"}
    env.update(environment(ASSETS_DIR))
    command = [sys.executable, "-m", "solara", "run", str(app), "--host", "127.0.0.1", "--port", str(port)]
    log = tmp_path / "solara.log"
    with log.open("w") as log_file:
        # in tmp_path: Solara reads a .env file of its working folder
        server = subprocess.Popen(
            [*command, *SOLARA_RUN_ARGS],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_http(url, server, timeout_s=30)
        with open_page(browser, url) as opened:
            page = opened.page
            # only there once Solara's Vue/Vuetify front-end has loaded and the kernel has rendered
            page.locator(".v-slider").first.wait_for(timeout=30_000)
            assert page.get_by_text("Rate").count() >= 1
            # the matplotlib plot (a PNG) and the Altair one (Vega draws an SVG or a canvas)
            page.locator(".vue-grid-item img").first.wait_for(timeout=20_000)
            page.locator(".vega-embed svg, .vega-embed canvas").first.wait_for(timeout=20_000)
            page.locator(".solara-markdown strong", has_text="value").wait_for(timeout=20_000)
            # the page talks to its kernel: a step of the model shows
            page.get_by_role("button", name="Step").click()
            page.get_by_text("Time: 1.0").wait_for(timeout=20_000)
            page.get_by_text("value = 1.0").wait_for(timeout=20_000)
            page.wait_for_load_state("networkidle", timeout=20_000)
            assert opened.blocked_requests == []
            assert unexpected_page_errors(opened) == []
            # e.g. "Failed to load resource: ... 404": a file missing from the cache
            assert opened.console_errors == []
    except BaseException:
        stop(server)
        print(log.read_text(errors="replace")[-5000:], file=sys.stderr)
        raise
    stop(server)
    # the cache had every file: the server never turned to the (unreachable) CDN
    assert "Could not load URL" not in log.read_text(errors="replace")


def test_assets_are_what_the_installed_solara_asks_for() -> None:
    """Every /_solara/cdn/ folder that Solara's page and the components SolaraViz uses name, and no other."""
    import solara

    assert solara.__version__ == solara_assets.SOLARA_VERSION, "read the list of ASSETS again off this Solara"
    root = Path(solara.__file__).parent
    sources = [
        root / "server" / "templates" / "solara.html.j2",
        root / "widgets" / "vue" / "gridlayout.vue",
        root / "widgets" / "vue" / "vegalite.vue",
        root / "components" / "markdown.py",
    ]
    pattern = re.compile(r"(?:\{\{cdn\}\}|getCdn\(\)\})/((?:@[\w.-]+/)?[\w.-]+@[\w.-]+)/")
    asked = {match for source in sources for match in pattern.findall(source.read_text())}
    # the page of ipyvuetify 3 (Vue 3), which the pins in pyproject.toml keep out
    asked -= {path for path in asked if path.startswith("@widgetti/solara-vuetify3-app@")}
    from solara.server.settings import assets

    asked.add(assets.fontawesome_path.strip("/").split("/")[0])
    assert asked == {asset.path for asset in ASSETS}
    for asset in ASSETS:
        name, _, version = asset.npm.rpartition("@")
        assert asset.path.rpartition("@")[0] == name
        assert re.fullmatch(r"\d+\.\d+\.\d+(-[\w.]+)?", version), f"{asset.npm}: pin an exact release"


def test_environment_keeps_solara_on_this_machine(tmp_path: Path) -> None:
    env = environment(tmp_path / "cdn")
    assert env["SOLARA_ASSETS_PROXY"] == "True"
    assert env["SOLARA_ASSETS_PROXY_CACHE_DIR"] == str(tmp_path / "cdn")
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    assert env["SOLARA_ASSETS_CDN"].startswith("http://127.0.0.1:")
    assert env["SOLARA_HOME"] == str(tmp_path / "solara-home")
    assert "--no-check-version" in SOLARA_RUN_ARGS


FAKE_NPM = textwrap.dedent(
    """\
    #!{python}
    # a stand-in for `npm pack SPEC --json ... --pack-destination DIR`: a tarball of package/
    import io, json, sys, tarfile
    from pathlib import Path

    args = sys.argv[1:]
    spec = args[1]
    with open({calls!r}, "a") as calls:
        calls.write(spec + "\\n")
    if spec.startswith("missing@"):
        print("npm error 404 Not Found - GET https://registry.npmjs.org/missing", file=sys.stderr)
        sys.exit(1)
    destination = Path(args[args.index("--pack-destination") + 1])
    filename = spec.lstrip("@").replace("/", "-").replace("@", "-") + ".tgz"
    with tarfile.open(destination / filename, "w:gz") as archive:
        for name, text in {{"package/package.json": json.dumps({{"name": spec}}), "package/dist/main.js": spec}}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    print(json.dumps([{{"filename": filename}}]))
    """
)


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in npm first on PATH; returns the file it logs its packages to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "npm-calls.txt"
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM.format(python=sys.executable, calls=str(calls)))
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls


def test_prepare_unpacks_each_package_under_its_url_name(tmp_path: Path, fake_npm: Path) -> None:
    cache = tmp_path / "cache" / "cdn"
    assets = (
        Asset("@scope/app@1.2.3", "@scope/app@1.2.3", "test"),
        Asset("range@5", "range@5.6.7", "test"),
    )
    assert prepare(cache, assets, log=False) == list(assets)
    assert json.loads((cache / "@scope" / "app@1.2.3" / "package.json").read_text()) == {"name": "@scope/app@1.2.3"}
    assert (cache / "range@5" / "dist" / "main.js").read_text() == "range@5.6.7"
    assert (cache / "range@5" / solara_assets.MARKER).read_text() == "range@5.6.7\n"
    assert (cache / solara_assets.STAMP).read_text() == "@scope/app@1.2.3 @scope/app@1.2.3\nrange@5 range@5.6.7\n"
    assert (tmp_path / "cache" / "solara-home" / ".solara_checked").is_file()
    assert solara_assets.is_prepared(cache, assets)
    # nothing left half-done next to the packages
    assert sorted(path.name for path in cache.iterdir()) == [solara_assets.STAMP, "@scope", "range@5"]

    # present at their pins: not fetched again
    assert prepare(cache, assets, log=False) == []
    assert fake_npm.read_text().split() == ["@scope/app@1.2.3", "range@5.6.7"]

    # another pin behind the same URL name, and a folder Solara filled file by file: replaced whole
    (cache / "@scope" / "app@1.2.3" / solara_assets.MARKER).unlink()
    newer = (assets[0], Asset("range@5", "range@5.8.0", "test"))
    assert prepare(cache, newer, log=False) == list(newer)
    assert (cache / "range@5" / "dist" / "main.js").read_text() == "range@5.8.0"
    assert sorted(path.name for path in cache.iterdir()) == [solara_assets.STAMP, "@scope", "range@5"]


def test_prepare_names_the_package_npm_could_not_pack(tmp_path: Path, fake_npm: Path) -> None:
    cache = tmp_path / "cdn"
    assets = (Asset("good@1.0.0", "good@1.0.0", "test"), Asset("missing@1", "missing@1.0.0", "test"))
    with pytest.raises(AssetsError, match=r"npm pack missing@1\.0\.0 failed \(exit 1\):\n.*404 Not Found"):
        prepare(cache, assets, log=False)
    # the good one is in place; no stamp, nothing partial
    assert (cache / "good@1.0.0" / "dist" / "main.js").is_file()
    assert sorted(path.name for path in cache.iterdir()) == ["good@1.0.0"]
    assert not solara_assets.is_prepared(cache, assets)


def test_prepare_says_npm_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AssetsError, match="npm is needed"):
        prepare(tmp_path / "cdn", (Asset("a@1.0.0", "a@1.0.0", "test"),), log=False)
