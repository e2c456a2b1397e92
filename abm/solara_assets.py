"""Solara's front-end on this machine, so the dashboard works in a room without internet.

A Solara page (Mesa's ``SolaraViz`` is one) is a small HTML shell: the Vue/Vuetify application, its
fonts and icons, RequireJS, and the JavaScript of some components (the grid that ``SolaraViz`` lays
its plots out in, Vega for Altair charts, KaTeX and Mermaid for ``solara.Markdown``) come from a CDN,
``https://cdn.jsdelivr.net/npm/``, which serves the files of npm packages as
``<package>@<version>/<path>``. Offline, that page stays blank.

Solara can serve these files itself. With its *assets proxy* on (``SOLARA_ASSETS_PROXY``, the default
outside Colab, VS Code and Voila) the page asks its own server for ``/_solara/cdn/<package>@<version>/
<path>``, and the server answers from the folder ``SOLARA_ASSETS_PROXY_CACHE_DIR`` (by default
``<sys.prefix>/share/solara/cdn``), laid out like those URL paths; only a file missing there is
fetched from the CDN (``SOLARA_ASSETS_CDN``) and written into the folder. So a folder holding
unpacked npm packages under the names the page asks for is a complete, offline CDN: :func:`prepare`
fills one with ``npm pack`` from the npm registry, which this project's machines reach.

The names are the URL's, not always npm's: Solara asks for ``vega@5/build/vega.min.js`` (a version
range, which jsDelivr resolves to the newest 5.x), so :data:`ASSETS` maps each folder name to the
exact npm release unpacked into it. The folder names are read off the installed Solara (its page
template and its ``.vue`` components, see ``tests/test_solara_assets.py``); they change with Solara's
version, so :data:`SOLARA_VERSION` records the one they were read from, and the pins in
``pyproject.toml`` keep that version installed.

:func:`environment` gives the variables a dashboard's ``solara run`` needs to stay on this machine:
the cache folder; a CDN address on the loopback that refuses connections, so that a file missing from
the folder fails at once (and shows in the server's log) instead of being fetched; no telemetry
(Mixpanel) and no "does Solara work" check (an iframe to solara.dev, shown once per Solara home),
through a Solara home folder of the project's own. ``solara run`` still asks PyPI for a newer Solara
unless given ``--no-check-version`` (:data:`SOLARA_RUN_ARGS`).

Fill the default folder (``make dashboard-assets`` does, and ``make test`` before the tests)::

    python -m abm.solara_assets [DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# the Solara release whose front-end :data:`ASSETS` was read from (pinned in pyproject.toml)
SOLARA_VERSION = "1.64.1"


@dataclass(frozen=True)
class Asset:
    """One npm package as Solara's page asks for it under ``/_solara/cdn/``."""

    # the folder under the cache, as in the URL: "<package>@<version or range>", scoped packages too
    path: str
    # the exact npm release unpacked into it: "<package>@<version>"
    npm: str
    # what asks for it
    used_by: str


ASSETS: tuple[Asset, ...] = (
    Asset(
        "@widgetti/solara-vuetify-app@10.1.1",
        "@widgetti/solara-vuetify-app@10.1.1",
        "every page: Vue 2, Vuetify 2, the widget manager, Roboto and Material Design Icons (ipyvuetify 1)",
    ),
    Asset("requirejs@2.3.6", "requirejs@2.3.6", "every page, and the components that load modules"),
    Asset("font-awesome@4.5.0", "font-awesome@4.5.0", "every page (SOLARA_ASSETS_FONTAWESOME_ENABLED)"),
    Asset(
        "@widgetti/vue-grid-layout@2.3.13-alpha.2",
        "@widgetti/vue-grid-layout@2.3.13-alpha.2",
        "solara.GridDraggable, the grid SolaraViz lays its components out in",
    ),
    Asset("vega@5", "vega@5.33.1", "solara.FigureAltair (Altair charts, Mesa's altair backend)"),
    Asset("vega-lite@5", "vega-lite@5.23.0", "solara.FigureAltair"),
    Asset("vega-embed@6", "vega-embed@6.29.0", "solara.FigureAltair"),
    Asset("katex@0.16.9", "katex@0.16.9", "solara.Markdown (formulas; loaded by every Markdown)"),
    Asset("mermaid@10.8.0", "mermaid@10.8.0", "solara.Markdown (diagrams; loaded by every Markdown)"),
)

