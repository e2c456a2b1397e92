"""Japanese text in the project's figures and pages, on machines that have no Japanese font.

A Debian machine (a developer's, CI's) often has only Latin fonts: Japanese labels then render as
empty boxes ("tofu"), and matplotlib warns "Glyph ... missing from font(s)". The project does not
rely on system fonts: it ships one through the ``matplotlib-fontja`` package, which bundles
IPAexGothic (IPA Font License), and tells each renderer where it is:

- matplotlib: :func:`use_japanese_font` adds the font to matplotlib's font manager and puts it after
  the default Latin font in ``font.family``, so that English keeps its usual look and each glyph that
  font lacks (kana, kanji) falls back to IPAexGothic.
- Chromium (and anything else that finds fonts through fontconfig): :func:`fontconfig_file` writes a
  ``fonts.conf`` that keeps the system's configuration and adds the font's directory; the browser is
  started with ``FONTCONFIG_FILE`` pointing at it (see :mod:`abm.browser`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from matplotlib import font_manager

FONT_FAMILY = "IPAexGothic"
# matplotlib's own default, kept first so that Latin text looks as in the project's other figures
LATIN_FAMILY = "DejaVu Sans"


def japanese_font_path() -> Path:
    """The IPAexGothic TTF that matplotlib-fontja bundles.

    Found without importing ``matplotlib_fontja``, whose import switches matplotlib's font on its own.
    """
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("matplotlib-fontja is needed: pip install matplotlib-fontja")
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "ipaexg.ttf"
    if not path.is_file():
        raise FileNotFoundError(f"matplotlib-fontja does not carry its font at {path}")
    return path


def use_japanese_font() -> None:
    """Let matplotlib render Japanese text: Latin glyphs from DejaVu Sans, the others from IPAexGothic."""
    font_manager.fontManager.addfont(str(japanese_font_path()))
    matplotlib.rcParams["font.family"] = [LATIN_FAMILY, FONT_FAMILY]


def fontconfig_file(directory: str | Path) -> Path:
    """Write ``directory/fonts.conf``: the system's fontconfig setup plus the bundled Japanese font.

    A program started with ``FONTCONFIG_FILE`` set to the returned path finds IPAexGothic for the
    characters its other fonts lack. The system file is included only if present, so this works on a
    machine with no fontconfig setup of its own.
    """
    path = Path(directory) / "fonts.conf"
    font_dir = escape(str(japanese_font_path().parent))
    path.write_text(
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        "<fontconfig>\n"
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{font_dir}</dir>\n"
        "</fontconfig>\n",
        encoding="utf-8",
    )
    return path