# written into each unpacked package, naming the npm release in it: a folder without it (left by
# Solara fetching single files from the CDN, or by an older pin) is replaced
MARKER = ".npm-package"
# written last into the cache folder by prepare(), naming every package: the Makefile's stamp
STAMP = ".prepared"
# Solara's own default cache folder, so that even a bare `solara run` of this environment uses it
ASSETS_DIR = Path(sys.prefix) / "share" / "solara" / "cdn"
# a CDN that is never there: port 9 (discard) on the loopback refuses connections at once
OFFLINE_CDN = "http://127.0.0.1:9/npm/"
# `solara run` options that keep it off the network: no PyPI version check, no browser opened
SOLARA_RUN_ARGS = ("--no-check-version", "--no-open")


class AssetsError(RuntimeError):
    """npm is missing, or a package could not be packed or unpacked."""


def solara_home(cache_dir: str | Path) -> Path:
    """The Solara home folder (``SOLARA_HOME``) that goes with ``cache_dir``: next to it, not in it.

    Solara keeps a server id there and marks there that its one-off check (a hidden iframe to
    solara.dev) was done; :func:`prepare` leaves that mark, so the page never tries.
    """
    cache_dir = Path(cache_dir).absolute()
    return cache_dir.parent / "solara-home"


def environment(cache_dir: str | Path = ASSETS_DIR) -> dict[str, str]:
    """The environment variables for a ``solara run`` served from ``cache_dir`` and nothing else.

    Merge them into the server's environment (``{**os.environ, **environment()}``) and pass
    :data:`SOLARA_RUN_ARGS` to ``solara run``.
    """
    cache_dir = Path(cache_dir).absolute()
    return {
        # the page asks its own server (/_solara/cdn/...), even in a VS Code terminal
        "SOLARA_ASSETS_PROXY": "True",
        "SOLARA_ASSETS_PROXY_CACHE_DIR": str(cache_dir),
        # a file missing from the cache fails at once instead of being fetched from jsDelivr
        "SOLARA_ASSETS_CDN": OFFLINE_CDN,
        # no usage reports to Mixpanel (api.mixpanel.com, and api.ipify.org for the server's address)
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
        # holds the mark that stops the page's check iframe (https://solara.dev/static/public/success.html)
        "SOLARA_HOME": str(solara_home(cache_dir)),
    }


def is_prepared(cache_dir: str | Path = ASSETS_DIR, assets: Iterable[Asset] = ASSETS) -> bool:
    """Whether every package of ``assets`` is unpacked in ``cache_dir`` at its pinned release."""
    cache_dir = Path(cache_dir)
    return all(_installed_release(cache_dir / asset.path) == asset.npm for asset in assets)


def _installed_release(folder: Path) -> str | None:
    try:
        return (folder / MARKER).read_text().strip()
    except OSError:
        return None


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsError(
            "npm is needed to fetch Solara's front-end from the npm registry: apt-get install npm (or install Node.js)"
        )
    return npm


def _npm_env() -> dict[str, str]:
    # no update check, funding or audit messages: only the package itself is fetched
    return {
        **os.environ,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "npm_config_loglevel": "error",
    }


def _pack(npm: str, spec: str, destination: Path) -> Path:
    """``npm pack spec`` into ``destination``: the tarball's path."""
    command = [npm, "pack", spec, "--json", "--ignore-scripts", "--pack-destination", str(destination)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=_npm_env(), timeout=600, check=False)
    except subprocess.TimeoutExpired as error:
        raise AssetsError(f"npm pack {spec} did not finish in {error.timeout:.0f} s") from error
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip()[-2000:]
        raise AssetsError(f"npm pack {spec} failed (exit {done.returncode}):\n{said}")
    try:
        filename = json.loads(done.stdout)[0]["filename"]
    except (ValueError, LookupError, TypeError) as error:
        raise AssetsError(f"npm pack {spec} gave no tarball name: {done.stdout.strip()[-500:]!r}") from error
    # npm names a scoped package's tarball "widgetti-solara-vuetify-app-10.1.1.tgz"
    tarball = destination / Path(filename).name
    if not tarball.is_file():
        raise AssetsError(f"npm pack {spec} reported {filename}, which is not in {destination}")
    return tarball


def _unpack(tarball: Path, spec: str, into: Path) -> Path:
    """Unpack the npm tarball's single top folder (``package/``, as a rule) into ``into``: that folder."""
    with tarfile.open(tarball) as archive:
        # "data": no absolute paths, no escapes from the folder, no devices; plain file modes
        archive.extractall(into, filter="data")
    tops = list(into.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        raise AssetsError(f"the npm tarball of {spec} has no single top folder: {sorted(p.name for p in tops)}")
    (tops[0] / MARKER).write_text(spec + "\n")
    return tops[0]


def _install(unpacked: Path, target: Path, staging: Path) -> None:
    """Put ``unpacked`` at ``target`` by renames, moving aside whatever was there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        stale = staging / "stale"
        os.replace(target, stale)
    os.replace(unpacked, target)


def prepare(
    cache_dir: str | Path = ASSETS_DIR,
    assets: Sequence[Asset] = ASSETS,
    *,
    log: bool = True,
) -> list[Asset]:
    """Fill ``cache_dir`` with the npm packages of ``assets``, each as ``cache_dir/<asset.path>/``.

    Each package is packed by ``npm pack`` from the registry, unpacked into a folder inside
    ``cache_dir`` and renamed into place in one step, so a folder under its final name is always
    whole; a package already there at its pinned release is skipped. Then the Solara home of
    :func:`solara_home` gets its check mark, and ``cache_dir/.prepared`` is written (listing the
    packages) once everything is in place. Returns the packages it fetched.
    """
    cache_dir = Path(cache_dir).absolute()
    cache_dir.mkdir(parents=True, exist_ok=True)
    # left by a run that was killed
    for leftover in cache_dir.glob(".partial-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    missing = [asset for asset in assets if _installed_release(cache_dir / asset.path) != asset.npm]
    if missing:
        npm = _npm()
    for asset in missing:
        started = time.monotonic()
        # on the cache's own file system, so the final rename is atomic
        with tempfile.TemporaryDirectory(prefix=".partial-", dir=cache_dir) as staging_name:
            staging = Path(staging_name)
            tarball = _pack(npm, asset.npm, staging)
            unpacked_root = staging / "unpacked"
            unpacked_root.mkdir()
            try:
                unpacked = _unpack(tarball, asset.npm, unpacked_root)
            except (tarfile.TarError, OSError) as error:
                raise AssetsError(f"could not unpack {tarball.name} ({asset.npm}): {error}") from error
            _install(unpacked, cache_dir / asset.path, staging)
        if log:
            print(f"{asset.path}: {asset.npm} ({time.monotonic() - started:.1f} s)", file=sys.stderr)
    home = solara_home(cache_dir)
    home.mkdir(parents=True, exist_ok=True)
    (home / ".solara_checked").touch()
    stamp = cache_dir / STAMP
    listing = "".join(f"{asset.path} {asset.npm}\n" for asset in assets)
    if not stamp.is_file() or stamp.read_text() != listing:
        temporary = cache_dir / f"{STAMP}.partial"
        temporary.write_text(listing)
        os.replace(temporary, stamp)
    return missing


def folder_size(folder: str | Path) -> int:
    """Bytes in the files under ``folder``."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file() and not path.is_symlink())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m abm.solara_assets",
        description="Fill a folder with Solara's front-end (npm packages), for a dashboard without internet.",
    )
    parser.add_argument(
        "dir", nargs="?", type=Path, default=ASSETS_DIR, help=f"the cache folder (default {ASSETS_DIR})"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        fetched = prepare(args.dir)
    except AssetsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"{args.dir}: {len(ASSETS)} packages ({len(fetched)} fetched), "
        f"{folder_size(args.dir) / 1e6:.0f} MB, {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    # for a shell: export $(python -m abm.solara_assets)
    for name, value in environment(args.dir).items():
        print(f"{name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
